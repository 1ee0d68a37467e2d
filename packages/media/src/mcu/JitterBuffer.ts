import { seqDiff } from '../rtp/seq.js';

const RESYNC_GAP = 1000;

export interface JitterBufferOptions {
  /** Packets held before playout starts (and after it ran dry). Default 2 (40 ms of 20 ms frames). */
  startDepth?: number;
  /** Above this many packets held, the oldest are dropped to catch up. Default 10. */
  maxDepth?: number;
}

/**
 * A light jitter buffer for one audio stream: orders packets by RTP sequence number
 * and hands them out one at a time. A missing packet is skipped once later ones are
 * waiting (it counts as lost), duplicates and packets older than the playout point are
 * dropped, and an empty buffer simply yields nothing, so one silent source never holds
 * up the mixer's clock.
 */
export class JitterBuffer<T> {
  private readonly held = new Map<number, T>();
  private next: number | undefined;
  private playing = false;
  private readonly startDepth: number;
  private readonly maxDepth: number;
  lost = 0;
  late = 0;

  constructor(options: JitterBufferOptions = {}) {
    this.startDepth = options.startDepth ?? 2;
    this.maxDepth = options.maxDepth ?? 10;
  }

  get size(): number {
    return this.held.size;
  }

  push(seq: number, item: T): void {
    if (this.next !== undefined) {
      const d = seqDiff(seq, this.next);
      // A jump this far either way is a new numbering (a restarted sender): start over.
      if (d > RESYNC_GAP || d < -RESYNC_GAP) this.reset();
      else if (d < 0 && this.playing) {
        this.late++;
        return;
      } else if (d < 0) {
        this.next = seq; // reordered before playout started
      }
    }
    if (this.held.has(seq)) return;
    this.held.set(seq, item);
    if (this.next === undefined) this.next = seq;
    while (this.held.size > this.maxDepth) this.dropOldest();
  }

  /** The next packet in sequence order, or undefined while buffering or when empty. */
  pop(): T | undefined {
    if (this.next === undefined || this.held.size === 0) {
      this.playing = false;
      return undefined;
    }
    if (!this.playing) {
      if (this.held.size < this.startDepth) return undefined;
      this.playing = true;
    }
    let item = this.held.get(this.next);
    if (item === undefined) {
      // The expected packet is missing but later ones are here: count it lost, move on.
      const oldest = this.oldest()!;
      this.lost += seqDiff(oldest, this.next);
      this.next = oldest;
      item = this.held.get(oldest)!;
    }
    this.held.delete(this.next);
    this.next = (this.next + 1) & 0xffff;
    return item;
  }

  /** Forget everything (the source changed). */
  reset(): void {
    this.held.clear();
    this.next = undefined;
    this.playing = false;
  }

  private oldest(): number | undefined {
    let oldest: number | undefined;
    for (const seq of this.held.keys()) if (oldest === undefined || seqDiff(seq, oldest) < 0) oldest = seq;
    return oldest;
  }

  private dropOldest(): void {
    const oldest = this.oldest();
    if (oldest === undefined) return;
    this.held.delete(oldest);
    if (this.next !== undefined) this.lost += Math.max(0, seqDiff(oldest, this.next)) + 1;
    this.next = (oldest + 1) & 0xffff;
  }
}
