import { describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import {
  GenericNack,
  PictureLossIndication,
  RtcpPacketConverter,
  RtcpPayloadSpecificFeedback,
  RtcpTransportLayerFeedback,
  RtpHeader,
  RtpPacket,
  type RtcpPacket,
} from 'werift';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import type { ConnectionState } from '../core/endpointTypes.js';
import type { RtpEndpoint } from './RtpEndpoint.js';

const h = useMediaHarness([49000, 49499]);

const VIDEO_PT = 100;
const AUDIO_PT = 101;
const RAW_VIDEO_SSRC = 0x1234;
const RAW_AUDIO_SSRC = 0x5678;

/**
 * A bare UDP socket playing the remote side of an RtpEndpoint on 127.0.0.1 (ports from
 * the pipeline's range): it offers opus and VP8 and keeps what comes back, RTP and RTCP.
 */
class RawRemote {
  readonly rtp: RtpPacket[] = [];
  readonly rtcp: RtcpPacket[] = [];
  /** RTCP that arrived on the second socket (port + 1) when not multiplexing. */
  readonly rtcpOnPortPlusOne: RtcpPacket[] = [];
  private videoSeq = 500;
  private counter = 0;
  endpointPort = 0;

  private constructor(
    private readonly pipeline: MediaPipeline,
    readonly port: number,
    private readonly sockets: Socket[],
    readonly mux: boolean,
  ) {
    sockets[0]!.on('message', (data) => {
      if (data[1]! >= 192 && data[1]! <= 223) this.rtcp.push(...RtcpPacketConverter.deSerialize(data));
      else this.rtp.push(RtpPacket.deSerialize(data));
    });
    sockets[1]?.on('message', (data) => this.rtcpOnPortPlusOne.push(...RtcpPacketConverter.deSerialize(data)));
  }

  static async open(pipeline: MediaPipeline, mux = true): Promise<RawRemote> {
    const count = mux ? 1 : 2;
    const port = pipeline.ports.reserve(count);
    const sockets: Socket[] = [];
    for (let i = 0; i < count; i++) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(port + i, '127.0.0.1', resolve));
      sockets.push(socket);
    }
    return new RawRemote(pipeline, port, sockets, mux);
  }

  offer(): string {
    const mux = this.mux ? ['a=rtcp-mux'] : [];
    return [
      'v=0',
      'o=- 1 1 IN IP4 127.0.0.1',
      's=raw',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${AUDIO_PT}`,
      `a=rtpmap:${AUDIO_PT} opus/48000/2`,
      ...mux,
      `m=video ${this.port} RTP/AVPF ${VIDEO_PT}`,
      `a=rtpmap:${VIDEO_PT} VP8/90000`,
      ...mux,
      '',
    ].join('\r\n');
  }

  /** Negotiates with `ep` (this side offers) and remembers the endpoint's port. */
  async negotiate(ep: RtpEndpoint): Promise<string> {
    const answer = await ep.processOffer(this.offer());
    this.endpointPort = Number(/^m=video (\d+) /m.exec(answer)![1]);
    return answer;
  }

  /** Sends one VP8-shaped packet (a keyframe every 10) and one opus-sized packet. */
  sendMedia(): void {
    const n = this.counter++;
    const video = Buffer.alloc(100);
    video[0] = 0x10;
    video[1] = n % 10 === 0 ? 0x00 : 0x01;
    video[2] = 0x42;
    video.writeUInt32BE(n, 4);
    const seq = this.videoSeq++ & 0xffff;
    this.send(new RtpPacket(new RtpHeader({ payloadType: VIDEO_PT, sequenceNumber: seq, timestamp: n * 3000, ssrc: RAW_VIDEO_SSRC, marker: true }), video).serialize());
    const audio = Buffer.alloc(40);
    audio[0] = 0x42;
    this.send(new RtpPacket(new RtpHeader({ payloadType: AUDIO_PT, sequenceNumber: seq, timestamp: n * 960, ssrc: RAW_AUDIO_SSRC }), audio).serialize());
  }

  send(data: Buffer, fromRtcpSocket = false): void {
    const socket = fromRtcpSocket && this.sockets[1] ? this.sockets[1] : this.sockets[0]!;
    socket.send(data, this.endpointPort, '127.0.0.1');
  }

  received(pt: number): RtpPacket[] {
    return this.rtp.filter((p) => p.header.payloadType === pt);
  }

  close(): void {
    for (const s of this.sockets) s.close();
    this.pipeline.ports.release(this.port, this.sockets.length);
  }
}

const plis = (packets: RtcpPacket[], mediaSsrc: number): number =>
  packets.filter((p) => p instanceof RtcpPayloadSpecificFeedback && p.feedback instanceof PictureLossIndication && p.feedback.mediaSsrc === mediaSsrc).length;

describe('RtpEndpoint', () => {
  it('two RtpEndpoints negotiated with each other carry a WebRTC publisher to a WebRTC viewer over UDP', async () => {
    const p = h.pipeline();
    const [rA, rB] = [p.createRtpEndpoint(), p.createRtpEndpoint()];
    const publisher = p.createWebRtcEndpoint();
    const viewer = p.createWebRtcEndpoint({ direction: 'sendonly' });
    const offer = await rA.generateOffer();
    const answer = await rB.processOffer(offer);
    await rA.processAnswer(answer);
    publisher.connect(rA);
    rB.connect(viewer);
    const [pp, pv] = [h.peer(), h.peer()];
    const pub = new FakePublisher(3, 10);
    pub.attach(pp);
    pv.addTransceiver('video', { direction: 'recvonly' });
    pv.addTransceiver('audio', { direction: 'recvonly' });
    const video = collect(pv, 'video');
    const audio = collect(pv, 'audio');
    await Promise.all([negotiate(pp, publisher), negotiate(pv, viewer)]);
    await Promise.all([waitForConnected(pp), waitForConnected(pv)]);

    pub.start();
    await until(() => video.length >= 20 && audio.length >= 20);
    pub.stop();

    expect(video[0]!.payload[2]).toBe(3);
    expect(video[0]!.payload[1]! & 1).toBe(0); // starts on a keyframe
    expect(audio[0]!.payload[0]).toBe(3);
    for (let i = 1; i < video.length; i++) {
      expect(video[i]!.header.sequenceNumber).toBe((video[i - 1]!.header.sequenceNumber + 1) & 0xffff);
    }
    expect(rA.getStats().video.packetsSent).toBeGreaterThanOrEqual(20);
    expect(rB.getStats().video.packetsReceived).toBeGreaterThanOrEqual(20);
    expect(rB.getStats().connectionState).toBe('connected');
    expect(rA.getLocalSessionDescriptor()).toBe(offer);
    expect(rA.getRemoteSessionDescriptor()).toBe(answer);
    expect(rB.getRemoteSessionDescriptor()).toBe(offer);
  });

  it('a raw UDP socket can be the remote: what it sends comes back from a loopback endpoint as plain RTP', async () => {
    const p = h.pipeline();
    const ep = p.createRtpEndpoint();
    ep.connect(ep);
    const states: ConnectionState[] = [];
    ep.on('connectionStateChange', (s) => states.push(s));
    const raw = h.track(await RawRemote.open(p));
    const answer = await raw.negotiate(ep);

    for (let i = 0; i < 30; i++) raw.sendMedia();
    await until(() => raw.received(VIDEO_PT).length >= 30 && raw.received(AUDIO_PT).length >= 30);

    expect(answer).toMatch(/^c=IN IP4 127\.0\.0\.1$/m);
    expect(answer).toMatch(/^a=rtcp-mux$/m);
    const video = raw.received(VIDEO_PT);
    const ssrc = Number(/^a=ssrc:(\d+) /m.exec(answer.slice(answer.indexOf('m=video')))![1]);
    expect(new Set(video.map((v) => v.header.ssrc))).toEqual(new Set([ssrc]));
    for (let i = 1; i < video.length; i++) {
      expect(video[i]!.header.sequenceNumber).toBe((video[i - 1]!.header.sequenceNumber + 1) & 0xffff);
      expect(video[i]!.payload.readUInt32BE(4)).toBe(i);
    }
    expect(states).toEqual(['connecting', 'connected']);
    expect(ep.getStats()).toMatchObject({ connectionState: 'connected', invalidPackets: 0, video: { packetsReceived: 30, packetsSent: 30 } });
  });

  it('answers a NACK from the remote with the original packet, and passes its PLI on to the source', async () => {
    const p = h.pipeline();
    const ep = p.createRtpEndpoint();
    ep.connect(ep);
    const raw = h.track(await RawRemote.open(p));
    await raw.negotiate(ep);
    for (let i = 0; i < 20; i++) raw.sendMedia();
    await until(() => raw.received(VIDEO_PT).length >= 20);
    const target = raw.received(VIDEO_PT)[5]!;
    const ourSsrc = target.header.ssrc;
    const plisBefore = plis(raw.rtcp, RAW_VIDEO_SSRC);

    const nack = new GenericNack({ senderSsrc: 1, mediaSourceSsrc: ourSsrc, lost: [target.header.sequenceNumber] });
    raw.send(new RtcpTransportLayerFeedback({ feedback: nack }).serialize());
    raw.send(new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: 1, mediaSsrc: ourSsrc }) }).serialize());
    await until(() => raw.received(VIDEO_PT).length >= 21);
    // The endpoint's source is its own inbound stream: the PLI goes back to the remote (at most one per second).
    await until(() => plis(raw.rtcp, RAW_VIDEO_SSRC) > plisBefore, 3000);

    const copy = raw.received(VIDEO_PT)[20]!;
    expect(copy.header.sequenceNumber).toBe(target.header.sequenceNumber);
    expect(copy.payload.equals(target.payload)).toBe(true);
    expect(ep.getStats().video).toMatchObject({ nacksReceived: 1, retransmitted: 1, plisReceived: 1 });
    expect(ep.getStats().video.keyframeRequestsSent).toBeGreaterThanOrEqual(2);
  });

  it('without rtcp-mux, sends RTCP (PLI, sender reports) to the remote port + 1', async () => {
    const p = h.pipeline({ rtcpIntervalMs: 100 });
    const ep = p.createRtpEndpoint();
    ep.connect(ep);
    const raw = h.track(await RawRemote.open(p, false));
    const answer = await raw.negotiate(ep);

    for (let i = 0; i < 10; i++) raw.sendMedia();
    await until(() => plis(raw.rtcpOnPortPlusOne, RAW_VIDEO_SSRC) > 0 && raw.rtcpOnPortPlusOne.some((r) => r.type === 200));

    expect(answer).not.toMatch(/a=rtcp-mux/);
    expect(answer).toMatch(new RegExp(`^a=rtcp:${raw.endpointPort}$`, 'm'));
    expect(raw.rtcp).toEqual([]);
    expect(raw.received(VIDEO_PT).length).toBeGreaterThan(0);
  });

  it('garbage datagrams are dropped and counted while media keeps flowing', async () => {
    const p = h.pipeline();
    const ep = p.createRtpEndpoint();
    ep.connect(ep);
    const raw = h.track(await RawRemote.open(p));
    await raw.negotiate(ep);
    const garbage = [
      Buffer.from('hello world'), // not RTP version 2
      Buffer.alloc(0),
      Buffer.from([0x80, VIDEO_PT, 0, 1]), // RTP too short for its header
      Buffer.from([0x80, 0x7f, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // payload type never negotiated
      Buffer.from([0x90, VIDEO_PT, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // announces an extension it lacks
      Buffer.from([0x80, 200, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0]), // RTCP longer than the datagram
    ];

    for (let round = 0; round < 10; round++) {
      raw.sendMedia();
      for (const g of garbage) raw.send(g);
    }
    for (let i = 0; i < 10; i++) raw.sendMedia();
    await until(() => raw.received(VIDEO_PT).length >= 20 && ep.getStats().invalidPackets >= 60);

    expect(ep.getStats().invalidPackets).toBe(60);
    expect(ep.getStats().video.packetsReceived).toBe(20);
  });

  it('close() releases its UDP port, bound on the configured address only; closing the pipeline releases the others', async () => {
    const p = h.pipeline();
    const [a, b] = [p.createRtpEndpoint(), p.createRtpEndpoint()];
    await a.processAnswer(await b.processOffer(await a.generateOffer()));
    const port = a.reservedPorts![0];
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const sockets = readFileSync('/proc/net/udp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[1]);

    expect(port).toBeGreaterThanOrEqual(49000);
    expect(port).toBeLessThanOrEqual(49499);
    expect(sockets).toContain(`0100007F:${hex}`);
    expect(p.ports.inUse).toBe(2);
    a.close();
    expect(p.ports.inUse).toBe(1);
    p.close();
    expect(p.ports.inUse).toBe(0);
    await expect(b.processOffer('v=0')).rejects.toMatchObject({ code: 'OBJECT_CLOSED' });
  });
});

describe('RtpEndpoint with bad input', () => {
  it('processOffer() rejects malformed SDP with INVALID_SDP, takes no port, and stays usable', async () => {
    const p = h.pipeline();
    const ep = p.createRtpEndpoint();

    await expect(ep.processOffer('hello')).rejects.toMatchObject({ name: 'SdpError', code: 'INVALID_SDP' });
    await expect(ep.processOffer('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nm=video nonsense\r\n')).rejects.toMatchObject({ code: 'INVALID_SDP' });
    expect(p.ports.inUse).toBe(0);
    expect(ep.getLocalSessionDescriptor()).toBeUndefined();
    const raw = h.track(await RawRemote.open(p));
    await expect(raw.negotiate(ep)).resolves.toContain('m=video');
  });

  it('processOffer() of codecs or profiles it cannot forward rejects with NO_COMMON_CODEC', async () => {
    const p = h.pipeline();
    const ep = p.createRtpEndpoint();
    const pcmu = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
    const srtp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nc=IN IP4 127.0.0.1\r\nm=video 5000 RTP/SAVP 96\r\na=rtpmap:96 VP8/90000\r\n';

    await expect(ep.processOffer(pcmu)).rejects.toMatchObject({ code: 'NO_COMMON_CODEC' });
    await expect(ep.processOffer(srtp)).rejects.toMatchObject({ code: 'NO_COMMON_CODEC' });
    expect(p.ports.inUse).toBe(0);
  });

  it('with rejectUnusableMedia, such an offer is answered with every section rejected, and no socket', async () => {
    const p = h.pipeline();
    const ep = p.createRtpEndpoint({ rejectUnusableMedia: true });
    const offer = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 5002 RTP/SAVP 96\r\na=rtpmap:96 VP8/90000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n';

    const answer = await ep.processOffer(offer);

    expect(answer.split('\r\n').filter((l) => l.startsWith('m='))).toEqual(['m=audio 0 RTP/AVP 0', 'm=video 0 RTP/SAVP 96']);
    expect(ep.getRemoteSessionDescriptor()).toBe(offer);
    expect(ep.reservedPorts).toBeUndefined();
    expect(p.ports.inUse).toBe(0);
    await expect(ep.processOffer(offer)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('processAnswer() needs an offer first, and a malformed answer leaves the offer pending', async () => {
    const p = h.pipeline();
    const [a, b] = [p.createRtpEndpoint(), p.createRtpEndpoint()];
    await expect(a.processAnswer('v=0')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    const offer = await a.generateOffer();

    await expect(a.processAnswer('v=0\r\nbroken')).rejects.toMatchObject({ code: 'INVALID_SDP' });
    await a.processAnswer(await b.processOffer(offer));

    expect(a.getRemoteSessionDescriptor()).toContain('m=video');
    await expect(a.generateOffer()).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(b.processOffer(offer)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('crypto options (SDES-SRTP) are refused with INVALID_ARGUMENT and create nothing', () => {
    const p = h.pipeline();

    expect(() => p.createRtpEndpoint({ crypto: { crypto: 'AES_128_CM_HMAC_SHA1_80', keyBase64: 'AAAA' } })).toThrow(
      expect.objectContaining({ name: 'MediaError', code: 'INVALID_ARGUMENT', message: 'SDES-SRTP is not supported by RtpEndpoint yet' }),
    );
    expect(p.getElements()).toEqual([]);
  });
});
