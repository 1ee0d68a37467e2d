import { describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import {
  GenericNack,
  RtcpPayloadSpecificFeedback,
  RtcpTransportLayerFeedback,
  type RtcpPacket,
  type RtpPacket,
} from 'werift';
import { MediaError } from '../core/errors.js';

import { parseCandidate } from './sdp.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { rembPacket, transceiverOf, waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';

const h = useMediaHarness([42000, 42999]);
const pipeline = h.pipeline;
const peer = h.peer;

describe('WebRtcEndpoint with werift peers', () => {
  it('a loopback endpoint returns the audio and video its peer sends', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint();
    ep.connect(ep);
    const pc = peer();
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
    expect(video[0]!.payload[2]).toBe(7);
    expect(video[0]!.payload[1]! & 1).toBe(0); // first forwarded video packet is a keyframe
    for (let i = 1; i < video.length; i++) {
      expect(video[i]!.header.sequenceNumber).toBe((video[i - 1]!.header.sequenceNumber + 1) & 0xffff);
    }
    const stats = ep.getStats();
    expect(stats.video.packetsReceived).toBeGreaterThan(0);
    expect(stats.audio.packetsSent).toBeGreaterThan(0);
    expect(stats.connectionState).toBe('connected');
  });

  it('switching a sink to another source keeps its SSRC and sequence numbers continuous', async () => {
    const p = pipeline();
    const [a, c, b] = [p.createWebRtcEndpoint(), p.createWebRtcEndpoint(), p.createWebRtcEndpoint({ direction: 'sendonly' })];
    const [pa, pc, pb] = [peer(), peer(), peer()];
    const pubA = new FakePublisher(1, 10);
    const pubC = new FakePublisher(2, 10);
    pubA.attach(pa);
    pubC.attach(pc);
    pb.addTransceiver('video', { direction: 'recvonly' });
    pb.addTransceiver('audio', { direction: 'recvonly' });
    const video = collect(pb, 'video');
    const audio = collect(pb, 'audio');
    await Promise.all([negotiate(pa, a), negotiate(pc, c), negotiate(pb, b)]);
    await Promise.all([waitForConnected(pa), waitForConnected(pc), waitForConnected(pb)]);
    a.connect(b);
    pubA.start();
    pubC.start();
    await until(() => video.length >= 15 && audio.length >= 15);
    c.connect(b);
    await until(() => video.some((v) => v.payload[2] === 2) && audio.filter((x) => x.payload[0] === 2).length >= 10);
    pubA.stop();
    pubC.stop();
    for (const list of [video, audio]) {
      const ssrcs = new Set(list.map((x) => x.header.ssrc));
      expect(ssrcs.size).toBe(1);
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.header.sequenceNumber).toBe((list[i - 1]!.header.sequenceNumber + 1) & 0xffff);
      }
    }
    const firstFromC = video.findIndex((v) => v.payload[2] === 2);
    expect(video[firstFromC]!.payload[1]! & 1).toBe(0); // the switch lands on a keyframe
    expect(video.slice(firstFromC).every((v) => v.payload[2] === 2)).toBe(true);
    // Timestamps keep moving forward across the switch.
    const before = video[firstFromC - 1]!.header.timestamp;
    const after = video[firstFromC]!.header.timestamp;
    expect(((after - before) >>> 0) < 90000 * 5).toBe(true);
    expect(after).not.toBe(before);
  });

  it('a NACK from a sink is answered from the source history, even for a packet long past 128', async () => {
    const p = pipeline();
    const a = p.createWebRtcEndpoint();
    const b = p.createWebRtcEndpoint({ direction: 'sendonly' });
    const pa = peer();
    const pb = peer();
    const pub = new FakePublisher(3, 1000);
    pub.attach(pa);
    pb.addTransceiver('video', { direction: 'recvonly' });
    const video = collect(pb, 'video');
    await Promise.all([negotiate(pa, a), negotiate(pb, b)]);
    await Promise.all([waitForConnected(pa), waitForConnected(pb)]);
    a.connect(b);
    // 300 packets in well under a second: 128 slots would not hold them.
    const sendBurst = async (): Promise<void> => {
      for (let i = 0; i < 300; i++) {
        pub.sendOne();
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    };
    // Warm up first: the sink starts on a keyframe once its transport is up.
    pub.start();
    await until(() => video.length > 0);
    pub.stop();
    const warm = video.length;
    await sendBurst();
    await until(() => video.length >= warm + 250);
    // Until nothing more arrives for 150 ms: the rest of the burst (with packets still in flight, "220 before the
    // newest we got" could be older than the source's 256 packets), and the resends of what the burst lost. The
    // copy we ask for again may be such a resend, and a packet is resent at most once per round trip (100 ms
    // before a report measures it): 150 ms after it, it may go again.
    for (let count = -1; count !== video.length; ) {
      count = video.length;
      await new Promise((r) => setTimeout(r, 150));
    }
    // A packet about 220 numbers before the newest (by number: resends arrive late and out of order), one we got.
    const newest = video.at(-1)!.header.sequenceNumber;
    const back = (p: RtpPacket): number => (newest - p.header.sequenceNumber) & 0xffff;
    const target = video.filter((p) => back(p) >= 200 && back(p) <= 240).sort((x, y) => Math.abs(back(x) - 220) - Math.abs(back(y) - 220))[0]!;
    const seq = target.header.sequenceNumber;
    const t = transceiverOf(pb, 'video');
    await t.receiver.dtlsTransport.sendRtcp([
      new RtcpTransportLayerFeedback({
        feedback: new GenericNack({ senderSsrc: t.receiver.rtcpSsrc, mediaSourceSsrc: target.header.ssrc, lost: [seq] }),
      }),
    ]);
    const retransmittedBefore = b.getStats().video.retransmitted;
    await until(() => video.filter((v) => v.header.sequenceNumber === seq).length >= 2);
    const copies = video.filter((v) => v.header.sequenceNumber === seq);
    expect(copies.at(-1)!.payload.equals(copies[0]!.payload)).toBe(true);
    expect(copies.at(-1)!.header.timestamp).toBe(copies[0]!.header.timestamp);
    // The burst also loses packets on loopback for real: the receiver's own NACKs are
    // answered too, so count at least ours.
    expect(b.getStats().video.retransmitted).toBeGreaterThan(retransmittedBefore);
    expect(b.getStats().video.nacksReceived).toBeGreaterThanOrEqual(1);
  });

  it('a new sink gets a keyframe at once, and keyframe requests of many sinks are coalesced', async () => {
    const p = pipeline();
    const a = p.createWebRtcEndpoint();
    const pa = peer();
    const pub = new FakePublisher(4, 100_000); // no periodic keyframes: only on request
    pub.attach(pa);
    await negotiate(pa, a);
    await waitForConnected(pa);
    pub.start();
    await until(() => (a.getInboundStream('video')?.packets ?? 0) > 10);
    const sinks: { ep: WebRtcEndpoint; video: RtpPacket[] }[] = [];
    for (let i = 0; i < 4; i++) {
      const ep = p.createWebRtcEndpoint({ direction: 'sendonly' });
      const pc = peer();
      pc.addTransceiver('video', { direction: 'recvonly' });
      sinks.push({ ep, video: collect(pc, 'video') });
      await negotiate(pc, ep);
      await waitForConnected(pc);
    }
    const plisBefore = pub.pliReceived;
    for (const s of sinks) a.connect(s.ep, 'video');
    await until(() => sinks.every((s) => s.video.length > 5), 5000);
    pub.stop();
    for (const s of sinks) expect(s.video[0]!.payload[1]! & 1).toBe(0);
    // Four sinks asked within a moment: at most one request now and one at the end of the interval.
    expect(pub.pliReceived - plisBefore).toBeGreaterThanOrEqual(1);
    expect(pub.pliReceived - plisBefore).toBeLessThanOrEqual(2);
    expect(a.getInboundStream('video')!.keyframes.requested).toBeGreaterThanOrEqual(4);
  });

  it('a sink connected before it is negotiated starts on a keyframe once its transport is up', async () => {
    const p = pipeline();
    const a = p.createWebRtcEndpoint();
    const b = p.createWebRtcEndpoint({ direction: 'sendonly' });
    a.connect(b); // as Kurento applications do: wire first, negotiate later
    const pa = peer();
    const pub = new FakePublisher(13, 100_000); // keyframes only on request
    pub.attach(pa);
    await negotiate(pa, a);
    await waitForConnected(pa);
    pub.start();
    await until(() => (a.getInboundStream('video')?.packets ?? 0) > 20);
    const pb = peer();
    pb.addTransceiver('video', { direction: 'recvonly' });
    const video = collect(pb, 'video');
    await negotiate(pb, b);
    await waitForConnected(pb);
    await until(() => video.length > 5);
    pub.stop();
    expect(video[0]!.payload[1]! & 1).toBe(0);
    for (let i = 1; i < video.length; i++) {
      expect(video[i]!.header.sequenceNumber).toBe((video[i - 1]!.header.sequenceNumber + 1) & 0xffff);
    }
  });

  /**
   * A publisher's endpoint `a` connected to a viewer's `b`, streaming: the sender reports
   * the viewer's peer gets, the REMBs the publisher's peer gets, and `askRemb(bps)` sending
   * a REMB from the viewer's peer.
   */
  async function rembChain(setUp: (a: WebRtcEndpoint) => void = () => undefined) {
    const p = pipeline();
    const a = p.createWebRtcEndpoint();
    const b = p.createWebRtcEndpoint({ direction: 'sendonly' });
    setUp(a);
    const pa = peer();
    const pb = peer();
    const pub = new FakePublisher(5);
    pub.attach(pa);
    pb.addTransceiver('video', { direction: 'recvonly' });
    const video = collect(pb, 'video');
    const srs: RtcpPacket[] = [];
    transceiverOf(pb, 'video').receiver.onRtcp.subscribe((r) => srs.push(r));
    const rembsAtSource: number[] = [];
    transceiverOf(pa, 'video').sender.onRtcp.subscribe((r) => {
      if (r instanceof RtcpPayloadSpecificFeedback && r.feedback.count === 15 && 'bitrate' in r.feedback) rembsAtSource.push(Number(r.feedback.bitrate));
    });
    await Promise.all([negotiate(pa, a), negotiate(pb, b)]);
    await Promise.all([waitForConnected(pa), waitForConnected(pb)]);
    a.connect(b);
    pub.start();
    await until(() => video.length > 5);
    const t = transceiverOf(pb, 'video');
    const askRemb = async (bps: number): Promise<void> => {
      await t.receiver.dtlsTransport.sendRtcp([rembPacket(t.receiver.rtcpSsrc, video[0]!.header.ssrc, bps)]);
    };
    return { a, b, pub, srs, rembsAtSource, askRemb };
  }

  it('sends sender reports to sinks, measures their RTT, and passes their REMB back to the source', async () => {
    const { b, pub, srs, rembsAtSource, askRemb } = await rembChain();
    await askRemb(300_000);
    await until(() => srs.some((r) => r.type === 200) && rembsAtSource.length > 0 && b.getStats().video.roundTripTime !== undefined, 8000);
    pub.stop();
    expect(rembsAtSource.at(-1)).toBeGreaterThan(290_000);
    expect(rembsAtSource.at(-1)).toBeLessThanOrEqual(300_000);
    expect(b.getStats().video.roundTripTime!).toBeLessThan(1);
  });

  it('maxVideoRecvBandwidth caps the REMB the source peer gets, below what its sinks ask, and can change while it runs', async () => {
    const { a, pub, rembsAtSource, askRemb } = await rembChain((a) => a.setMaxVideoRecvBandwidth(200));
    // The sink asks for 300 kbit/s; the source's endpoint lets 200 through.
    await askRemb(300_000);
    await until(() => rembsAtSource.length > 1, 8000);
    expect(rembsAtSource.at(-1)).toBeGreaterThan(190_000);
    expect(rembsAtSource.at(-1)).toBeLessThanOrEqual(200_000);
    // Lifted (0: no cap): the sink's 300 kbit/s goes through.
    a.setMaxVideoRecvBandwidth(0);
    const lifted = rembsAtSource.length;
    await askRemb(300_000);
    await until(() => rembsAtSource.length > lifted + 1, 8000);
    pub.stop();
    expect(rembsAtSource.at(-1)).toBeGreaterThan(290_000);
    expect(rembsAtSource.at(-1)).toBeLessThanOrEqual(300_000);
  });

  it('single-port mode: the host candidate of every endpoint is the first port of the range, on a socket bound to the configured address only', async () => {
    const p = h.engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [43110, 43119] });
    h.track(p);
    const eps = [p.createWebRtcEndpoint(), p.createWebRtcEndpoint()];
    const ports: number[] = [];
    for (const ep of eps) {
      ep.on('iceCandidate', (c) => ports.push(parseCandidate(c.candidate)!.port));
      const pc = peer();
      new FakePublisher(6).attach(pc);
      await pc.setLocalDescription(await pc.createOffer());
      await ep.processOffer(pc.localDescription!.sdp);
      await ep.gatherCandidates();
    }
    await until(() => ports.length >= 2);
    // 43110 unless another socket of the machine held it (the default takes the next free one).
    const port = h.engine.sockets.find('127.0.0.1', ports[0]!)!.port;
    expect(port).toBeGreaterThanOrEqual(43110);
    expect(port).toBeLessThanOrEqual(43119);
    expect(ports.every((p) => p === port)).toBe(true);
    expect(eps.every((ep) => ep.reservedPorts === undefined)).toBe(true);
    expect(p.ports.inUse).toBe(0);
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const sockets = readFileSync('/proc/net/udp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[1]);
    expect(sockets.filter((s) => s === `0100007F:${hex}`)).toHaveLength(1);
    expect(sockets).not.toContain(`00000000:${hex}`);
    for (const ep of eps) ep.close();
    // The last user gone, the socket is closed.
    expect(h.engine.sockets.find('127.0.0.1', port)).toBeUndefined();
  });

  it('port-range mode: gathers host candidates only on the configured addresses and inside the port range', async () => {
    const p = h.engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [43100, 43109], udpPort: false });
    h.track(p);
    const ep = p.createWebRtcEndpoint();
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const pc = peer();
    new FakePublisher(6).attach(pc);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await ep.processOffer(pc.localDescription!.sdp);
    await ep.gatherCandidates();
    await until(() => candidates.length > 0);
    for (const c of candidates) {
      const parsed = parseCandidate(c)!;
      expect(parsed.address).toBe('127.0.0.1');
      expect(parsed.port).toBeGreaterThanOrEqual(43100);
      expect(parsed.port).toBeLessThanOrEqual(43109);
    }
    expect(ep.reservedPorts![0]).toBeGreaterThanOrEqual(43100);
    // The socket listens on 127.0.0.1 only, not on the wildcard address.
    const port = parseCandidate(candidates[0]!)!.port.toString(16).toUpperCase().padStart(4, '0');
    const sockets = readFileSync('/proc/net/udp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[1]);
    expect(sockets).toContain(`0100007F:${port}`);
    expect(sockets).not.toContain(`00000000:${port}`);
    ep.close();
    expect(p.ports.inUse).toBe(0);
  });
});

describe('WebRtcEndpoint with bad input', () => {
  it('processOffer() rejects a malformed offer with INVALID_SDP and stays usable', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint();
    await expect(ep.processOffer('hello')).rejects.toMatchObject({ code: 'INVALID_SDP' });
    await expect(ep.processOffer('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video nonsense\r\n')).rejects.toBeInstanceOf(MediaError);
    expect(p.ports.inUse).toBe(0);
    const pc = peer();
    new FakePublisher(8).attach(pc, 'sendrecv');
    await negotiate(pc, ep);
    await waitForConnected(pc);
  });

  it('processOffer() rejects an offer of unknown codecs only with NO_COMMON_CODEC', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint();
    const pc = peer();
    new FakePublisher(9).attach(pc);
    const offer = await pc.createOffer();
    const sdp = offer.sdp.replace(/opus/gi, 'X-UNKNOWN').replace(/VP8/g, 'X-VID').replace(/H264/g, 'X-VID2');
    await expect(ep.processOffer(sdp)).rejects.toMatchObject({ code: 'NO_COMMON_CODEC' });
  });

  it('with rejectUnusableMedia, an offer of unknown codecs is answered with every section rejected and no transport', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint({ rejectUnusableMedia: true });
    const pc = peer();
    new FakePublisher(9).attach(pc);
    const offer = await pc.createOffer();
    const sdp = offer.sdp.replace(/opus/gi, 'X-UNKNOWN').replace(/VP8/g, 'X-VID').replace(/H264/g, 'X-VID2');

    const answer = await ep.processOffer(sdp);

    expect(answer.split('\r\n').filter((l) => l.startsWith('m=')).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual([
      'm=video 0 UDP/TLS/RTP/SAVPF',
      'm=audio 0 UDP/TLS/RTP/SAVPF',
    ]);
    expect(answer).not.toMatch(/a=fingerprint|a=ice-ufrag/);
    expect(ep.getRemoteSessionDescriptor()).toBe(sdp);
    expect(p.ports.inUse).toBe(0);
    await expect(ep.generateOffer()).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('with rejectUnusableMedia, a plain RTP/AVP section ahead of WebRTC ones is rejected; the others negotiate and media flows', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint({ rejectUnusableMedia: true });
    ep.connect(ep);
    const pc = peer();
    const pub = new FakePublisher(5);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    const plain = 'm=audio 5000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:0 PCMU/8000\r\n';
    ep.on('iceCandidate', (c) => void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: (c.sdpMLineIndex ?? 1) - 1 }));
    // The peer's candidates are named as in the offer the endpoint saw: one section further on.
    pc.onIceCandidate.subscribe((c) => {
      if (c) void ep.addIceCandidate({ candidate: c.candidate, sdpMid: null, sdpMLineIndex: (c.sdpMLineIndex ?? 0) + 1 }).catch(() => undefined);
    });
    await pc.setLocalDescription(await pc.createOffer());
    const local = pc.localDescription!.sdp;
    const first = local.indexOf('m=');

    const answer = await ep.processOffer(local.slice(0, first) + plain + local.slice(first));

    const sections = answer.split(/\r\n(?=m=)/).slice(1);
    expect(sections[0]).toMatch(/^m=audio 0 RTP\/AVP 0\r\n/);
    expect(sections.slice(1).map((m) => m.split(' ').slice(0, 3).join(' '))).toEqual(['m=video 9 UDP/TLS/RTP/SAVPF', 'm=audio 9 UDP/TLS/RTP/SAVPF']);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.replace(/m=audio 0 RTP\/AVP 0\r\n(?:[^m][^\r]*\r\n)*/, '') });
    await ep.gatherCandidates();
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length > 10);
    expect(new Set(video.map((v) => v.payload[2]))).toEqual(new Set([5]));
  });

  it('an endpoint that made an offer refuses an offer, even one it would reject whole, and keeps its own', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint({ rejectUnusableMedia: true });
    const offer = await ep.generateOffer();
    const plain = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n';

    await expect(ep.processOffer(plain)).rejects.toMatchObject({ code: 'INVALID_STATE' });

    expect(ep.getLocalSessionDescriptor()).toBe(offer);
    expect(ep.getRemoteSessionDescriptor()).toBeUndefined();
  });

  it('addIceCandidate() rejects a malformed candidate and ignores unreachable ones', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint();
    // Before negotiation a candidate is kept for later, not refused.
    await ep.addIceCandidate({ candidate: 'candidate:1 1 udp 1 127.0.0.1 1 typ host' });
    const pc = peer();
    new FakePublisher(10).attach(pc);
    await negotiate(pc, ep);
    await expect(ep.addIceCandidate({ candidate: 'garbage' })).rejects.toMatchObject({ code: 'INVALID_CANDIDATE' });
    await ep.addIceCandidate({ candidate: 'candidate:1 1 udp 2122260223 abcd.local 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 });
    await ep.addIceCandidate({ candidate: 'candidate:1 1 udp 2122260223 10.1.2.3 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 });
    expect(ep.getStats().remoteCandidatesIgnored).toBe(2);
  });

  it.each([
    ['single-port mode', undefined],
    ['port-range mode', false],
  ] as const)('%s: garbage datagrams on a media port are dropped and counted while media keeps flowing', async (_mode, udpPort) => {
    const p = pipeline({ udpPort });
    const ep = p.createWebRtcEndpoint();
    const other = p.createWebRtcEndpoint();
    ep.connect(ep);
    other.connect(other);
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const pc = peer();
    const pc2 = peer();
    const pub = new FakePublisher(11);
    const pub2 = new FakePublisher(12);
    pub.attach(pc, 'sendrecv');
    pub2.attach(pc2, 'sendrecv');
    const video = collect(pc, 'video');
    const video2 = collect(pc2, 'video');
    await Promise.all([negotiate(pc, ep), negotiate(pc2, other)]);
    await Promise.all([waitForConnected(pc), waitForConnected(pc2)]);
    pub.start();
    pub2.start();
    await until(() => video.length > 5 && video2.length > 5);
    const port = parseCandidate(candidates[0]!)!.port;
    const muxBefore = h.engine.sockets.find('127.0.0.1', port)?.getStats();
    const socket = createSocket('udp4');
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.alloc(1 + (i % 300));
      for (let j = 0; j < junk.length; j++) junk[j] = (i * 31 + j * 17) & 0xff;
      if (i % 3 === 0) junk[0] = 0x80; // looks like RTP: must fail SRTP authentication
      socket.send(junk, port, '127.0.0.1');
    }
    const [before, before2] = [video.length, video2.length];
    await until(() => video.length > before + 20 && video2.length > before2 + 20);
    socket.close();
    pub.stop();
    pub2.stop();
    if (udpPort === false) {
      expect(ep.getStats().invalidPackets).toBeGreaterThan(50);
    } else {
      // One port for both: the mux drops what no endpoint's 5-tuple, ufrag or STUN
      // transaction claims, before any endpoint sees it.
      const mux = h.engine.sockets.find('127.0.0.1', port)!.getStats();
      expect(mux.droppedUnknown + mux.droppedMalformed - muxBefore!.droppedUnknown - muxBefore!.droppedMalformed).toBe(200);
      expect(ep.getStats().invalidPackets).toBe(0);
    }
    expect(other.getStats().invalidPackets).toBe(0);
  });
});
