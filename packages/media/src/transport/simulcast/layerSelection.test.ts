import { describe, expect, it } from 'vitest';
import { layerForSize, selectLayers, type LayerCandidate } from './layerSelection.js';
import { threeLayers as layers } from './testLayers.js';

function candidate(partial: Partial<LayerCandidate> = {}): LayerCandidate {
  return { layers: layers(), cap: 2, current: 0, tileArea: 1, ...partial };
}

describe('layer selection (issue #20, point 3)', () => {
  it('a tile size asks for the smallest layer at least that big; sizes not known are taken as 2:1 steps', () => {
    expect(layerForSize(layers(), undefined, undefined)).toBe(2);
    expect(layerForSize(layers(), 320, 180)).toBe(0);
    expect(layerForSize(layers(), 400, 225)).toBe(1);
    expect(layerForSize(layers(), 1920, 1080)).toBe(2);
    const unknown = layers([{ height: undefined, width: undefined }, { height: undefined, width: undefined }]);
    expect(layerForSize(unknown, undefined, 300)).toBe(1);
    const none = layers([{ height: undefined, width: undefined }, { height: undefined, width: undefined }, { height: undefined, width: undefined }]);
    expect(layerForSize(none, undefined, 100)).toBe(2);
  });

  it('with the bitrate unlimited each consumer gets the highest layer its request allows', () => {
    expect(selectLayers([candidate(), candidate({ cap: 0 }), candidate({ cap: 1 }), candidate({ cap: -1 })], Infinity)).toEqual([2, 0, 1, -1]);
  });

  it('within an available bitrate, the bigger tile goes up first and every consumer keeps at least the lowest layer', () => {
    // 150 + 150 for the lowest layers, then 350 more lets one of them reach h, not f.
    expect(selectLayers([candidate({ tileArea: 1 }), candidate({ tileArea: 2 })], 700_000)).toEqual([0, 1]);
    expect(selectLayers([candidate({ tileArea: 1 }), candidate({ tileArea: 2 })], 2_000_000)).toEqual([1, 2]);
    expect(selectLayers([candidate(), candidate()], 100_000)).toEqual([0, 0]);
  });

  it('the active speaker and the pinned go up before a bigger tile; what falls between two layers goes to the next in order', () => {
    const big = candidate({ tileArea: 1280 * 720 });
    expect(selectLayers([big, candidate({ tileArea: 320 * 180, speaker: true })], 700_000)).toEqual([0, 1]);
    expect(selectLayers([big, candidate({ tileArea: 320 * 180, pinned: true })], 700_000)).toEqual([0, 1]);
    // 1.2 M: the speaker's share (1.05 M) pays for h only; the 550 k it leaves lets the other reach h too.
    expect(selectLayers([big, candidate({ tileArea: 320 * 180, speaker: true })], 1_200_000)).toEqual([1, 1]);
    // A cap holds whatever the share: the speaker asked for q at most, the big tile takes the rest.
    expect(selectLayers([big, candidate({ cap: 0, speaker: true })], 2_000_000)).toEqual([2, 0]);
  });

  it('layers that do not arrive are skipped; one that nothing forwards yet starts on a layer that arrives', () => {
    const topGone = layers([{}, {}, { arriving: false, available: false }]);
    expect(selectLayers([candidate({ layers: topGone })], Infinity)).toEqual([1]);
    // h was paused by us: a consumer already forwarding may target it (it is asked back), a new one starts on q.
    const paused = layers([{}, { arriving: false, available: true, wanted: false }, { arriving: false, available: false }]);
    expect(selectLayers([candidate({ layers: paused, current: 0 }), candidate({ layers: paused, current: -1 })], Infinity)).toEqual([1, 0]);
    // Nothing arrives at all: it keeps what it forwards.
    const silent = layers([{ arriving: false, available: false }, { arriving: false, available: false }, { arriving: false, available: false }]);
    expect(selectLayers([candidate({ layers: silent, current: 1 })], Infinity)).toEqual([1]);
  });

  it('a layer never measured is taken at an assumed rate', () => {
    const fresh = layers([{ bitrate: undefined }, { bitrate: undefined }, { bitrate: undefined }]);
    // Assumed 150k / 450k / 1.35M: 600k reaches h.
    expect(selectLayers([candidate({ layers: fresh })], 600_000)).toEqual([1]);
  });
});
