import { readRtp, type RtpView } from './RtpView.js';

export interface PacketHistoryOptions {
  /** Packets kept (a power of two): a packet is found by its sequence number modulo this. Default 512. */
  slots?: number;
  /** Bytes per slot: a longer packet is kept in a Buffer of its own. Default 1280. */
  slotBytes?: number;
}

/**
 * A producer's recent packets, for NACK answers and duplicate detection, copied into
 * one preallocated slab. Holding the received datagrams themselves (a Buffer, an
 * RtpView and its header per packet) kept them alive over several scavenges, so every
 * packet moved to V8's old space and the data plane paid for mark-compacts at the rate
 * packets arrived; a copy leaves nothing received alive past its own task. Lookups do
 * not allocate; get() makes a view over the slot (a NACK answer, which is rare), valid
 * until the slot is written again.
 */
export class PacketHistory {
  private readonly slab: Buffer;
  private readonly seqs: Int32Array;
  private readonly lengths: Int32Array;
  /** Packets longer than a slot, by slot. */
  private readonly large = new Map<number, Buffer>();
  private readonly mask: number;
  private readonly slotBytes: number;

  constructor(options: PacketHistoryOptions = {}) {
    const slots = options.slots ?? 512;
    if (slots < 1 || slots & (slots - 1)) throw new RangeError('slots must be a power of two');
    this.slotBytes = options.slotBytes ?? 1280;
    this.mask = slots - 1;
    this.slab = Buffer.alloc(slots * this.slotBytes);
    this.seqs = new Int32Array(slots).fill(-1);
    this.lengths = new Int32Array(slots);
  }

  has(seq: number): boolean {
    return this.seqs[seq & this.mask] === seq;
  }

  /** Keeps a copy of `packet` (its bytes up to its end), in the place of the packet 'slots' sequence numbers older. */
  push(packet: RtpView): void {
    const seq = packet.header.sequenceNumber;
    const index = seq & this.mask;
    const length = packet.end;
    this.seqs[index] = seq;
    this.lengths[index] = length;
    if (length <= this.slotBytes) {
      if (this.large.size > 0) this.large.delete(index);
      packet.data.copy(this.slab, index * this.slotBytes, 0, length);
    } else {
      this.large.set(index, Buffer.from(packet.data.subarray(0, length)));
    }
  }

  /** The packet with this sequence number, if it is still kept. */
  get(seq: number): RtpView | undefined {
    const index = seq & this.mask;
    if (this.seqs[index] !== seq) return undefined;
    const length = this.lengths[index]!;
    const data = this.large.get(index) ?? this.slab.subarray(index * this.slotBytes, index * this.slotBytes + length);
    return readRtp(data, length);
  }

  clear(): void {
    this.seqs.fill(-1);
    this.large.clear();
  }
}
