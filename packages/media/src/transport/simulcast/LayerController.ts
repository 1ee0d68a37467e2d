import { priorityOrder } from '../../bwe/allocateBitrate.js';
import { layerCost, selectLayers, usableLayers, type LayerCandidate } from './layerSelection.js';

/*
 * The layer selection of one receiving transport over time (issue #20, points 2 and 3):
 * selectLayers() says what fits the bitrate now; this adds what a downlink estimate needs
 * on top of it.
 *   - Hysteresis: a layer is left once the estimate has stayed under downTolerance of what
 *     it costs for downHoldMs (a short dip of the estimate, one keyframe's burst, does not
 *     switch, nor does GCC's decrease after a spurious overuse: to 0.85 x what was
 *     acknowledged, about 0.9 x the layer's payload rate); a higher layer is taken once the
 *     estimate has allowed it, with upMargin of headroom, for upHoldMs, or at once after a
 *     probe showed the link carries it. Between the two, nothing moves.
 *   - Probing: an estimate only shows what the receiver was sent (a receiver on a low
 *     layer never acknowledges more), so when a consumer's next layer does not fit, the
 *     transport is asked to probe toward the rate the step needs (times probeGain), at
 *     most once per wait; the wait grows (1.5 x, up to probeWaitMaxMs) after a probe
 *     that did not reach it and after a step up undone within STEP_UP_UNDONE_MS, and is
 *     back to probeWaitMs after one that did.
 * A rate set by hand (or no estimate yet) is applied at once, without either: it is an
 * override, not a measurement. Time comes from the caller, so tests run on a fake clock.
 */

export interface LayerControllerOptions {
  /** A layer is left once the estimate has stayed under downTolerance of its cost this long, ms. Default 1000. */
  downHoldMs?: number;
  /** The layers taken are kept while the estimate pays for this share of them. Default 0.8. */
  downTolerance?: number;
  /** A higher layer is taken once the estimate has allowed it this long, ms (a probe that showed it: at once). Default 2000. */
  upHoldMs?: number;
  /** A step up needs the estimate to cover the layers taken times this. Default 1.1. */
  upMargin?: number;
  /** The first wait between probes, ms (and after a probe that reached its goal). Default 2000. */
  probeWaitMs?: number;
  /** The longest wait between probes, ms. Default 6000. */
  probeWaitMaxMs?: number;
  /** A probe aims this much above the rate the step up needs. Default 1.2. */
  probeGain?: number;
}

/** A simulcast consumer as the controller sees it. */
export interface ControlledConsumer extends LayerCandidate {
  id: string;
  /** Its target layer now (-1: none). */
  target: number;
}

/** What the bitrate toward the receiver is now. */
export interface BitrateState {
  /** For the simulcast video, bits/s: the estimate (or the rate set by hand) less what audio and single-stream video take. Infinity: unlimited. */
  budget: number;
  /** The budget comes from the downlink estimate (hysteresis and probing apply); false: set by hand, or no estimate yet. */
  estimated: boolean;
  /** What audio and single-stream video take, bits/s (part of a probe's goal). */
  fixed: number;
  /** A probe waits for its feedback. */
  probing: boolean;
}

export interface LayerDecision {
  /** The target layer of each consumer, in the order given. */
  targets: number[];
  /** Probe toward this many bits/s now (transport.probe), when set. */
  probe: number | undefined;
}

/** A step up undone (stepped down again) within this long counts as a failed probe. */
export const STEP_UP_UNDONE_MS = 5000;

interface Hold {
  downSince?: number;
  upSince?: number;
  /** When it last stepped up for bitrate. */
  upAt?: number;
}

export class LayerController {
  private readonly downHoldMs: number;
  private readonly downTolerance: number;
  private readonly upHoldMs: number;
  private readonly upMargin: number;
  private readonly probeWaitMs: number;
  private readonly probeWaitMaxMs: number;
  private readonly probeGain: number;
  private readonly holds = new Map<string, Hold>();
  private wait: number;
  private nextProbeAt = -Infinity;
  /** The probe asked for, while its outcome is not known: the estimate (total) it must reach. */
  private pending: { goal: number } | undefined;
  /** A probe reached its goal: steps up that fit are taken at once until then. */
  private provenUntil = -Infinity;
  private counts = { probes: 0, probesReached: 0, stepsUp: 0, stepsDown: 0 };

  constructor(options: LayerControllerOptions = {}) {
    this.downHoldMs = options.downHoldMs ?? 1000;
    this.downTolerance = Math.min(1, Math.max(0.1, options.downTolerance ?? 0.8));
    this.upHoldMs = options.upHoldMs ?? 2000;
    this.upMargin = options.upMargin ?? 1.1;
    this.probeWaitMs = options.probeWaitMs ?? 2000;
    this.probeWaitMaxMs = Math.max(this.probeWaitMs, options.probeWaitMaxMs ?? 6000);
    this.probeGain = options.probeGain ?? 1.2;
    this.wait = this.probeWaitMs;
  }

  /** Probes asked for and reached, steps up and down taken for bitrate. */
  get stats(): { probes: number; probesReached: number; stepsUp: number; stepsDown: number; probeWaitMs: number } {
    return { ...this.counts, probeWaitMs: this.wait };
  }

  /** The transport could not send the probe asked for: nothing was learnt, try again after a wait. */
  probeRefused(now: number): void {
    if (!this.pending) return;
    this.pending = undefined;
    this.counts.probes--;
    this.nextProbeAt = now + this.wait;
  }

  update(now: number, state: BitrateState, consumers: readonly ControlledConsumer[]): LayerDecision {
    for (const id of this.holds.keys()) if (!consumers.some((c) => c.id === id)) this.holds.delete(id);
    const fits = selectLayers(consumers, state.budget);
    if (!state.estimated || !Number.isFinite(state.budget)) {
      this.holds.clear();
      this.pending = undefined;
      return { targets: fits, probe: undefined };
    }
    this.judgeProbe(now, state);
    const free = selectLayers(consumers, Infinity);
    const roomy = selectLayers(consumers, state.budget / this.upMargin);
    const kept = selectLayers(consumers, state.budget / this.downTolerance);
    const targets = consumers.map((c, k) => {
      const hold = this.holdOf(c.id);
      const t = c.target;
      // Not a matter of bitrate (a new consumer, a request, a layer that stopped): at once.
      if (t < 0 || t > free[k]! || !usableLayers(c).includes(t)) {
        hold.downSince = hold.upSince = undefined;
        return fits[k]!;
      }
      if (kept[k]! < t) {
        hold.upSince = undefined;
        hold.downSince ??= now;
        if (now - hold.downSince < this.downHoldMs) return t;
        hold.downSince = undefined;
        this.counts.stepsDown++;
        // A step up that did not last: the link did not carry it, wait longer before the next try.
        if (hold.upAt !== undefined && now - hold.upAt < STEP_UP_UNDONE_MS) this.backOff();
        hold.upAt = undefined;
        this.nextProbeAt = Math.max(this.nextProbeAt, now + this.wait);
        return Math.min(fits[k]!, t);
      }
      hold.downSince = undefined;
      if (roomy[k]! > t) {
        hold.upSince ??= now;
        if (now - hold.upSince < this.upHoldMs && now > this.provenUntil) return t;
        hold.upSince = undefined;
        hold.upAt = now;
        this.counts.stepsUp++;
        return roomy[k]!;
      }
      hold.upSince = undefined;
      return t;
    });
    return { targets, probe: this.probeFor(now, state, consumers, targets, free) };
  }

  private holdOf(id: string): Hold {
    let hold = this.holds.get(id);
    if (!hold) {
      hold = {};
      this.holds.set(id, hold);
    }
    return hold;
  }

  private backOff(): void {
    this.wait = Math.min(this.probeWaitMaxMs, this.wait * 1.5);
  }

  /** The probe asked for last is over (its feedback is in): did the estimate reach its goal? */
  private judgeProbe(now: number, state: BitrateState): void {
    if (!this.pending || state.probing) return;
    const reached = state.budget + state.fixed >= this.pending.goal;
    this.pending = undefined;
    if (reached) {
      this.counts.probesReached++;
      this.wait = this.probeWaitMs;
      this.provenUntil = now + 1000;
    } else {
      this.backOff();
    }
    this.nextProbeAt = now + this.wait;
  }

  /**
   * The rate to probe toward: the first consumer in priority order whose next layer (the
   * request and the layers available allow it) does not fit; the goal is what everything
   * takes with that step made, with the step-up headroom.
   */
  private probeFor(now: number, state: BitrateState, consumers: readonly ControlledConsumer[], targets: readonly number[], free: readonly number[]): number | undefined {
    if (state.probing || this.pending || now < this.nextProbeAt) return undefined;
    const ids = new Map(consumers.map((c, k) => [c.id, k]));
    const claims = consumers.map((c) => ({ id: c.id, kind: 'video' as const, speaker: c.speaker, pinned: c.pinned, tileArea: c.tileArea, minBitrate: 0, maxBitrate: 0 }));
    const taken = consumers.reduce((sum, c, k) => sum + (targets[k]! >= 0 ? layerCost(c.layers, targets[k]!) : 0), 0);
    for (const claim of priorityOrder(claims)) {
      const k = ids.get(claim.id)!;
      const c = consumers[k]!;
      const t = targets[k]!;
      if (t < 0 || t >= free[k]!) continue;
      const next = usableLayers(c).find((i) => i > t);
      if (next === undefined) continue;
      const goal = (state.fixed + taken - layerCost(c.layers, t) + layerCost(c.layers, next)) * this.upMargin;
      if (goal <= state.budget + state.fixed) continue;
      this.pending = { goal };
      this.counts.probes++;
      this.nextProbeAt = now + this.wait;
      return goal * this.probeGain;
    }
    return undefined;
  }
}
