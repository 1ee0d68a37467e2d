import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RtpHeader, RtpPacket, SrtcpSession as WeriftSrtcp, SrtpSession as WeriftSrtp } from 'werift';
import { deriveSessionKeys, SrtpContext, SrtpDrop, SrtpProfile } from './index.js';
import { AesCmKeystream } from './AesCmKeystream.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function rtp(seq: number, ssrc = 0x11223344, payloadLength = 100, extension = false): Buffer {
  const header = new RtpHeader({
    payloadType: 96,
    sequenceNumber: seq,
    timestamp: seq * 3000,
    ssrc,
    marker: seq % 7 === 0,
    extension,
    extensions: extension ? [{ id: 1, payload: Buffer.from([1, 2, 3]) }] : [],
  });
  const payload = Buffer.alloc(payloadLength);
  for (let i = 0; i < payloadLength; i++) payload[i] = (i * 7 + seq) & 0xff;
  return new RtpPacket(header, payload).serialize();
}

/** A copy with room for the tag, as the forwarding path's pooled buffers have. */
function roomy(packet: Buffer, extra = 32): Buffer {
  const out = Buffer.alloc(packet.length + extra);
  packet.copy(out);
  return out;
}

function protect(ctx: SrtpContext, packet: Buffer): Buffer {
  const buf = roomy(packet);
  return buf.subarray(0, ctx.protectRtp(buf, packet.length));
}

function rtcpSr(ssrc = 0x4d617273): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc, 4);
  for (let i = 8; i < 28; i++) b[i] = i;
  return b;
}

describe('SRTP key derivation (RFC 3711 §4.3, Appendix B.3)', () => {
  it('derives the session cipher key, salt and auth key of the RFC example', () => {
    const keys = deriveSessionKeys(SrtpProfile.AES_CM_128_HMAC_SHA1_80, hex('E1F97A0D3E018BE0D64FA32C06DE4139'), hex('0EC675AD498AFEEBB6960B3AABE6'));
    expect(keys.rtpKey.toString('hex')).toBe('c61e7a93744f39ee10734afe3ff7a087');
    expect(keys.rtpSalt.toString('hex')).toBe('30cbbc08863d8c85d49db34a9ae1');
    expect(keys.rtpAuth.toString('hex')).toBe('cebe321f6ff7716b6fd4ab49af256a156d38baa4');
  });
});

describe('AES-CM keystream (RFC 3711 Appendix B.2)', () => {
  it('generates the RFC keystream for the given session key and IV', () => {
    const ks = new AesCmKeystream(hex('2B7E151628AED2A6ABF7158809CF4F3C'));
    hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD').copy(ks.ivBuffer);
    ks.ivBuffer[14] = 0;
    ks.ivBuffer[15] = 0;
    const data = Buffer.alloc(48);
    ks.xor(data, 0, 48);
    expect(data.toString('hex').toUpperCase()).toBe(
      'E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901E4FCA894C0',
    );
  });

  it('gives the same result on unaligned buffers', () => {
    const ks = new AesCmKeystream(randomBytes(16));
    randomBytes(14).copy(ks.ivBuffer);
    const aligned = Buffer.alloc(101);
    const backing = Buffer.alloc(102);
    const unaligned = backing.subarray(1);
    ks.xor(aligned, 0, 101);
    ks.xor(unaligned, 0, 101);
    expect(unaligned.equals(aligned)).toBe(true);
  });
});

describe('AES_CM_128_HMAC_SHA1_80 (libsrtp srtp_driver reference packet)', () => {
  const key = hex('e1f97a0d3e018be0d64fa32c06de4139');
  const salt = hex('0ec675ad498afeebb6960b3aabe6');
  const plain = hex('800f1234decafbadcafebabeabababababababababababababababab');
  const expected = hex('800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb');

  it('protectRtp() produces the reference packet from the master key', () => {
    const ctx = new SrtpContext(SrtpProfile.AES_CM_128_HMAC_SHA1_80, key, salt);
    expect(protect(ctx, plain).toString('hex')).toBe(expected.toString('hex'));
  });

  it('unprotectRtp() recovers the plaintext in place', () => {
    const ctx = new SrtpContext(SrtpProfile.AES_CM_128_HMAC_SHA1_80, key, salt);
    const buf = Buffer.from(expected);
    const n = ctx.unprotectRtp(buf);
    expect(buf.subarray(0, n).toString('hex')).toBe(plain.toString('hex'));
  });
});

describe('AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714 §16, §17)', () => {
  // The RFC vectors give session keys; a context is built from a master key whose
  // derived keys we do not control, so these go through the packet layer with the
  // session keys swapped in.
  function withSessionKeys(profile: SrtpProfile, key: Buffer, salt: Buffer): SrtpContext {
    const ctx = new SrtpContext(profile, Buffer.alloc(key.length), Buffer.alloc(12));
    const keys = (ctx as unknown as { keys: { rtpKey: Buffer; rtpSalt: Buffer; rtcpKey: Buffer; rtcpSalt: Buffer } }).keys;
    key.copy(keys.rtpKey);
    key.copy(keys.rtcpKey);
    salt.copy(keys.rtpSalt);
    salt.copy(keys.rtcpSalt);
    return ctx;
  }
  const salt = hex('517569642070726f2071756f');
  const key128 = hex('000102030405060708090a0b0c0d0e0f');
  const key256 = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  const rtpPlain = hex('8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573');
  const rtpSealed128 = hex(
    '8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce',
  );
  const rtcpPlain = hex('81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef');
  const rtcpSealed128 = hex(
    '81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4',
  );
  const rtcpSealed256 = hex(
    '81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4',
  );

  it('protects and unprotects the §16.1 RTP packet (128-bit key)', () => {
    const sender = withSessionKeys(SrtpProfile.AEAD_AES_128_GCM, key128, salt);
    expect(protect(sender, rtpPlain).toString('hex')).toBe(rtpSealed128.toString('hex'));
    const receiver = withSessionKeys(SrtpProfile.AEAD_AES_128_GCM, key128, salt);
    const buf = Buffer.from(rtpSealed128);
    const n = receiver.unprotectRtp(buf);
    expect(buf.subarray(0, n).toString('hex')).toBe(rtpPlain.toString('hex'));
  });

  it('protects and unprotects the §17.1 RTCP packet (128-bit key, index 0x5d4)', () => {
    const sender = withSessionKeys(SrtpProfile.AEAD_AES_128_GCM, key128, salt);
    const buf = roomy(rtcpPlain);
    const n = sender.protectRtcpWithIndex(buf, rtcpPlain.length, 0x5d4);
    expect(buf.subarray(0, n).toString('hex')).toBe(rtcpSealed128.toString('hex'));
    const receiver = withSessionKeys(SrtpProfile.AEAD_AES_128_GCM, key128, salt);
    const sealed = Buffer.from(rtcpSealed128);
    const m = receiver.unprotectRtcp(sealed);
    expect(sealed.subarray(0, m).toString('hex')).toBe(rtcpPlain.toString('hex'));
  });

  it('authenticates an unencrypted SRTCP packet (E = 0, RFC 7714 §9.3: the whole packet and the index word are the AAD) and refuses it forged', () => {
    const index = 0x5d4;
    // Sealed here with node:crypto as §9.3 says, independently of SrtpContext.
    const iv = Buffer.alloc(12);
    rtcpPlain.copy(iv, 2, 4, 8);
    iv.writeUInt32BE(index, 8);
    for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
    const word = Buffer.alloc(4);
    word.writeUInt32BE(index, 0); // E = 0
    const cipher = createCipheriv('aes-128-gcm', key128, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.concat([rtcpPlain, word]));
    cipher.final();
    const sealed = Buffer.concat([rtcpPlain, cipher.getAuthTag(), word]);
    const receiver = withSessionKeys(SrtpProfile.AEAD_AES_128_GCM, key128, salt);
    const buf = Buffer.from(sealed);
    const n = receiver.unprotectRtcp(buf);
    expect(buf.subarray(0, n).toString('hex')).toBe(rtcpPlain.toString('hex'));
    // A changed byte of the (unencrypted, authenticated) body is refused.
    const forged = Buffer.from(sealed);
    forged[20]! ^= 1;
    expect(withSessionKeys(SrtpProfile.AEAD_AES_128_GCM, key128, salt).unprotectRtcp(forged)).toBe(SrtpDrop.AUTH_FAILED);
  });

  it('protects and unprotects the §17.2 RTCP packet (256-bit key)', () => {
    const sender = withSessionKeys(SrtpProfile.AEAD_AES_256_GCM, key256, salt);
    const buf = roomy(rtcpPlain);
    const n = sender.protectRtcpWithIndex(buf, rtcpPlain.length, 0x5d4);
    expect(buf.subarray(0, n).toString('hex')).toBe(rtcpSealed256.toString('hex'));
    const receiver = withSessionKeys(SrtpProfile.AEAD_AES_256_GCM, key256, salt);
    const sealed = Buffer.from(rtcpSealed256);
    const m = receiver.unprotectRtcp(sealed);
    expect(sealed.subarray(0, m).toString('hex')).toBe(rtcpPlain.toString('hex'));
  });
});

const ALL_PROFILES = [
  SrtpProfile.AES_CM_128_HMAC_SHA1_80,
  SrtpProfile.AES_CM_128_HMAC_SHA1_32,
  SrtpProfile.AEAD_AES_128_GCM,
  SrtpProfile.AEAD_AES_256_GCM,
];

function pair(profile: SrtpProfile, replayWindow?: number): { tx: SrtpContext; rx: SrtpContext } {
  const key = randomBytes(profile === SrtpProfile.AEAD_AES_256_GCM ? 32 : 16);
  const salt = randomBytes(profile >= SrtpProfile.AEAD_AES_128_GCM ? 12 : 14);
  return { tx: new SrtpContext(profile, key, salt), rx: new SrtpContext(profile, key, salt, { replayWindow }) };
}

describe.each(ALL_PROFILES)('profile %i', (profile) => {
  it('round-trips RTP with header extensions and RTCP', () => {
    const { tx, rx } = pair(profile);
    for (const packet of [rtp(1, 1, 0), rtp(2, 1, 1), rtp(3, 1, 1200, true)]) {
      const sealed = protect(tx, packet);
      const n = rx.unprotectRtp(sealed);
      expect(sealed.subarray(0, n).equals(packet)).toBe(true);
    }
    const sr = rtcpSr();
    const buf = roomy(sr);
    const sealed = buf.subarray(0, tx.protectRtcp(buf, sr.length));
    const n = rx.unprotectRtcp(sealed);
    expect(sealed.subarray(0, n).equals(sr)).toBe(true);
  });

  it('drops and counts truncated, forged and replayed packets, and the stream goes on', () => {
    const { tx, rx } = pair(profile);
    const first = protect(tx, rtp(100));
    expect(rx.unprotectRtp(Buffer.from(first))).toBeGreaterThan(0);
    expect(rx.unprotectRtp(Buffer.from(first))).toBe(SrtpDrop.REPLAYED);
    const forged = protect(tx, rtp(101));
    forged[20]! ^= 0x01;
    expect(rx.unprotectRtp(forged)).toBe(SrtpDrop.AUTH_FAILED);
    expect(rx.unprotectRtp(first.subarray(0, 8))).toBe(SrtpDrop.TRUNCATED);
    expect(rx.unprotectRtp(randomBytes(200))).toBeLessThan(0);
    const next = rtp(102);
    const sealed = protect(tx, next);
    const n = rx.unprotectRtp(sealed);
    expect(sealed.subarray(0, n).equals(next)).toBe(true);
    expect(rx.stats).toMatchObject({ replayed: 1, authFailures: expect.any(Number), truncated: expect.any(Number), rtpUnprotected: 2 });
    expect(rx.stats.authFailures + rx.stats.truncated).toBe(3);

    const sr = rtcpSr();
    const b = roomy(sr);
    const sealedRtcp = Buffer.from(b.subarray(0, tx.protectRtcp(b, sr.length)));
    expect(rx.unprotectRtcp(Buffer.from(sealedRtcp))).toBe(sr.length);
    expect(rx.unprotectRtcp(Buffer.from(sealedRtcp))).toBe(SrtpDrop.REPLAYED);
    const b2 = roomy(sr);
    const forgedRtcp = b2.subarray(0, tx.protectRtcp(b2, sr.length));
    forgedRtcp[10]! ^= 0x80;
    expect(rx.unprotectRtcp(forgedRtcp)).toBe(SrtpDrop.AUTH_FAILED);
    expect(rx.unprotectRtcp(sealedRtcp.subarray(0, 10))).toBe(SrtpDrop.TRUNCATED);
  });
});

describe('rollover counter and replay window', () => {
  it('follows the sequence number across a wrap, with reordering around it', () => {
    const { tx, rx } = pair(SrtpProfile.AES_CM_128_HMAC_SHA1_80);
    const seqs = [65530, 65531, 65533, 65532, 65534, 65535, 1, 0, 2, 3, 65529];
    const sealed = seqs.map((s) => ({ s, buf: protect(tx, rtp(s)) }));
    // 65529 was sent after the wrap but belongs to ROC 0.
    expect(tx.rolloverCounter(0x11223344)).toBe(1);
    for (const { s, buf } of sealed) {
      const n = rx.unprotectRtp(buf);
      expect(n, `seq ${s}`).toBeGreaterThan(0);
      expect(buf.readUInt16BE(2)).toBe(s);
    }
    expect(rx.rolloverCounter(0x11223344)).toBe(1);
  });

  it('accepts reordered packets inside a 128-packet window and refuses older ones', () => {
    const { tx, rx } = pair(SrtpProfile.AEAD_AES_128_GCM, 128);
    const early = protect(tx, rtp(10));
    const late = protect(tx, rtp(11));
    for (let s = 12; s < 12 + 120; s++) expect(rx.unprotectRtp(protect(tx, rtp(s)))).toBeGreaterThan(0);
    expect(rx.unprotectRtp(late)).toBeGreaterThan(0); // 120 behind: inside 128
    for (let s = 132; s < 140; s++) expect(rx.unprotectRtp(protect(tx, rtp(s)))).toBeGreaterThan(0);
    expect(rx.unprotectRtp(early)).toBe(SrtpDrop.REPLAYED); // 129 behind: outside
  });

  it('keeps separate state per SSRC', () => {
    const { tx, rx } = pair(SrtpProfile.AES_CM_128_HMAC_SHA1_80);
    const a = protect(tx, rtp(5, 1));
    const b = protect(tx, rtp(5, 2));
    expect(rx.unprotectRtp(a)).toBeGreaterThan(0);
    expect(rx.unprotectRtp(b)).toBeGreaterThan(0);
  });
});

describe('interop with werift SRTP', () => {
  const weriftProfiles = [
    [SrtpProfile.AES_CM_128_HMAC_SHA1_80, 16, 14],
    [SrtpProfile.AEAD_AES_128_GCM, 16, 12],
  ] as const;

  it.each(weriftProfiles)('profile %i: werift protects, we unprotect; we protect, werift unprotects', (profile, k, s) => {
    const keyA = randomBytes(k);
    const saltA = randomBytes(s);
    const keyB = randomBytes(k);
    const saltB = randomBytes(s);
    const keys = { localMasterKey: keyA, localMasterSalt: saltA, remoteMasterKey: keyB, remoteMasterSalt: saltB };
    const werift = new WeriftSrtp({ keys, profile });
    const weriftRtcp = new WeriftSrtcp({ keys, profile });
    const ours = { rx: new SrtpContext(profile, keyA, saltA), tx: new SrtpContext(profile, keyB, saltB) };
    for (const seq of [65534, 65535, 0, 1, 2]) {
      const packet = rtp(seq, 0xabcdef01, 300, true);
      const parsed = RtpPacket.deSerialize(packet);
      const sealed = werift.encrypt(parsed.payload, parsed.header);
      const n = ours.rx.unprotectRtp(sealed);
      expect(sealed.subarray(0, n).equals(packet), `seq ${seq} werift -> us`).toBe(true);
      const back = weriftSafeDecrypt(werift, protect(ours.tx, packet));
      expect(back.equals(packet), `seq ${seq} us -> werift`).toBe(true);
    }
    const sr = rtcpSr(0xabcdef01);
    const sealedRtcp = weriftRtcp.encrypt(sr);
    const n = ours.rx.unprotectRtcp(sealedRtcp);
    expect(sealedRtcp.subarray(0, n).equals(sr)).toBe(true);
    const b = roomy(sr);
    const ourRtcp = b.subarray(0, ours.tx.protectRtcp(b, sr.length));
    expect(weriftRtcp.decrypt(Buffer.from(ourRtcp)).subarray(0, sr.length).equals(sr)).toBe(true);
  });
});

function weriftSafeDecrypt(session: WeriftSrtp, buf: Buffer): Buffer {
  return Buffer.from(session.decrypt(Buffer.from(buf)));
}

describe('AES-CM keystreams made ahead for the packets we send', () => {
  it('protects like werift whatever the order, size and rollover of the packets', () => {
    const key = randomBytes(16);
    const salt = randomBytes(14);
    const keys = { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt };
    const werift = new WeriftSrtp({ keys, profile: SrtpProfile.AES_CM_128_HMAC_SHA1_80 });
    const tx = new SrtpContext(SrtpProfile.AES_CM_128_HMAC_SHA1_80, key, salt);
    // [seq, payload length]: small audio-like packets, then larger ones (the cache grows),
    // a retransmission of an older packet, a jump past the cache, a rollover, a shrink.
    const plan: Array<[number, number]> = [];
    for (let seq = 65000; seq < 65020; seq++) plan.push([seq, 80 + (seq % 5)]);
    for (let seq = 65020; seq < 65040; seq++) plan.push([seq, 1100]);
    plan.push([65003, 80], [65041, 1400], [65300, 300]);
    for (let seq = 65520; seq < 65536; seq++) plan.push([seq, 500]);
    for (let seq = 0; seq < 40; seq++) plan.push([seq, seq % 3 === 0 ? 1200 : 60]);
    plan.push([65530, 500], [40, 20]);
    for (const [seq, length] of plan) {
      const packet = rtp(seq, 0x5eed5eed, length);
      const back = weriftSafeDecrypt(werift, protect(tx, packet));
      expect(back.equals(packet), `seq ${seq}, ${length} bytes`).toBe(true);
    }
  });
});

describe('AES-CM keystreams made ahead for the packets we receive', () => {
  it('unprotects what werift protects, in order, reordered, with gaps and across a rollover', () => {
    const key = randomBytes(16);
    const salt = randomBytes(14);
    const keys = { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt };
    const werift = new WeriftSrtp({ keys, profile: SrtpProfile.AES_CM_128_HMAC_SHA1_80 });
    const rx = new SrtpContext(SrtpProfile.AES_CM_128_HMAC_SHA1_80, key, salt, { replayWindow: 1024 });
    const order: number[] = [];
    for (let seq = 65400; seq < 65536; seq++) order.push(seq);
    for (let seq = 0; seq < 60; seq++) order.push(seq);
    // swap neighbours here and there, and drop a stretch (a gap past the cache)
    for (let i = 10; i + 1 < order.length; i += 17) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
    const kept = order.filter((seq) => seq < 65450 || seq > 65520);
    for (const [i, seq] of kept.entries()) {
      const packet = rtp(seq, 0x0badcafe, i % 4 === 0 ? 1150 : 90);
      const parsed = RtpPacket.deSerialize(packet);
      const sealed = Buffer.from(werift.encrypt(parsed.payload, parsed.header));
      const n = rx.unprotectRtp(sealed);
      expect(n, `seq ${seq}`).toBe(packet.length);
      expect(sealed.subarray(0, n).equals(packet), `seq ${seq}`).toBe(true);
    }
    expect(rx.stats.authFailures + rx.stats.replayed).toBe(0);
  });
});
