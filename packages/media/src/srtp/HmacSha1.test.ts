import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HmacSha1 } from './HmacSha1.js';
import { sha1Digest, sha1Finish, sha1Init } from './Sha1.js';

// Lengths around SHA-1's padding boundaries (55/56/63/64 bytes per block) and around
// HmacSha1's switch from the JavaScript inner hash to the native one (400 bytes).
const LENGTHS = [0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 127, 128, 200, 395, 396, 399, 400, 401, 460, 1100, 1400, 2044, 2048];

describe('SHA-1 in JavaScript', () => {
  it('matches node:crypto for every padding case', () => {
    const s = new Int32Array(5);
    const scratch = new Uint8Array(128);
    const out = Buffer.alloc(20);
    for (const n of LENGTHS) {
      const m = randomBytes(n + 7);
      sha1Init(s);
      sha1Finish(s, 0, m, 7, 7 + n, scratch);
      sha1Digest(s, out, 0);
      expect(out.toString('hex'), `length ${n}`).toBe(createHash('sha1').update(m.subarray(7)).digest('hex'));
    }
  });

  it('matches FIPS 180 example "abc"', () => {
    const s = new Int32Array(5);
    const out = Buffer.alloc(20);
    sha1Init(s);
    sha1Finish(s, 0, Buffer.from('abc'), 0, 3, new Uint8Array(128));
    sha1Digest(s, out, 0);
    expect(out.toString('hex')).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
  });
});

describe('HmacSha1', () => {
  it('matches createHmac with and without the ROC suffix, on both inner-hash paths', () => {
    for (const keyLength of [20, 32, 64]) {
      const key = randomBytes(keyLength);
      const mac = new HmacSha1(key);
      for (const n of LENGTHS) {
        const data = randomBytes(n + 12);
        const expected = createHmac('sha1', key).update(data.subarray(5, 5 + n)).digest('hex');
        expect(mac.mac(data, 5, 5 + n).toString('hex'), `key ${keyLength}, length ${n}`).toBe(expected);
        if (n + 4 > 2048) continue;
        const roc = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
        const withRoc = createHmac('sha1', key).update(data.subarray(5, 5 + n)).update(roc).digest();
        const out = Buffer.alloc(16, 0xaa);
        mac.macInto(data, 5, 5 + n, 0xdeadbeef, out, 3, 10);
        expect(out.subarray(3, 13).toString('hex'), `key ${keyLength}, length ${n} + ROC`).toBe(withRoc.subarray(0, 10).toString('hex'));
        expect(out[2]).toBe(0xaa);
        expect(out[13]).toBe(0xaa);
      }
    }
  });

  it('takes inputs longer than its buffer through createHmac', () => {
    const key = randomBytes(20);
    const data = randomBytes(3000);
    expect(new HmacSha1(key).mac(data, 0, 3000, 7).toString('hex')).toBe(
      createHmac('sha1', key).update(data).update(Buffer.from([0, 0, 0, 7])).digest('hex'),
    );
  });
});
