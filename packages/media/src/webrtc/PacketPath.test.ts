import wrtc from '@roamhq/wrtc';
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';

import { parseCandidate } from './sdp.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';

const h = useMediaHarness([57000, 57399]);

/*
 * An endpoint's packet path (its transport's, from socket to socket), as
 * getFastPathStats() and getStats() show it. Named after the werift fast path it tested
 * until that path was removed (2026-12-08, issue #18).
 */

/** The UDP socket a werift peer sends media on (to copy what it sends). */
function peerSocket(pc: WeriftPeerConnection): Socket {
  const connection = pc.iceTransports[0]!.connection as unknown as { nominated?: { protocol: { transport: { socket: Socket } } } };
  return connection.nominated!.protocol.transport.socket;
}

function firstPort(candidates: string[]): number {
  return parseCandidate(candidates[0]!)!.port;
}

describe('WebRtcEndpoint packet path with werift peers', () => {
  it('forwards one publisher to three sinks; payloads arrive intact and the path counts every packet', async () => {
    const p = h.pipeline();
    const source = p.createWebRtcEndpoint({ direction: 'recvonly' });
    const sinks = [0, 1, 2].map(() => p.createWebRtcEndpoint({ direction: 'sendonly' }));
    for (const sink of sinks) source.connect(sink);
    const pub = new FakePublisher(21, 10);
    const pubPc = h.peer();
    pub.attach(pubPc);
    const receivers = sinks.map(() => h.peer());
    const videos = receivers.map((pc) => {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      return { video: collect(pc, 'video'), audio: collect(pc, 'audio') };
    });
    await Promise.all([negotiate(pubPc, source), ...sinks.map((s, i) => negotiate(receivers[i]!, s))]);
    await Promise.all([pubPc, ...receivers].map((pc) => waitForConnected(pc)));
    pub.start();
    await until(() => videos.every((v) => v.video.length >= 20 && v.audio.length >= 20));
    pub.stop();

    for (const { video, audio } of videos) {
      // The tag byte and counter the publisher wrote are there, in order.
      expect(video.every((pkt) => pkt.payload[2] === 21 && pkt.payload.length === 200)).toBe(true);
      expect(audio.every((pkt) => pkt.payload[0] === 21 && pkt.payload.length === 80)).toBe(true);
      const counters = video.map((pkt) => pkt.payload.readUInt32BE(4));
      expect(counters.slice(1).every((c, i) => c > counters[i]!)).toBe(true);
    }
    const inStats = source.getFastPathStats()!;
    expect(inStats.rtpIn).toBeGreaterThanOrEqual(40);
    expect(inStats.inbound.authFailures + inStats.inbound.replayed + inStats.inbound.truncated).toBe(0);
    for (const sink of sinks) {
      const stats = sink.getFastPathStats()!;
      expect(stats.rtpOut).toBeGreaterThanOrEqual(40);
      expect(stats.outbound.rtpProtected).toBe(stats.rtpOut);
      expect(sink.getStats().video.packetsSent).toBeGreaterThanOrEqual(20);
    }
  });

  it.each([
    ['single-port mode', undefined],
    ['port-range mode', false],
  ] as const)('%s: replayed, forged, truncated SRTP and random garbage on the media port are dropped and counted; the stream and another peer go on', async (_mode, udpPort) => {
    const p = h.pipeline({ udpPort });
    const ep = p.createWebRtcEndpoint();
    const other = p.createWebRtcEndpoint();
    ep.connect(ep);
    other.connect(other);
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const pc = h.peer();
    const pc2 = h.peer();
    const pub = new FakePublisher(23);
    const pub2 = new FakePublisher(24);
    pub.attach(pc, 'sendrecv');
    pub2.attach(pc2, 'sendrecv');
    const video = collect(pc, 'video');
    const video2 = collect(pc2, 'video');
    await Promise.all([negotiate(pc, ep), negotiate(pc2, other)]);
    await Promise.all([waitForConnected(pc), waitForConnected(pc2)]);
    // Copy what the peer really sends, to replay it.
    const sent: Buffer[] = [];
    let capturing = true;
    const socket = peerSocket(pc);
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    (socket as unknown as { send: (...args: unknown[]) => void }).send = (...args: unknown[]) => {
      const data = args[0];
      if (Buffer.isBuffer(data) && data[0]! >= 128 && data[0]! <= 191 && capturing) sent.push(Buffer.from(data));
      send(...args);
    };
    pub.start();
    pub2.start();
    await until(() => video.length > 5 && video2.length > 5 && sent.filter((d) => d[1]! < 192 || d[1]! > 223).length >= 10 && sent.length >= 20);

    const attacker = createSocket('udp4');
    const port = firstPort(candidates);
    const muxBefore = h.engine.sockets.find('127.0.0.1', port)?.getStats();
    const invalidBefore = ep.getStats().invalidPackets;
    const before = ep.getFastPathStats()!.inbound;
    capturing = false;
    // From the peer's own address and port (an attacker spoofing it): in single-port mode
    // only a known 5-tuple reaches an endpoint's SRTP at all.
    const spoofed = (data: Buffer): void => send(data, port, '127.0.0.1');
    for (const genuine of sent) spoofed(genuine); // replayed
    const rtp = sent.filter((d) => d[1]! < 192 || d[1]! > 223);
    for (const genuine of rtp.slice(0, 10)) {
      // A sequence number not received yet (so not a replay), under the old tag.
      const forged = Buffer.from(genuine);
      forged.writeUInt16BE((forged.readUInt16BE(2) + 3000) & 0xffff, 2);
      spoofed(forged);
      spoofed(genuine.subarray(0, 6)); // truncated
    }
    // The same bytes from another address: a stranger to every endpoint.
    for (const genuine of rtp.slice(0, 10)) attacker.send(genuine, port, '127.0.0.1');
    // Random garbage, much of it shaped like RTP/RTCP (first byte 128-191), of any size.
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 300; i++) {
      const junk = Buffer.alloc(Math.floor(random() * 3000));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(random() * 256);
      if (junk.length > 1 && i % 2 === 0) junk[0] = 0x80 | (junk[0]! & 0x3f);
      if (junk.length > 1 && i % 4 === 0) junk[1] = 200 + (i % 8);
      attacker.send(junk, port, '127.0.0.1');
    }
    const [v1, v2] = [video.length, video2.length];
    await until(() => {
      const s = ep.getFastPathStats()!.inbound;
      return s.replayed - before.replayed >= sent.length && s.authFailures - before.authFailures >= 10 && s.truncated - before.truncated >= 10;
    }).catch((error: unknown) => {
      console.log(JSON.stringify(before), JSON.stringify(ep.getFastPathStats()), sent.length);
      throw error;
    });
    await until(() => video.length > v1 + 20 && video2.length > v2 + 20);
    attacker.close();
    pub.stop();
    pub2.stop();
    const invalid = ep.getStats().invalidPackets - invalidBefore;
    if (udpPort === false) {
      // Port-range mode: the endpoint's own socket gets everything sent to it.
      expect(invalid).toBeGreaterThanOrEqual(sent.length + 20 + 10);
      // That socket is a mux of the endpoint's alone: what it drops from the stranger is the endpoint's count.
      const mux = h.engine.sockets.find('127.0.0.1', port)!;
      expect(mux.users).toBe(1);
      expect(mux.getStats().droppedUnknown + mux.getStats().droppedMalformed - muxBefore!.droppedUnknown - muxBefore!.droppedMalformed).toBeGreaterThanOrEqual(300);
      expect(invalid).toBeGreaterThanOrEqual(sent.length + 20 + 300);
    } else {
      // Single-port mode: the stranger's datagrams never got past the mux.
      expect(invalid).toBeGreaterThanOrEqual(sent.length + 20);
      expect(invalid).toBeLessThan(sent.length + 20 + 10 + 300);
      const mux = h.engine.sockets.find('127.0.0.1', port)!.getStats();
      expect(mux.droppedUnknown + mux.droppedMalformed - muxBefore!.droppedUnknown - muxBefore!.droppedMalformed).toBeGreaterThanOrEqual(300);
    }
    expect(other.getStats().invalidPackets).toBe(0);
    const otherStats = other.getFastPathStats()!.inbound;
    expect(otherStats.replayed + otherStats.authFailures + otherStats.truncated).toBe(0);
  });
});

describe('WebRtcEndpoint packet path with a libwebrtc peer (@roamhq/wrtc)', () => {
  it('VP8 and Opus from libwebrtc come back through a loopback endpoint and decode; the path counts RTP and RTCP both ways', async () => {
    const { RTCPeerConnection, nonstandard } = wrtc;
    const p = h.pipeline();
    const ep: WebRtcEndpoint = p.createWebRtcEndpoint();
    ep.connect(ep);
    const pc = new RTCPeerConnection({ iceServers: [{ urls: h.stunUrl }] });
    h.track({ close: () => pc.close() });
    const video = new nonstandard.RTCVideoSource();
    const audio = new nonstandard.RTCAudioSource();
    pc.addTransceiver(video.createTrack(), { direction: 'sendrecv' });
    pc.addTransceiver(audio.createTrack(), { direction: 'sendrecv' });
    const width = 320;
    const height = 240;
    const frame = new Uint8Array((width * height * 3) / 2);
    let n = 0;
    const videoTimer = setInterval(() => {
      frame.fill((n++ * 7) & 0xff, 0, width * height);
      video.onFrame({ width, height, data: frame });
    }, 33);
    const samples = new Int16Array(480);
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48000));
    const audioTimer = setInterval(() => {
      audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
    }, 10);
    h.track({
      close: () => {
        clearInterval(videoTimer);
        clearInterval(audioTimer);
      },
    });
    ep.on('iceCandidate', (c) => {
      void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 });
    });
    pc.onicecandidate = (e) => {
      const parsed = e.candidate ? parseCandidate(e.candidate.candidate) : undefined;
      if (e.candidate && parsed?.address === '127.0.0.1' && parsed.protocol === 'udp') {
        void ep.addIceCandidate({ candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex });
      }
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await pc.setRemoteDescription({ type: 'answer', sdp: await ep.processOffer(offer.sdp!) });
    await ep.gatherCandidates();

    interface InboundStat {
      type: string;
      kind?: string;
      framesDecoded?: number;
      packetsReceived?: number;
    }
    const inbound = async (): Promise<{ v?: InboundStat; a?: InboundStat }> => {
      const list: InboundStat[] = [];
      (await pc.getStats()).forEach((s: InboundStat) => list.push(s));
      return {
        v: list.find((s) => s.type === 'inbound-rtp' && s.kind === 'video'),
        a: list.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio'),
      };
    };
    let last = await inbound();
    const deadline = Date.now() + 30_000;
    // Media may decode before the peer's first RTCP report (about a second in): wait for both.
    const rtcpArrived = (): boolean => (ep.getFastPathStats()?.rtcpIn ?? 0) > 0;
    while (Date.now() < deadline && !((last.v?.framesDecoded ?? 0) > 10 && (last.a?.packetsReceived ?? 0) > 20 && rtcpArrived())) {
      await new Promise((r) => setTimeout(r, 250));
      last = await inbound();
    }
    expect(last.v?.framesDecoded ?? 0).toBeGreaterThan(10);
    expect(last.a?.packetsReceived ?? 0).toBeGreaterThan(20);
    const stats = ep.getFastPathStats()!;
    expect(stats.rtpIn).toBeGreaterThan(20);
    expect(stats.rtpOut).toBeGreaterThan(20);
    expect(stats.rtcpIn).toBeGreaterThan(0);
    expect(stats.inbound.authFailures).toBe(0);
  });
});
