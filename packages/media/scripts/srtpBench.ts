/**
 * Micro-benchmark of SRTP protect/unprotect: the alternatives for AES-CM and HMAC-SHA1
 * with Node's crypto, our SrtpContext, and werift's SRTP, on a 100-byte (audio) and a
 * 1100-byte (video) payload. Run: npx tsx packages/media/scripts/srtpBench.ts
 * Results: docs/performance.md.
 */
import crypto, { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { RtpHeader, SrtpSession as WeriftSrtp } from 'werift';
import { AesCmKeystream } from '../src/srtp/AesCmKeystream.js';
import { HmacSha1 } from '../src/srtp/HmacSha1.js';
import { SrtpContext, SrtpProfile } from '../src/srtp/index.js';

const N = Number(process.env.N ?? 50000);
const oneShot = (crypto as unknown as { hash: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;

function time(name: string, fn: (i: number) => void): void {
  for (let i = 0; i < 2000; i++) fn(i);
  // CPU time, not wall time: on a shared machine, time spent preempted is not ours.
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) fn(i);
  const used = process.cpuUsage(start);
  const us = (used.user + used.system) / N;
  console.log(`${name.padEnd(58)} ${us.toFixed(2)} µs`);
}

const key = randomBytes(16);
const auth = randomBytes(20);
const iv = Buffer.alloc(16);
for (const size of [100, 1100]) {
  console.log(`\n--- payload ${size} bytes`);
  const payload = randomBytes(size);
  const work = Buffer.alloc(size);
  time('AES-CM: createCipheriv(aes-128-ctr) per packet', (i) => {
    iv.writeUInt32BE(i, 8);
    createCipheriv('aes-128-ctr', key, iv).update(payload).copy(work);
  });
  const ks = new AesCmKeystream(key);
  time('AES-CM: one ECB cipher per key, keystream blocks + XOR', (i) => {
    ks.ivBuffer.writeUInt32BE(i, 8);
    payload.copy(work);
    ks.xor(work, 0, size);
  });
  time('HMAC-SHA1: createHmac per packet', () => {
    createHmac('sha1', auth).update(payload).update(iv.subarray(0, 4)).digest();
  });
  const ipad = Buffer.alloc(64, 0x36);
  const opad = Buffer.alloc(64, 0x5c);
  for (let j = 0; j < 20; j++) {
    ipad[j]! ^= auth[j]!;
    opad[j]! ^= auth[j]!;
  }
  const inner = createHash('sha1').update(ipad);
  const outer = createHash('sha1').update(opad);
  time('HMAC-SHA1: precomputed pads, hash.copy() x2', () => {
    const h = inner.copy().update(payload).update(iv.subarray(0, 4)).digest();
    outer.copy().update(h).digest();
  });
  const mac = new HmacSha1(auth);
  time(`HMAC-SHA1: precomputed pads, crypto.hash x2 (${typeof (crypto as { hash?: unknown }).hash})`, () => {
    const h = oneShot('sha1', Buffer.concat([ipad, payload]), 'buffer');
    oneShot('sha1', Buffer.concat([opad, h]), 'buffer');
  });
  const tagOut = Buffer.alloc(20);
  time('HMAC-SHA1: HmacSha1 (pads absorbed, outer + short inner in JS)', () => {
    mac.macInto(payload, 0, size, 1, tagOut, 0, 10);
  });
  time('AES-128-GCM: createCipheriv per packet', (i) => {
    iv.writeUInt32BE(i, 8);
    const c = createCipheriv('aes-128-gcm', key, iv.subarray(0, 12));
    c.setAAD(iv);
    c.update(payload).copy(work);
    c.final();
    c.getAuthTag();
  });

  const header = new RtpHeader({ payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 1234 });
  const plain = Buffer.concat([header.serialize(header.serializeSize), payload]);
  const buf = Buffer.alloc(plain.length + 16);
  for (const [name, profile, saltLength] of [
    ['AES_CM_128_HMAC_SHA1_80', SrtpProfile.AES_CM_128_HMAC_SHA1_80, 14],
    ['AEAD_AES_128_GCM', SrtpProfile.AEAD_AES_128_GCM, 12],
  ] as const) {
    const salt = randomBytes(saltLength);
    const tx = new SrtpContext(profile, key, salt);
    const rx = new SrtpContext(profile, key, salt);
    const sender = new SrtpContext(profile, key, salt);
    let pseq = 0;
    time(`${name}: SrtpContext protect (a sender's consecutive packets)`, () => {
      plain.copy(buf);
      buf.writeUInt16BE(pseq++ & 0xffff, 2);
      sender.protectRtp(buf, plain.length);
    });
    let seq = 0;
    time(`${name}: SrtpContext protect + unprotect`, () => {
      plain.copy(buf);
      buf.writeUInt16BE(seq++ & 0xffff, 2);
      const n = tx.protectRtp(buf, plain.length);
      if (rx.unprotectRtp(buf, n) < 0) throw new Error(`${name}: our own packet did not unprotect`);
    });
    const keys = { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt };
    const werift = new WeriftSrtp({ keys, profile });
    let wseq = 0;
    time(`${name}: werift encrypt + decrypt`, () => {
      header.sequenceNumber = wseq++ & 0xffff;
      werift.decrypt(werift.encrypt(payload, header));
    });
  }
}
