import { describe, expect, it } from 'vitest';
import type { RtpPacket } from 'werift';
import { nativeCoreUnderTest } from '../native/testPaths.js';

import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';

/*
 * Kurento's WebRtcEndpoint on the engine's own transport when the shared port is on the
 * native packet core: SRTP, routing and sending in the core; what the element graph
 * sends an endpoint is fed down to it, and what an endpoint receives is handed up (the
 * producer is tapped) only for the graph's JavaScript sinks.
 */

const HOST = '127.0.0.1';
const h = useMediaHarness([58600, 58619]);
const pipeline = (): ReturnType<typeof h.pipeline> => h.pipeline({ packetCore: 'native' });
/**
 * A TURN server nobody runs: an endpoint given it is relayed-capable, so its transport does
 * its packets in JavaScript (nativeCore: false) beside the core's, and uses its host candidates.
 */
const UNUSED_TURN_SERVER = { urls: 'turn:127.0.0.1:9', username: 'u', credential: 'p' };

/** The packet path of the shared port an endpoint is on. */
function pathOf(ep: WebRtcEndpoint): string | undefined {
  return h.engine.sockets.find(HOST, ep.sharedUdpPort!)?.packetPath;
}

function sequenceContinuous(packets: readonly RtpPacket[]): boolean {
  return packets.every((p, i) => i === 0 || p.header.sequenceNumber === ((packets[i - 1]!.header.sequenceNumber + 1) & 0xffff));
}

const isKeyframe = (p: RtpPacket): boolean => (p.payload[1]! & 1) === 0;

describe.runIf(nativeCoreUnderTest())('WebRtcEndpoint on the own transport, native packet core', () => {
  it('a loopback returns the peer\'s media through the core, starting on a keyframe', async () => {
    const ep = pipeline().createWebRtcEndpoint();
    ep.connect(ep);
    const pc = h.peer();
    const pub = new FakePublisher(7);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    const audio = collect(pc, 'audio');
    await negotiate(pc, ep);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length >= 20 && audio.length >= 20, 20_000);
    pub.stop();
    expect(pathOf(ep)).toBe('native');
    expect(video[0]!.payload[2]).toBe(7);
    expect(isKeyframe(video[0]!)).toBe(true);
    const stats = ep.getStats();
    expect(stats.video.packetsReceived).toBeGreaterThan(0);
    expect(stats.video.packetsSent).toBeGreaterThan(0);
    expect(stats.connectionState).toBe('connected');
    expect(stats.invalidPackets).toBe(0);
    expect(ep.getFastPathStats()!.rtpOut).toBeGreaterThan(0);
  });

  it('connect() between two endpoints is a consumer in the core; a new source keeps the SSRC and the numbering, and starts on its keyframe', async () => {
    const p = pipeline();
    const [a, c, b] = [p.createWebRtcEndpoint(), p.createWebRtcEndpoint(), p.createWebRtcEndpoint({ direction: 'sendonly' })];
    const [pa, pc, pb] = [h.peer(), h.peer(), h.peer()];
    const pubA = new FakePublisher(1, 10);
    const pubC = new FakePublisher(2, 10);
    pubA.attach(pa);
    pubC.attach(pc);
    pb.addTransceiver('video', { direction: 'recvonly' });
    const got = collect(pb, 'video');
    for (const [peer, ep] of [[pa, a], [pc, c], [pb, b]] as const) await negotiate(peer, ep);
    await Promise.all([waitForConnected(pa), waitForConnected(pc), waitForConnected(pb)]);
    pubA.start();
    pubC.start();
    a.connect(b, 'video');
    await until(() => got.filter((x) => x.payload[2] === 1).length > 15, 20_000);
    c.connect(b, 'video');
    await until(() => got.filter((x) => x.payload[2] === 2).length > 15, 20_000);
    pubA.stop();
    pubC.stop();
    expect([a, b, c].map(pathOf)).toEqual(['native', 'native', 'native']);
    expect(new Set(got.map((x) => x.header.ssrc)).size).toBe(1);
    // The core's new consumer goes on where the previous one stopped.
    expect(sequenceContinuous(got)).toBe(true);
    const firstOfC = got.findIndex((x) => x.payload[2] === 2);
    expect(isKeyframe(got[firstOfC]!)).toBe(true);
    expect(got.slice(firstOfC).every((x) => x.payload[2] === 2)).toBe(true);
    expect(isKeyframe(got[0]!)).toBe(true);
  });

  it('an endpoint fed by another element (an endpoint doing its packets in JavaScript) gets them through the core; its sink\'s keyframe requests reach the source\'s peer', async () => {
    const p = pipeline();
    // A TURN server puts an endpoint's packets in JavaScript: they reach the core's endpoint as the element graph's.
    const source = p.createWebRtcEndpoint({ iceServers: [UNUSED_TURN_SERVER] });
    const sink = p.createWebRtcEndpoint();
    source.connect(sink);
    const ps = h.peer();
    const pub = new FakePublisher(9, 100_000); // keyframes only on request
    pub.attach(ps);
    const pk = h.peer();
    pk.addTransceiver('video', { direction: 'recvonly' });
    pk.addTransceiver('audio', { direction: 'recvonly' });
    const video = collect(pk, 'video');
    const audio = collect(pk, 'audio');
    await negotiate(ps, source);
    await waitForConnected(ps);
    pub.start();
    await until(() => (source.getInboundStream('video')?.packets ?? 0) > 10, 20_000);
    // The sink comes when the publisher's one unasked keyframe is long gone: its video needs a request upstream.
    await negotiate(pk, sink);
    await waitForConnected(pk);
    await until(() => video.length > 20 && audio.length > 20, 20_000).catch((e) => {
      console.log(JSON.stringify(sink.getStats()), video.length, audio.length);
      throw e;
    });
    pub.stop();
    expect(pathOf(sink)).toBe('native');
    expect(video[0]!.payload[2]).toBe(9);
    expect(isKeyframe(video[0]!)).toBe(true);
    expect(sink.getStats().video.packetsSent).toBeGreaterThan(20);
  });

  it('what an endpoint receives reaches the graph\'s JavaScript sinks (an endpoint doing its packets in JavaScript): the core hands its producer\'s packets up', async () => {
    const p = pipeline();
    const source = p.createWebRtcEndpoint();
    const sink = p.createWebRtcEndpoint({ iceServers: [UNUSED_TURN_SERVER] });
    source.connect(sink);
    const ps = h.peer();
    const pub = new FakePublisher(4);
    pub.attach(ps);
    const pk = h.peer();
    pk.addTransceiver('video', { direction: 'recvonly' });
    pk.addTransceiver('audio', { direction: 'recvonly' });
    const video = collect(pk, 'video');
    const audio = collect(pk, 'audio');
    await negotiate(ps, source);
    await negotiate(pk, sink);
    await Promise.all([waitForConnected(ps), waitForConnected(pk)]);
    pub.start();
    await until(() => video.length > 20 && audio.length > 20, 20_000).catch((e) => {
      console.log(JSON.stringify(source.getStats()), JSON.stringify(sink.getStats()), video.length, audio.length);
      throw e;
    });
    pub.stop();
    expect(pathOf(source)).toBe('native');
    expect(video[0]!.payload[2]).toBe(4);
    expect(isKeyframe(video[0]!)).toBe(true);
  });
});
