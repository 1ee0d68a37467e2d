import { describe, expect, it } from 'vitest';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { ProbeSink, ProbeSource } from '../testing/probes.js';
import { negotiate } from '../testing/signal.js';

const h = useMediaHarness([46000, 46299]);

describe('Dispatcher', () => {
  it("connect(source, sink) sends the source port's input out of the sink port only", () => {
    const p = h.pipeline();
    const d = p.createDispatcher();
    const [a, b, c] = [d.createHubPort(), d.createHubPort(), d.createHubPort()];
    const source = h.track(new ProbeSource(p, 1));
    const [atB, atC] = [h.track(new ProbeSink(p)), h.track(new ProbeSink(p))];
    source.connect(a);
    b.connect(atB);
    c.connect(atC);

    d.connect(a, b);
    source.send('video');
    source.send('audio');

    expect(atB.received.map((r) => r.stream.kind)).toEqual(['video', 'audio']);
    expect(atC.received).toEqual([]);
    expect(d.getSource(b)).toBe(a);
  });

  it("a later connect() replaces the sink port's source, and one source may feed many sinks", () => {
    const p = h.pipeline();
    const d = p.createDispatcher();
    const [a, c, b, e] = [d.createHubPort(), d.createHubPort(), d.createHubPort(), d.createHubPort()];
    const [fromA, fromC] = [h.track(new ProbeSource(p, 1)), h.track(new ProbeSource(p, 2))];
    const [atB, atE] = [h.track(new ProbeSink(p)), h.track(new ProbeSink(p))];
    fromA.connect(a);
    fromC.connect(c);
    b.connect(atB);
    e.connect(atE);
    d.connect(a, b);
    d.connect(a, e);
    fromA.send('video');

    d.connect(c, b);
    fromA.send('video');
    fromC.send('video');

    expect(atB.sourceTags).toEqual([1, 2]);
    expect(atE.sourceTags).toEqual([1, 1]);
  });

  it('connect() asks the new source for a keyframe', () => {
    const p = h.pipeline();
    const d = p.createDispatcher();
    const [a, b] = [d.createHubPort(), d.createHubPort()];
    const source = h.track(new ProbeSource(p, 1));
    source.connect(a);
    const before = source.keyframeRequests.video;

    d.connect(a, b);

    expect(source.keyframeRequests.video).toBe(before + 1);
  });

  it('closing a routed source port leaves its sink ports without a source', () => {
    const p = h.pipeline();
    const d = p.createDispatcher();
    const [a, b] = [d.createHubPort(), d.createHubPort()];
    d.connect(a, b);

    a.close();

    expect(d.getSource(b)).toBeUndefined();
  });

  it('connect() with a port of another hub or a closed port throws INVALID_ARGUMENT and changes nothing', () => {
    const p = h.pipeline();
    const d = p.createDispatcher();
    const other = p.createDispatcher();
    const [a, b, closed] = [d.createHubPort(), d.createHubPort(), d.createHubPort()];
    const foreign = other.createHubPort();
    d.connect(a, b);
    closed.close();

    expect(() => d.connect(foreign, b)).toThrow(expect.objectContaining({ name: 'MediaError', code: 'INVALID_ARGUMENT' }));
    expect(() => d.connect(a, foreign)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => d.connect(closed, b)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(d.getSource(b)).toBe(a);
  });

  it("routes a WebRTC publisher to another port's viewer, and re-routing keeps the viewer's stream continuous", async () => {
    const p = h.pipeline();
    const d = p.createDispatcher();
    const [a, c] = [p.createWebRtcEndpoint(), p.createWebRtcEndpoint()];
    const viewer = p.createWebRtcEndpoint({ direction: 'sendonly' });
    const [portA, portC, portV] = [d.createHubPort(), d.createHubPort(), d.createHubPort()];
    a.connect(portA);
    c.connect(portC);
    portV.connect(viewer);
    const [pa, pc, pv] = [h.peer(), h.peer(), h.peer()];
    const pubA = new FakePublisher(1, 10);
    const pubC = new FakePublisher(2, 10);
    pubA.attach(pa);
    pubC.attach(pc);
    pv.addTransceiver('video', { direction: 'recvonly' });
    pv.addTransceiver('audio', { direction: 'recvonly' });
    const video = collect(pv, 'video');
    const audio = collect(pv, 'audio');
    await Promise.all([negotiate(pa, a), negotiate(pc, c), negotiate(pv, viewer)]);
    await Promise.all([waitForConnected(pa), waitForConnected(pc), waitForConnected(pv)]);
    pubA.start();
    pubC.start();

    d.connect(portA, portV);
    await until(() => video.length >= 15 && audio.length >= 15);
    d.connect(portC, portV);
    await until(() => video.some((v) => v.payload[2] === 2) && audio.filter((x) => x.payload[0] === 2).length >= 10);
    pubA.stop();
    pubC.stop();

    expect(video[0]!.payload[2]).toBe(1);
    expect(video[0]!.payload[1]! & 1).toBe(0); // starts on a keyframe
    for (const list of [video, audio]) {
      expect(new Set(list.map((x) => x.header.ssrc)).size).toBe(1);
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.header.sequenceNumber).toBe((list[i - 1]!.header.sequenceNumber + 1) & 0xffff);
      }
    }
    const firstFromC = video.findIndex((v) => v.payload[2] === 2);
    expect(video[firstFromC]!.payload[1]! & 1).toBe(0); // the switch lands on a keyframe
    expect(video.slice(firstFromC).every((v) => v.payload[2] === 2)).toBe(true);
  });
});
