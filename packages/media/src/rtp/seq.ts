/** Arithmetic on RTP sequence numbers (16 bit) and timestamps (32 bit), with wrap-around. */
export const seqAdd = (a: number, b: number): number => (a + b) & 0xffff;
export const tsAdd = (a: number, b: number): number => (a + b) >>> 0;
/** Signed distance from `b` to `a` in sequence-number space: positive when `a` is newer. */
export const seqDiff = (a: number, b: number): number => {
  const d = (a - b) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
};
export const isNewerSeq = (a: number, b: number): boolean => seqDiff(a, b) > 0;
