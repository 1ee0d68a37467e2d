import { isNewerSeq, seqAdd, seqDiff, tsAdd } from './seq.js';

export interface Rewritten {
  seq: number;
  ts: number;
  /** True when this packet is the first one from a new source stream. */
  switched: boolean;
}

export interface SentPacketInfo<K> {
  stream: K;
  inSeq: number;
  tsOffset: number;
}

/** Sent numbers remembered (an endpoint's source keeps at least a second of packets: 4096 covers 2 s at 2,000 packets a second). */
const HISTORY = 4096;
/** Resends of one packet within a round trip at most (the native core's kResendsPerRoundTrip). */
export const RESENDS_PER_ROUND_TRIP = 3;

/** The source packet behind each of the last HISTORY output sequence numbers, by number modulo HISTORY. */
class SentHistory<K> {
  readonly stream: (K | undefined)[] = new Array<K | undefined>(HISTORY);
  readonly inSeq = new Int32Array(HISTORY);
  readonly outSeq = new Int32Array(HISTORY).fill(-1);
  readonly tsOffset = new Uint32Array(HISTORY);
  /** When each was last resent (performance clock, ms). */
  readonly resentAt = new Float64Array(HISTORY).fill(-Infinity);
  /** Resends of each packet in the round-trip window that began at resentAt. */
  readonly resends = new Uint8Array(HISTORY);
}

/**
 * The outgoing side of one sink stream: gives the sink one SSRC and one continuous
 * sequence-number and timestamp space whatever source stream feeds it. When the source
 * stream changes, the next packet continues at last sequence number + 1 and at a
 * timestamp advanced by the wall time since the last packet. Remembers which source
 * packet each sent sequence number came from, to answer NACKs.
 */
export class StreamRewriter<K extends object> {
  private current: K | undefined;
  private seqOffset = 0;
  private tsOffset = 0;
  private started = false;
  /** First input sequence number sent from the current stream. */
  private baseInSeq = 0;
  private lastSeq: number;
  private lastTs: number;
  private lastAt = 0;
  /** What each sent number carried: made at the first packet (a consumer on the native packet core never rewrites here). */
  private history: SentHistory<K> | undefined;
  /** Output sequence number of the first packet from the current stream (its last switch). */
  private switchSeq = 0;

  constructor(
    initialSeq = Math.floor(Math.random() * 0x8000),
    initialTs = Math.floor(Math.random() * 0x7fffffff),
  ) {
    this.lastSeq = seqAdd(initialSeq, -1);
    this.lastTs = initialTs;
  }

  get stream(): K | undefined {
    return this.current;
  }

  get lastSequenceNumber(): number {
    return this.lastSeq;
  }

  get lastTimestamp(): number {
    return this.lastTs;
  }

  /** Wall time (ms, performance clock) at which the newest packet was rewritten. */
  get lastPacketAt(): number {
    return this.lastAt;
  }

  /**
   * Rewrites one packet. Returns undefined for a late packet of the current stream
   * from before the point where the sink switched to it: its output sequence number
   * would collide with one the previous stream used, so it must be dropped.
   */
  rewrite(stream: K, inSeq: number, inTs: number, clockRate: number, now = performance.now()): Rewritten | undefined {
    let switched = false;
    if (stream === this.current && seqDiff(inSeq, this.baseInSeq) < 0) return undefined;
    if (stream !== this.current) {
      this.baseInSeq = inSeq;
      switched = true;
      this.current = stream;
      const elapsedTicks = this.started ? Math.max(1, Math.round(((now - this.lastAt) * clockRate) / 1000)) : 0;
      this.seqOffset = (seqAdd(this.lastSeq, 1) - inSeq) & 0xffff;
      this.tsOffset = (tsAdd(this.lastTs, elapsedTicks) - inTs) >>> 0;
      this.switchSeq = seqAdd(inSeq, this.seqOffset);
    }
    const seq = seqAdd(inSeq, this.seqOffset);
    const ts = tsAdd(inTs, this.tsOffset);
    if (!this.started || isNewerSeq(seq, this.lastSeq)) {
      this.lastSeq = seq;
      this.lastTs = ts;
      this.lastAt = now;
    }
    this.started = true;
    const slot = seq & (HISTORY - 1);
    const history = (this.history ??= new SentHistory<K>());
    history.stream[slot] = stream;
    history.inSeq[slot] = inSeq;
    history.outSeq[slot] = seq;
    history.tsOffset[slot] = this.tsOffset;
    history.resentAt[slot] = -Infinity;
    history.resends[slot] = 0;
    return { seq, ts, switched };
  }

  /**
   * Takes the next `count` output sequence numbers for packets of our own (padding of a
   * bandwidth probe): the stream continues after them, and a late packet from before
   * them is dropped (rewrite() returns undefined), as its number may be one of them.
   * Returns the first number and the timestamp to send them with (the newest's);
   * undefined before the first packet.
   */
  reserve(count: number): { seq: number; ts: number } | undefined {
    if (!this.started || count <= 0) return undefined;
    const first = seqAdd(this.lastSeq, 1);
    const newestIn = seqAdd(this.lastSeq, -this.seqOffset);
    this.baseInSeq = seqAdd(newestIn, 1);
    this.seqOffset = (this.seqOffset + count) & 0xffff;
    const history = this.history;
    if (history) for (let i = 0; i < count; i++) history.outSeq[seqAdd(first, i) & (HISTORY - 1)] = -1;
    this.lastSeq = seqAdd(this.lastSeq, count);
    return { seq: first, ts: this.lastTs };
  }

  /** Which source packet was sent under `outSeq`, if still remembered. */
  lookup(outSeq: number): SentPacketInfo<K> | undefined {
    const slot = outSeq & (HISTORY - 1);
    const history = this.history;
    const stream = history?.stream[slot];
    if (!history || !stream || history.outSeq[slot] !== outSeq) return undefined;
    return { stream, inSeq: history.inSeq[slot]!, tsOffset: history.tsOffset[slot]! };
  }

  /**
   * Whether a NACK for `outSeq` (a packet lookup() knows) is answered now; if so, it is
   * marked resent at `now`. Not for a packet sent before the sink switched to its current
   * stream: the receiver starts again at the keyframe the switch began with, and the old
   * stream's packets would only take the link (under a tight link, its NACKs for the layer
   * just left would crowd out the new layer's keyframe). Not more than
   * RESENDS_PER_ROUND_TRIP times within `minIntervalMs` (a round trip) of the first resend:
   * a receiver that asks again before the last resend could reach it would otherwise
   * multiply what a congested link carries; a few are answered all the same, for the
   * receivers that ask in a burst and then give up (werift's asks every 5 ms, ten times:
   * with one answer a lost resend was a lost packet, and a frozen picture until the next
   * keyframe). Browsers ask once per round trip, so each of their NACKs is answered once.
   */
  resendable(outSeq: number, now: number, minIntervalMs: number): boolean {
    const history = this.history;
    if (!history || seqDiff(outSeq, this.switchSeq) < 0) return false;
    const slot = outSeq & (HISTORY - 1);
    if (now - history.resentAt[slot]! < minIntervalMs) {
      if (history.resends[slot]! >= RESENDS_PER_ROUND_TRIP) return false;
      history.resends[slot]!++;
      return true;
    }
    history.resentAt[slot] = now;
    history.resends[slot] = 1;
    return true;
  }

  /** RTP timestamp that corresponds to wall time `now` (for sender reports). */
  timestampAt(now: number, clockRate: number): number {
    return tsAdd(this.lastTs, Math.round(((now - this.lastAt) * clockRate) / 1000));
  }
}
