import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import { SrtpProfile } from '../srtp/index.js';
import { until } from '../testing/harness.js';
import { CorePeer, fields, HOST, nack, rtp, vp8 } from './testCore.js';
import { nativeCoreUnderTest } from './testPaths.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 65410-65419.
const native = nativeCoreUnderTest();
let mux: UdpMux;
beforeAll(async () => {
  if (native) mux = await engine.sockets.acquire(HOST, [65410, 65419], 'test', 'native');
});
afterAll(() => mux?.release());

const SSRC = 0x0badf00d;

/** Hostile datagrams of every kind the path can meet, from a keyed transport's own 5-tuple. */
function* hostile(pub: CorePeer, valid: Buffer[]): Generator<Buffer> {
  // Random bytes of every length, half of them in the SRTP/SRTCP range.
  for (let i = 0; i < 1500; i++) {
    const d = randomBytes(randomInt(0, 1600));
    if (d.length > 0 && i % 2 === 0) d[0] = 128 + randomInt(0, 64);
    if (d.length > 1 && i % 4 === 0) d[1] = 192 + randomInt(0, 32);
    yield d;
  }
  for (const packet of valid.slice(0, 5)) {
    // Every truncation of a valid packet.
    for (let n = 0; n < packet.length; n++) yield packet.subarray(0, n);
    // Every single-bit flip (forged).
    for (let at = 0; at < packet.length; at++) {
      const forged = Buffer.from(packet);
      forged[at]! ^= 1 << randomInt(0, 8);
      yield forged;
    }
    // Replayed.
    yield packet;
    yield packet;
  }
  // A valid header with another SSRC's index and a made-up tag.
  for (let i = 0; i < 200; i++) {
    const forged = Buffer.concat([rtp(randomInt(0, 2 ** 32), randomInt(0, 65536), randomInt(0, 2 ** 32), 96, randomBytes(randomInt(0, 1200))), randomBytes(10)]);
    yield forged;
  }
  // Authenticated but hostile content: RTCP with lengths past the end, NACKs of everything,
  // RTP whose padding, CSRC count or extension length lie.
  const lyingRtcp = nack(1, 0x55555555, []);
  lyingRtcp.writeUInt16BE(0xffff, 2);
  yield protectRtcp(pub, lyingRtcp);
  const everything = nack(1, 0x55555555, Array.from({ length: 300 }, (_, i) => i * 3));
  yield protectRtcp(pub, everything);
  yield protectRtcp(pub, Buffer.from([0x81, 205, 0, 2, 0, 0, 0, 1, 0x55, 0x55, 0x55, 0x55]));
  yield protectRtcp(pub, Buffer.concat([Buffer.from([0x80, 200, 0, 0, 0, 0, 0, 1]), randomBytes(64)]));
  const padded = rtp(SSRC, 60000, 0, 96, vp8(false, 10));
  padded[0]! |= 0x20;
  padded[padded.length - 1] = 250;
  yield pub.protectRtp(padded);
  const csrcs = rtp(SSRC, 60001, 0, 96, vp8(false, 10));
  csrcs[0]! |= 0x0f;
  yield protectLying(pub, csrcs);
  const extension = Buffer.concat([rtp(SSRC, 60002, 0, 96, Buffer.alloc(0)), Buffer.from([0xbe, 0xde, 0xff, 0xff]), vp8(true, 10)]);
  extension[0]! |= 0x10;
  yield protectLying(pub, extension);
}

function protectRtcp(pub: CorePeer, packet: Buffer): Buffer {
  const buf = Buffer.alloc(packet.length + 24);
  packet.copy(buf);
  // Our SrtpContext reads the SSRC only: lying lengths are protected as they are.
  return buf.subarray(0, pub.session.outbound.protectRtcp(buf, packet.length));
}

/** A header our own protectRtp refuses (it does not fit): sent with a made-up tag instead. */
function protectLying(pub: CorePeer, packet: Buffer): Buffer {
  try {
    return pub.protectRtp(packet);
  } catch {
    return Buffer.concat([packet, randomBytes(10)]);
  }
}

describe.runIf(native)('native packet core under hostile input', () => {
  it('random, truncated, forged and replayed datagrams on a keyed 5-tuple and from strangers are dropped and counted; the process lives and media goes on', { timeout: 60_000 }, async () => {
    const pub = await CorePeer.create(mux, SrtpProfile.AES_CM_128_HMAC_SHA1_80);
    const sub = await CorePeer.create(mux, SrtpProfile.AEAD_AES_128_GCM);
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve) => stranger.bind(0, HOST, resolve));
    try {
      const producer = pub.transport.addProducer({ ssrc: SSRC, rtxSsrc: 0x0badf00e, payloadType: 96, rtxPayloadType: 97, clockRate: 90000, mimeType: 'video/VP8', video: true, nack: true });
      sub.transport.addConsumer(producer, { ssrc: 0x55555555, payloadType: 96, clockRate: 90000, mimeType: 'video/VP8', video: true, paused: false });
      let seq = 1;
      const valid: Buffer[] = [];
      for (let i = 0; i < 10; i++) {
        const packet = pub.protectRtp(rtp(SSRC, seq++, i * 3000, 96, vp8(i === 0, 300)));
        valid.push(packet);
        await pub.sendRaw(packet);
      }
      await until(() => sub.received.length === 10);

      let sent = 0;
      for (const datagram of hostile(pub, valid)) {
        await pub.sendRaw(datagram);
        if (sent++ % 3 === 0) await new Promise<void>((resolve) => stranger.send(datagram, mux.port, HOST, () => resolve()));
        // Keep within the socket buffer: let the core drain now and then.
        if (sent % 200 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      // Also the subscriber's side: garbage from its own 5-tuple.
      for (let i = 0; i < 300; i++) await sub.sendRaw(randomBytes(randomInt(1, 300)).fill(0x90, 0, 1));

      // Media still flows, numbered on from where it was.
      const before = sub.received.length;
      for (let i = 0; i < 10; i++) await pub.sendRtp(rtp(SSRC, seq++, 40000 + i * 3000, 96, vp8(false, 300)));
      await until(() => sub.received.length >= before + 10, 20_000);
      const last = sub.received.slice(-10).map(fields);
      for (let i = 1; i < 10; i++) expect((last[i]!.seq - last[i - 1]!.seq) & 0xffff).toBe(1);
      const counters = pub.transport.counters();
      expect(counters.droppedSrtp).toBeGreaterThan(1000);
      expect(sub.transport.counters().droppedSrtp).toBeGreaterThan(250);
      expect(sub.undecryptable).toBe(0);
      // The authenticated hostile packets reached the parsers behind SRTP and were refused there.
      expect(counters.droppedOther + counters.rtcpIn).toBeGreaterThan(0);
      expect(mux.getStats().droppedUnknown + mux.getStats().droppedMalformed).toBeGreaterThan(300);
    } finally {
      stranger.close();
      pub.close();
      sub.close();
    }
  });
});

describe.runIf(native)('native packet core reading audio levels (RFC 6464) from hostile extension blocks', () => {
  it('elements whose lengths run past their block, ids 0 and 15, both forms and unknown profiles are read safely; a valid level is read in either form', { timeout: 60_000 }, async () => {
    const AUDIO = 0x0a0d10;
    const pub = await CorePeer.create(mux, SrtpProfile.AES_CM_128_HMAC_SHA1_80);
    try {
      const producer = pub.transport.addProducer({ ssrc: AUDIO, rtxSsrc: undefined, payloadType: 111, rtxPayloadType: undefined, clockRate: 48000, mimeType: 'audio/opus', video: false, nack: false });
      producer.setAudioLevelExtension(1);
      /** An Opus packet with header extension block `block` (whole 32-bit words) under `profile`. */
      const withExtension = (seq: number, profile: number, block: Buffer): Buffer => {
        const head = Buffer.alloc(4);
        head.writeUInt16BE(profile, 0);
        head.writeUInt16BE(block.length / 4, 2);
        const packet = Buffer.concat([rtp(AUDIO, seq, seq * 960, 111, Buffer.alloc(0)), head, block, randomBytes(40)]);
        packet[0]! |= 0x10;
        return packet;
      };
      let seq = 1;
      // Hostile blocks: random words under the one-byte, two-byte and other profiles.
      for (let i = 0; i < 600; i++) {
        const profile = [0xbede, 0x1000, 0x100f, randomInt(0, 65536)][i % 4]!;
        const block = randomBytes(4 * randomInt(0, 8));
        await pub.sendRtp(withExtension(seq++, profile, block));
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      // Lengths that run past the block, in both forms.
      await pub.sendRtp(withExtension(seq++, 0xbede, Buffer.from([0x1f, 0, 0, 0])));
      await pub.sendRtp(withExtension(seq++, 0x1000, Buffer.from([1, 200, 5, 0])));
      await until(() => (producer.counters()?.packets ?? 0) >= 602, 20_000);
      producer.readAudioLevel(); // whatever the garbage said: a new period

      // Valid levels: -30 dBov (voice) in the one-byte form after a padding byte and another element, -20 in the two-byte form.
      await pub.sendRtp(withExtension(seq++, 0xbede, Buffer.from([0x00, 0x20, 0xaa, 0x10, 0x80 | 30, 0, 0, 0].slice(0, 8))));
      await pub.sendRtp(withExtension(seq++, 0x1000, Buffer.from([2, 1, 0xaa, 1, 1, 20, 0, 0])));
      await until(() => (producer.counters()?.packets ?? 0) >= 604, 20_000);
      const reading = producer.readAudioLevel();
      expect(reading.packets).toBe(2);
      expect(reading.voicePackets).toBe(1);
      expect(reading.level).toBeCloseTo(Math.pow(10, -20 / 20), 6);
      // A read starts a new period.
      expect(producer.readAudioLevel()).toEqual({ level: 0, packets: 0, voicePackets: 0 });
    } finally {
      pub.close();
    }
  });
});
