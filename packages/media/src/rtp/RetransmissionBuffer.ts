import type { RtpPacket } from 'werift';
import { seqDiff } from './seq.js';

/** What the buffer needs of a packet: its sequence number. */
export interface SequencedPacket {
  readonly header: { readonly sequenceNumber: number };
}

export interface RetransmissionBufferOptions {
  /** Packets younger than this are never evicted (ms). Default 1000. */
  retentionMs?: number;
  /** Initial slot count, a power of two. Default 512. */
  initialSize?: number;
  /** Hard cap on slots, a power of two. Default 32768 (half the sequence space). */
  maxSize?: number;
}

/**
 * Per-source history of received RTP packets, indexed by sequence number, that holds
 * at least the last `retentionMs` of packets: when a write would evict a packet younger
 * than that, the ring grows (up to `maxSize`). Answers NACKs from any sink of the source.
 */
export class RetransmissionBuffer<P extends SequencedPacket = RtpPacket> {
  private slots: (P | undefined)[];
  private times: Float64Array;
  private mask: number;
  private readonly retentionMs: number;
  private readonly maxSize: number;
  private newestSeq: number | undefined;

  constructor(options: RetransmissionBufferOptions = {}) {
    this.retentionMs = options.retentionMs ?? 1000;
    this.maxSize = options.maxSize ?? 32768;
    const size = options.initialSize ?? 512;
    if (size & (size - 1) || this.maxSize & (this.maxSize - 1)) throw new RangeError('sizes must be powers of two');
    this.slots = new Array<P | undefined>(size);
    this.times = new Float64Array(size);
    this.mask = size - 1;
  }

  get capacity(): number {
    return this.slots.length;
  }

  push(packet: P, now = performance.now()): void {
    const seq = packet.header.sequenceNumber;
    let index = seq & this.mask;
    const old = this.slots[index];
    if (old && old.header.sequenceNumber !== seq && now - this.times[index]! < this.retentionMs && this.slots.length < this.maxSize) {
      this.grow();
      index = seq & this.mask;
    }
    this.slots[index] = packet;
    this.times[index] = now;
    if (this.newestSeq === undefined || seqDiff(seq, this.newestSeq) > 0) this.newestSeq = seq;
  }

  /** The packet with this sequence number, if it is still held. */
  get(seq: number): P | undefined {
    const packet = this.slots[seq & this.mask];
    return packet && packet.header.sequenceNumber === seq ? packet : undefined;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.newestSeq = undefined;
  }

  private grow(): void {
    const size = this.slots.length * 2;
    const slots = new Array<P | undefined>(size);
    const times = new Float64Array(size);
    const mask = size - 1;
    for (let i = 0; i < this.slots.length; i++) {
      const packet = this.slots[i];
      if (!packet) continue;
      const j = packet.header.sequenceNumber & mask;
      slots[j] = packet;
      times[j] = this.times[i]!;
    }
    this.slots = slots;
    this.times = times;
    this.mask = mask;
  }
}
