import crypto, { createHmac } from 'node:crypto';
import { sha1Block, sha1Digest, sha1Finish, sha1Init } from './Sha1.js';

const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;

/**
 * Inputs up to this many bytes are hashed in JavaScript (Sha1.ts, ~0.4 µs per 64-byte
 * block); longer ones by one native crypto.hash() call (~2.7 µs, mostly the call).
 * Measured in scripts/srtpBench.ts: break-even is about 7 blocks.
 */
const JS_INNER_LIMIT = 400;
const MAX_INPUT = 2048;

/**
 * HMAC-SHA1 (RFC 2104) with the key's inner and outer pad blocks absorbed once: the
 * outer hash is then always one block, done in JavaScript, and so is the inner hash of
 * short inputs (audio packets, RTCP); a long input's inner hash is one native one-shot
 * hash over a reused buffer. Cheaper than createHmac() per packet, whose cost is mostly
 * setting up its context (docs/performance.md).
 */
export class HmacSha1 {
  private readonly innerState = new Int32Array(5);
  private readonly outerState = new Int32Array(5);
  private readonly state = new Int32Array(5);
  /** ipad block followed by the message, for the native path. */
  private readonly inner = Buffer.alloc(64 + MAX_INPUT);
  private readonly scratch = new Uint8Array(128);
  private readonly digest = Buffer.alloc(20);

  constructor(private readonly key: Buffer) {
    const outer = new Uint8Array(64);
    for (let i = 0; i < 64; i++) {
      const k = i < key.length ? key[i]! : 0;
      this.inner[i] = k ^ 0x36;
      outer[i] = k ^ 0x5c;
    }
    if (key.length > 64) throw new RangeError('HMAC-SHA1: SRTP authentication keys are at most 64 bytes');
    sha1Init(this.innerState);
    sha1Block(this.innerState, this.inner, 0);
    sha1Init(this.outerState);
    sha1Block(this.outerState, outer, 0);
  }

  /**
   * Writes the first `tagLength` bytes of the MAC of data[start, end), followed by the
   * 32-bit big-endian `suffix` if given, to out[at, at + tagLength).
   */
  macInto(data: Buffer, start: number, end: number, suffix: number | undefined, out: Buffer, at: number, tagLength = 20): void {
    const length = end - start + (suffix === undefined ? 0 : 4);
    if (length > MAX_INPUT) {
      const h = createHmac('sha1', this.key).update(data.subarray(start, end));
      if (suffix !== undefined) {
        const roc = Buffer.alloc(4);
        roc.writeUInt32BE(suffix >>> 0);
        h.update(roc);
      }
      h.digest().copy(out, at, 0, tagLength);
      return;
    }
    const msg = this.inner;
    data.copy(msg, 64, start, end);
    if (suffix !== undefined) msg.writeUInt32BE(suffix >>> 0, 64 + end - start);
    const s = this.state;
    if (length <= JS_INNER_LIMIT || !oneShot) {
      s.set(this.innerState);
      sha1Finish(s, 64, msg, 64, 64 + length, this.scratch);
      sha1Digest(s, this.digest, 0);
    } else {
      oneShot('sha1', msg.subarray(0, 64 + length), 'buffer').copy(this.digest);
    }
    s.set(this.outerState);
    sha1Finish(s, 64, this.digest, 0, 20, this.scratch);
    sha1Digest(s, out, at, tagLength);
  }

  /** The full 20-byte MAC of data[start, end) followed by the 32-bit `suffix` if given. */
  mac(data: Buffer, start: number, end: number, suffix?: number): Buffer {
    const out = Buffer.alloc(20);
    this.macInto(data, start, end, suffix, out, 0);
    return out;
  }
}

/** Compares `length` bytes without an early exit. */
export function tagsEqual(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  let diff = 0;
  for (let i = 0; i < length; i++) diff |= a[aStart + i]! ^ b[bStart + i]!;
  return diff === 0;
}
