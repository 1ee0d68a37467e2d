/**
 * SHA-1 compression (FIPS 180-4 §6.1.2) in JavaScript, for HMAC-SHA1 over short
 * inputs: Node's one-shot crypto.hash() costs ~2.5 µs per call whatever the size (the
 * call, not the hashing), while one 64-byte block here costs a fraction of that. Used
 * by HmacSha1 for the outer hash (always one block) and for short packets.
 */
const W = new Int32Array(80);

/** Processes the 64-byte block at b[o, o + 64) into the five-word state s. */
export function sha1Block(s: Int32Array, b: Uint8Array, o: number): void {
  const w = W;
  for (let i = 0; i < 16; i++) {
    const j = o + i * 4;
    w[i] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
  }
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = s[0]!;
  let bb = s[1]!;
  let c = s[2]!;
  let d = s[3]!;
  let e = s[4]!;
  for (let i = 0; i < 20; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((bb & c) | (~bb & d)) + e + w[i]! + 0x5a827999) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  for (let i = 20; i < 40; i++) {
    const t = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + e + w[i]! + 0x6ed9eba1) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  for (let i = 40; i < 60; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((bb & c) | (bb & d) | (c & d)) + e + w[i]! - 0x70e44324) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  for (let i = 60; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + e + w[i]! - 0x359d3e2a) | 0;
    e = d;
    d = c;
    c = (bb << 30) | (bb >>> 2);
    bb = a;
    a = t;
  }
  s[0] = (s[0]! + a) | 0;
  s[1] = (s[1]! + bb) | 0;
  s[2] = (s[2]! + c) | 0;
  s[3] = (s[3]! + d) | 0;
  s[4] = (s[4]! + e) | 0;
}

/** The SHA-1 initial state (FIPS 180-4 §5.3.1). */
export function sha1Init(s: Int32Array): void {
  s[0] = 0x67452301;
  s[1] = 0xefcdab89 | 0;
  s[2] = 0x98badcfe | 0;
  s[3] = 0x10325476;
  s[4] = 0xc3d2e1f0 | 0;
}

/**
 * Finishes a hash whose state `s` has absorbed `prefixBytes` bytes (a multiple of 64):
 * hashes m[start, end) with the final padding, using `scratch` (at least
 * end - start + 72 bytes, rounded up to 64) for the last blocks, and leaves the digest
 * in s.
 */
export function sha1Finish(s: Int32Array, prefixBytes: number, m: Uint8Array, start: number, end: number, scratch: Uint8Array): void {
  let at = start;
  while (end - at >= 64) {
    sha1Block(s, m, at);
    at += 64;
  }
  const rest = end - at;
  for (let i = 0; i < rest; i++) scratch[i] = m[at + i]!;
  scratch[rest] = 0x80;
  const total = rest + 9 <= 64 ? 64 : 128;
  for (let i = rest + 1; i < total - 8; i++) scratch[i] = 0;
  const bits = (prefixBytes + (end - start)) * 8;
  const high = Math.floor(bits / 0x100000000);
  scratch[total - 8] = high >>> 24;
  scratch[total - 7] = (high >>> 16) & 0xff;
  scratch[total - 6] = (high >>> 8) & 0xff;
  scratch[total - 5] = high & 0xff;
  scratch[total - 4] = bits >>> 24;
  scratch[total - 3] = (bits >>> 16) & 0xff;
  scratch[total - 2] = (bits >>> 8) & 0xff;
  scratch[total - 1] = bits & 0xff;
  sha1Block(s, scratch, 0);
  if (total === 128) sha1Block(s, scratch, 64);
}

/** Writes the first `length` (≤ 20) bytes of the digest in s to out[at, at + length). */
export function sha1Digest(s: Int32Array, out: Uint8Array, at: number, length = 20): void {
  for (let i = 0; i < length; i++) out[at + i] = (s[i >>> 2]! >>> (24 - (i & 3) * 8)) & 0xff;
}
