import type { LayerState } from '../Producer.js';

/** For the simulcast tests: three layers arriving at 150 kbit/s, 500 kbit/s and 1.5 Mbit/s, 180p / 360p / 720p; `overrides[i]` changes layer i. */
export function threeLayers(overrides: Array<Partial<LayerState>> = []): LayerState[] {
  const base: LayerState[] = [
    { rid: 'q', bitrate: 150_000, width: 320, height: 180, arriving: true, available: true, wanted: true },
    { rid: 'h', bitrate: 500_000, width: 640, height: 360, arriving: true, available: true, wanted: true },
    { rid: 'f', bitrate: 1_500_000, width: 1280, height: 720, arriving: true, available: true, wanted: true },
  ];
  return base.map((l, i) => ({ ...l, ...overrides[i] }));
}
