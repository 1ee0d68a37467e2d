/*
 * Transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01):
 * the header extension a sender stamps on every packet of a transport, and the feedback
 * (RTPFB, FMT 15) its receiver sends back with the arrival time of each.
 *
 * The extension (one-byte header form, RFC 8285), L = 1: two bytes.
 *
 *  0                   1                   2
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  ID   | L=1   |transport-wide sequence number |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The feedback:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|  FMT=15 |    PT=205     |           length              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     SSRC of packet sender                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      SSRC of media source                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      base sequence number     |      packet status count      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 reference time                | fb pkt. count |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          packet chunk         |         packet chunk          |
 * .                               .                               .
 * |         packet chunk          |  recv delta   |  recv delta   |
 * .                               .                               .
 *
 * A packet chunk is a run length chunk (T = 0: a 2-bit status repeated up to 8191
 * times) or a status vector chunk (T = 1: fourteen 1-bit or seven 2-bit statuses).
 * Statuses: 0 not received, 1 received with a small delta (one byte, 0-63.75 ms),
 * 2 received with a large or negative delta (two bytes, signed), 3 reserved. Deltas
 * are in 250 µs units, the first from the reference time (a 24-bit count of 64 ms),
 * each next from the one before.
 */

export const TRANSPORT_CC_EXTENSION = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
/** The feedback message type of RTPFB (PT 205). */
export const TRANSPORT_CC_FMT = 15;

const DELTA_US = 250;
const REFERENCE_US = 64_000;
/**
 * At most this many packets in one feedback: as many as a sender keeps send times of
 * (SendHistory). More would be a few bytes of run-length chunks making us walk 65535
 * packets: refused as malformed.
 */
export const MAX_FEEDBACK_PACKETS = 8192;

/** One packet of a feedback: its transport-wide sequence number and, if it arrived, when. */
export interface FeedbackPacket {
  seq: number;
  /** Arrival time in µs on the receiver's clock: reference time plus the deltas (receiver-relative; only differences mean something). Undefined: not received. */
  arrivalUs: number | undefined;
}

export interface TransportCcFeedback {
  sender: number;
  media: number;
  baseSeq: number;
  /** The 24-bit reference time as sent (unwrap across feedbacks with unwrapReferenceTime). */
  referenceTime: number;
  feedbackCount: number;
  /** In sequence order from baseSeq, one per packet status. Arrival times assume referenceTime as written (not unwrapped). */
  packets: FeedbackPacket[];
}

/**
 * Reads one transport-cc feedback: bytes `at` (its common header) to `end` (where its
 * length says it ends; padding, when the P bit says so, is taken off here). Undefined
 * when it is malformed: truncated chunks or deltas, a reserved status, a run of
 * nothing, bad padding, more than MAX_FEEDBACK_PACKETS packets. Never throws.
 */
export function readTransportCcFeedback(data: Buffer, at: number, end: number): TransportCcFeedback | undefined {
  if (at < 0 || end > data.length || at + 20 > end) return undefined;
  // Its own length must fit in what is there (a truncated datagram is refused whole).
  const declared = at + (data.readUInt16BE(at + 2) + 1) * 4;
  if (declared > end || declared < at + 20) return undefined;
  end = declared;
  if (data[at]! & 0x20) {
    const padding = data[end - 1]!;
    if (padding === 0 || end - padding < at + 20) return undefined;
    end -= padding;
  }
  const sender = data.readUInt32BE(at + 4);
  const media = data.readUInt32BE(at + 8);
  const baseSeq = data.readUInt16BE(at + 12);
  const count = data.readUInt16BE(at + 14);
  const referenceTime = (data[at + 16]! << 16) | (data[at + 17]! << 8) | data[at + 18]!;
  const feedbackCount = data[at + 19]!;
  if (count === 0 || count > MAX_FEEDBACK_PACKETS) return undefined;
  const statuses = new Uint8Array(count);
  let n = 0;
  let p = at + 20;
  while (n < count) {
    if (p + 2 > end) return undefined;
    const chunk = data.readUInt16BE(p);
    p += 2;
    if ((chunk & 0x8000) === 0) {
      const symbol = (chunk >>> 13) & 0x03;
      const run = chunk & 0x1fff;
      if (run === 0 || symbol === 3) return undefined;
      for (let i = 0; i < run && n < count; i++) statuses[n++] = symbol;
    } else if ((chunk & 0x4000) === 0) {
      for (let bit = 13; bit >= 0 && n < count; bit--) statuses[n++] = (chunk >>> bit) & 0x01;
    } else {
      for (let shift = 12; shift >= 0 && n < count; shift -= 2) {
        const symbol = (chunk >>> shift) & 0x03;
        if (symbol === 3) return undefined;
        statuses[n++] = symbol;
      }
    }
  }
  const packets: FeedbackPacket[] = new Array<FeedbackPacket>(count);
  let time = referenceTime * REFERENCE_US;
  for (let i = 0; i < count; i++) {
    const seq = (baseSeq + i) & 0xffff;
    const status = statuses[i]!;
    if (status === 0) {
      packets[i] = { seq, arrivalUs: undefined };
      continue;
    }
    if (status === 1) {
      if (p + 1 > end) return undefined;
      time += data[p]! * DELTA_US;
      p += 1;
    } else {
      if (p + 2 > end) return undefined;
      time += data.readInt16BE(p) * DELTA_US;
      p += 2;
    }
    packets[i] = { seq, arrivalUs: time };
  }
  return { sender, media, baseSeq, referenceTime, feedbackCount, packets };
}

/**
 * A 24-bit reference time unwrapped against the previous one (in 64 ms units): the
 * nearest value of the same residue, so a wrap (every 12.4 days) or a reordered
 * feedback moves it by the small difference, not by 2^24.
 */
export function unwrapReferenceTime(raw: number, previous: number | undefined): number {
  if (previous === undefined) return raw;
  const span = 0x1000000;
  let d = (raw - (previous % span) + span) % span;
  if (d >= span / 2) d -= span;
  return previous + d;
}

/**
 * Writes a transport-cc feedback: a receiver's side, for tests and traces (the server
 * sends none yet). `packets` in sequence order from `baseSeq`, arrival in µs (multiples
 * of 250 µs are exact); the reference time is taken from the first received packet.
 * Chunks are status vectors of seven 2-bit symbols (or run lengths for long runs).
 */
export function writeTransportCcFeedback(sender: number, media: number, baseSeq: number, feedbackCount: number, arrivalsUs: ReadonlyArray<number | undefined>): Buffer {
  const first = arrivalsUs.find((a) => a !== undefined);
  const referenceTime = first === undefined ? 0 : Math.floor(first / REFERENCE_US);
  const statuses: number[] = [];
  const deltas: Buffer[] = [];
  let time = referenceTime * REFERENCE_US;
  for (const arrival of arrivalsUs) {
    if (arrival === undefined) {
      statuses.push(0);
      continue;
    }
    const delta = Math.round((arrival - time) / DELTA_US);
    time += delta * DELTA_US;
    if (delta >= 0 && delta <= 255) {
      statuses.push(1);
      deltas.push(Buffer.from([delta]));
    } else {
      statuses.push(2);
      const b = Buffer.alloc(2);
      b.writeInt16BE(Math.max(-32768, Math.min(32767, delta)));
      deltas.push(b);
    }
  }
  const chunks: number[] = [];
  for (let i = 0; i < statuses.length; ) {
    let run = 1;
    while (i + run < statuses.length && statuses[i + run] === statuses[i] && run < 0x1fff) run++;
    if (run >= 7) {
      chunks.push((statuses[i]! << 13) | run);
      i += run;
      continue;
    }
    let chunk = 0xc000;
    for (let k = 0; k < 7; k++) chunk |= (statuses[i + k] ?? 0) << (12 - 2 * k);
    chunks.push(chunk);
    i += 7;
  }
  const body = 20 + chunks.length * 2 + deltas.reduce((s, d) => s + d.length, 0);
  const length = Math.ceil(body / 4) * 4;
  const buf = Buffer.alloc(length);
  buf[0] = 0x80 | TRANSPORT_CC_FMT | (length > body ? 0x20 : 0);
  buf[1] = 205;
  buf.writeUInt16BE(length / 4 - 1, 2);
  buf.writeUInt32BE(sender >>> 0, 4);
  buf.writeUInt32BE(media >>> 0, 8);
  buf.writeUInt16BE(baseSeq & 0xffff, 12);
  buf.writeUInt16BE(statuses.length, 14);
  buf[16] = (referenceTime >>> 16) & 0xff;
  buf[17] = (referenceTime >>> 8) & 0xff;
  buf[18] = referenceTime & 0xff;
  buf[19] = feedbackCount & 0xff;
  let p = 20;
  for (const c of chunks) p = buf.writeUInt16BE(c, p);
  for (const d of deltas) p += d.copy(buf, p);
  if (length > body) buf[length - 1] = length - body;
  return buf;
}
