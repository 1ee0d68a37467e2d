import { createSocket, type Socket } from 'node:dgram';
import kurentoClient from 'kurento-client';
import type { KurentoClientInstance, KurentoElement, MediaPipeline } from 'kurento-client';
import { FakePublisher, createWeriftPeer } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import { RtpHeader, RtpPacket } from 'werift';
import { useKurentoHarness } from './testing/harness.js';
import { receivedBy, until } from './testing/kurentoPeers.js';

const h = useKurentoHarness([62700, 62899]);
const IceCandidate = kurentoClient.getComplexType('IceCandidate');
const OfferOptions = kurentoClient.getComplexType('OfferOptions');

/** The offer of KMS's own client tests (and of old Android clients): plain RTP/AVP, no ICE, no DTLS. */
const ANDROID_OFFER = [
  'v=0', 'o=- 12345 12345 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=video 52126 RTP/AVP 96 97 98', 'a=rtpmap:96 H264/90000', 'a=rtpmap:97 MP4V-ES/90000', 'a=rtpmap:98 H263-1998/90000',
  'a=recvonly', 'b=AS:384', '',
].join('\r\n');

async function pipeline(): Promise<MediaPipeline> {
  const client: KurentoClientInstance = await kurentoClient(h.url, { failAfter: 1 });
  h.cleanup.push(() => client.close());
  const p = await client.create('MediaPipeline');
  h.cleanup.push(() => p.release().catch(() => undefined));
  return p;
}

/**
 * The code of the error `operation` fails with. The official client's promises resolve
 * even on error when no callback is given (it only logs): errors come through callbacks.
 */
async function codeOf(obj: KurentoElement, operation: string, ...args: unknown[]): Promise<number | undefined> {
  const error = await new Promise<{ code?: number } | undefined>((resolve) => {
    const callback = (e: unknown): void => resolve((e ?? undefined) as { code?: number } | undefined);
    (obj[operation] as (...a: unknown[]) => unknown).apply(obj, [...args, callback]);
  });
  expect(error, `${operation} should have failed`).toBeDefined();
  return error?.code;
}

const mLines = (sdp: string): string[] => sdp.split(/\r?\n/).filter((l) => l.startsWith('m='));
const sectionOf = (sdp: string, kind: string): string => {
  const start = sdp.indexOf(`m=${kind}`);
  const next = sdp.indexOf('\nm=', start + 1);
  return sdp.slice(start, next === -1 ? undefined : next);
};

/** A plain RTP peer of the test's own: one UDP socket for RTP and RTCP (rtcp-mux). */
class PlainRtpPeer {
  readonly received: RtpPacket[] = [];
  private seq = 100;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (data) => {
      if (data[1]! >= 192 && data[1]! <= 223) return; // RTCP
      this.received.push(RtpPacket.deSerialize(data));
    });
  }

  static async open(): Promise<PlainRtpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    h.cleanup.push(() => socket.close());
    return new PlainRtpPeer(socket, socket.address().port);
  }

  /** Sends `count` VP8-shaped packets (the first a keyframe) with payload type `pt` to `port`. */
  send(port: number, pt: number, count: number, kind: 'video' | 'audio' = 'video'): void {
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(60);
      payload[0] = 0x10;
      payload[1] = i === 0 ? 0x00 : 0x01;
      payload[2] = 0x5a;
      payload.writeUInt32BE(i, 4);
      const seq = this.seq++;
      const header = new RtpHeader({ payloadType: pt, sequenceNumber: seq, timestamp: seq * (kind === 'video' ? 3000 : 960), ssrc: kind === 'video' ? 0x1234 : 0x5678, marker: true });
      this.socket.send(new RtpPacket(header, payload).serialize(), port, '127.0.0.1');
    }
  }
}

/** The endpoint's RTP port in its description, for `kind`. */
const portIn = (sdp: string, kind: string): number => Number(new RegExp(`^m=${kind} (\\d+) `, 'm').exec(sdp)![1]);

describe('SDP negotiation as Kurento Media Server does it, driven by the official kurento-client', () => {
  it('a WebRtcEndpoint answers a plain RTP/AVP offer with every section rejected (port 0, the offer\'s profile and formats, no ICE, no fingerprint) and starts the session', async () => {
    const p = await pipeline();
    const ep = await p.create('WebRtcEndpoint');
    let started = 0;
    ep.on('MediaSessionStarted', () => started++);

    const answer = await ep.processOffer(ANDROID_OFFER);

    expect(mLines(answer)).toEqual(['m=video 0 RTP/AVP 96 97 98']);
    expect(answer).toMatch(/^v=0\r\no=- \S+ \S+ IN IP4 127\.0\.0\.1\r\n/);
    expect(answer).not.toMatch(/a=ice-ufrag|a=ice-pwd|a=fingerprint|a=candidate/);
    expect(await ep.getLocalSessionDescriptor()).toBe(answer);
    expect(await ep.getRemoteSessionDescriptor()).toBe(ANDROID_OFFER);
    await until(() => started === 1);
    // No transport: gathering is accepted and finds nothing; a second negotiation is refused.
    await ep.gatherCandidates();
    expect(await codeOf(ep, 'processOffer', ANDROID_OFFER)).toBe(40208);
    expect(await codeOf(ep, 'generateOffer')).toBe(40208);
    expect(await ep.getLocalSessionDescriptor()).toBe(answer);
  });

  it('an RtpEndpoint answers the same offer in RTP/AVP, sendonly, with the one codec it forwards, and rejects what it cannot use', async () => {
    const p = await pipeline();
    const ep = await p.create('RtpEndpoint');
    const offer = ANDROID_OFFER.replace('b=AS:384\r\n', 'b=AS:384\r\nm=audio 52128 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n');

    const answer = await ep.processOffer(offer);

    const [video, audio] = mLines(answer);
    expect(video).toMatch(/^m=video [1-9]\d* RTP\/AVP 96$/);
    expect(audio).toBe('m=audio 0 RTP/AVP 0');
    const section = sectionOf(answer, 'video');
    expect(section).toMatch(/^a=rtpmap:96 H264\/90000\r$/m);
    expect(section).toMatch(/^a=sendonly\r$/m);
    expect(section).not.toMatch(/a=rtcp-fb|a=rtpmap:9[78]/);
    expect(answer).toMatch(/^c=IN IP4 127\.0\.0\.1\r$/m);
    expect(await ep.getRemoteSessionDescriptor()).toBe(offer);
    expect(await codeOf(ep, 'processOffer', offer)).toBe(40208);
  });

  it('an RtpEndpoint answers an offer it can use none of (PCMU only) with every section rejected, not an error', async () => {
    const p = await pipeline();
    const ep = await p.create('RtpEndpoint');
    const offer = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n';

    const answer = await ep.processOffer(offer);

    expect(mLines(answer)).toEqual(['m=audio 0 RTP/AVP 0 8']);
  });

  it('media of a plain RTP sender through an RtpEndpoint (connected to itself) comes back to it', async () => {
    const p = await pipeline();
    const ep = await p.create('RtpEndpoint');
    await ep.connect(ep);
    const peer = await PlainRtpPeer.open();
    const offer = [
      'v=0', 'o=- 7 7 IN IP4 127.0.0.1', 's=plain', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=video ${peer.port} RTP/AVP 100`, 'a=rtpmap:100 VP8/90000', 'a=rtcp-mux', '',
    ].join('\r\n');

    const answer = await ep.processOffer(offer);
    peer.send(portIn(answer, 'video'), 100, 20);

    await until(() => peer.received.length >= 20);
    expect(peer.received.every((r) => r.header.payloadType === 100 && r.payload[2] === 0x5a)).toBe(true);
    expect(peer.received.map((r) => r.payload.readUInt32BE(4))).toEqual([...Array(peer.received.length).keys()]);
  });

  it('a WebRtcEndpoint offers (generateOffer), a WebRTC peer answers (processAnswer), and media flows; descriptors and out-of-order calls as KMS', async () => {
    const p = await pipeline();
    const ep = await p.create('WebRtcEndpoint');
    await ep.connect(ep);
    expect(await codeOf(ep, 'getLocalSessionDescriptor')).toBe(40202);
    expect(await codeOf(ep, 'getRemoteSessionDescriptor')).toBe(40203);
    expect(await codeOf(ep, 'processAnswer', 'v=0\r\n')).toBe(40209);

    const offer = await ep.generateOffer();

    expect(mLines(offer).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual(['m=audio 9 UDP/TLS/RTP/SAVPF', 'm=video 9 UDP/TLS/RTP/SAVPF']);
    expect(offer).toMatch(/a=fingerprint:/);
    expect(offer).toMatch(/a=ice-ufrag:/);
    expect(await ep.getLocalSessionDescriptor()).toBe(offer);
    expect(await codeOf(ep, 'getRemoteSessionDescriptor')).toBe(40203);
    expect(await codeOf(ep, 'generateOffer')).toBe(40208);
    expect(await codeOf(ep, 'processOffer', offer)).toBe(40208);
    expect(await codeOf(ep, 'processAnswer', 'garbage')).toBe(40201);

    const pc = createWeriftPeer(h.stunUrl);
    h.cleanup.push(() => pc.close());
    const pub = new FakePublisher(7);
    h.cleanup.push(() => pub.stop());
    const got = receivedBy(pc);
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    for (const t of pc.getTransceivers()) {
      t.setDirection('sendrecv');
      t.sender.replaceTrack(t.kind === 'video' ? pub.video : pub.audio);
    }
    ep.on('IceCandidateFound', (event) => {
      const c = event.candidate as { candidate: string; sdpMid: string; sdpMLineIndex: number };
      void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }).catch(() => undefined);
    });
    pc.onIceCandidate.subscribe((c) => {
      if (c) void ep.addIceCandidate(IceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 }));
    });
    await pc.setLocalDescription(await pc.createAnswer());
    const answer = pc.localDescription!.sdp;

    let started = 0;
    ep.on('MediaSessionStarted', () => started++);
    const local = await ep.processAnswer(answer);

    expect(local).toBe(await ep.getLocalSessionDescriptor());
    expect(await ep.getRemoteSessionDescriptor()).toBe(answer);
    expect(await codeOf(ep, 'processAnswer', answer)).toBe(40210);
    await until(() => started === 1);
    await ep.gatherCandidates();
    pub.start();
    await until(() => got.video.length > 10 && got.audio.length > 10);
    expect(new Set(got.video.map((v) => v.payload[2]))).toEqual(new Set([7]));
  });

  it('a bad answer is refused with 40201 or 40206 and changes nothing: the right answer still negotiates', async () => {
    const p = await pipeline();
    const ep = await p.create('RtpEndpoint');
    expect(await codeOf(ep, 'getLocalSessionDescriptor')).toBe(40202);
    expect(await codeOf(ep, 'getRemoteSessionDescriptor')).toBe(40203);
    expect(await codeOf(ep, 'processAnswer', 'v=0\r\n')).toBe(40209);
    const offer = await ep.generateOffer();
    expect(await ep.getLocalSessionDescriptor()).toBe(offer);
    const other = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=text 5000 RTP/AVP 96\r\n';

    expect(await codeOf(ep, 'processAnswer', '')).toBe(40201);
    expect(await codeOf(ep, 'processAnswer', 'not sdp')).toBe(40201);
    expect(await codeOf(ep, 'processAnswer', other)).toBe(40206);
    expect(await codeOf(ep, 'getRemoteSessionDescriptor')).toBe(40203);
    const peer = await PlainRtpPeer.open();
    const answer = `v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${peer.port} RTP/AVPF 111\r\na=rtpmap:111 opus/48000/2\r\nm=video 0 RTP/AVPF 96\r\n`;
    await ep.processAnswer(answer);
    expect(await ep.getRemoteSessionDescriptor()).toBe(answer);
  });

  it('an answer that rejects every section is taken as KMS takes it: negotiated, without media, on both endpoint types', async () => {
    const p = await pipeline();
    for (const type of ['WebRtcEndpoint', 'RtpEndpoint']) {
      const ep = await p.create(type);
      const offer = await ep.generateOffer();
      const rejecting = ['v=0', 'o=- 3 3 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', ...mLines(offer).map((l) => l.replace(/^(m=\w+) \d+/, '$1 0')), ''].join('\r\n');

      expect(await ep.processAnswer(rejecting)).toBe(offer);
      expect(await ep.getRemoteSessionDescriptor()).toBe(rejecting);
      expect(await codeOf(ep, 'processAnswer', rejecting)).toBe(40210);
    }
  });

  it('generateOffer with OfferOptions offers only the kinds asked for; an RtpEndpoint takes a plain RTP answer and media flows both ways', async () => {
    const p = await pipeline();
    const web = await p.create('WebRtcEndpoint');
    const webOffer = await web.generateOffer(OfferOptions({ offerToReceiveAudio: false, offerToReceiveVideo: true }));
    expect(mLines(webOffer).map((l) => l.split(' ')[0])).toEqual(['m=video']);

    const ep = await p.create('RtpEndpoint');
    await ep.connect(ep);
    const offer = await ep.generateOffer(OfferOptions({ offerToReceiveAudio: true, offerToReceiveVideo: false }));
    expect(mLines(offer)).toEqual([expect.stringMatching(/^m=audio [1-9]\d* RTP\/AVPF 111$/)]);
    const peer = await PlainRtpPeer.open();
    const answer = [
      'v=0', 'o=- 9 9 IN IP4 127.0.0.1', 's=plain', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${peer.port} RTP/AVPF 111`, 'a=rtpmap:111 opus/48000/2', 'a=rtcp-mux', 'a=sendrecv', '',
    ].join('\r\n');

    expect(await ep.processAnswer(answer)).toBe(offer);
    peer.send(portIn(offer, 'audio'), 111, 10, 'audio');

    await until(() => peer.received.length >= 10);
    expect(peer.received.every((r) => r.header.payloadType === 111)).toBe(true);
    expect(await codeOf(ep, 'processAnswer', answer)).toBe(40210);
  });
});
