import { describe, expect, it } from 'vitest';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import { engineStats } from './engineStats.js';

const h = useMediaHarness([46700, 46799]);

describe('engineStats(h.engine)', () => {
  it('adds up the elements and counters of every open pipeline, and forgets closed ones', async () => {
    const before = engineStats(h.engine);
    const p = h.pipeline();
    const ep = p.createWebRtcEndpoint();
    p.createPassThrough();
    ep.connect(ep);
    const pc = h.peer();
    const pub = new FakePublisher(1);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    await negotiate(pc, ep);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length > 10);
    pub.stop();
    const during = engineStats(h.engine);
    expect(during.pipelines).toBe(before.pipelines + 1);
    expect(during.elements.WebRtcEndpoint).toBe((before.elements.WebRtcEndpoint ?? 0) + 1);
    expect(during.elements.PassThrough).toBe((before.elements.PassThrough ?? 0) + 1);
    expect(during.kinds.video.packetsIn).toBeGreaterThan(10);
    expect(during.kinds.video.packetsOut).toBeGreaterThan(10);
    expect(during.webrtcStates.connected).toBeGreaterThanOrEqual(1);
    // Single-port mode (the default): the endpoint's peer talks to the one shared socket.
    expect(during.udp.sockets).toBeGreaterThanOrEqual(1);
    expect(during.udp.datagrams).toBeGreaterThan(10);
    p.close();
    expect(engineStats(h.engine).pipelines).toBe(before.pipelines);
    expect(h.engine.pipelines()).not.toContain(p);
  });

  it('a pipeline whose configuration is refused is not counted', () => {
    const before = engineStats(h.engine).pipelines;
    expect(() => h.engine.createPipeline({ portRange: [5000, 10] })).toThrow();
    expect(engineStats(h.engine).pipelines).toBe(before);
  });
});
