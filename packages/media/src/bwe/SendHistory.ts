import { unwrapReferenceTime, type TransportCcFeedback } from './transportCc.js';

/** What the estimator learns of one sent packet from a feedback. */
export interface PacketResult {
  /** The transport-wide sequence number, unwrapped (grows past 65535). */
  seq: number;
  /** When it was sent, ms on the sender's clock. */
  sendTime: number;
  /** Bytes on the wire (RTP header and payload, SRTP tag included). */
  size: number;
  /** When it arrived, ms on the receiver's clock (only differences mean something); undefined: lost. */
  arrival: number | undefined;
}

/** Where the send times of a transport's packets are kept: SendHistory (TypeScript path) or the native core. */
export interface SentPackets {
  /** Called before the lookups of one feedback: `count` numbers from `baseSeq` (the native core answers them in one call). */
  prepare?(baseSeq: number, count: number): void;
  /** The send time (ms) and size of transport-wide sequence number `seq` (16 bits), if still known. */
  lookup(seq: number): { sendTime: number; size: number } | undefined;
}

/** As many as a feedback may report (MAX_FEEDBACK_PACKETS). */
const SIZE = 8192;

/**
 * The transport-wide sequence numbers a transport stamps on what it sends, and the send
 * time and size of the last 8192 (a few seconds of video at any rate we send; feedback
 * comes every 100 ms or so).
 */
export class SendHistory implements SentPackets {
  private nextSeq = 0;
  private readonly seqs = new Int32Array(SIZE).fill(-1);
  private readonly times = new Float64Array(SIZE);
  private readonly sizes = new Uint16Array(SIZE);

  /** The number the next packet will get. */
  get nextSequenceNumber(): number {
    return this.nextSeq;
  }

  /** The number to stamp on the next packet, which is remembered as sent at `now` with `size` bytes. */
  next(now: number, size: number): number {
    const seq = this.nextSeq;
    this.nextSeq = (seq + 1) & 0xffff;
    const i = seq % SIZE;
    this.seqs[i] = seq;
    this.times[i] = now;
    this.sizes[i] = Math.min(size, 0xffff);
    return seq;
  }

  lookup(seq: number): { sendTime: number; size: number } | undefined {
    const i = seq % SIZE;
    if (this.seqs[i] !== seq) return undefined;
    return { sendTime: this.times[i]!, size: this.sizes[i]! };
  }
}

/**
 * Turns a transport's feedbacks into packet results: sequence numbers and reference
 * times unwrapped, send times looked up, a packet reported as received once only
 * (later feedbacks may repeat it), a loss counted once and forgotten if the packet shows
 * up later. Packets whose send time is no longer known are skipped.
 */
export class FeedbackReader {
  private reference: number | undefined;
  private highestSeq: number | undefined;
  /** Unwrapped sequence numbers already reported (the last few thousand): true received, false lost. */
  private readonly reported = new Map<number, boolean>();
  private readonly reportedOrder: number[] = [];

  constructor(private readonly sent: SentPackets) {}

  read(feedback: TransportCcFeedback): PacketResult[] {
    this.reference = unwrapReferenceTime(feedback.referenceTime, this.reference);
    // Arrival times as parsed use the 24-bit value; shift them onto the unwrapped one.
    const shiftMs = ((this.reference - feedback.referenceTime) * 64_000) / 1000;
    const out: PacketResult[] = [];
    this.sent.prepare?.(feedback.baseSeq, feedback.packets.length);
    for (const packet of feedback.packets) {
      const seq = this.unwrap(packet.seq);
      const sent = this.sent.lookup(packet.seq);
      if (!sent) continue;
      const before = this.reported.get(seq);
      if (packet.arrivalUs === undefined) {
        if (before === undefined) {
          this.remember(seq, false);
          out.push({ seq, sendTime: sent.sendTime, size: sent.size, arrival: undefined });
        }
        continue;
      }
      if (before === true) continue;
      this.remember(seq, true);
      out.push({ seq, sendTime: sent.sendTime, size: sent.size, arrival: packet.arrivalUs / 1000 + shiftMs });
    }
    return out;
  }

  private unwrap(seq: number): number {
    const previous = this.highestSeq;
    if (previous === undefined) {
      this.highestSeq = seq;
      return seq;
    }
    let d = (seq - (previous & 0xffff) + 0x10000) & 0xffff;
    if (d >= 0x8000) d -= 0x10000;
    const value = previous + d;
    if (value > previous) this.highestSeq = value;
    return value;
  }

  private remember(seq: number, received: boolean): void {
    if (!this.reported.has(seq)) this.reportedOrder.push(seq);
    this.reported.set(seq, received);
    if (this.reportedOrder.length > 4096) this.reported.delete(this.reportedOrder.shift()!);
  }
}
