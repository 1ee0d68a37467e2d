import type { RtpPacket } from 'werift';
import { vp8DescriptorLength } from './mcu.js';

export interface Vp8Playback {
  /** Frames of which at least one packet arrived, from the first keyframe on (a receiver starts there). */
  framesSeen: number;
  /** Frames with every packet, whose references are decodable too (a keyframe, or the frame right before is decodable). */
  decodable: number;
  /** Longest stretch of media time (ms) between two decodable frames: what a viewer sees frozen. */
  longestFreezeMs: number;
  /** Packets that arrived more than once (retransmissions of packets that did arrive). */
  duplicates: number;
}

interface Frame {
  timestamp: number;
  seqs: Set<number>;
  first: number | undefined;
  last: number | undefined;
  keyframe: boolean;
}

/**
 * What a receiver could play from the VP8 RTP it got (in arrival order, retransmissions
 * included), without decoding: frames are grouped by timestamp; a frame is complete when
 * its packets run without a gap from the one that starts it (S bit, partition 0) to the
 * one with the marker; it is decodable when complete and either a keyframe or the frame
 * right after a decodable one (VP8 frames refer to the previous frame: one lost frame
 * leaves the picture broken until the next keyframe).
 */
export function vp8Playback(packets: readonly RtpPacket[], clockRate = 90_000): Vp8Playback {
  const frames = new Map<number, Frame>();
  let duplicates = 0;
  let lastSeq: number | undefined;
  let lastTs: number | undefined;
  const seen = new Set<number>();
  for (const p of packets) {
    // Unwrap the 16-bit sequence numbers and the 32-bit timestamps, in arrival order.
    const seq: number = lastSeq === undefined ? p.header.sequenceNumber : lastSeq + (((p.header.sequenceNumber - lastSeq) << 16) >> 16);
    const ts: number = lastTs === undefined ? p.header.timestamp : lastTs + ((p.header.timestamp - lastTs) | 0);
    if (lastSeq === undefined || seq > lastSeq) lastSeq = seq;
    if (lastTs === undefined || ts > lastTs) lastTs = ts;
    if (seen.has(seq)) {
      duplicates++;
      continue;
    }
    seen.add(seq);
    let frame = frames.get(ts);
    if (!frame) frames.set(ts, (frame = { timestamp: ts, seqs: new Set(), first: undefined, last: undefined, keyframe: false }));
    frame.seqs.add(seq);
    const offset = vp8DescriptorLength(p.payload);
    const start = offset > 0 && (p.payload[0]! & 0x10) !== 0 && (p.payload[0]! & 0x07) === 0;
    if (start) {
      frame.first = seq;
      frame.keyframe = (p.payload[offset]! & 0x01) === 0;
    }
    if (p.header.marker) frame.last = seq;
  }
  const all = [...frames.values()].sort((a, b) => a.timestamp - b.timestamp);
  const ordered = all.slice(Math.max(0, all.findIndex((f) => f.keyframe)));
  let decodable = 0;
  let longestFreeze = 0;
  let previous: Frame | undefined;
  let previousOk = false;
  let lastShown: number | undefined;
  for (const frame of ordered) {
    let complete = frame.first !== undefined && frame.last !== undefined && frame.last >= frame.first;
    for (let s = frame.first ?? 0; complete && s <= frame.last!; s++) if (!frame.seqs.has(s)) complete = false;
    const follows: boolean = previous !== undefined && previousOk && frame.first === previous.last! + 1;
    const ok: boolean = complete && (frame.keyframe || follows);
    if (ok) {
      decodable++;
      if (lastShown !== undefined) longestFreeze = Math.max(longestFreeze, ((frame.timestamp - lastShown) * 1000) / clockRate);
      lastShown = frame.timestamp;
    }
    previous = frame;
    previousOk = ok;
  }
  return { framesSeen: ordered.length, decodable, longestFreezeMs: Math.round(longestFreeze), duplicates };
}
