import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import { SrtpProfile } from '../srtp/index.js';
import { until } from '../testing/harness.js';
import { NativeProducer } from './NativeTransport.js';
import { choosePacketCore } from './PacketCore.js';
import { CorePeer, emptyRr, fields, HOST, nack, rtp, vp8 } from './testCore.js';
import { nativeCoreUnderTest } from './testPaths.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 65400-65409.
const native = nativeCoreUnderTest();
let mux: UdpMux;
const open: Array<() => void> = [];

beforeAll(async () => {
  if (native) mux = await engine.sockets.acquire(HOST, [65400, 65409], 'test', 'native');
});
afterAll(() => mux?.release());
afterEach(() => {
  for (const close of open.splice(0).reverse()) close();
});

async function peer(profile?: SrtpProfile): Promise<CorePeer> {
  const p = await CorePeer.create(mux, profile);
  open.push(() => p.close());
  return p;
}

const PUB_SSRC = 0x11111111;
const RTX_SSRC = 0x22222222;

/** A publisher with a VP8 producer (RTX 97, NACK) and a subscriber with one consumer of it. */
async function pair(profile?: SrtpProfile, options: { paused?: boolean } = {}) {
  const pub = await peer(profile);
  const sub = await peer(profile);
  const producer = pub.transport.addProducer({ ssrc: PUB_SSRC, rtxSsrc: RTX_SSRC, payloadType: 96, rtxPayloadType: 97, clockRate: 90000, mimeType: 'video/VP8', video: true, nack: true });
  const consumer = sub.transport.addConsumer(producer, { ssrc: 0x55555555, payloadType: 100, clockRate: 90000, mimeType: 'video/VP8', video: true, paused: options.paused ?? false });
  return { pub, sub, producer, consumer };
}

describe.runIf(native)('native packet core', () => {
  it('mux.packetCore says the native path is in use, and why', () => {
    expect(mux.packetPath).toBe('native');
    expect(mux.socket).toBeUndefined();
    expect(choosePacketCore('typescript').path).toBe('typescript');
    expect(choosePacketCore('native').reason).toMatch(/packet_core\.node$/);
  });

  for (const profile of [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AES_CM_128_HMAC_SHA1_32, SrtpProfile.AEAD_AES_128_GCM, SrtpProfile.AEAD_AES_256_GCM]) {
    it(`forwards a producer's SRTP to a consumer with its own SSRC, payload type and numbering, protected with the subscriber's keys (profile ${profile})`, async () => {
      const { pub, sub } = await pair(profile);
      for (let i = 0; i < 20; i++) await pub.sendRtp(rtp(PUB_SSRC, 1000 + i, 5000 + i * 3000, 96, vp8(i === 0, 200, i), i % 5 === 4));
      await until(() => sub.received.length === 20);
      const out = sub.received.map(fields);
      expect(out.every((f) => f.ssrc === 0x55555555 && f.pt === 100)).toBe(true);
      for (let i = 1; i < 20; i++) {
        expect((out[i]!.seq - out[0]!.seq) & 0xffff).toBe(i);
        expect((out[i]!.ts - out[0]!.ts) >>> 0).toBe(i * 3000);
        expect(out[i]!.payload.equals(vp8(false, 200, i))).toBe(true);
        expect(out[i]!.marker).toBe(i % 5 === 4);
      }
      expect(sub.undecryptable).toBe(0);
      const counters = pub.transport.counters();
      expect(counters.rtpIn).toBe(20);
      expect(sub.transport.counters().rtpOut).toBe(20);
    });
  }

  it('a video consumer waits for a keyframe; a paused one sends nothing, and after resume waits for a keyframe again', async () => {
    const { pub, sub, consumer } = await pair();
    let seq = 1;
    const send = (keyframe: boolean): Promise<void> => pub.sendRtp(rtp(PUB_SSRC, seq++, seq * 3000, 96, vp8(keyframe)));
    for (let i = 0; i < 5; i++) await send(false);
    await until(() => pub.transport.counters().rtpIn === 5);
    expect(sub.received.length).toBe(0);
    expect(consumer.counters()!.droppedAwaitingKeyframe).toBe(5);
    await send(true);
    await send(false);
    await until(() => sub.received.length === 2);
    consumer.setPaused(true);
    await send(true);
    await until(() => pub.transport.counters().rtpIn === 8);
    consumer.setPaused(false);
    await send(false);
    await send(true);
    await until(() => sub.received.length === 3);
    expect(fields(sub.received[2]!).payload[1]).toBe(0x00);
    expect(consumer.counters()!.packets).toBe(3);
  });

  it('a gap from the publisher is NACKed to it natively, and the subscriber\'s NACK is answered from the ring with the same numbers', async () => {
    const { pub, sub, producer, consumer } = await pair();
    // The subscriber loses the 4th and 7th packet we send it (SRTP never sees them: no replay when they come again).
    sub.lose = (arrival) => arrival === 3 || arrival === 6;
    await pub.sendRtp(rtp(PUB_SSRC, 100, 0, 96, vp8(true)));
    for (let s = 101; s <= 110; s++) if (s !== 104 && s !== 105) await pub.sendRtp(rtp(PUB_SSRC, s, s * 10, 96, vp8(false, 50, s)));
    await until(() => pub.receivedRtcp.length >= 1 && sub.received.length === 7);
    const upstream = pub.receivedRtcp[0]!;
    expect(upstream[1]).toBe(205);
    expect(upstream.readUInt32BE(8)).toBe(PUB_SSRC);
    expect(upstream.readUInt16BE(12)).toBe(104);
    expect(upstream.readUInt16BE(14)).toBe(0b1);
    expect(producer.counters()).toMatchObject({ packets: 9, lost: 2, nacksSent: 1, nackedPackets: 2 });

    // The subscriber lost two of ours; it asks, the core resends them with the same numbers.
    expect(sub.lost.length).toBe(2);
    const first = fields(sub.received[0]!);
    await sub.sendRtcp(nack(0x99, 0x55555555, sub.lost));
    await until(() => sub.received.length === 9);
    const again = sub.received.slice(7).map(fields);
    expect(again.map((a) => a.seq)).toEqual(sub.lost);
    // Input 103 and 108 (the 4th and 7th forwarded): their timestamps and payloads, in our numbering.
    expect(again.map((a) => (a.ts - first.ts) >>> 0)).toEqual([1030, 1080]);
    expect(again.map((a, i) => a.payload.equals(vp8(false, 50, [103, 108][i])))).toEqual([true, true]);
    expect(sub.undecryptable).toBe(0);
    expect(consumer.counters()).toMatchObject({ nacksReceived: 1, retransmitted: 2, retransmitMisses: 0 });
    // The NACK went up decrypted as well (JavaScript reads the rest of the compound).
    await until(() => sub.handed.rtcp.length === 1);
    expect(sub.handed.rtcp[0]![1]).toBe(205);

    // A packet the ring never had is a miss, not a send.
    await sub.sendRtcp(nack(0x99, 0x55555555, [(sub.lost[0]! + 5000) & 0xffff]));
    await until(() => consumer.counters()!.retransmitMisses === 1);
    expect(sub.received.length).toBe(9);
  });

  it('a packet is resent at most three times per round trip, and never one from before the resend floor (a simulcast switch)', async () => {
    const { pub, sub, consumer } = await pair();
    // A round trip far longer than the test: every NACK below falls in the first one's window.
    consumer.setResendInterval(60_000);
    sub.lose = (arrival) => arrival === 3 || arrival === 6;
    await pub.sendRtp(rtp(PUB_SSRC, 100, 0, 96, vp8(true)));
    for (let s = 101; s <= 110; s++) await pub.sendRtp(rtp(PUB_SSRC, s, s * 10, 96, vp8(false, 50, s)));
    await until(() => sub.received.length === 9);
    await sub.sendRtcp(nack(0x99, 0x55555555, sub.lost));
    await until(() => sub.received.length === 11);
    // Asked again within the round trip: resent twice more (three resends at most; the subscriber's SRTP drops them as replays), then not.
    await sub.sendRtcp(nack(0x99, 0x55555555, sub.lost));
    await until(() => consumer.counters()!.retransmitted === 4);
    await sub.sendRtcp(nack(0x99, 0x55555555, sub.lost));
    await until(() => consumer.counters()!.retransmitted === 6);
    await sub.sendRtcp(nack(0x99, 0x55555555, sub.lost));
    await until(() => consumer.counters()!.retransmitsSkipped === 2);
    expect(consumer.counters()).toMatchObject({ nacksReceived: 4, retransmitted: 6 });
    // A round trip of 0 ms: asked again, resent again.
    consumer.setResendInterval(0);
    await sub.sendRtcp(nack(0x99, 0x55555555, sub.lost));
    await until(() => consumer.counters()!.retransmitted === 8);
    expect(consumer.counters()).toMatchObject({ nacksReceived: 5, retransmitsSkipped: 2 });
    // The floor at input 105: input 103 (the first lost) is not resent, 108 is.
    consumer.setResendFloor(105);
    await sub.sendRtcp(nack(0x99, 0x55555555, sub.lost));
    await until(() => consumer.counters()!.nacksReceived === 6);
    expect(consumer.counters()).toMatchObject({ retransmitted: 9, retransmitsSkipped: 3, retransmitMisses: 0 });
    expect(sub.received.length).toBe(11);
  });

  it('a packet still missing is NACKed again every 250 ms, four times in all; one that came is not asked for again', async () => {
    const { pub, producer } = await pair();
    /** The sequence numbers the NACKs the publisher got name (first PID of each FCI item, with its BLP bits). */
    const named = (): number[] =>
      pub.receivedRtcp.flatMap((r) => {
        const out: number[] = [];
        for (let at = 12; at + 4 <= r.length; at += 4) {
          const pid = r.readUInt16BE(at);
          const blp = r.readUInt16BE(at + 2);
          out.push(pid);
          for (let b = 0; b < 16; b++) if (blp & (1 << b)) out.push((pid + b + 1) & 0xffff);
        }
        return out;
      });
    let seq = 200;
    const send = (): Promise<void> => pub.sendRtp(rtp(PUB_SSRC, seq, seq++ * 3000, 96, vp8(seq === 201)));
    await send();
    seq += 2; // 201 and 202 lost
    await send();
    await until(() => named().length >= 2);
    // 202 comes late (a retransmission); 201 never does.
    await pub.sendRtp(rtp(PUB_SSRC, 202, 202 * 3000, 96, vp8(false)));
    // Packets keep coming (the core retries when the producer's packets arrive): until the fourth NACK of 201, then 600 ms more.
    const asked = (): number => named().filter((s) => s === 201).length;
    const deadline = Date.now() + 20_000;
    let fourthAt: number | undefined;
    while (Date.now() < deadline && (fourthAt === undefined || Date.now() - fourthAt < 600)) {
      await send();
      await new Promise((r) => setTimeout(r, 40));
      if (fourthAt === undefined && asked() >= 4) fourthAt = Date.now();
    }
    expect(named().filter((s) => s === 201).length).toBe(4);
    expect(named().filter((s) => s === 202).length).toBe(1);
    expect(producer.counters()).toMatchObject({ nacksSent: 4, nackedPackets: 5 });
  });

  it('RTX from the publisher is unwrapped into the producer\'s stream and fills its gap', async () => {
    const { pub, sub, producer } = await pair();
    await pub.sendRtp(rtp(PUB_SSRC, 10, 0, 96, vp8(true)));
    await pub.sendRtp(rtp(PUB_SSRC, 12, 0, 96, vp8(false)));
    const original = vp8(false, 30, 0x11);
    const rtxPayload = Buffer.concat([Buffer.from([0, 11]), original]);
    await pub.sendRtp(rtp(RTX_SSRC, 500, 0, 97, rtxPayload));
    await until(() => sub.received.length === 3);
    expect(fields(sub.received[2]!).payload.equals(original)).toBe(true);
    expect(fields(sub.received[2]!).pt).toBe(100);
    expect(producer.counters()).toMatchObject({ packets: 3, retransmissionsReceived: 1, lost: 0 });
  });

  it('RTCP goes up decrypted; STUN, DTLS and SRTP from other addresses go up as datagrams; an unknown SSRC goes up decrypted', async () => {
    const { pub } = await pair();
    await pub.sendRtcp(emptyRr(0x1234));
    await until(() => pub.handed.rtcp.length === 1);
    expect(pub.handed.rtcp[0]!.equals(emptyRr(0x1234))).toBe(true);
    const before = mux.getStats();
    await pub.sendRaw(Buffer.from([0x00, 0x01, 0x00, 0x00]));
    await pub.sendRaw(Buffer.from([22, 0xfe, 0xfd, 0, 0]));
    await until(() => mux.getStats().droppedMalformed + mux.getStats().droppedUnknown >= before.droppedMalformed + before.droppedUnknown + 2);
    await pub.sendRtp(rtp(0x77777777, 1, 0, 96, vp8(true)));
    await until(() => pub.handed.unknownRtp.length === 1);
    expect(fields(pub.handed.unknownRtp[0]!).ssrc).toBe(0x77777777);
  });

  it('an SSRC bound later (from a packet\'s mid) routes the packet JavaScript hands back, and the ones after it', async () => {
    const pub = await peer();
    const sub = await peer();
    const producer = pub.transport.addProducer({ ssrc: undefined, rtxSsrc: undefined, payloadType: 111, rtxPayloadType: undefined, clockRate: 48000, mimeType: 'audio/opus', video: false, nack: false });
    sub.transport.addConsumer(producer, { ssrc: 0x66, payloadType: 111, clockRate: 48000, mimeType: 'audio/opus', video: false, paused: false });
    await pub.sendRtp(rtp(0x4242, 1, 960, 111, Buffer.alloc(40, 1)));
    await until(() => pub.handed.unknownRtp.length === 1);
    producer.bindSsrc(0x4242, false);
    pub.transport.routeDecrypted(pub.handed.unknownRtp[0]!);
    await pub.sendRtp(rtp(0x4242, 2, 1920, 111, Buffer.alloc(40, 2)));
    await until(() => sub.received.length === 2);
    expect(sub.received.map((p) => fields(p).payload[0])).toEqual([1, 2]);
  });

  it('a tapped producer hands its packets up (RTX unwrapped, flagged) while tapped, and nothing when not', async () => {
    const { pub, sub, producer } = await pair();
    const { core } = mux.native!;
    const up: Array<{ seq: number; retransmission: boolean }> = [];
    await pub.sendRtp(rtp(PUB_SSRC, 10, 0, 96, vp8(true)));
    await until(() => sub.received.length === 1);
    producer.setTap((data, retransmission) => up.push({ seq: data.readUInt16BE(2), retransmission }));
    await pub.sendRtp(rtp(PUB_SSRC, 12, 0, 96, vp8(false)));
    await pub.sendRtp(rtp(RTX_SSRC, 500, 0, 97, Buffer.concat([Buffer.from([0, 11]), vp8(false)])));
    await until(() => up.length === 2);
    expect(up).toEqual([{ seq: 12, retransmission: false }, { seq: 11, retransmission: true }]);
    producer.setTap(undefined);
    const tapped = core.stats().tapped;
    await pub.sendRtp(rtp(PUB_SSRC, 13, 0, 96, vp8(false)));
    await until(() => sub.received.length === 4);
    expect(core.stats().tapped).toBe(tapped);
    expect(up.length).toBe(2);
  });

  it('a fed producer forwards what JavaScript hands down to its consumers, and drops what is not RTP that fits', async () => {
    const sub = await peer();
    const { core } = mux.native!;
    const fed = NativeProducer.fed(core, { payloadType: 96, clockRate: 90000, mimeType: 'video/VP8', video: true });
    open.push(() => fed.remove());
    sub.transport.addConsumer(fed, { ssrc: 0x5656, payloadType: 96, clockRate: 90000, mimeType: 'video/VP8', video: true, paused: false });
    const extensionPastEnd = rtp(1, 3, 0, 96, Buffer.alloc(8));
    extensionPastEnd[0] = 0x90;
    extensionPastEnd.writeUInt16BE(0xffff, 14);
    for (const bad of [Buffer.alloc(0), Buffer.alloc(11, 0x80), Buffer.alloc(40, 0xff), extensionPastEnd, Buffer.alloc(3000, 0x80)]) fed.feed(bad);
    fed.feed(rtp(1, 1, 0, 96, vp8(true)));
    fed.feed(rtp(1, 2, 3000, 96, vp8(false)));
    await until(() => sub.received.length === 2);
    expect(sub.received.map((p) => fields(p).ssrc)).toEqual([0x5656, 0x5656]);
    // A fed producer is never tapped, and a transport's call on it changes nothing.
    const tapped = core.stats().tapped;
    fed.setTap(() => undefined);
    fed.feed(rtp(1, 3, 6000, 96, vp8(false)));
    await until(() => sub.received.length === 3);
    expect(core.stats().tapped).toBe(tapped);
    expect(core.stats().fed).toBeGreaterThanOrEqual(3);
  });

  it('removing a producer removes its consumers from the core, and closing a transport removes what it had', async () => {
    const { pub, producer, consumer } = await pair();
    const { core } = mux.native!;
    const before = core.stats();
    producer.remove();
    expect(consumer.counters()).toBeUndefined();
    const after = core.stats();
    expect(after.producers).toBe(before.producers - 1);
    expect(after.consumers).toBe(before.consumers - 1);
    pub.transport.close();
    expect(core.stats().transports).toBe(before.transports - 1);
  });

  it('bad arguments throw errors and change nothing', () => {
    const { core } = mux.native!;
    const raw = core.raw as unknown as Record<string, (...args: unknown[]) => unknown>;
    const before = core.stats();
    expect(() => raw['addProducer']!(1)).toThrow();
    expect(() => raw['setTuple']!(1, 'not an ip', 5)).toThrow();
    expect(() => raw['setTuple']!(1, HOST, 5, 9999)).toThrow(/no such socket/);
    expect(() => raw['send']!(0, 'not a buffer', HOST, 1)).toThrow();
    expect(() => raw['addConsumer']!(999999, 999999, 1, 1, 90000, 1, true, false, 0, 0)).toThrow();
    expect(core.stats().transports).toBe(before.transports);
  });
});
