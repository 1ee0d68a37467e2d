import { describe, expect, it } from 'vitest';
import { ASTRONAUT_FACE_320x240, colorShare } from '../testing/faceClip.js';
import { lastFrames, useFilterFixtures, videoOf } from '../testing/filterFixtures.js';
import { until } from '../testing/harness.js';
import type { Face } from './FaceOverlayFilter.js';

const fx = useFilterFixtures([63030, 63099]);
const { h, clips } = fx;
const play = fx.play.bind(fx);
const RED: [number, number, number] = [255, 0, 0];

describe.skipIf(!fx.tools)('overlay filters', () => {
  it('FaceOverlayFilter finds the face of a video and draws the picture fetched over https (self-signed) over it', async () => {
    const p = h.pipeline();
    const face = await p.createFaceOverlayFilter();
    const faces: Face[][] = [];
    face.on('facesDetected', (f) => faces.push(f));
    await face.setOverlayedImage(`${fx.imageBase}/red.png`, { offsetXPercent: 0, offsetYPercent: 0, widthPercent: 1, heightPercent: 1 });
    const sink = await play(p, clips.face, face);
    await until(() => faces.length > 5 && videoOf(sink).length > 80, 25_000);
    const f = faces.at(-1)![0]!;
    const expected = ASTRONAUT_FACE_320x240;
    expect(Math.abs(f.x - expected.x)).toBeLessThan(8);
    expect(Math.abs(f.y - expected.y)).toBeLessThan(8);
    expect(Math.abs(f.width - expected.width)).toBeLessThan(10);
    const video = await lastFrames(sink);
    const inner = { x: f.x + 4, y: f.y + 4, width: f.width - 8, height: f.height - 8 };
    for (const frame of video.frames) {
      expect(colorShare(frame, video.width, inner, RED)).toBeGreaterThan(0.9);
      // Beside the face (right of it, same rows) the picture is untouched.
      expect(colorShare(frame, video.width, { x: f.x + f.width + 10, y: f.y, width: 60, height: f.height }, RED)).toBeLessThan(0.02);
    }
  }, 50_000);

  it('FaceOverlayFilter places the picture relative to the face as Kurento does, and unsetOverlayedImage removes it', async () => {
    const p = h.pipeline();
    const face = await p.createFaceOverlayFilter();
    // Half a face width right, half a face height up, twice as wide, half as high.
    await face.setOverlayedImage(`${fx.imageBase}/red.png`, { offsetXPercent: 0.5, offsetYPercent: -0.5, widthPercent: 2, heightPercent: 0.5 });
    const sink = await play(p, clips.face, face);
    await until(() => videoOf(sink).length > 80, 25_000);
    const f = ASTRONAUT_FACE_320x240;
    let video = await lastFrames(sink);
    const placed = { x: f.x + 0.5 * f.width, y: f.y - 0.5 * f.height, width: 2 * f.width, height: 0.5 * f.height };
    const visible = { x: placed.x + 3, y: Math.max(0, placed.y) + 1, width: placed.width - 6, height: placed.y + placed.height - Math.max(0, placed.y) - 3 };
    for (const frame of video.frames) {
      expect(colorShare(frame, video.width, visible, RED)).toBeGreaterThan(0.9);
      // The face's own lower part stays uncovered.
      expect(colorShare(frame, video.width, { x: f.x, y: f.y + f.height / 2, width: f.width, height: f.height / 2 }, RED)).toBeLessThan(0.02);
    }
    face.unsetOverlayedImage();
    const before = sink.received.length;
    await until(() => sink.received.length > before + 150, 25_000);
    sink.received.splice(0, before);
    video = await lastFrames(sink);
    for (const frame of video.frames) expect(colorShare(frame, video.width, visible, RED)).toBeLessThan(0.02);
  }, 60_000);

  it('ImageOverlayFilter draws pictures at places given in fractions of the frame, keeps aspect ratios when asked, and removeImage takes one away', async () => {
    const p = h.pipeline();
    const overlay = await p.createImageOverlayFilter();
    await overlay.addImage('box', `${fx.imageBase}/red.png`, { offsetXPercent: 0.5, offsetYPercent: 0.5, widthPercent: 0.25, heightPercent: 0.25, keepAspectRatio: false, center: false });
    // 2:1 picture in a 80x60 box, kept 2:1 and centred: 80x40 at y+10.
    await overlay.addImage('wide', `${fx.imageBase}/wide.png`, { offsetXPercent: 0.0, offsetYPercent: 0.0, widthPercent: 0.25, heightPercent: 0.25, keepAspectRatio: true, center: true });
    await expect(overlay.addImage('bad', `${fx.imageBase}/missing.png`, { offsetXPercent: 0, offsetYPercent: 0, widthPercent: 0.1, heightPercent: 0.1, keepAspectRatio: false, center: false })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(overlay.imageIds).toEqual(['box', 'wide']);
    const sink = await play(p, clips.black, overlay);
    await until(() => videoOf(sink).length > 60, 20_000);
    let video = await lastFrames(sink);
    for (const frame of video.frames) {
      expect(colorShare(frame, 320, { x: 163, y: 123, width: 74, height: 54 }, RED)).toBeGreaterThan(0.9);
      expect(colorShare(frame, 320, { x: 3, y: 13, width: 74, height: 34 }, RED)).toBeGreaterThan(0.9);
      expect(colorShare(frame, 320, { x: 3, y: 0, width: 74, height: 7 }, RED)).toBeLessThan(0.05);
      expect(colorShare(frame, 320, { x: 3, y: 53, width: 74, height: 7 }, RED)).toBeLessThan(0.05);
      expect(colorShare(frame, 320, { x: 100, y: 20, width: 50, height: 80 }, RED)).toBeLessThan(0.02);
    }
    overlay.removeImage('box');
    const before = sink.received.length;
    await until(() => sink.received.length > before + 150, 20_000);
    sink.received.splice(0, before);
    video = await lastFrames(sink);
    for (const frame of video.frames) {
      expect(colorShare(frame, 320, { x: 163, y: 123, width: 74, height: 54 }, RED)).toBeLessThan(0.02);
      expect(colorShare(frame, 320, { x: 3, y: 13, width: 74, height: 34 }, RED)).toBeGreaterThan(0.9);
    }
  }, 50_000);
});
