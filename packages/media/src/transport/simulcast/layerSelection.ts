import type { LayerState } from '../Producer.js';

/*
 * Layer selection of one receiving transport (issue #20, point 3): which layer of each
 * simulcast producer each of its consumers forwards, from
 *   - the receiver's request (a layer or a size: the tile it shows; 'off'),
 *   - the layers the publisher's sender makes available (those that arrive, or that we
 *     paused and can ask back),
 *   - the bitrate available toward the receiver (the downlink estimate; unlimited while
 *     none is known), of which the transport's audio and other single-stream video take
 *     their share first.
 * A pure function: the transport feeds it and applies the result (Consumer.setTargetLayer).
 */

/** What the selection knows of one simulcast consumer. */
export interface LayerCandidate {
  layers: readonly LayerState[];
  /** The highest layer the request allows (-1: 'off'). */
  cap: number;
  /** The layer forwarded now (-1: none): a consumer that forwards nothing yet starts on a layer that arrives. */
  current: number;
  /** Higher first when the bitrate does not go round (the bigger tile). */
  priority: number;
}

/** What a layer is taken to cost before it was measured: the lowest ~150 kbit/s, each step up ~3 times more. */
export function assumedBitrate(index: number): number {
  return 150_000 * 3 ** index;
}

function cost(layer: LayerState, index: number): number {
  return layer.bitrate ?? assumedBitrate(index);
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
 * The target layer of each candidate (-1: none), within `budget` bits/s (Infinity:
 * unlimited). Every candidate that wants video gets at least its lowest usable layer
 * (video is not switched off for want of bitrate); then, by priority, each goes up as far
 * as its cap and the budget left allow.
 */
export function selectLayers(candidates: readonly LayerCandidate[], budget: number): number[] {
  const targets = candidates.map(() => -1);
  let left = budget;
  const usable = candidates.map((c) => {
    const out: number[] = [];
    // One that forwards nothing yet starts on a layer that arrives, when one does.
    const startable = c.current < 0 && c.layers.some((l, i) => i <= c.cap && l.arriving);
    c.layers.forEach((l, i) => {
      if (i <= c.cap && (startable ? l.arriving : l.available)) out.push(i);
    });
    return out;
  });
  candidates.forEach((c, k) => {
    const lowest = usable[k]![0];
    if (c.cap < 0) return;
    if (lowest === undefined) {
      // Nothing arrives: keep what it forwards (its packets may come back), else wait for the lowest.
      targets[k] = c.current >= 0 && c.current <= c.cap ? c.current : 0;
      return;
    }
    targets[k] = lowest;
    left -= cost(c.layers[lowest]!, lowest);
  });
  const order = candidates.map((_, k) => k).sort((a, b) => candidates[b]!.priority - candidates[a]!.priority);
  for (const k of order) {
    const c = candidates[k]!;
    const from = targets[k]!;
    if (from < 0 || usable[k]!.length === 0) continue;
    const base = cost(c.layers[from]!, from);
    for (const i of [...usable[k]!].reverse()) {
      if (i <= from) break;
      const extra = Math.max(0, cost(c.layers[i]!, i) - base);
      if (left > 0 && extra <= left) {
        targets[k] = i;
        left -= extra;
        break;
      }
    }
  }
  return targets;
}
