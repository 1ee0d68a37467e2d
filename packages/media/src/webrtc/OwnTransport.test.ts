import { describe, expect, it } from 'vitest';
import type { RtpPacket } from 'werift';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { transceiverOf, waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import type { IceCandidateInit, IceState, WebRtcEndpoint } from './WebRtcEndpoint.js';

/*
 * Kurento's WebRtcEndpoint on the engine's own transport, what it added to the endpoint's
 * behaviour (the rest is WebRtcEndpoint, Negotiation, IceRestart, ... .test.ts). Named
 * when the own transport was a setting beside werift peer connections (until 2026-12-08).
 */

const h = useMediaHarness([65380, 65399]);
// The TypeScript packet path (OwnTransport.native.test.ts: the native core).
const pipeline = (): ReturnType<typeof h.pipeline> => h.pipeline({ packetCore: 'typescript' });

function sequenceContinuous(packets: readonly RtpPacket[]): boolean {
  return packets.every((p, i) => i === 0 || p.header.sequenceNumber === ((packets[i - 1]!.header.sequenceNumber + 1) & 0xffff));
}

describe('WebRtcEndpoint on the own transport', () => {
  it('negotiates in Kurento\'s order of ICE events, and a loopback returns the peer\'s media', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint();
    ep.connect(ep);
    const events: string[] = [];
    const candidates: IceCandidateInit[] = [];
    ep.on('iceCandidate', (c) => {
      candidates.push(c);
      events.push('candidate');
    });
    ep.on('iceGatheringStarted', () => events.push('gathering'));
    ep.on('iceGatheringDone', () => events.push('done'));
    const iceStates: IceState[] = [];
    ep.on('iceStateChange', (s) => iceStates.push(s));
    const pairs: string[] = [];
    ep.on('candidatePairSelected', (pair) => pairs.push(pair.remoteCandidate));
    const pc = h.peer();
    const pub = new FakePublisher(7);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    const audio = collect(pc, 'audio');
    await negotiate(pc, ep);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length >= 20 && audio.length >= 20).catch((e) => {
      console.log(JSON.stringify(ep.getStats()), video.length, audio.length);
      throw e;
    });
    pub.stop();
    // Kurento's order: the first candidate, GATHERING, ..., done; one host candidate on the shared port.
    expect(events).toEqual(['candidate', 'gathering', 'done']);
    expect(candidates[0]!.candidate).toMatch(new RegExp(`^candidate:\\S+ 1 udp \\d+ 127\\.0\\.0\\.1 ${ep.sharedUdpPort} typ host`));
    expect(ep.getLocalSessionDescriptor()).toContain('a=sendrecv');
    expect(iceStates).toEqual(['checking', 'connected']);
    expect(pairs.length).toBeGreaterThanOrEqual(1);
    expect(pairs[0]).toContain('127.0.0.1');
    expect(video[0]!.payload[2]).toBe(7);
    expect(video[0]!.payload[1]! & 1).toBe(0); // a keyframe first
    expect(sequenceContinuous(video)).toBe(true);
    const stats = ep.getStats();
    expect(stats.video.packetsReceived).toBeGreaterThan(0);
    expect(stats.audio.packetsSent).toBeGreaterThan(0);
    expect(stats.connectionState).toBe('connected');
    expect(stats.dtlsState).toBe('connected');
    // Roundtable's own path from socket to socket: its counters stand for the fast path's.
    const path = ep.getFastPathStats()!;
    expect(path.rtpIn).toBeGreaterThan(0);
    expect(path.rtpOut).toBeGreaterThan(0);
    expect(path.profile).toBe(1);
    expect(path.inbound.authFailures).toBe(0);
  });

  it('connect() of a new source moves the sink\'s consumer: same SSRC, continuous numbers, the new source\'s keyframe first', async () => {
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
    await until(() => got.some((x) => x.payload[2] === 1) && got.length > 15);
    c.connect(b, 'video');
    await until(() => got.some((x) => x.payload[2] === 2) && got.filter((x) => x.payload[2] === 2).length > 15);
    pubA.stop();
    pubC.stop();
    expect(new Set(got.map((x) => x.header.ssrc)).size).toBe(1);
    expect(sequenceContinuous(got)).toBe(true);
    const firstOfC = got.findIndex((x) => x.payload[2] === 2);
    expect(got[firstOfC]!.payload[1]! & 1).toBe(0);
    expect(got.slice(firstOfC).every((x) => x.payload[2] === 2)).toBe(true);
    expect(transceiverOf(pb, 'video').receiver.tracks.length).toBe(1);
  });

  it('makes the offer itself (generateOffer) and takes the answer; a sink connected before negotiation starts on a keyframe', async () => {
    const p = pipeline();
    const a = p.createWebRtcEndpoint();
    const b: WebRtcEndpoint = p.createWebRtcEndpoint();
    a.connect(b);
    const pa = h.peer();
    const pub = new FakePublisher(5, 100_000); // keyframes only on request
    pub.attach(pa);
    await negotiate(pa, a);
    await waitForConnected(pa);
    pub.start();
    await until(() => (a.getInboundStream('video')?.packets ?? 0) > 10);
    // b offers; its peer answers (the Kurento generateOffer flow).
    const pb = h.peer();
    b.on('iceCandidate', (cand) => void pb.addIceCandidate({ candidate: cand.candidate, sdpMid: cand.sdpMid ?? undefined, sdpMLineIndex: cand.sdpMLineIndex ?? undefined }));
    pb.onIceCandidate.subscribe((cand) => {
      if (cand) void b.addIceCandidate({ candidate: cand.candidate, sdpMid: cand.sdpMid ?? null, sdpMLineIndex: cand.sdpMLineIndex ?? null }).catch(() => undefined);
    });
    const offer = await b.generateOffer();
    expect(offer.match(/a=sendrecv/g)?.length).toBe(2);
    const got: RtpPacket[] = [];
    pb.onTrack.subscribe((track) => {
      if (track.kind === 'video') track.onReceiveRtp.subscribe((packet) => got.push(packet));
    });
    await pb.setRemoteDescription({ type: 'offer', sdp: offer });
    await pb.setLocalDescription(await pb.createAnswer());
    await b.processAnswer(pb.localDescription!.sdp);
    await b.gatherCandidates();
    await waitForConnected(pb);
    await until(() => got.length > 10, 15_000).catch((e) => {
      console.log(JSON.stringify(b.getStats()));
      throw e;
    });
    pub.stop();
    expect(got[0]!.payload[2]).toBe(5);
    expect(got[0]!.payload[1]! & 1).toBe(0);
    expect(b.getConnectionState()).toBe('connected');
    await expect(b.processAnswer(pb.localDescription!.sdp)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('with a STUN server, the host candidate is followed by a server-reflexive one of the shared port, asked through the shared socket; gathering ends after it', async () => {
    const ep = h.pipeline({ packetCore: 'typescript', iceServers: [{ urls: h.stunUrl }] }).createWebRtcEndpoint();
    ep.connect(ep);
    const events: string[] = [];
    ep.on('iceCandidate', (c) => events.push(c.candidate));
    ep.on('iceGatheringStarted', () => events.push('gathering'));
    ep.on('iceGatheringDone', () => events.push('done'));
    const pc = h.peer();
    const pub = new FakePublisher(3);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    await negotiate(pc, ep);
    await until(() => events.includes('done'));
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length > 10);
    pub.stop();
    expect(events.map((e) => (e.startsWith('candidate:') ? / typ (\w+)/.exec(e)![1]! : e))).toEqual(['host', 'gathering', 'srflx', 'done']);
    const srflx = events[2]!.split(' ');
    // The loopback STUN server sees the shared socket itself; the related address is the host candidate's.
    expect([srflx[4], Number(srflx[5])]).toEqual(['127.0.0.1', ep.sharedUdpPort]);
    expect(events[2]).toContain(`raddr 127.0.0.1 rport ${ep.sharedUdpPort}`);
    expect(events[2]).toMatch(/ ufrag \S+$/);
  });
});
