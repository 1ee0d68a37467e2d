import { readTransportCcFeedback, TRANSPORT_CC_FMT, type TransportCcFeedback } from '../bwe/transportCc.js';

/*
 * The RTCP (RFC 3550, RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb) a transport reads
 * and writes: sender and receiver reports, generic NACK, PLI, FIR and REMB; it reads
 * transport-cc feedback too (../bwe/transportCc.ts). Each packet
 * starts with the common header:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|  RC/FMT |      PT       |     length (words - 1)        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

export const RtcpType = { SR: 200, RR: 201, SDES: 202, BYE: 203, RTPFB: 205, PSFB: 206 } as const;

/** One report block of an SR or RR (RFC 3550 §6.4.1). */
export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  packetsLost: number;
  highestSeq: number;
  jitter: number;
  lsr: number;
  dlsr: number;
}

export type RtcpMessage =
  | { type: 'sr'; ssrc: number; ntpSec: number; ntpFrac: number; rtpTimestamp: number; packets: number; octets: number; reports: ReportBlock[] }
  | { type: 'rr'; ssrc: number; reports: ReportBlock[] }
  | { type: 'nack'; sender: number; media: number; lost: number[] }
  | { type: 'pli'; sender: number; media: number }
  | { type: 'fir'; sender: number; media: number[] }
  | { type: 'remb'; sender: number; bitrate: number; ssrcs: number[] }
  /** Transport-wide congestion control feedback; `feedback` undefined: malformed (count it, use nothing). */
  | { type: 'transport-cc'; feedback: TransportCcFeedback | undefined }
  | { type: 'bye'; ssrcs: number[] };

/**
 * Reads a compound RTCP packet. Unknown packet types are skipped; a packet whose
 * length does not fit ends the walk (what was read before it is returned).
 */
export function readRtcp(data: Buffer, length = data.length): RtcpMessage[] {
  const out: RtcpMessage[] = [];
  let at = 0;
  while (at + 4 <= length) {
    const b0 = data[at]!;
    if (b0 >>> 6 !== 2) break;
    const count = b0 & 0x1f;
    const pt = data[at + 1]!;
    const end = at + (data.readUInt16BE(at + 2) + 1) * 4;
    if (end > length) break;
    readOne(data, at, end, pt, count, out);
    at = end;
  }
  return out;
}

function readOne(data: Buffer, at: number, end: number, pt: number, count: number, out: RtcpMessage[]): void {
  switch (pt) {
    case RtcpType.SR: {
      if (at + 28 + count * 24 > end) return;
      out.push({
        type: 'sr',
        ssrc: data.readUInt32BE(at + 4),
        ntpSec: data.readUInt32BE(at + 8),
        ntpFrac: data.readUInt32BE(at + 12),
        rtpTimestamp: data.readUInt32BE(at + 16),
        packets: data.readUInt32BE(at + 20),
        octets: data.readUInt32BE(at + 24),
        reports: readBlocks(data, at + 28, count),
      });
      return;
    }
    case RtcpType.RR:
      if (at + 8 + count * 24 > end) return;
      out.push({ type: 'rr', ssrc: data.readUInt32BE(at + 4), reports: readBlocks(data, at + 8, count) });
      return;
    case RtcpType.BYE: {
      const ssrcs: number[] = [];
      for (let i = 0; i < count && at + 8 + i * 4 <= end; i++) ssrcs.push(data.readUInt32BE(at + 4 + i * 4));
      out.push({ type: 'bye', ssrcs });
      return;
    }
    case RtcpType.RTPFB: {
      if (count === TRANSPORT_CC_FMT) {
        out.push({ type: 'transport-cc', feedback: readTransportCcFeedback(data, at, end) });
        return;
      }
      if (count !== 1 || at + 12 > end) return;
      const lost: number[] = [];
      for (let p = at + 12; p + 4 <= end; p += 4) {
        const pid = data.readUInt16BE(p);
        const blp = data.readUInt16BE(p + 2);
        lost.push(pid);
        for (let bit = 0; bit < 16; bit++) if (blp & (1 << bit)) lost.push((pid + bit + 1) & 0xffff);
      }
      out.push({ type: 'nack', sender: data.readUInt32BE(at + 4), media: data.readUInt32BE(at + 8), lost });
      return;
    }
    case RtcpType.PSFB: {
      if (at + 12 > end) return;
      const sender = data.readUInt32BE(at + 4);
      const media = data.readUInt32BE(at + 8);
      if (count === 1) {
        out.push({ type: 'pli', sender, media });
      } else if (count === 4) {
        const targets: number[] = [];
        for (let p = at + 12; p + 8 <= end; p += 8) targets.push(data.readUInt32BE(p));
        out.push({ type: 'fir', sender, media: targets });
      } else if (count === 15 && at + 20 <= end && data.toString('latin1', at + 12, at + 16) === 'REMB') {
        const n = data[at + 16]!;
        const exp = data[at + 17]! >>> 2;
        const mantissa = ((data[at + 17]! & 0x03) << 16) | data.readUInt16BE(at + 18);
        const ssrcs: number[] = [];
        for (let i = 0; i < n && at + 24 + i * 4 <= end; i++) ssrcs.push(data.readUInt32BE(at + 20 + i * 4));
        out.push({ type: 'remb', sender, bitrate: mantissa * 2 ** exp, ssrcs });
      }
      return;
    }
    default:
      return;
  }
}

function readBlocks(data: Buffer, at: number, count: number): ReportBlock[] {
  const blocks: ReportBlock[] = [];
  for (let i = 0; i < count; i++, at += 24) {
    const lostField = data.readUInt32BE(at + 4) & 0xffffff;
    blocks.push({
      ssrc: data.readUInt32BE(at),
      fractionLost: data[at + 4]!,
      packetsLost: lostField & 0x800000 ? lostField - 0x1000000 : lostField,
      highestSeq: data.readUInt32BE(at + 8),
      jitter: data.readUInt32BE(at + 12),
      lsr: data.readUInt32BE(at + 16),
      dlsr: data.readUInt32BE(at + 20),
    });
  }
  return blocks;
}

function header(buf: Buffer, countOrFmt: number, pt: number, words: number): void {
  buf[0] = 0x80 | (countOrFmt & 0x1f);
  buf[1] = pt;
  buf.writeUInt16BE(words - 1, 2);
}

function writeBlocks(buf: Buffer, at: number, reports: readonly ReportBlock[]): void {
  for (const r of reports) {
    buf.writeUInt32BE(r.ssrc >>> 0, at);
    const lost = Math.max(-0x800000, Math.min(0x7fffff, r.packetsLost)) & 0xffffff;
    buf.writeUInt32BE((((r.fractionLost & 0xff) << 24) | lost) >>> 0, at + 4);
    buf.writeUInt32BE(r.highestSeq >>> 0, at + 8);
    buf.writeUInt32BE(r.jitter >>> 0, at + 12);
    buf.writeUInt32BE(r.lsr >>> 0, at + 16);
    buf.writeUInt32BE(r.dlsr >>> 0, at + 20);
    at += 24;
  }
}

export function writeSr(ssrc: number, ntpSec: number, ntpFrac: number, rtpTimestamp: number, packets: number, octets: number, reports: readonly ReportBlock[] = []): Buffer {
  const buf = Buffer.alloc(28 + reports.length * 24);
  header(buf, reports.length, RtcpType.SR, buf.length / 4);
  buf.writeUInt32BE(ssrc >>> 0, 4);
  buf.writeUInt32BE(ntpSec >>> 0, 8);
  buf.writeUInt32BE(ntpFrac >>> 0, 12);
  buf.writeUInt32BE(rtpTimestamp >>> 0, 16);
  buf.writeUInt32BE(packets >>> 0, 20);
  buf.writeUInt32BE(octets >>> 0, 24);
  writeBlocks(buf, 28, reports);
  return buf;
}

export function writeRr(ssrc: number, reports: readonly ReportBlock[]): Buffer {
  const buf = Buffer.alloc(8 + reports.length * 24);
  header(buf, reports.length, RtcpType.RR, buf.length / 4);
  buf.writeUInt32BE(ssrc >>> 0, 4);
  writeBlocks(buf, 8, reports);
  return buf;
}

/** Generic NACK (RFC 4585 §6.2.1): lost sequence numbers packed as PID + bitmask. */
export function writeNack(sender: number, media: number, lost: readonly number[]): Buffer {
  const items: Array<[number, number]> = [];
  const sorted = [...lost].sort((a, b) => ((a - (lost[0] ?? 0)) & 0xffff) - ((b - (lost[0] ?? 0)) & 0xffff));
  for (const seq of sorted) {
    const last = items[items.length - 1];
    const d = last ? (seq - last[0]) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1);
    else if (!last || d !== 0) items.push([seq, 0]);
  }
  const buf = Buffer.alloc(12 + items.length * 4);
  header(buf, 1, RtcpType.RTPFB, buf.length / 4);
  buf.writeUInt32BE(sender >>> 0, 4);
  buf.writeUInt32BE(media >>> 0, 8);
  items.forEach(([pid, blp], i) => {
    buf.writeUInt16BE(pid, 12 + i * 4);
    buf.writeUInt16BE(blp, 14 + i * 4);
  });
  return buf;
}

export function writePli(sender: number, media: number): Buffer {
  const buf = Buffer.alloc(12);
  header(buf, 1, RtcpType.PSFB, 3);
  buf.writeUInt32BE(sender >>> 0, 4);
  buf.writeUInt32BE(media >>> 0, 8);
  return buf;
}

export function writeFir(sender: number, media: number, sequence: number): Buffer {
  const buf = Buffer.alloc(20);
  header(buf, 4, RtcpType.PSFB, 5);
  buf.writeUInt32BE(sender >>> 0, 4);
  buf.writeUInt32BE(0, 8);
  buf.writeUInt32BE(media >>> 0, 12);
  buf[16] = sequence & 0xff;
  return buf;
}

/** REMB: bitrate as an 18-bit mantissa and a 6-bit exponent, for the given media SSRCs. */
export function writeRemb(sender: number, bitrate: number, ssrcs: readonly number[]): Buffer {
  let exp = 0;
  let mantissa = Math.max(0, Math.floor(bitrate));
  while (mantissa > 0x3ffff) {
    mantissa = Math.floor(mantissa / 2);
    exp++;
  }
  const buf = Buffer.alloc(20 + ssrcs.length * 4);
  header(buf, 15, RtcpType.PSFB, buf.length / 4);
  buf.writeUInt32BE(sender >>> 0, 4);
  buf.writeUInt32BE(0, 8);
  buf.write('REMB', 12, 'latin1');
  buf[16] = ssrcs.length;
  buf[17] = (exp << 2) | (mantissa >>> 16);
  buf.writeUInt16BE(mantissa & 0xffff, 18);
  ssrcs.forEach((s, i) => buf.writeUInt32BE(s >>> 0, 20 + i * 4));
  return buf;
}

const NTP_EPOCH_OFFSET = 2208988800;

/** The wall clock as NTP seconds and fraction. */
export function ntpNow(now = Date.now()): { sec: number; frac: number } {
  const sec = Math.floor(now / 1000) + NTP_EPOCH_OFFSET;
  const frac = Math.floor(((now % 1000) / 1000) * 0x100000000);
  return { sec: sec >>> 0, frac: frac >>> 0 };
}

/** The middle 32 bits of an NTP timestamp (LSR, RFC 3550 §6.4.1). */
export function compactNtp(sec: number, frac: number): number {
  return (((sec & 0xffff) << 16) | (frac >>> 16)) >>> 0;
}
