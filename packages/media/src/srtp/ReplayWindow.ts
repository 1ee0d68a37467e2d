/**
 * Sliding replay window over packet indices (RFC 3711 §3.3.2): remembers which of the
 * last `size` indices below the highest one were received.
 */
export class ReplayWindow {
  private highest = -1;
  private readonly bits: Uint32Array;

  /** size: 64 (default) or 128 packets (any multiple of 32 works). */
  constructor(readonly size = 64) {
    if (size < 32 || size % 32 !== 0) throw new RangeError('replay window size must be a multiple of 32');
    this.bits = new Uint32Array(size / 32);
  }

  /** True when `index` was not seen and is not too old. Does not record it. */
  check(index: number): boolean {
    if (index > this.highest) return true;
    const delta = this.highest - index;
    if (delta >= this.size) return false;
    return (this.bits[delta >>> 5]! & (1 << (delta & 31))) === 0;
  }

  /** Records an authenticated index. */
  accept(index: number): void {
    if (index > this.highest) {
      const shift = this.highest < 0 ? this.size : index - this.highest;
      this.shift(shift);
      this.highest = index;
      this.bits[0]! |= 1;
      return;
    }
    const delta = this.highest - index;
    if (delta < this.size) this.bits[delta >>> 5]! |= 1 << (delta & 31);
  }

  private shift(n: number): void {
    const words = this.bits.length;
    if (n >= this.size) {
      this.bits.fill(0);
      return;
    }
    const wordShift = n >>> 5;
    const bitShift = n & 31;
    for (let i = words - 1; i >= 0; i--) {
      const from = i - wordShift;
      let v = from >= 0 ? this.bits[from]! << bitShift : 0;
      if (bitShift !== 0 && from - 1 >= 0) v |= this.bits[from - 1]! >>> (32 - bitShift);
      this.bits[i] = v >>> 0;
    }
  }
}
