import { AckedBitrate } from './AckedBitrate.js';
import { AimdRateControl, clamp } from './AimdRateControl.js';
import { InterArrival } from './InterArrival.js';
import { LossBasedEstimator } from './LossBasedEstimator.js';
import { OveruseDetector, type BandwidthUsage } from './OveruseDetector.js';
import type { PacketResult } from './SendHistory.js';
import { TrendlineFilter } from './TrendlineFilter.js';

export interface BandwidthEstimatorOptions {
  /** The estimate before any feedback, bits/s. Default 600000. */
  startBitrate?: number;
  /** The estimate never goes below this, bits/s. Default 50000. */
  minBitrate?: number;
  /** ... nor above this, bits/s. Default 10000000. */
  maxBitrate?: number;
}

export const BWE_DEFAULTS = { startBitrate: 600_000, minBitrate: 50_000, maxBitrate: 10_000_000 } as const;

export interface BandwidthEstimatorStats {
  /** The estimate: the lower of the delay and loss sides (or the receiver's REMB). */
  bitrate: number;
  delayBased: number;
  lossBased: number;
  /** What the receiver acknowledged over the last 500 ms of arrivals. */
  ackedBitrate: number | undefined;
  usage: BandwidthUsage;
  /** The overuse detector's adaptive threshold, ms. */
  threshold: number;
  /** Fraction of packets lost in the loss side's last period. */
  fractionLost: number;
  feedbacks: number;
  /** Where the estimate comes from: transport-cc feedback, the receiver's REMB, or nothing yet (the start value). */
  source: 'transport-cc' | 'remb' | 'none';
  /** Probe clusters sent, and what the last one measured (bits/s; undefined: none finished, or too few of its packets arrived). */
  probes: number;
  lastProbeResult: number | undefined;
}

/** A probe cluster in flight: its transport-wide numbers (16 bits) not yet reported, and what arrived. */
interface ProbeCluster {
  target: number;
  sentAt: number;
  count: number;
  pending: Set<number>;
  arrived: Array<{ arrival: number; size: number }>;
}

/** A cluster not fully reported after this long is judged on what arrived. */
const PROBE_TIMEOUT_MS = 1000;

/**
 * One receiving transport's downlink estimate, GCC-like (draft-ietf-rmcat-gcc-02): a
 * delay side (inter-group delay variation, trendline filter, adaptive-threshold overuse
 * detector, AIMD rate control) and a loss side, from the transport-cc feedback of what
 * the transport sent; the estimate is the lower of the two, within the bounds. Where the
 * receiver sends REMB only, its REMB is the estimate. Time comes from the caller
 * (`now`, ms), so traces run on a simulated clock.
 */
export class BandwidthEstimator {
  private readonly inter = new InterArrival();
  private readonly trendline = new TrendlineFilter();
  private readonly detector = new OveruseDetector();
  private readonly acked = new AckedBitrate();
  private readonly aimd: AimdRateControl;
  private readonly loss: LossBasedEstimator;
  private readonly min: number;
  private readonly max: number;
  private estimate: number;
  private feedbacks = 0;
  private source: BandwidthEstimatorStats['source'] = 'none';
  private readonly clusters: ProbeCluster[] = [];
  private probes = 0;
  private lastProbeResult: number | undefined;

  constructor(options: BandwidthEstimatorOptions = {}) {
    this.min = options.minBitrate ?? BWE_DEFAULTS.minBitrate;
    this.max = Math.max(this.min, options.maxBitrate ?? BWE_DEFAULTS.maxBitrate);
    const start = clamp(options.startBitrate ?? BWE_DEFAULTS.startBitrate, this.min, this.max);
    this.aimd = new AimdRateControl({ startBitrate: start, minBitrate: this.min, maxBitrate: this.max });
    this.loss = new LossBasedEstimator({ minBitrate: this.min, maxBitrate: this.max }, start);
    this.estimate = start;
  }

  /** The estimate, bits/s. */
  get bitrate(): number {
    return this.estimate;
  }

  /**
   * The packets one transport-cc feedback reported (FeedbackReader.read), at `now` (ms),
   * with the round-trip time (ms) if known. Returns the new estimate.
   */
  onPacketResults(results: readonly PacketResult[], now: number, rtt = 100): number {
    if (results.length === 0) return this.estimate;
    this.feedbacks++;
    this.source = 'transport-cc';
    const ordered = [...results].sort((a, b) => a.seq - b.seq);
    let received = 0;
    let overuse = false;
    for (const r of ordered) {
      if (r.arrival === undefined) continue;
      received++;
      this.acked.add(r.arrival, r.size);
      const delta = this.inter.add(r.sendTime, r.arrival);
      if (!delta) continue;
      const trend = this.trendline.update(delta.arrivalDelta - delta.sendDelta, delta.arrival);
      if (this.detector.detect(trend, delta.sendDelta, this.trendline.samples, delta.arrival) === 'overusing') overuse = true;
    }
    const acked = this.acked.bitrate;
    const usage: BandwidthUsage = overuse ? 'overusing' : this.detector.usage;
    const delayBased = received > 0 ? this.aimd.update(usage, acked, rtt, now) : this.aimd.bitrate;
    const lossBased = this.loss.update(ordered.length, received, Math.min(delayBased, this.estimate), acked, rtt, now);
    this.estimate = clamp(Math.min(delayBased, lossBased), this.min, this.max);
    if (this.clusters.length > 0) this.judgeProbes(ordered, usage, now);
    return this.estimate;
  }

  /**
   * A probe cluster was sent at `now`: packets with these transport-wide numbers (16
   * bits), back to back, to see whether the link carries `target` bits/s. When their
   * feedback is in, the rate they arrived at (their bytes over the spread of their
   * arrivals: a train spreads to the bottleneck's rate), up to `target`, becomes the
   * estimate if it is higher, unless the delay side saw overuse meanwhile.
   */
  onProbeSent(seqs: readonly number[], target: number, now: number): void {
    if (seqs.length === 0) return;
    this.probes++;
    this.clusters.push({ target, sentAt: now, count: seqs.length, pending: new Set(seqs.map((s) => s & 0xffff)), arrived: [] });
  }

  private judgeProbes(results: readonly PacketResult[], usage: BandwidthUsage, now: number): void {
    for (const r of results) {
      const seq = r.seq & 0xffff;
      const cluster = this.clusters.find((c) => c.pending.has(seq));
      if (!cluster) continue;
      cluster.pending.delete(seq);
      if (r.arrival !== undefined) cluster.arrived.push({ arrival: r.arrival, size: r.size });
    }
    while (this.clusters.length > 0 && (this.clusters[0]!.pending.size === 0 || now - this.clusters[0]!.sentAt > PROBE_TIMEOUT_MS)) {
      const cluster = this.clusters.shift()!;
      const result = probeRate(cluster);
      this.lastProbeResult = result;
      if (result === undefined || usage === 'overusing' || result <= this.estimate) continue;
      this.aimd.setEstimate(result, now);
      this.loss.raiseTo(result);
      this.estimate = clamp(result, this.min, this.max);
    }
  }

  /** Whether a probe cluster waits for its feedback. */
  get probing(): boolean {
    return this.clusters.length > 0;
  }

  /** The receiver's own estimate (REMB), used when it gives no transport-cc feedback. */
  onRemb(bitrate: number): number {
    if (this.source === 'transport-cc') return this.estimate;
    this.source = 'remb';
    this.estimate = clamp(bitrate, this.min, this.max);
    return this.estimate;
  }

  get stats(): BandwidthEstimatorStats {
    return {
      bitrate: this.estimate,
      delayBased: this.aimd.bitrate,
      lossBased: this.loss.bitrate,
      ackedBitrate: this.acked.bitrate,
      usage: this.detector.usage,
      threshold: this.detector.currentThreshold,
      fractionLost: this.loss.fractionLost,
      feedbacks: this.feedbacks,
      source: this.source,
      probes: this.probes,
      lastProbeResult: this.lastProbeResult,
    };
  }
}

/** The rate a cluster's packets arrived at, up to its target; undefined when fewer than 80 % (or 3) of them arrived. */
function probeRate(cluster: ProbeCluster): number | undefined {
  const arrived = [...cluster.arrived].sort((a, b) => a.arrival - b.arrival);
  if (arrived.length < Math.max(3, 0.8 * cluster.count)) return undefined;
  const span = arrived[arrived.length - 1]!.arrival - arrived[0]!.arrival;
  // The first packet's bytes arrived before the span began.
  const bytes = arrived.reduce((sum, p) => sum + p.size, 0) - arrived[0]!.size;
  if (span <= 0) return cluster.target;
  return Math.min(cluster.target, (bytes * 8 * 1000) / span);
}
