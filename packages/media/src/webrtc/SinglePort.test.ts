import wrtc from '@roamhq/wrtc';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';

import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { startRestartedChecks, waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import { parseCandidate } from './sdp.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';

// This file's UDP ports: 61100-61499 (single port: the first of each range).
const h = useMediaHarness([61100, 61299]);
const HOST = '127.0.0.1';

interface InboundStat {
  type: string;
  kind?: string;
  framesDecoded?: number;
  packetsReceived?: number;
}

/** Records the ports of the host candidates an endpoint announces. */
function candidatePorts(ep: WebRtcEndpoint): number[] {
  const ports: number[] = [];
  ep.on('iceCandidate', (c) => ports.push(parseCandidate(c.candidate)!.port));
  return ports;
}

/** A werift peer publishing synthetic VP8/Opus and collecting what it receives. */
function publishingPeer(tag: number): { pc: WeriftPeerConnection; pub: FakePublisher; video: RtpPacket[]; audio: RtpPacket[] } {
  const pc = h.peer();
  const pub = new FakePublisher(tag);
  pub.attach(pc, 'sendrecv');
  return { pc, pub, video: collect(pc, 'video'), audio: collect(pc, 'audio') };
}

/** A libwebrtc peer sending real VP8 and Opus, negotiated with `ep`. */
async function libwebrtcPeer(ep: WebRtcEndpoint): Promise<{ stats(): Promise<InboundStat[]> }> {
  const { RTCPeerConnection, nonstandard } = wrtc;
  const pc = new RTCPeerConnection({ iceServers: [{ urls: h.stunUrl }] });
  const video = new nonstandard.RTCVideoSource();
  const audio = new nonstandard.RTCAudioSource();
  pc.addTransceiver(video.createTrack(), { direction: 'sendrecv' });
  pc.addTransceiver(audio.createTrack(), { direction: 'sendrecv' });
  const frame = new Uint8Array((320 * 240 * 3) / 2);
  let n = 0;
  const videoTimer = setInterval(() => {
    frame.fill((n++ * 7) & 0xff, 0, 320 * 240);
    video.onFrame({ width: 320, height: 240, data: frame });
  }, 33);
  const samples = new Int16Array(480);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48000));
  const audioTimer = setInterval(() => audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 }), 10);
  h.track({
    close: () => {
      clearInterval(videoTimer);
      clearInterval(audioTimer);
      pc.close();
    },
  });
  ep.on('iceCandidate', (c) => {
    void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 });
  });
  pc.onicecandidate = (e) => {
    const parsed = e.candidate ? parseCandidate(e.candidate.candidate) : undefined;
    if (e.candidate && parsed?.address === HOST && parsed.protocol === 'udp') {
      void ep.addIceCandidate({ candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex });
    }
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const answer = await ep.processOffer(offer.sdp!);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await ep.gatherCandidates();
  return {
    stats: async () => {
      const out: InboundStat[] = [];
      (await pc.getStats()).forEach((s: InboundStat) => out.push(s));
      return out;
    },
  };
}

async function inbound(peer: { stats(): Promise<InboundStat[]> }, kind: string): Promise<InboundStat | undefined> {
  return (await peer.stats()).find((s) => s.type === 'inbound-rtp' && s.kind === kind);
}

/** UDP sockets of this machine bound to a port of [min, max] (from /proc/net/udp). */
function udpSocketsIn(min: number, max: number): number {
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => Number.parseInt(line.trim().split(/\s+/)[1]?.split(':')[1] ?? '', 16))
    .filter((port) => port >= min && port <= max).length;
}

describe('single-port mode with real peers', () => {
  it('four werift peers and a libwebrtc peer on endpoints of one pipeline share one server port; media flows both ways', async () => {
    const p = h.pipeline();
    const eps = [0, 1, 2, 3, 4].map(() => p.createWebRtcEndpoint());
    // A ring: each endpoint forwards to the next, so every peer receives another's media.
    for (let i = 0; i < eps.length; i++) eps[i]!.connect(eps[(i + 1) % eps.length]!);
    const ports = eps.map(candidatePorts);
    const peers = [0, 1, 2, 3].map((i) => publishingPeer(30 + i));
    await Promise.all(peers.map((peer, i) => negotiate(peer.pc, eps[i]!)));
    const lib = await libwebrtcPeer(eps[4]!);
    await Promise.all(peers.map((peer) => waitForConnected(peer.pc)));
    for (const peer of peers) peer.pub.start();

    // peers[0] receives libwebrtc's real VP8/Opus; libwebrtc receives peers[3]'s.
    await until(() => peers.every((peer) => peer.video.length > 10 && peer.audio.length > 10), 20_000);
    let libVideo: InboundStat | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (libVideo?.packetsReceived ?? 0) <= 10) {
      libVideo = await inbound(lib, 'video');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const peer of peers) peer.pub.stop();

    expect(libVideo?.packetsReceived ?? 0).toBeGreaterThan(10);
    expect(peers[1]!.video.every((pkt) => pkt.payload[2] === 30)).toBe(true); // from peers[0]
    const all = ports.flat();
    expect(all.length).toBeGreaterThanOrEqual(eps.length);
    expect(new Set(all).size).toBe(1);
    const mux = h.engine.sockets.find(HOST, all[0]!)!;
    expect(mux.getStats()).toMatchObject({ bindings: eps.length });
    expect(mux.getStats().tuples).toBeGreaterThanOrEqual(eps.length);
    for (const ep of eps) {
      const stats = ep.getFastPathStats()!;
      expect(stats.rtpIn).toBeGreaterThan(10);
      expect(stats.rtpOut).toBeGreaterThan(10);
      expect(ep.getStats().invalidPackets).toBe(0);
    }
  });

  it('an endpoint released mid-call leaves the others streaming; the last one gone closes the socket', async () => {
    const p = h.pipeline();
    const eps = [0, 1, 2].map(() => p.createWebRtcEndpoint());
    for (const ep of eps) ep.connect(ep);
    const ports = candidatePorts(eps[0]!);
    const peers = [0, 1, 2].map((i) => publishingPeer(40 + i));
    await Promise.all(peers.map((peer, i) => negotiate(peer.pc, eps[i]!)));
    await Promise.all(peers.map((peer) => waitForConnected(peer.pc)));
    for (const peer of peers) peer.pub.start();
    await until(() => peers.every((peer) => peer.video.length > 5));
    const mux = h.engine.sockets.find(HOST, ports[0]!)!;
    expect(mux.getStats().bindings).toBe(3);

    eps[0]!.close();
    expect(mux.getStats().bindings).toBe(2);
    const before = peers.map((peer) => peer.video.length);
    await until(() => peers[1]!.video.length > before[1]! + 20 && peers[2]!.video.length > before[2]! + 20);
    for (const peer of peers) peer.pub.stop();
    expect(mux.isClosed).toBe(false);
    eps[1]!.close();
    eps[2]!.close();
    expect(mux.isClosed).toBe(true);
    expect(h.engine.sockets.find(HOST, ports[0]!)).toBeUndefined();
  });

  it('thousands of hostile datagrams at the shared port (random, RTP-, DTLS- and STUN-shaped, forged requests for real ufrags) are dropped and counted; two peers keep streaming', async () => {
    const p = h.pipeline();
    const eps = [p.createWebRtcEndpoint(), p.createWebRtcEndpoint()];
    for (const ep of eps) ep.connect(ep);
    const ports = candidatePorts(eps[0]!);
    const peers = [50, 51].map((tag) => publishingPeer(tag));
    const answers: string[] = [];
    for (const [i, peer] of peers.entries()) {
      await negotiate(peer.pc, eps[i]!);
      answers.push(peer.pc.remoteDescription!.sdp);
    }
    await Promise.all(peers.map((peer) => waitForConnected(peer.pc)));
    for (const peer of peers) peer.pub.start();
    await until(() => peers.every((peer) => peer.video.length > 5));
    const ufrags = answers.map((sdp) => /a=ice-ufrag:(\S+)/.exec(sdp)![1]!);
    const port = ports[0]!;
    const mux = h.engine.sockets.find(HOST, port)!;
    const before = mux.getStats();
    const counts = peers.map((peer) => peer.video.length);

    const fuzzer = createSocket('udp4');
    await new Promise<void>((resolve) => fuzzer.bind(0, HOST, resolve));
    let seed = 99;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const total = 3000;
    for (let i = 0; i < total; i++) {
      let junk: Buffer;
      switch (i % 6) {
        case 0: // random bytes of any size
          junk = randomBytes(Math.floor(random() * 1400));
          break;
        case 1: // RTP/RTCP-shaped
          junk = randomBytes(12 + Math.floor(random() * 1200));
          junk[0] = 0x80 | (junk[0]! & 0x3f);
          break;
        case 2: // DTLS-shaped
          junk = randomBytes(13 + Math.floor(random() * 300));
          junk[0] = 20 + (i % 4);
          break;
        case 3: // a STUN header over attribute soup (truncated and oversized attributes)
          junk = randomBytes(20 + 4 * Math.floor(random() * 30));
          junk.writeUInt16BE(0x0001, 0);
          junk.writeUInt16BE(random() < 0.5 ? junk.length - 20 : Math.floor(random() * 65536), 2);
          junk.writeUInt32BE(0x2112a442, 4);
          break;
        case 4: // a well-formed Binding request for a real ufrag, signed with a wrong password
          junk = signedRequest(`${ufrags[i % 2]}:evil`, 'not-the-password');
          break;
        default: // the same, unsigned
          junk = signedRequest(`${ufrags[i % 2]}:evil`);
          break;
      }
      fuzzer.send(junk, port, HOST);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => mux.getStats().datagrams - before.datagrams >= total, 20_000).catch(() => undefined);
    await until(() => peers.every((peer, i) => peer.video.length > counts[i]! + 30));
    fuzzer.close();
    for (const peer of peers) peer.pub.stop();

    const after = mux.getStats();
    const dropped = after.droppedUnknown + after.droppedMalformed + after.droppedUnauthenticated - (before.droppedUnknown + before.droppedMalformed + before.droppedUnauthenticated);
    // Every datagram the kernel delivered from the fuzzer was dropped at the mux (the
    // peers' own datagrams are all routed).
    const fromFuzzer = Math.min(total, after.datagrams - before.datagrams);
    expect(dropped).toBeGreaterThan(total * 0.9);
    expect(dropped).toBeLessThanOrEqual(fromFuzzer);
    expect(after.droppedUnauthenticated - before.droppedUnauthenticated).toBeGreaterThan(total / 6);
    expect(after.tuples).toBe(before.tuples); // nothing learned from the fuzzer
    for (const ep of eps) expect(ep.getStats().invalidPackets).toBe(0);
  });

  it('after an ICE restart the new ufrag is routed (checked with the new password) and media goes on', async () => {
    const ep = h.pipeline().createWebRtcEndpoint();
    ep.connect(ep);
    const ports = candidatePorts(ep);
    const peer = publishingPeer(70);
    await negotiate(peer.pc, ep);
    await waitForConnected(peer.pc);
    peer.pub.start();
    await until(() => peer.video.length > 5);

    peer.pc.restartIce();
    await peer.pc.setLocalDescription(await peer.pc.createOffer({ iceRestart: true }));
    const answer = await ep.processOffer(peer.pc.localDescription!.sdp);
    await peer.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    startRestartedChecks(peer.pc);
    const v0 = peer.video.length;
    await until(() => peer.video.length > v0 + 30, 20_000);
    peer.pub.stop();

    const ufrag = /a=ice-ufrag:(\S+)/.exec(answer)![1]!;
    const pwd = /a=ice-pwd:(\S+)/.exec(answer)![1]!;
    // The transport takes only the peer's current ufrag as the USERNAME's remote part.
    const remote = /a=ice-ufrag:(\S+)/.exec(peer.pc.localDescription!.sdp)![1]!;
    const prober = createSocket('udp4');
    h.track({ close: () => prober.close() });
    const responses: Buffer[] = [];
    prober.on('message', (data) => responses.push(data));
    // A made-up remote part, sent first, is refused.
    prober.send(signedRequest(`${ufrag}:probe`, pwd), ports[0]!, HOST);
    const request = signedRequest(`${ufrag}:${remote}`, pwd);
    prober.send(request, ports[0]!, HOST);
    await until(() => responses.length > 0);
    expect(responses[0]!.readUInt16BE(0)).toBe(0x0101); // Binding success
    expect(responses[0]!.subarray(8, 20).equals(request.subarray(8, 20))).toBe(true);
  });

  it('with a STUN server configured, the endpoint asks it through the shared socket and offers a server-reflexive candidate of the shared port', async () => {
    const ep = h.pipeline({ iceServers: [{ urls: h.stunUrl }] }).createWebRtcEndpoint();
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const peer = publishingPeer(80);
    await negotiate(peer.pc, ep);
    await until(() => candidates.some((c) => c.includes(' typ srflx')));
    const host = parseCandidate(candidates.find((c) => c.includes(' typ host'))!)!;
    const srflx = parseCandidate(candidates.find((c) => c.includes(' typ srflx'))!)!;
    expect(host.port).toBe(ep.sharedUdpPort);
    // The loopback STUN server sees the shared socket itself.
    expect([srflx.address, srflx.port]).toEqual([HOST, ep.sharedUdpPort]);
    await waitForConnected(peer.pc);
  });

  it('sockets for a 9-person room: one in single-port mode, one per participant or more in port-range mode', async () => {
    const counts: Record<string, number> = {};
    for (const [mode, udpPort, range] of [
      ['single-port', undefined, [61300, 61399]],
      ['port-range', false, [61400, 61499]],
    ] as const) {
      const p = h.pipeline({ udpPort, portRange: [range[0], range[1]] });
      const eps = Array.from({ length: 9 }, () => p.createWebRtcEndpoint());
      for (const ep of eps) ep.connect(ep);
      const peers = eps.map((_, i) => publishingPeer(60 + i));
      await Promise.all(peers.map((peer, i) => negotiate(peer.pc, eps[i]!)));
      await Promise.all(peers.map((peer) => waitForConnected(peer.pc)));
      counts[mode] = udpSocketsIn(range[0], range[1]);
      p.close();
    }
    console.log(`UDP sockets of the server for 9 participants: single-port ${counts['single-port']}, port-range ${counts['port-range']}`);
    expect(counts['single-port']).toBe(1);
    expect(counts['port-range']).toBeGreaterThanOrEqual(9);
  });
});

/** A STUN Binding request with USERNAME, signed with `password` if given. */
function signedRequest(username: string, password?: string): Buffer {
  const name = Buffer.from(username);
  const padded = Buffer.concat([name, Buffer.alloc((4 - (name.length % 4)) % 4)]);
  const attr = Buffer.alloc(4);
  attr.writeUInt16BE(0x0006, 0);
  attr.writeUInt16BE(name.length, 2);
  let body = Buffer.concat([attr, padded]);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0);
  header.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(header, 8);
  if (password !== undefined) {
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac('sha1', password).update(header).update(body).digest();
    body = Buffer.concat([body, Buffer.from([0x00, 0x08, 0x00, 20]), mac]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}
