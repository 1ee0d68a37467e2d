import { describe, expect, it } from 'vitest';
import type { RtpPacket } from 'werift';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { ProbeSink, ProbeSource } from '../testing/probes.js';
import { negotiate } from '../testing/signal.js';
import type { WebRtcEndpoint } from '../webrtc/WebRtcEndpoint.js';

const h = useMediaHarness([46300, 46599]);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('DispatcherOneToMany', () => {
  it("sends the source port's input to every other port, not back out of the source port", () => {
    const p = h.pipeline();
    const hub = p.createDispatcherOneToMany();
    const [s, x, y] = [hub.createHubPort(), hub.createHubPort(), hub.createHubPort()];
    const source = h.track(new ProbeSource(p, 1));
    const [atS, atX, atY] = [h.track(new ProbeSink(p)), h.track(new ProbeSink(p)), h.track(new ProbeSink(p))];
    source.connect(s);
    s.connect(atS);
    x.connect(atX);
    y.connect(atY);

    hub.setSource(s);
    source.send('video');

    expect(atX.received).toHaveLength(1);
    expect(atY.received).toHaveLength(1);
    expect(atS.received).toHaveLength(0);
  });

  it('a port created after setSource() gets the source too', () => {
    const p = h.pipeline();
    const hub = p.createDispatcherOneToMany();
    const s = hub.createHubPort();
    const source = h.track(new ProbeSource(p, 1));
    source.connect(s);
    hub.setSource(s);

    const late = hub.createHubPort();
    const atLate = h.track(new ProbeSink(p));
    late.connect(atLate);
    source.send('audio');

    expect(atLate.received).toHaveLength(1);
  });

  it('removeSource() stops the media; setSource() with another port switches to it', () => {
    const p = h.pipeline();
    const hub = p.createDispatcherOneToMany();
    const [s1, s2, out] = [hub.createHubPort(), hub.createHubPort(), hub.createHubPort()];
    const [one, two] = [h.track(new ProbeSource(p, 1)), h.track(new ProbeSource(p, 2))];
    const sink = h.track(new ProbeSink(p));
    one.connect(s1);
    two.connect(s2);
    out.connect(sink);
    hub.setSource(s1);
    one.send('video');

    hub.removeSource();
    one.send('video');
    hub.setSource(s2);
    one.send('video');
    two.send('video');

    expect(sink.sourceTags).toEqual([1, 2]);
    expect(hub.getSource()).toBe(s2);
  });

  it('setSource() asks the source for a keyframe, and a sink of any other port reaches it too', () => {
    const p = h.pipeline();
    const hub = p.createDispatcherOneToMany();
    const [s, x] = [hub.createHubPort(), hub.createHubPort()];
    const source = h.track(new ProbeSource(p, 1));
    source.connect(s);
    const pass = p.createPassThrough();
    x.connect(pass);
    const before = source.keyframeRequests.video;

    hub.setSource(s);
    pass.requestKeyframe('video');

    expect(source.keyframeRequests.video).toBe(before + 2);
  });

  it('closing the source port removes the source; a foreign port is refused with INVALID_ARGUMENT', () => {
    const p = h.pipeline();
    const hub = p.createDispatcherOneToMany();
    const s = hub.createHubPort();
    const foreign = p.createDispatcher().createHubPort();
    hub.setSource(s);

    s.close();

    expect(hub.getSource()).toBeUndefined();
    expect(() => hub.setSource(foreign)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => hub.setSource(s)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('sends a WebRTC publisher to every viewer, one added later included, until removeSource()', async () => {
    const p = h.pipeline();
    const hub = p.createDispatcherOneToMany();
    const publisher = p.createWebRtcEndpoint();
    const sourcePort = hub.createHubPort();
    publisher.connect(sourcePort);
    sourcePort.connect(publisher); // the source port's output must stay silent
    const pp = h.peer();
    const pub = new FakePublisher(5, 10);
    pub.attach(pp, 'sendrecv');
    const backToPublisher = collect(pp, 'video');
    const addViewer = async (): Promise<{ ep: WebRtcEndpoint; video: RtpPacket[] }> => {
      const ep = p.createWebRtcEndpoint({ direction: 'sendonly' });
      const pc = h.peer();
      pc.addTransceiver('video', { direction: 'recvonly' });
      const video = collect(pc, 'video');
      await negotiate(pc, ep);
      await waitForConnected(pc);
      hub.createHubPort().connect(ep);
      return { ep, video };
    };
    await negotiate(pp, publisher);
    const viewers = await Promise.all([addViewer(), addViewer()]);
    await waitForConnected(pp);
    hub.setSource(sourcePort);
    pub.start();
    await until(() => viewers.every((v) => v.video.length >= 10));

    const late = await addViewer();
    await until(() => late.video.length >= 10);
    hub.removeSource();
    await sleep(200); // packets already on their way
    const counts = [...viewers, late].map((v) => v.video.length);
    await sleep(600);
    pub.stop();

    for (const v of [...viewers, late]) {
      expect(v.video[0]!.payload[2]).toBe(5);
      expect(v.video[0]!.payload[1]! & 1).toBe(0); // each viewer starts on a keyframe
    }
    expect([...viewers, late].map((v) => v.video.length)).toEqual(counts);
    expect(backToPublisher).toHaveLength(0);
  });
});
