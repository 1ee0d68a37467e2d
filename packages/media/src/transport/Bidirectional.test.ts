import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import wrtc from '@roamhq/wrtc';
import { UdpMux } from '../net/UdpMux.js';
import { DtlsCertificate } from './DtlsSession.js';
import { createPublisher, statsOf, until, type Peer, type Publisher, type Stat } from './testPeers.js';
import { CLIENT_OFFER } from './testSdp.js';
import { WebRtcTransport } from './WebRtcTransport.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

/*
 * A transport used both ways on one m-line per track (option bidirectional), the shape
 * of a Kurento WebRtcEndpoint: sendrecv m-lines, our stream beside the peer's, and
 * consume() putting a producer on the m-line of its kind (Kurento's connect()), the
 * consumer continuing its numbering when its producer changes. TypeScript packet path:
 * a consumer of the native core stays on its producer (replaceProducer refuses there).
 */

const RECVONLY_H264 = CLIENT_OFFER.replace(
  'a=mid:3\r\na=recvonly\r\na=rtpmap:96 VP8/90000',
  'a=mid:3\r\na=recvonly\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f',
);

let mux: UdpMux;
let certificate: DtlsCertificate;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  mux = await engine.sockets.acquire('127.0.0.1', [65340, 65371], 'test', 'typescript');
  certificate = await DtlsCertificate.generate();
});
afterAll(() => mux.release());
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function transport(options: Partial<ConstructorParameters<typeof WebRtcTransport>[0]> = {}): WebRtcTransport {
  const t = new WebRtcTransport({ mux, certificate, bidirectional: true, ...options });
  cleanups.push(() => t.close());
  return t;
}

function peer(): Publisher {
  const p = createPublisher(1, 'sendrecv');
  cleanups.push(() => p.stop());
  return p;
}

/** The peer offers, the transport answers (Kurento's processOffer). */
async function offerTo(pc: Peer, t: WebRtcTransport): Promise<string> {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const answer = t.processOffer(offer.sdp!);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  return answer;
}

function inbound(stats: readonly Stat[], ssrc: number): Stat | undefined {
  return stats.find((x) => x.type === 'inbound-rtp' && x.ssrc === ssrc);
}

function field(stat: Stat | undefined, name: string): number {
  return Number(stat?.[name] ?? 0);
}

describe('WebRtcTransport, bidirectional', () => {
  it('answers each m-line in the direction the peer asks: producers for what it sends, our SSRC where it receives, port 0 for the rest', () => {
    const t = transport();
    const answer = t.processOffer(CLIENT_OFFER);
    const sections = answer.split(/^m=/m).slice(1);
    expect(sections.map((s) => s.split(' ')[0])).toEqual(['video', 'audio', 'application', 'video']);
    expect(sections[0]).toContain('a=recvonly');
    expect(sections[0]).not.toContain('a=ssrc:');
    expect(sections[1]).toContain('a=sendrecv');
    expect(sections[1]).toMatch(/a=ssrc:\d+ cname:/);
    expect(sections[1]).toContain('a=rtpmap:111 opus/48000/2');
    expect(sections[2]).toMatch(/^application 0 /);
    expect(sections[3]).toContain('a=sendonly');
    expect(sections[3]).toMatch(/a=ssrc:\d+ cname:/);
    expect(answer).toContain('a=group:BUNDLE 0 1 3');
    expect([...t.producers.values()].map((p) => `${p.kind}:${p.mid}`).sort()).toEqual(['audio:1', 'video:0']);
    // consume() goes on the m-line of the producer's kind that sends: the video of mid 3, the audio of mid 1.
    const video = [...t.producers.values()].find((p) => p.kind === 'video')!;
    const audio = [...t.producers.values()].find((p) => p.kind === 'audio')!;
    expect(t.consume(video).mid).toBe('3');
    expect(t.consume(audio).mid).toBe('1');
    const ssrc = Number(/a=ssrc:(\d+)/.exec(sections[3]!)![1]);
    expect(t.consume(video).ssrc).toBe(ssrc);
    expect(t.consumers.size).toBe(2);
  });

  it('refuses bad input with a clear code and changes nothing', () => {
    const t = transport();
    expect(() => t.processAnswer(CLIENT_OFFER)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    expect(() => t.processOffer('v=0\r\nnot an sdp')).toThrow(expect.objectContaining({ code: 'INVALID_SDP' }));
    expect(() => t.processOffer(CLIENT_OFFER.replace('a=mid:1\r\n', ''))).toThrow(expect.objectContaining({ code: 'INVALID_SDP' }));
    expect(t.producers.size).toBe(0);
    expect(t.dtlsRole).toBeUndefined();
    // Nothing negotiated yet: no m-line to put a consumer on.
    const other = transport();
    other.processOffer(CLIENT_OFFER);
    const video = [...other.producers.values()].find((p) => p.kind === 'video')!;
    expect(() => t.consume(video)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    // An m-line of another codec cannot carry the producer.
    t.processOffer(RECVONLY_H264);
    expect(() => t.consume(video)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    expect(t.consumers.size).toBe(0);
    // A consumer changes producer only within its kind.
    const consumer = other.consume(video);
    const audio = [...other.producers.values()].find((p) => p.kind === 'audio')!;
    expect(() => consumer.replaceProducer(audio)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(consumer.producer).toBe(video);
    // The offering side: an answer is due before another offer.
    const offering = transport();
    expect(() => offering.createOffer({ kinds: [] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const offer = offering.createOffer({ kinds: ['audio', 'video'] });
    expect(offer.match(/a=sendrecv/g)?.length).toBe(2);
    expect(offer).toContain('a=setup:actpass');
    expect(() => offering.processOffer(CLIENT_OFFER)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    expect(() => offering.createOffer()).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    expect(() => offering.processAnswer(CLIENT_OFFER.replace('a=setup:actpass', 'a=setup:active'))).toThrow(expect.objectContaining({ code: 'INVALID_SDP' }));
    expect(offering.producers.size).toBe(0);
  });

  it('loopback: a libwebrtc peer offering sendrecv gets its own audio and video back on the same m-lines and decodes them', async () => {
    const t = transport();
    const p = peer();
    const answer = await offerTo(p.pc, t);
    expect(answer.match(/a=sendrecv/g)?.length).toBe(2);
    expect(t.producers.size).toBe(2);
    const consumers = [...t.producers.values()].map((producer) => t.consume(producer));
    const video = consumers.find((c) => c.kind === 'video')!;
    const audio = consumers.find((c) => c.kind === 'audio')!;
    const stats = await until(
      () => statsOf(p.pc),
      (s) => field(inbound(s, video.ssrc), 'framesDecoded') > 10 && field(inbound(s, audio.ssrc), 'packetsReceived') > 20,
    );
    expect(field(inbound(stats, video.ssrc), 'framesDecoded'), JSON.stringify(t.getStats())).toBeGreaterThan(10);
    expect(field(inbound(stats, audio.ssrc), 'packetsReceived')).toBeGreaterThan(20);
    expect(t.dtlsState).toBe('connected');
  });

  it('a consumer moved to another producer (Kurento connect() of another source) keeps its SSRC and numbering, and the peer keeps decoding', async () => {
    const sent: number[] = [];
    let watched = -1;
    const a = transport();
    const b = transport({
      testHooks: {
        dropOutgoingRtp: (ssrc, seq) => {
          if (ssrc === watched) sent.push(seq);
          return false;
        },
      },
    });
    const pa = peer();
    const pb = peer();
    await offerTo(pa.pc, a);
    await offerTo(pb.pc, b);
    const videoA = [...a.producers.values()].find((p) => p.kind === 'video')!;
    const videoB = [...b.producers.values()].find((p) => p.kind === 'video')!;
    const consumer = b.consume(videoA);
    watched = consumer.ssrc;
    const frames = async (): Promise<number> => field(inbound(await statsOf(pb.pc), consumer.ssrc), 'framesDecoded');
    await until(frames, (n) => n > 10);
    const sentBefore = sent.length;
    const framesBefore = await frames();
    expect(framesBefore).toBeGreaterThan(10);

    // The sink's source changes: the same consumer, now of B's own video.
    expect(b.consume(videoB)).toBe(consumer);
    expect(consumer.producer).toBe(videoB);
    expect(videoA.consumers.has(consumer)).toBe(false);
    const framesAfter = await until(frames, (n) => n > framesBefore + 10);
    expect(framesAfter).toBeGreaterThan(framesBefore + 10);
    expect(sent.length).toBeGreaterThan(sentBefore);
    // One sequence space across both producers: no gap, no jump (retransmissions repeat numbers already sent).
    const distinct = new Set(sent);
    const first = sent[0]!;
    const span = Math.max(...sent.map((s) => (s - first) & 0xffff)) + 1;
    expect(span).toBe(distinct.size);
    const stats = await statsOf(pb.pc);
    expect(stats.filter((x) => x.type === 'inbound-rtp' && x.kind === 'video').map((x) => x.ssrc)).toEqual([consumer.ssrc]);
    expect(field(inbound(stats, consumer.ssrc), 'packetsLost')).toBeLessThanOrEqual(0);
  });

  it('offers sendrecv m-lines itself (Kurento generateOffer): the answer makes producers, and the peer decodes its media sent back', async () => {
    const t = transport();
    const sources = peer();
    const pc = new wrtc.RTCPeerConnection();
    cleanups.push(() => pc.close());
    await pc.setRemoteDescription({ type: 'offer', sdp: t.createOffer({ kinds: ['audio', 'video'] }) });
    for (const transceiver of pc.getTransceivers()) {
      const track = sources.pc.getTransceivers().find((x) => x.receiver.track.kind === transceiver.receiver.track.kind)!.sender.track!;
      await transceiver.sender.replaceTrack(track);
      transceiver.direction = 'sendrecv';
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    t.processAnswer(answer.sdp!);
    expect([...t.producers.values()].map((p) => p.kind).sort()).toEqual(['audio', 'video']);
    const video = t.consume([...t.producers.values()].find((p) => p.kind === 'video')!);
    const stats = await until(
      () => statsOf(pc),
      (s) => field(inbound(s, video.ssrc), 'framesDecoded') > 10,
    );
    expect(field(inbound(stats, video.ssrc), 'framesDecoded'), JSON.stringify(t.getStats())).toBeGreaterThan(10);
    expect([...t.producers.values()].every((p) => p.stats.packets > 0)).toBe(true);
  });
});
