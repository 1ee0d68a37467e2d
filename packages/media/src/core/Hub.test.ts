import { describe, expect, it } from 'vitest';
import { ClosedError, MediaError } from './errors.js';
import { HubPort } from './HubPort.js';
import { ProbeSink, ProbeSource } from '../testing/probes.js';
import { useMediaHarness } from '../testing/harness.js';

const h = useMediaHarness([46600, 46999]);

describe('Hub and HubPort', () => {
  it('createHubPort() on the hub or on the pipeline makes a port element of that hub', () => {
    const p = h.pipeline();
    const hub = p.createDispatcher();

    const a = hub.createHubPort();
    const b = p.createHubPort(hub);

    expect(a).toBeInstanceOf(HubPort);
    expect(a.hub).toBe(hub);
    expect(hub.getPorts()).toEqual([a, b]);
    expect(p.getElements()).toEqual([a, b]);
    expect(p.getHubs()).toEqual([hub]);
    expect(p.getHub(hub.id)).toBe(hub);
  });

  it('closing a hub closes its ports, and they leave the pipeline', () => {
    const p = h.pipeline();
    const hub = p.createDispatcherOneToMany();
    const ports = [hub.createHubPort(), hub.createHubPort()];

    hub.close();

    expect(ports.every((port) => port.closed)).toBe(true);
    expect(p.getElements()).toEqual([]);
    expect(p.getHubs()).toEqual([]);
  });

  it('closing a port detaches it from its hub and from the graph', () => {
    const p = h.pipeline();
    const hub = p.createDispatcher();
    const [a, b] = [hub.createHubPort(), hub.createHubPort()];
    const source = h.track(new ProbeSource(p, 1));
    source.connect(a);
    hub.connect(a, b);

    a.close();

    expect(hub.getPorts()).toEqual([b]);
    expect(hub.getSource(b)).toBeUndefined();
    expect(source.getSinkConnections()).toEqual([]);
  });

  it('closing the pipeline closes its hubs and their ports', () => {
    const p = h.pipeline();
    const hub = p.createDispatcher();
    const port = hub.createHubPort();

    p.close();

    expect(hub.closed).toBe(true);
    expect(port.closed).toBe(true);
  });

  it('createHubPort() refuses a closed hub and a hub of another pipeline', () => {
    const p = h.pipeline();
    const other = h.pipeline();
    const hub = p.createDispatcher();
    const closed = p.createDispatcher();
    closed.close();

    expect(() => other.createHubPort(hub)).toThrow(MediaError);
    expect(() => other.createHubPort(hub)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => closed.createHubPort()).toThrow(ClosedError);
    expect(other.getElements()).toEqual([]);
  });

  it("a keyframe request from a port's sink reaches the element feeding the routed input", () => {
    const p = h.pipeline();
    const hub = p.createDispatcher();
    const [a, b] = [hub.createHubPort(), hub.createHubPort()];
    const source = h.track(new ProbeSource(p, 1));
    const pass = p.createPassThrough();
    source.connect(a);
    b.connect(pass);
    hub.connect(a, b);
    const before = source.keyframeRequests.video;

    pass.requestKeyframe('video');

    expect(source.keyframeRequests.video).toBe(before + 1);
  });

  it('connecting a new source into a routed port asks that source for a keyframe', () => {
    const p = h.pipeline();
    const hub = p.createDispatcher();
    const [a, b] = [hub.createHubPort(), hub.createHubPort()];
    hub.connect(a, b);
    const source = h.track(new ProbeSource(p, 1));

    source.connect(a);

    expect(source.keyframeRequests.video).toBe(1);
  });

  it('a packet or keyframe request that comes back to a hub through a loop is dropped, not re-dispatched', () => {
    const p = h.pipeline();
    const hub = p.createDispatcherOneToMany();
    const [s, o] = [hub.createHubPort(), hub.createHubPort()];
    const origin = h.track(new ProbeSource(p, 1)); // makes a packet; connected to nothing
    const sink = h.track(new ProbeSink(p));
    const pass = p.createPassThrough();
    hub.setSource(s);
    // o's output feeds a PassThrough that feeds s's input again: a loop through the hub.
    o.connect(pass);
    pass.connect(s);
    o.connect(sink);

    s.acceptRtp(origin.streams.video, origin.send('video'), performance.now());

    expect(sink.received).toHaveLength(1);
    expect(() => sink.requestKeyframe('video')).not.toThrow();
  });
});
