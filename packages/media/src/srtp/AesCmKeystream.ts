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
  private readonly words = new Uint32Array(this.blocks.buffer, this.blocks.byteOffset, MAX_BLOCKS * 4);
  private readonly iv = Buffer.alloc(16);
  private readonly ivWords = new Uint32Array(this.iv.buffer, this.iv.byteOffset, 4);

  constructor(key: Buffer) {
    this.ecb = createCipheriv(key.length === 32 ? 'aes-256-ecb' : 'aes-128-ecb', key, null);
    this.ecb.setAutoPadding(false);
  }

  /** The 16-byte IV whose first 14 bytes the caller fills before xor(). */
  get ivBuffer(): Buffer {
    return this.iv;
  }

  /** XORs the keystream for the current IV into data[start, end). */
  xor(data: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length <= 0) return;
    const n = Math.ceil(length / 16);
    if (n > MAX_BLOCKS) throw new RangeError(`AES-CM: ${length} bytes is more than one datagram`);
    const w = this.words;
    const b = this.blocks;
    const i0 = this.ivWords[0]!;
    const i1 = this.ivWords[1]!;
    const i2 = this.ivWords[2]!;
    const i3 = this.ivWords[3]!;
    for (let k = 0; k < n; k++) {
      const o = k * 4;
      w[o] = i0;
      w[o + 1] = i1;
      w[o + 2] = i2;
      w[o + 3] = i3;
      b[k * 16 + 14] = k >>> 8;
      b[k * 16 + 15] = k & 0xff;
    }
    const ks = this.ecb.update(b.subarray(0, n * 16));
    const at = data.byteOffset + start;
    if ((at & 3) === 0 && (ks.byteOffset & 3) === 0) {
      const words = length >>> 2;
      const d32 = new Uint32Array(data.buffer, at, words);
      const k32 = new Uint32Array(ks.buffer, ks.byteOffset, words);
      for (let j = 0; j < words; j++) d32[j]! ^= k32[j]!;
      for (let j = words * 4; j < length; j++) data[start + j]! ^= ks[j]!;
    } else {
      for (let j = 0; j < length; j++) data[start + j]! ^= ks[j]!;
    }
  }
}
