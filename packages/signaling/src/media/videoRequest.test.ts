import { zVideoQuality } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { videoRequestOf } from './MediaServer.js';

describe('subscribeQuality to the media server\'s request', () => {
  it('levels are layers, a size is a size, and a pinned tile stays pinned', () => {
    expect(videoRequestOf('off')).toBe('off');
    expect(videoRequestOf('low')).toEqual({ maxLayer: 0 });
    expect(videoRequestOf('high')).toEqual({});
    expect(videoRequestOf({ maxWidth: 640, maxHeight: 360 })).toEqual({ maxWidth: 640, maxHeight: 360 });
    expect(videoRequestOf({ maxWidth: 1280, maxHeight: 720, pinned: true })).toEqual({ maxWidth: 1280, maxHeight: 720, pinned: true });
    expect(videoRequestOf({ maxHeight: 180, pinned: false })).toEqual({ maxHeight: 180 });
  });

  it('the wire takes pinned as a boolean only, beside a size', () => {
    expect(zVideoQuality.safeParse({ maxWidth: 640, pinned: true }).success).toBe(true);
    expect(zVideoQuality.safeParse({ maxWidth: 640, pinned: 'yes' }).success).toBe(false);
    expect(zVideoQuality.safeParse({ maxWidth: 640, pin: true }).success).toBe(false);
  });
});
