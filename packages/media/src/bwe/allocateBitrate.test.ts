import { describe, expect, it } from 'vitest';
import { allocateBitrate, priorityOrder, type BitrateClaim } from './allocateBitrate.js';

const audio = (id: string): BitrateClaim => ({ id, kind: 'audio', minBitrate: 40_000, maxBitrate: 40_000 });
const video = (id: string, extra: Partial<BitrateClaim> = {}): BitrateClaim => ({ id, kind: 'video', minBitrate: 150_000, maxBitrate: 1_200_000, ...extra });

describe('allocateBitrate', () => {
  it('serves audio first, then the speaker and the pinned, then the others by tile size', () => {
    const claims = [video('small', { tileArea: 320 * 180 }), video('big', { tileArea: 1280 * 720 }), audio('a1'), video('pinned', { pinned: true, tileArea: 320 * 180 }), video('speaker', { speaker: true }), audio('a2')];
    expect(priorityOrder(claims).map((c) => c.id)).toEqual(['a1', 'a2', 'pinned', 'speaker', 'big', 'small']);
  });

  it('everyone gets enough for its lowest layer before anyone gets more, and the rest goes in priority order', () => {
    const claims = [audio('a'), video('speaker', { speaker: true }), video('big', { tileArea: 1280 * 720 }), video('small', { tileArea: 320 * 180 })];
    const split = allocateBitrate(40_000 + 3 * 150_000 + 500_000, claims);
    expect(split.get('a')).toBe(40_000);
    expect(split.get('speaker')).toBe(650_000);
    expect(split.get('big')).toBe(150_000);
    expect(split.get('small')).toBe(150_000);
  });

  it('with plenty, each gets its most and no more; with little, audio alone, then the first videos only', () => {
    const claims = [audio('a'), video('speaker', { speaker: true }), video('other', { tileArea: 100 })];
    expect([...allocateBitrate(10_000_000, claims).values()].reduce((s, v) => s + v, 0)).toBe(40_000 + 2 * 1_200_000);
    expect(Object.fromEntries(allocateBitrate(100_000, claims))).toEqual({ a: 40_000, speaker: 0, other: 0 });
    expect(Object.fromEntries(allocateBitrate(250_000, claims))).toEqual({ a: 40_000, speaker: 210_000, other: 0 });
    expect(Object.fromEntries(allocateBitrate(300_000, claims))).toEqual({ a: 40_000, speaker: 260_000, other: 0 });
  });

  it('a video too big for what is left is skipped and a cheaper one after it still fits; nonsense estimates give nothing', () => {
    const claims = [video('hd', { speaker: true, minBitrate: 500_000 }), video('thumb', { minBitrate: 100_000, maxBitrate: 100_000 })];
    expect(Object.fromEntries(allocateBitrate(300_000, claims))).toEqual({ hd: 0, thumb: 100_000 });
    for (const bad of [Number.NaN, -5, 0, Number.POSITIVE_INFINITY]) expect([...allocateBitrate(bad, claims).values()]).toEqual([0, 0]);
    expect(allocateBitrate(1000, []).size).toBe(0);
  });
});
