import { createCipheriv, type Cipher } from 'node:crypto';

const MAX_BLOCKS = 128; // 2048 bytes: more than any datagram we forward

/**
 * AES counter mode (RFC 3711 §4.1.1) from one AES-ECB cipher created once per session
 * key: the counter blocks are written into a reused buffer and encrypted in one
 * update() call, then XORed into the data. Cheaper than createCipheriv('aes-128-ctr')
 * per packet, whose cost is mostly setting the cipher up (see docs/performance.md).
 */
export class AesCmKeystream {
  private readonly ecb: Cipher;
  private readonly blocks = Buffer.alloc(MAX_BLOCKS * 16);
  private readonly iv = Buffer.alloc(16);

  constructor(key: Buffer) {
    this.ecb = createCipheriv(key.length === 32 ? 'aes-256-ecb' : 'aes-128-ecb', key, null);
    this.ecb.setAutoPadding(false);
  }

  /** The 16-byte IV whose first 14 bytes the caller fills before xor(). */
  get ivBuffer(): Buffer {
    return this.iv;
  }

  /**
   * The keystreams of `count` consecutive packets in one AES call: `ivs` holds their
   * 16-byte IVs (the counter in the last two bytes zero; `ivs` 4-byte aligned, as
   * Buffer.alloc() gives), and packet k's `blocks`
   * keystream blocks start at byte k * blocks * 16 of the result.
   */
  keystreams(ivs: Buffer, count: number, blocks: number): Buffer {
    const total = count * blocks;
    const buf = total <= MAX_BLOCKS ? this.blocks : Buffer.allocUnsafe(total * 16);
    const w = new Uint32Array(buf.buffer, buf.byteOffset, total * 4);
    const v = new Uint32Array(ivs.buffer, ivs.byteOffset, count * 4);
    for (let p = 0, o = 0; p < count; p++) {
      const i0 = v[p * 4]!;
      const i1 = v[p * 4 + 1]!;
      const i2 = v[p * 4 + 2]!;
      const i3 = v[p * 4 + 3]!;
      for (let k = 0; k < blocks; k++, o += 4) {
        w[o] = i0;
        w[o + 1] = i1;
        w[o + 2] = i2;
        w[o + 3] = i3;
        buf[o * 4 + 14] = k >>> 8;
        buf[o * 4 + 15] = k & 0xff;
      }
    }
    return this.ecb.update(buf.subarray(0, total * 16));
  }

  /** XORs the keystream for the current IV into data[start, end). */
  xor(data: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length <= 0) return;
    const n = Math.ceil(length / 16);
    if (n > MAX_BLOCKS) throw new RangeError(`AES-CM: ${length} bytes is more than one datagram`);
    xorInto(data, start, end, this.keystreams(this.iv, 1, n), 0);
  }
}

/** XORs ks[ksAt, ksAt + end - start) into data[start, end), a word at a time where aligned. */
export function xorInto(data: Buffer, start: number, end: number, ks: Buffer, ksAt: number): void {
  const length = end - start;
  const at = data.byteOffset + start;
  const kat = ks.byteOffset + ksAt;
  if ((at & 3) === 0 && (kat & 3) === 0) {
    const words = length >>> 2;
    const d32 = new Uint32Array(data.buffer, at, words);
    const k32 = new Uint32Array(ks.buffer, kat, words);
    for (let j = 0; j < words; j++) d32[j]! ^= k32[j]!;
    for (let j = words * 4; j < length; j++) data[start + j]! ^= ks[ksAt + j]!;
  } else {
    for (let j = 0; j < length; j++) data[start + j]! ^= ks[ksAt + j]!;
  }
}

/** Keystream blocks one refill of a KeystreamCache makes (16 kB of keystream). */
const CACHE_BLOCKS = 1024;
const MAX_CACHED_PACKETS = 64;

/**
 * The keystreams of the next packets of one stream, made ahead in one AES call: a
 * sender numbers its packets consecutively, and an AES-CM keystream depends only on
 * the SSRC and the packet index (RFC 3711 §4.1.1), not on the data. Node's cipher
 * update() costs ~1.5 µs a call whatever the size; one call for up to 64 packets takes
 * that off the per-packet cost (docs/performance.md). Packets older than the cache (a
 * retransmission, reordering) are left to the caller. On the receiving side only
 * authenticated packets may use it, so a forged index cannot make it refill.
 */
export class KeystreamCache {
  private base = -1;
  private count = 0;
  private blocks = 0;
  private ks: Buffer | undefined;
  private readonly ivs = Buffer.alloc(MAX_CACHED_PACKETS * 16);

  /**
   * XORs the keystream of packet `index` (ROC * 65536 + SEQ) of `ssrc` into
   * data[start, end) and returns true, or returns false (nothing done) when the caller
   * should compute it directly.
   */
  xor(cm: AesCmKeystream, salt: Buffer, ssrc: number, index: number, data: Buffer, start: number, end: number): boolean {
    const n = (end - start + 15) >>> 4;
    if (n > MAX_BLOCKS) return false;
    const ks = this.ks;
    const offset = index - this.base;
    if (ks && offset >= 0 && offset < this.count && n <= this.blocks) {
      xorInto(data, start, end, ks, offset * this.blocks * 16);
      return true;
    }
    if (ks && offset < this.count && n <= this.blocks) return false; // older than the cache: a retransmission
    // Past the cache (or a packet longer than it holds): make the next packets' keystreams.
    if (n > this.blocks) this.blocks = Math.min(MAX_BLOCKS, (n + 7) & ~7);
    this.count = Math.max(1, Math.min(MAX_CACHED_PACKETS, Math.floor(CACHE_BLOCKS / this.blocks)));
    this.base = index;
    const ivs = this.ivs;
    ivs.fill(0, 0, this.count * 16);
    for (let p = 0; p < this.count; p++) {
      const i = index + p;
      const o = p * 16;
      ivs.writeUInt32BE(ssrc >>> 0, o + 4);
      ivs.writeUInt32BE(Math.floor(i / 65536) >>> 0, o + 8);
      ivs.writeUInt16BE(i % 65536, o + 12);
      for (let j = 0; j < 14; j++) ivs[o + j]! ^= salt[j]!;
    }
    this.ks = cm.keystreams(ivs, this.count, this.blocks);
    xorInto(data, start, end, this.ks, 0);
    return true;
  }
}
