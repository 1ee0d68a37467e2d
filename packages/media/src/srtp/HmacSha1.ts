import crypto, { createHmac } from 'node:crypto';

const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;

/**
 * HMAC-SHA1 with the key's inner and outer pads computed once: each MAC is two
 * one-shot crypto.hash() calls over a reused buffer, which is cheaper than
 * createHmac() per packet (see docs/performance.md). Falls back to createHmac where
 * crypto.hash is missing (Node < 20.12).
 */
export class HmacSha1 {
  private readonly inner: Buffer;
  private readonly outer = Buffer.alloc(64 + 20);

  constructor(private readonly key: Buffer) {
    this.inner = Buffer.alloc(64 + 2048);
    for (let i = 0; i < 64; i++) {
      const k = i < key.length ? key[i]! : 0;
      this.inner[i] = k ^ 0x36;
      this.outer[i] = k ^ 0x5c;
    }
  }

  /** MAC of data[start, end) followed by the 32-bit big-endian `suffix` if given. */
  mac(data: Buffer, start: number, end: number, suffix?: number): Buffer {
    const length = end - start + (suffix === undefined ? 0 : 4);
    if (!oneShot || length > 2048) {
      const h = createHmac('sha1', this.key).update(data.subarray(start, end));
      if (suffix !== undefined) {
        const roc = Buffer.alloc(4);
        roc.writeUInt32BE(suffix >>> 0);
        h.update(roc);
      }
      return h.digest();
    }
    data.copy(this.inner, 64, start, end);
    if (suffix !== undefined) this.inner.writeUInt32BE(suffix >>> 0, 64 + end - start);
    const innerHash = oneShot('sha1', this.inner.subarray(0, 64 + length), 'buffer');
    innerHash.copy(this.outer, 64);
    return oneShot('sha1', this.outer, 'buffer');
  }
}

/** Compares `length` bytes without an early exit. */
export function tagsEqual(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  let diff = 0;
  for (let i = 0; i < length; i++) diff |= a[aStart + i]! ^ b[bStart + i]!;
  return diff === 0;
}
