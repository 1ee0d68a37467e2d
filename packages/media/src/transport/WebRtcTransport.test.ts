import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import { DtlsCertificate } from './DtlsSession.js';
import { createPublisher, createSubscriber, publish, statsOf, subscribe, total, until, type Peer, type Publisher } from './testPeers.js';
import { WebRtcTransport } from './WebRtcTransport.js';

let mux: UdpMux;
let certificate: DtlsCertificate;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  mux = await UdpMux.acquire('127.0.0.1', [65000, 65031]);
  certificate = await DtlsCertificate.generate();
});
afterAll(() => mux.release());
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function transport(options: Partial<ConstructorParameters<typeof WebRtcTransport>[0]> = {}): WebRtcTransport {
  const t = new WebRtcTransport({ mux, certificate, ...options });
  cleanups.push(() => t.close());
  return t;
}

function publisher(videoTracks = 1): Publisher {
  const p = createPublisher(videoTracks);
  cleanups.push(() => p.stop());
  return p;
}

function subscriber(): Peer {
  const pc = createSubscriber();
  cleanups.push(() => pc.close());
  return pc;
}

describe('WebRtcTransport', () => {
  it('a libwebrtc client publishing audio and video on a sending transport connects over ICE-lite and DTLS, and its SRTP arrives at one producer per track', async () => {
    const send = transport();
    const pub = publisher();
    const producers: string[] = [];
    send.on('producer', (p) => producers.push(p.kind));
    await publish(pub.pc, send);
    expect(producers.sort()).toEqual(['audio', 'video']);
    const stats = await until(
      () => [...send.producers.values()].map((p) => p.stats.packets),
      (counts) => counts.every((n) => n > 20),
    );
    expect(stats.every((n) => n > 20), JSON.stringify(send.getStats())).toBe(true);
    expect(send.iceState).toBe('connected');
    expect(send.dtlsState).toBe('connected');
    const s = send.getStats();
    expect(s.srtpProfile).toBe(1);
    expect(s.droppedSrtp).toBe(0);
    expect(s.selectedTuple?.[0]).toBeDefined();
  });

  it('a second client receives several consumers on one receiving transport and decodes their frames', async () => {
    const send = transport();
    const recv = transport();
    const pub = publisher(2);
    await publish(pub.pc, send);
    const sub = subscriber();
    const consumers = [...send.producers.values()].map((p) => recv.consume(p));
    expect(consumers.map((c) => c.kind).sort()).toEqual(['audio', 'video', 'video']);
    await subscribe(sub, recv);
    const stats = await until(
      () => statsOf(sub),
      (s) => s.filter((x) => x.type === 'inbound-rtp' && x.kind === 'video' && Number(x['framesDecoded'] ?? 0) > 10).length === 2 && total(s, 'inbound-rtp', 'packetsReceived', 'audio') > 20,
    );
    const videos = stats.filter((x) => x.type === 'inbound-rtp' && x.kind === 'video');
    expect(videos.map((v) => Number(v['framesDecoded'] ?? 0) > 10), JSON.stringify(recv.getStats())).toEqual([true, true]);
    expect(total(stats, 'inbound-rtp', 'packetsReceived', 'audio')).toBeGreaterThan(20);
    expect(new Set(videos.map((v) => v.ssrc))).toEqual(new Set(consumers.filter((c) => c.kind === 'video').map((c) => c.ssrc)));
    expect(recv.dtlsState).toBe('connected');
  });
});
