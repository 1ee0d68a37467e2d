import { allocateBitrate, priorityOrder, type BitrateClaim } from '../../bwe/allocateBitrate.js';
import type { LayerState } from '../Producer.js';

/*
 * Layer selection of one receiving transport (issue #20, point 3): which layer of each
 * simulcast producer each of its consumers forwards, from
 *   - the receiver's request (a layer or a size: the tile it shows; 'off'),
 *   - the layers the publisher's sender makes available (those that arrive, or that we
 *     paused and can ask back),
 *   - the bitrate available toward the receiver (the downlink estimate, or a rate set by
 *     hand; unlimited while none is known), of which the transport's audio and other
 *     single-stream video took their share first,
 *   - the consumer's priority: the active speaker's and pinned video first, then the
 *     bigger requested tile (allocateBitrate's order).
 * A pure function: LayerController adds hysteresis and probing, the transport applies the
 * result (Consumer.setTargetLayer).
 */

/** What the selection knows of one simulcast consumer. */
export interface LayerCandidate {
  layers: readonly LayerState[];
  /** The highest layer the request allows (-1: 'off'). */
  cap: number;
  /** The layer forwarded now (-1: none): a consumer that forwards nothing yet starts on a layer that arrives. */
  current: number;
  /** The video of the room's active speaker: served before the others. */
  speaker?: boolean;
  /** Pinned by the receiver: served before the others. */
  pinned?: boolean;
  /** The tile the receiver asked for, pixels (width x height; no size asked: a big number). Among the others, bigger first. */
  tileArea: number;
}

/** What a layer is taken to cost before it was measured: the lowest ~150 kbit/s, each step up ~3 times more. */
export function assumedBitrate(index: number): number {
  return 150_000 * 3 ** index;
}

/** What layer `index` costs, bits/s: its measured rate, else the assumed one. */
export function layerCost(layers: readonly LayerState[], index: number): number {
  return layers[index]?.bitrate ?? assumedBitrate(index);
}

/**
 * The highest layer (at most `cap`) the request's size allows: the smallest layer at least
 * `maxWidth` wide and `maxHeight` high, as far as sizes are known; a layer of unknown size
 * is taken as half the next one's (2:1 between layers, Roundtable's SDK scales 4/2/1).
 */
export function layerForSize(layers: readonly LayerState[], maxWidth: number | undefined, maxHeight: number | undefined): number {
  if (layers.length === 0) return -1;
  if (maxWidth === undefined && maxHeight === undefined) return layers.length - 1;
  const heights: (number | undefined)[] = layers.map((l) => l.height);
  const widths: (number | undefined)[] = layers.map((l) => l.width);
  for (let i = layers.length - 2; i >= 0; i--) {
    if (heights[i] === undefined && heights[i + 1] !== undefined) heights[i] = heights[i + 1]! / 2;
    if (widths[i] === undefined && widths[i + 1] !== undefined) widths[i] = widths[i + 1]! / 2;
  }
  for (let i = 1; i < layers.length; i++) {
    if (heights[i] === undefined && heights[i - 1] !== undefined) heights[i] = heights[i - 1]! * 2;
    if (widths[i] === undefined && widths[i - 1] !== undefined) widths[i] = widths[i - 1]! * 2;
  }
  for (let i = 0; i < layers.length; i++) {
    const h = heights[i];
    const w = widths[i];
    // Nothing known of any size: the highest.
    if (h === undefined && w === undefined) return layers.length - 1;
    if ((maxHeight === undefined || h === undefined || h >= maxHeight) && (maxWidth === undefined || w === undefined || w >= maxWidth)) return i;
  }
  return layers.length - 1;
}

/**
 * The layers a candidate may target, lowest first: within its cap, available (one that
 * forwards nothing yet: arriving, when one does).
 */
export function usableLayers(c: LayerCandidate): number[] {
  const out: number[] = [];
  if (c.cap < 0) return out;
  const startable = c.current < 0 && c.layers.some((l, i) => i <= c.cap && l.arriving);
  c.layers.forEach((l, i) => {
    if (i <= c.cap && (startable ? l.arriving : l.available)) out.push(i);
  });
  return out;
}

/**
 * The target layer of each candidate (-1: none), within `budget` bits/s (Infinity:
 * unlimited). The budget is split by allocateBitrate (every candidate its lowest usable
 * layer first, then by priority up to its highest), each takes the highest layer its
 * share pays for, and what the shares leave between layers goes, in the same order, to
 * whoever it lets step up. Video is not switched off for want of bitrate: a candidate
 * whose share is 0 keeps its lowest usable layer.
 */
export function selectLayers(candidates: readonly LayerCandidate[], budget: number): number[] {
  const usable = candidates.map(usableLayers);
  const targets = candidates.map((c, k) => {
    if (c.cap < 0) return -1;
    // Nothing arrives: keep what it forwards (its packets may come back), else wait for the lowest.
    if (usable[k]!.length === 0) return c.current >= 0 && c.current <= c.cap ? c.current : 0;
    return Number.isFinite(budget) ? usable[k]![0]! : usable[k]!.at(-1)!;
  });
  if (!Number.isFinite(budget)) return targets;
  const claims: BitrateClaim[] = [];
  candidates.forEach((c, k) => {
    const u = usable[k]!;
    if (c.cap < 0 || u.length === 0) return;
    claims.push({ id: String(k), kind: 'video', speaker: c.speaker, pinned: c.pinned, tileArea: c.tileArea, minBitrate: layerCost(c.layers, u[0]!), maxBitrate: layerCost(c.layers, u.at(-1)!) });
  });
  const shares = allocateBitrate(budget, claims);
  let left = budget;
  for (const claim of claims) {
    const k = Number(claim.id);
    const c = candidates[k]!;
    const share = shares.get(claim.id) ?? 0;
    for (const i of usable[k]!) if (layerCost(c.layers, i) <= share) targets[k] = i;
    left -= layerCost(c.layers, targets[k]!);
  }
  // What falls between layers, in priority order.
  for (const claim of priorityOrder(claims)) {
    const k = Number(claim.id);
    const c = candidates[k]!;
    const base = layerCost(c.layers, targets[k]!);
    for (const i of [...usable[k]!].reverse()) {
      if (i <= targets[k]!) break;
      const extra = layerCost(c.layers, i) - base;
      if (extra <= left) {
        targets[k] = i;
        left -= extra;
        break;
      }
    }
  }
  return targets;
}
