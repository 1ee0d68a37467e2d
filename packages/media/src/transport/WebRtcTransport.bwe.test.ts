import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TRANSPORT_CC_EXTENSION } from '../bwe/transportCc.js';
import { engineStats } from '../core/engineStats.js';
import { UdpMux } from '../net/UdpMux.js';
import type { PacketCorePath } from '../native/PacketCore.js';
import { packetPathsUnderTest } from '../native/testPaths.js';
import { DtlsCertificate } from './DtlsSession.js';
import { LitePeer } from './testLitePeer.js';
import { canUseNetns, ShapedLink } from './testShapedLink.js';
import { createSubscriber, statsOf, subscribe, total, until, type Peer } from './testPeers.js';
import { CLIENT_OFFER } from './testSdp.js';
import { WebRtcTransport } from './WebRtcTransport.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 58400-58419 (TypeScript path), 58420-58439 (native), 58440-58459 (the shaped link).

/** A VP8-shaped packet of the publisher's video (SSRC 1111 of CLIENT_OFFER): `size` bytes of payload. */
function vp8(seq: number, ts: number, keyframe: boolean, size = 1100): Buffer {
  const b = Buffer.alloc(12 + size, seq & 0xff);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(1111, 8);
  b[12] = 0x10;
  b[13] = keyframe ? 0x00 : 0x01;
  return b;
}

/** The publisher sends 100 packets a second (about 900 kbit/s of video), a keyframe every 30; returns the stop. */
function sendVideo(pub: LitePeer): () => void {
  let n = 0;
  const timer = setInterval(() => {
    pub.sendRtp(vp8(1000 + n, 90 * 10 * n, n % 30 === 0));
    n++;
  }, 10);
  return () => clearInterval(timer);
}

/** A sending transport with a LitePeer publishing VP8-shaped video on it: its video producer. */
async function publishing(mux: UdpMux, certificate: DtlsCertificate, host: string, cleanups: Array<() => void>): Promise<{ send: WebRtcTransport; pub: LitePeer }> {
  const send = new WebRtcTransport({ mux, certificate });
  const pub = await LitePeer.create(certificate, mux.port, undefined, host);
  cleanups.push(() => send.close(), () => pub.close());
  send.processOffer(pub.offer(CLIENT_OFFER));
  await pub.connect({ ufrag: send.ufrag, pwd: send.pwd, fingerprint: certificate.fingerprint });
  await until(() => send.dtlsState, (s) => s === 'connected', 10_000);
  cleanups.push(sendVideo(pub));
  return { send, pub };
}

for (const path of packetPathsUnderTest()) describe(`downlink bandwidth estimation on the ${path} packet path`, () => suite(path));

function suite(path: PacketCorePath): void {
  let mux: UdpMux;
  let certificate: DtlsCertificate;
  const cleanups: Array<() => void> = [];
  beforeAll(async () => {
    mux = await engine.sockets.acquire('127.0.0.1', path === 'native' ? [58420, 58439] : [58400, 58419], 'test', path);
    certificate = await DtlsCertificate.generate();
  });
  afterAll(() => mux.release());
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  it('a libwebrtc receiver takes transport-cc: every packet is stamped, its feedback makes the estimate; a receiver that drops it gives its REMB instead', async () => {
    expect(mux.packetPath).toBe(path);
    const { send } = await publishing(mux, certificate, '127.0.0.1', cleanups);
    const video = [...send.producers.values()].find((p) => p.kind === 'video')!;

    const recv = new WebRtcTransport({ mux, certificate });
    const plain = new WebRtcTransport({ mux, certificate });
    const sub = createSubscriber();
    const remb = createSubscriber();
    cleanups.push(() => recv.close(), () => plain.close(), () => sub.close(), () => remb.close());
    const events: number[] = [];
    recv.on('bandwidthEstimate', (bps) => events.push(bps));
    recv.consume(video);
    plain.consume(video);
    expect(recv.createOffer()).toContain(`a=extmap:3 ${TRANSPORT_CC_EXTENSION}`);
    expect(recv.createOffer()).toContain('a=rtcp-fb:96 transport-cc');
    expect(recv.availableBitrate).toBe(600_000);
    expect(send.availableBitrate).toBeUndefined();
    let answer = '';
    await subscribe(sub as Peer, recv, (sdp) => (answer = sdp));
    expect(answer).toContain(TRANSPORT_CC_EXTENSION);
    // The other one answers without the extension (a receiver without transport-cc).
    await subscribe(remb as Peer, plain, (sdp) => sdp.replace(/a=extmap:\d+ http:\/\/www\.ietf\.org\/id\/draft-holmer[^\r]*\r\n/g, '').replace(/a=rtcp-fb:\d+ transport-cc\r\n/g, ''));

    const fed = await until(() => recv.getStats(), (s) => s.transportCcFeedbacks >= 10 && (s.bandwidthEstimate?.ackedBitrate ?? 0) > 0, 20_000);
    expect(fed.transportCcFeedbacks).toBeGreaterThanOrEqual(10);
    expect(fed.invalidTransportCc).toBe(0);
    const bwe = fed.bandwidthEstimate!;
    expect(bwe.source).toBe('transport-cc');
    // What the receiver acknowledged is what we sent it (about 900 kbit/s of payload, and the headers).
    expect(bwe.ackedBitrate).toBeGreaterThan(400_000);
    expect(bwe.ackedBitrate).toBeLessThan(2_000_000);
    expect(events.length).toBeGreaterThan(0);
    // The event says every move of 2 % or more.
    const last = events[events.length - 1]!;
    expect(Math.abs(recv.availableBitrate! - last)).toBeLessThanOrEqual(0.02 * last + 1);
    // It stands in for the receiver's REMB (none comes with transport-cc): the REMB to the publisher is capped by it.
    expect([...recv.consumers.values()][0]!.estimatedBitrate).toBe(recv.availableBitrate);
    // What /metrics reads: every receiving transport's estimate on the shared sockets.
    expect(engineStats(engine).downlinkEstimates).toContain(recv.availableBitrate);

    // A probe before stepping up: a train of padding in the video's stream, on a free link, shows the target carried.
    const before = (await statsOf(sub)).filter((x) => x.type === 'inbound-rtp' && x.kind === 'video');
    expect(recv.probe(4_000_000)).toBe(true);
    expect(recv.probe(4_000_000)).toBe(false);
    const probed = await until(() => recv.getStats().bandwidthEstimate!, (b) => b.lastProbeResult !== undefined, 10_000);
    expect(probed.probes).toBe(1);
    expect(probed.lastProbeResult).toBeGreaterThan(2_000_000);
    expect(recv.availableBitrate).toBeGreaterThan(2_000_000);
    expect(plain.probe(4_000_000)).toBe(false);
    expect(send.probe(4_000_000)).toBe(false);
    // The receiver took the padding in its stream and goes on receiving the media after it.
    const packetsBefore = total(before, 'inbound-rtp', 'packetsReceived', 'video');
    const after = await until(() => statsOf(sub), (st) => total(st, 'inbound-rtp', 'packetsReceived', 'video') > packetsBefore + 100, 10_000);
    expect(total(after, 'inbound-rtp', 'packetsReceived', 'video')).toBeGreaterThan(packetsBefore + 100);

    const other = await until(() => plain.getStats(), (s) => s.bandwidthEstimate?.source === 'remb', 20_000);
    expect(other.bandwidthEstimate?.source).toBe('remb');
    expect(other.transportCcFeedbacks).toBe(0);
    expect(plain.availableBitrate).toBeGreaterThan(0);
  });
}

// --- a receiver behind a shaped link -----------------------------------------------------

const shaped = canUseNetns();
if (!shaped) {
  if (process.env['CI'] === 'true') throw new Error('CI=true: the shaped-link test needs root, ip netns and tc');
  console.warn('\n!!! SKIPPING the shaped-link bandwidth estimation test: it needs root, ip netns and tc\n');
}

describe.skipIf(!shaped)('a receiver behind a shaped link (network namespace, tc tbf)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  it('a 300 kbit/s limit brings the estimate under 300 kbit/s, and it rises again once the limit is lifted', async () => {
    const link = new ShapedLink();
    cleanups.push(() => link.remove());
    const path = packetPathsUnderTest().at(-1)!;
    const mux = await engine.sockets.acquire(link.serverAddress, [58440, 58459], 'test', path);
    cleanups.push(() => mux.release());
    const certificate = await DtlsCertificate.generate();
    const { send } = await publishing(mux, certificate, link.serverAddress, cleanups);
    const video = [...send.producers.values()].find((p) => p.kind === 'video')!;

    const recv = new WebRtcTransport({ mux, certificate });
    cleanups.push(() => recv.close());
    recv.consume(video);
    const sub = link.subscriber();
    cleanups.push(() => sub.close());
    const answer = await sub.request<string>({ offer: recv.createOffer() }, 'answer');
    expect(answer).toContain(TRANSPORT_CC_EXTENSION);
    recv.processAnswer(answer);

    // Free: the receiver acknowledges what it is sent (about 900 kbit/s).
    const free = await until(() => recv.availableBitrate ?? 0, (bps) => bps > 700_000, 20_000);
    expect(free).toBeGreaterThan(700_000);
    // And the receiver gets the media (about 100 packets a second).
    const received = await until(() => sub.request<{ packets: number }>({ stats: true }, 'stats'), (st) => st.packets > 100, 15_000);
    expect(received.packets).toBeGreaterThan(100);

    link.limit('300kbit');
    const limitedAt = Date.now();
    const under = await until(() => recv.availableBitrate ?? 0, (bps) => bps < 300_000, 15_000);
    const downMs = Date.now() - limitedAt;
    const parts = recv.getStats().bandwidthEstimate!;
    expect(under).toBeLessThan(300_000);
    // Held under it while the limit lasts.
    await new Promise((r) => setTimeout(r, 2000));
    expect(recv.availableBitrate).toBeLessThan(300_000);

    link.lift();
    const liftedAt = Date.now();
    const back = await until(() => recv.availableBitrate ?? 0, (bps) => bps > 600_000, 20_000);
    const upMs = Date.now() - liftedAt;
    expect(back).toBeGreaterThan(600_000);
    const stats = recv.getStats();
    const kbps = (bps: number | undefined): number => Math.round((bps ?? 0) / 1000);
    console.log(
      `shaped link (${path} path, times polled every 200 ms): ${kbps(free)} kbit/s free; under 300 kbit/s ${downMs} ms after the limit ` +
        `(delay side ${kbps(parts.delayBased)}, loss side ${kbps(parts.lossBased)}, acknowledged ${kbps(parts.ackedBitrate)} kbit/s, ${parts.usage}); ` +
        `over 600 kbit/s ${upMs} ms after the lift; ${stats.transportCcFeedbacks} feedbacks, ${stats.invalidTransportCc} invalid`,
    );
    expect(stats.invalidTransportCc).toBe(0);
  });
});
