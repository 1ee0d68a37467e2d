import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import type { PacketCorePath } from '../native/PacketCore.js';
import { packetPathsUnderTest } from '../native/testPaths.js';
import { DtlsCertificate } from './DtlsSession.js';
import { LitePeer, rtpPayload } from './testLitePeer.js';
import { until } from './testPeers.js';
import { CLIENT_OFFER } from './testSdp.js';
import { WebRtcTransport } from './WebRtcTransport.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 65485-65489 (TypeScript path), 65495-65499 (native).
for (const path of packetPathsUnderTest()) describe(`WebRtcTransport with browser-free peers, on the ${path} packet path`, () => suite(path));

function rtp(seq: number, ts: number, keyframe: boolean, fill: number): Buffer {
  const b = Buffer.alloc(12 + 300, fill);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(1111, 8);
  b[12] = 0x10;
  b[13] = keyframe ? 0x00 : 0x01;
  return b;
}

function suite(path: PacketCorePath): void {
  let mux: UdpMux;
  let certificate: DtlsCertificate;
  const cleanups: Array<() => void> = [];
  beforeAll(async () => {
    mux = await engine.sockets.acquire('127.0.0.1', path === 'native' ? [65495, 65499] : [65485, 65489], 'test', path);
    certificate = await DtlsCertificate.generate();
  });
  afterAll(() => mux.release());
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  it('a publisher\'s packets reach two subscribers rewritten (own SSRC, payload type 96, continuous numbers), payload unchanged, from the first keyframe on; paused and closed consumers get nothing', async () => {
    expect(mux.packetPath).toBe(path);
    const send = new WebRtcTransport({ mux, certificate });
    const recvs = [new WebRtcTransport({ mux, certificate }), new WebRtcTransport({ mux, certificate })];
    cleanups.push(() => send.close(), ...recvs.map((r) => () => r.close()));
    expect(send.packetPath).toBe(path);
    const pub = await LitePeer.create(certificate, mux.port);
    const got: Buffer[][] = [[], []];
    const subs = await Promise.all(recvs.map((_, i) => LitePeer.create(certificate, mux.port, (p) => got[i]!.push(Buffer.from(p)))));
    cleanups.push(() => pub.close(), ...subs.map((s) => () => s.close()));

    const answer = send.processOffer(pub.offer(CLIENT_OFFER));
    expect(answer).toContain('a=setup:passive');
    const video = [...send.producers.values()].find((p) => p.kind === 'video')!;
    const consumers = recvs.map((r) => r.consume(video));
    recvs.forEach((r, i) => r.processAnswer(subs[i]!.answer(r.createOffer())));
    const fp = certificate.fingerprint;
    await Promise.all([pub.connect({ ufrag: send.ufrag, pwd: send.pwd, fingerprint: fp }), ...subs.map((s, i) => s.connect({ ufrag: recvs[i]!.ufrag, pwd: recvs[i]!.pwd, fingerprint: fp }))]);
    await until(() => [send, ...recvs].every((t) => t.dtlsState === 'connected'), (ok) => ok, 10_000);

    // Two delta frames (held back), a keyframe, then deltas.
    let seq = 500;
    for (let i = 0; i < 12; i++) pub.sendRtp(rtp(seq++, 1000 + i * 3000, i === 2, i));
    await until(() => got.map((g) => g.length), (n) => n.every((x) => x >= 10), 10_000);
    for (const [i, packets] of got.entries()) {
      expect(packets.length).toBe(10);
      const ssrcs = new Set(packets.map((p) => p.readUInt32BE(8)));
      expect([...ssrcs]).toEqual([consumers[i]!.ssrc]);
      expect(packets.every((p) => (p[1]! & 0x7f) === 96)).toBe(true);
      for (let k = 1; k < packets.length; k++) {
        expect((packets[k]!.readUInt16BE(2) - packets[k - 1]!.readUInt16BE(2)) & 0xffff).toBe(1);
        expect((packets[k]!.readUInt32BE(4) - packets[k - 1]!.readUInt32BE(4)) >>> 0).toBe(3000);
      }
      expect(rtpPayload(packets[0]!)[1]).toBe(0x00);
      // The subscriber's answer kept transport-cc: one extension block, the transport-wide numbers from 0 (each transport its own).
      expect(packets.map((p) => p.readUInt32BE(12))).toEqual(packets.map(() => 0xbede0001));
      expect(packets.map((p) => p[16])).toEqual(packets.map(() => (3 << 4) | 1));
      expect(packets.map((p) => p.readUInt16BE(17))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(rtpPayload(packets[9]!).subarray(2).equals(rtp(0, 0, false, 11).subarray(14))).toBe(true);
    }
    expect(video.stats.packets).toBe(12);
    expect(consumers.map((c) => c.stats.droppedAwaitingKeyframe)).toEqual([2, 2]);
    expect(consumers.map((c) => c.stats.packets)).toEqual([10, 10]);

    consumers[0]!.pause();
    consumers[1]!.close();
    for (let i = 0; i < 5; i++) pub.sendRtp(rtp(seq++, 100000 + i * 3000, false, 0x20 + i));
    await until(() => video.stats.packets, (n) => n === 17, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.map((g) => g.length)).toEqual([10, 10]);
    expect(recvs[0]!.getStats().rtpOut).toBe(10);
    expect(send.getStats().rtpIn).toBe(17);
  });
}
