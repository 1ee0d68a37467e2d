import { describe, expect, it } from 'vitest';
import { MediaStreamTrack, RtpHeader, RtpPacket, useH264, type RtpPacket as Packet } from 'werift';
import { MediaError } from '../core/errors.js';
import { StunServer } from '../net/StunServer.js';

import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { createWeriftPeer, transceiverOf, waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import { parseCandidate } from './sdp.js';
import { WebRtcEndpoint } from './WebRtcEndpoint.js';

const h = useMediaHarness([45000, 45999]);
const pipeline = h.pipeline;
const peer = h.peer;

describe('WebRtcEndpoint negotiation', () => {
  it('generateOffer() + processAnswer(): the server offers, the peer answers, media flows to the peer', async () => {
    const p = pipeline();
    const source = p.createWebRtcEndpoint();
    const sink = p.createWebRtcEndpoint({ direction: 'sendonly' });
    const pubPeer = peer();
    const pub = new FakePublisher(21);
    pub.attach(pubPeer);
    await negotiate(pubPeer, source);
    await waitForConnected(pubPeer);

    const viewer = peer();
    const offer = await sink.generateOffer();
    expect(offer).toMatch(/a=sendonly/);
    sink.on('iceCandidate', (c) => void viewer.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }));
    viewer.onIceCandidate.subscribe((c) => c && void sink.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }));
    const video: Packet[] = [];
    const audio: Packet[] = [];
    // werift announces the offered tracks during setRemoteDescription: listen first.
    viewer.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((pkt) => (track.kind === 'video' ? video : audio).push(pkt)));
    await viewer.setRemoteDescription({ type: 'offer', sdp: offer });
    await viewer.setLocalDescription(await viewer.createAnswer());
    await sink.processAnswer(viewer.localDescription!.sdp);
    await sink.gatherCandidates();
    await waitForConnected(viewer);
    source.connect(sink);
    pub.start();
    await until(() => video.length > 10 && audio.length > 10);
    pub.stop();
    expect(video.every((v) => v.payload[2] === 21)).toBe(true);
    await expect(sink.processAnswer(viewer.localDescription!.sdp)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(sink.generateOffer()).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('forwards H.264 when that is the only video codec the peer offers', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint();
    ep.connect(ep);
    const pc = createWeriftPeer(h.stunUrl, { video: [useH264()] });
    h.track(pc);
    const track = new MediaStreamTrack({ kind: 'video' });
    pc.addTransceiver(track, { direction: 'sendrecv' });
    const video = collect(pc, 'video');
    await negotiate(pc, ep);
    expect(ep.getLocalSessionDescriptor()).toMatch(/H264\/90000/i);
    expect(ep.getLocalSessionDescriptor()).not.toMatch(/VP8/i);
    await waitForConnected(pc);
    let seq = 1;
    const timer = setInterval(() => {
      const idr = Buffer.from([0x65, 0x88, 0x80, seq & 0xff]); // NAL type 5: IDR slice
      track.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: seq++, timestamp: seq * 3000, marker: true, payloadType: 96 }), idr));
    }, 20);
    try {
      await until(() => video.length > 10);
    } finally {
      clearInterval(timer);
    }
    const h264 = transceiverOf(pc, 'video').codecs.find((c) => c.mimeType.toLowerCase() === 'video/h264')!;
    expect(video[0]!.header.payloadType).toBe(h264.payloadType);
    expect(video[0]!.payload[0]! & 0x1f).toBe(5);
  });

  it('uses a configured STUN server for a reflexive candidate, and contacts none when none is configured', async () => {
    const own = new StunServer();
    const { url } = await own.listen();
    try {
      const quiet = pipeline().createWebRtcEndpoint();
      const withStun = pipeline().createWebRtcEndpoint({ iceServers: [{ urls: url }] });
      const found: Record<string, string[]> = { quiet: [], withStun: [] };
      quiet.on('iceCandidate', (c) => found.quiet!.push(c.candidate));
      withStun.on('iceCandidate', (c) => found.withStun!.push(c.candidate));
      for (const ep of [quiet, withStun]) {
        const pc = peer();
        new FakePublisher(22).attach(pc);
        await pc.setLocalDescription(await pc.createOffer());
        await ep.processOffer(pc.localDescription!.sdp);
        await ep.gatherCandidates();
      }
      await until(() => found.withStun!.some((c) => parseCandidate(c)?.type === 'srflx') && found.quiet!.length > 0);
      expect(found.quiet!.every((c) => parseCandidate(c)?.type === 'host')).toBe(true);
      expect(own.requests).toBeGreaterThan(0);
      const before = own.requests;
      await new Promise((r) => setTimeout(r, 200));
      expect(own.requests).toBe(before);
    } finally {
      own.close();
    }
  });

  it("an offer that carries the peer's candidates is not checked before gatherCandidates() (Kurento's order: GATHERING before a pair is selected)", async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint();
    ep.connect(ep);
    const events: string[] = [];
    ep.on('iceGatheringStarted', () => events.push('gathering'));
    ep.on('candidatePairSelected', () => events.push('pair'));
    ep.on('iceStateChange', (s) => events.push(`ice:${s}`));
    const pc = peer();
    new FakePublisher(24).attach(pc);
    ep.on('iceCandidate', (c) => void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }));
    await pc.setLocalDescription(await pc.createOffer());
    expect(pc.localDescription!.sdp).toMatch(/a=candidate:/);
    await pc.setRemoteDescription({ type: 'answer', sdp: await ep.processOffer(pc.localDescription!.sdp) });
    // Time for checks of the offer's candidates, had they been given to the agent.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(events.filter((e) => e === 'pair' || e === 'ice:connected' || e === 'ice:completed')).toEqual([]);
    await ep.gatherCandidates();
    await waitForConnected(pc);
    await until(() => events.includes('pair'));
    expect(events.indexOf('gathering')).toBeLessThan(events.indexOf('pair'));
  });

  it('announces the configured public address in candidates and SDP instead of the local one', async () => {
    const p = pipeline({ announcedAddress: '203.0.113.7' });
    const ep = p.createWebRtcEndpoint();
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const pc = peer();
    new FakePublisher(23).attach(pc);
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await ep.processOffer(pc.localDescription!.sdp);
    await ep.gatherCandidates();
    await until(() => candidates.length > 0);
    expect(candidates.every((c) => parseCandidate(c)!.address === '203.0.113.7')).toBe(true);
    expect(answer).not.toMatch(/127\.0\.0\.1/);
  });
});

describe('MediaPipeline and PassThrough', () => {
  it('a PassThrough forwards its source to several sinks', async () => {
    const p = pipeline();
    const a = p.createWebRtcEndpoint();
    const pass = p.createPassThrough();
    const sinks = [p.createWebRtcEndpoint({ direction: 'sendonly' }), p.createWebRtcEndpoint({ direction: 'sendonly' })];
    const pa = peer();
    const pub = new FakePublisher(24);
    pub.attach(pa);
    await negotiate(pa, a);
    const received: Packet[][] = [];
    for (const sink of sinks) {
      const pc = peer();
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      received.push(collect(pc, 'video'));
      await negotiate(pc, sink);
      await waitForConnected(pc);
      pass.connect(sink);
    }
    await waitForConnected(pa);
    a.connect(pass);
    pub.start();
    await until(() => received.every((r) => r.length > 10));
    pub.stop();
    expect(pass.getSinkConnections('video').map((c) => c.sink)).toEqual(sinks);
    expect(pass.getSourceConnections().map((c) => c.source)).toEqual([a, a]);
    await until(() => pass.isMediaFlowingIn('video') && pass.isMediaFlowingOut('video'), 3000);
  });

  it('refuses a connection that would loop media through forwarding elements', () => {
    const p = pipeline();
    const x = p.createPassThrough();
    const y = p.createPassThrough();
    x.connect(y);
    expect(() => y.connect(x)).toThrow(MediaError);
    expect(() => x.connect(x)).toThrow(/loop/);
    expect(x.getSourceConnections()).toEqual([]);
  });

  it('connecting a new source to a sink replaces the old one, per media kind', () => {
    const p = pipeline();
    const [a, b, sink] = [p.createPassThrough(), p.createPassThrough(), p.createPassThrough()];
    a.connect(sink);
    b.connect(sink, 'video');
    expect(sink.getSourceConnections('audio')[0]!.source).toBe(a);
    expect(sink.getSourceConnections('video')[0]!.source).toBe(b);
    expect(a.getSinkConnections('video')).toEqual([]);
    a.disconnect(sink);
    expect(sink.getSourceConnections('audio')).toEqual([]);
  });

  it.each([
    ['single-port mode', undefined],
    ['port-range mode', false],
  ] as const)('%s: closing a pipeline closes its elements and releases their ports; closed objects refuse use', async (_mode, udpPort) => {
    const p = pipeline({ udpPort });
    const ep = p.createWebRtcEndpoint();
    const pass = p.createPassThrough();
    ep.connect(pass);
    const pc = peer();
    new FakePublisher(25).attach(pc);
    await negotiate(pc, ep);
    const shared = ep.sharedUdpPort;
    if (udpPort === false) {
      expect(p.ports.inUse).toBeGreaterThan(0);
      expect(shared).toBeUndefined();
    } else {
      expect(p.ports.inUse).toBe(0);
      expect(h.engine.sockets.find('127.0.0.1', shared!)?.getStats().bindings).toBe(1);
    }
    p.close();
    p.close();
    expect(ep.closed && pass.closed).toBe(true);
    expect(p.getElements()).toEqual([]);
    expect(p.ports.inUse).toBe(0);
    expect(ep.sharedUdpPort).toBeUndefined();
    if (shared !== undefined) expect(h.engine.sockets.find('127.0.0.1', shared)).toBeUndefined();
    expect(() => p.createPassThrough()).toThrow(/closed/);
    await expect(ep.processOffer('v=0')).rejects.toMatchObject({ code: 'OBJECT_CLOSED' });
    expect(ep).toBeInstanceOf(WebRtcEndpoint);
  });
});
