/*
 * The VP8 payload descriptor (RFC 7741 §4.2), at the start of every VP8 RTP payload:
 *
 *       0 1 2 3 4 5 6 7
 *      +-+-+-+-+-+-+-+-+
 *      |X|R|N|S|R| PID | (required)
 *      +-+-+-+-+-+-+-+-+
 * X:   |I|L|T|K| RSV   | (optional)
 *      +-+-+-+-+-+-+-+-+
 * I:   |M| PictureID   | (optional; M=1: 15 bits, the next byte too)
 *      +-+-+-+-+-+-+-+-+
 * L:   |   TL0PICIDX   | (optional)
 *      +-+-+-+-+-+-+-+-+
 * T/K: |TID|Y| KEYIDX  | (optional)
 *      +-+-+-+-+-+-+-+-+
 *
 * A receiver takes the picture id and TL0PICIDX as one continuous count: when a consumer
 * switches from one simulcast layer to another (each numbered on its own), they must be
 * rewritten to go on from where the previous layer left them.
 */

export interface Vp8Descriptor {
  /** S: the packet starts a VP8 partition (with partition id 0: starts a frame). */
  start: boolean;
  partitionId: number;
  /** Undefined when the descriptor carries none. */
  pictureId: number | undefined;
  /** 7 or 15 (M bit); 0 without a picture id. */
  pictureIdBits: 0 | 7 | 15;
  /** Where the picture id starts in the payload. */
  pictureIdOffset: number;
  tl0PicIdx: number | undefined;
  tl0PicIdxOffset: number;
  /** Temporal layer index, when the T bit is set. */
  temporalLayer: number | undefined;
  /** Length of the descriptor: the VP8 payload header starts there. */
  length: number;
}

/** The descriptor of a VP8 payload; undefined when it is cut short. */
export function readVp8Descriptor(payload: Buffer): Vp8Descriptor | undefined {
  if (payload.length < 1) return undefined;
  const b0 = payload[0]!;
  const d: Vp8Descriptor = {
    start: (b0 & 0x10) !== 0,
    partitionId: b0 & 0x07,
    pictureId: undefined,
    pictureIdBits: 0,
    pictureIdOffset: -1,
    tl0PicIdx: undefined,
    tl0PicIdxOffset: -1,
    temporalLayer: undefined,
    length: 1,
  };
  if (!(b0 & 0x80)) return d;
  if (payload.length < 2) return undefined;
  const x = payload[1]!;
  let at = 2;
  if (x & 0x80) {
    if (at >= payload.length) return undefined;
    d.pictureIdOffset = at;
    if (payload[at]! & 0x80) {
      if (at + 1 >= payload.length) return undefined;
      d.pictureId = payload.readUInt16BE(at) & 0x7fff;
      d.pictureIdBits = 15;
      at += 2;
    } else {
      d.pictureId = payload[at]! & 0x7f;
      d.pictureIdBits = 7;
      at += 1;
    }
  }
  if (x & 0x40) {
    if (at >= payload.length) return undefined;
    d.tl0PicIdxOffset = at;
    d.tl0PicIdx = payload[at]!;
    at += 1;
  }
  if (x & 0x30) {
    if (at >= payload.length) return undefined;
    if (x & 0x20) d.temporalLayer = payload[at]! >>> 6;
    at += 1;
  }
  d.length = at;
  return d.length <= payload.length ? d : undefined;
}

/** Whether a VP8 payload starts a keyframe (the first partition's P bit is 0). */
export function isVp8KeyframeStart(payload: Buffer, d: Vp8Descriptor): boolean {
  return d.start && d.partitionId === 0 && d.length < payload.length && (payload[d.length]! & 0x01) === 0;
}

interface Offsets {
  pictureId: number;
  tl0PicIdx: number;
}

/**
 * Keeps one consumer's VP8 picture ids and TL0PICIDX continuous across the sources it
 * forwards (simulcast layers): each source gets offsets when the consumer starts on it
 * (at a keyframe), chosen so its numbers go on from the last ones sent; every packet's
 * numbers are then shifted by its source's offsets. Packets are copied, never changed in
 * place (the producer's history is shared by every consumer).
 */
export class Vp8PictureRewriter<S> {
  private readonly offsets = new Map<S, Offsets>();
  private lastPictureId: number | undefined;
  private lastTl0PicIdx: number | undefined;

  /**
   * The payload with its numbers rewritten for `source`. `restart`: the consumer starts
   * on `source` now (its first packet after a switch): its offsets are chosen anew.
   * Undefined when the descriptor cannot be read.
   */
  rewrite(source: S, payload: Buffer, restart: boolean): Buffer | undefined {
    const d = readVp8Descriptor(payload);
    if (!d) return undefined;
    let offsets = restart ? undefined : this.offsets.get(source);
    if (!offsets) {
      offsets = {
        pictureId: d.pictureId !== undefined && this.lastPictureId !== undefined ? (this.lastPictureId + 1 - d.pictureId) & 0x7fff : 0,
        tl0PicIdx: d.tl0PicIdx !== undefined && this.lastTl0PicIdx !== undefined ? (this.lastTl0PicIdx + 1 - d.tl0PicIdx) & 0xff : 0,
      };
      this.offsets.set(source, offsets);
    }
    if ((offsets.pictureId === 0 || d.pictureId === undefined) && (offsets.tl0PicIdx === 0 || d.tl0PicIdx === undefined)) {
      this.remember(d, d.pictureId, d.tl0PicIdx);
      return payload;
    }
    const out = Buffer.from(payload);
    let pictureId = d.pictureId;
    if (pictureId !== undefined) {
      if (d.pictureIdBits === 15) {
        pictureId = (pictureId + offsets.pictureId) & 0x7fff;
        out.writeUInt16BE(0x8000 | pictureId, d.pictureIdOffset);
      } else {
        pictureId = (pictureId + offsets.pictureId) & 0x7f;
        out[d.pictureIdOffset] = pictureId;
      }
    }
    let tl0 = d.tl0PicIdx;
    if (tl0 !== undefined) {
      tl0 = (tl0 + offsets.tl0PicIdx) & 0xff;
      out[d.tl0PicIdxOffset] = tl0;
    }
    this.remember(d, pictureId, tl0);
    return out;
  }

  /** The newest numbers sent (a later packet of an older picture does not move them back). */
  private remember(d: Vp8Descriptor, pictureId: number | undefined, tl0: number | undefined): void {
    if (pictureId !== undefined) {
      const mask = d.pictureIdBits === 15 ? 0x7fff : 0x7f;
      if (this.lastPictureId === undefined || isNewer(pictureId, this.lastPictureId, mask)) this.lastPictureId = pictureId;
    }
    if (tl0 !== undefined && (this.lastTl0PicIdx === undefined || isNewer(tl0, this.lastTl0PicIdx, 0xff))) this.lastTl0PicIdx = tl0;
  }
}

/** `a` comes after `b` in a wrapping count of `mask + 1`. */
function isNewer(a: number, b: number, mask: number): boolean {
  const d = (a - b) & mask;
  return d !== 0 && d <= mask >>> 1;
}
