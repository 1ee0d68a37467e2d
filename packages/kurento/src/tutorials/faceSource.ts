import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ASTRONAUT_FACE_320x240, findFaceImage, makeFaceClip } from '@roundtable/media/testing';
import { readY4mFrame } from '../testing/y4m.js';
import type { RTCVideoFrame } from './BrowserPeer.js';

/** The camera picture for magic-mirror (a face) and the test of the returned picture. */
export interface FaceSource {
  faceFrame?: (n: number) => RTCVideoFrame;
  hasOverlay?: (frame: RTCVideoFrame) => boolean;
  /** Why there is no face, when there is none. */
  missing?: string;
}

/** Share of the pixels of `rect` (given for 320x240, scaled to each picture) whose luma differs by more than 40. */
function changedShare(a: RTCVideoFrame, b: RTCVideoFrame, rect: { x: number; y: number; width: number; height: number }): number {
  let changed = 0;
  let n = 0;
  for (let y = Math.round(rect.y); y < Math.round(rect.y + rect.height); y++) {
    for (let x = Math.round(rect.x); x < Math.round(rect.x + rect.width); x++) {
      const ya = Math.min(a.height - 1, Math.round((y * a.height) / 240));
      const xa = Math.min(a.width - 1, Math.round((x * a.width) / 320));
      const yb = Math.min(b.height - 1, Math.round((y * b.height) / 240));
      const xb = Math.min(b.width - 1, Math.round((x * b.width) / 320));
      if (Math.abs(a.data[ya * a.width + xa]! - b.data[yb * b.width + xb]!) > 40) changed++;
      n++;
    }
  }
  return n === 0 ? 0 : changed / n;
}

/**
 * A still face (the astronaut picture, 320x240) as magic-mirror's camera. Whatever picture
 * the app overlays, it goes on and around the face: a good part of the pixels there then
 * differ from the camera's by far more than VP8's loss (which moves few by over 40).
 */
export async function faceSource(): Promise<FaceSource> {
  if (!findFaceImage()) return { missing: 'no face picture on this machine (see makeFaceClip)' };
  const dir = await mkdtemp(join(tmpdir(), 'rt-tutorial-face-'));
  try {
    const face = await readY4mFrame(await makeFaceClip({ output: join(dir, 'face.y4m'), width: 320, height: 240, frameRate: 1, seconds: 1 }));
    const f = ASTRONAUT_FACE_320x240;
    const around = { x: Math.max(0, f.x - f.width), y: 0, width: 3 * f.width, height: Math.min(240, f.y + 2 * f.height) };
    return { faceFrame: () => face, hasOverlay: (frame) => changedShare(frame, face, around) > 0.05 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
