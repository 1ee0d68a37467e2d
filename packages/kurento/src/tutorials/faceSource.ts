import type { RTCVideoFrame } from './BrowserPeer.js';

/** The camera picture for magic-mirror (a face) and the test of the returned picture. */
export interface FaceSource {
  faceFrame?: (n: number) => RTCVideoFrame;
  hasOverlay?: (frame: RTCVideoFrame) => boolean;
}

/** No face source yet: magic-mirror is played with a flat picture and only the return of video is checked. */
export async function faceSource(): Promise<FaceSource> {
  return {};
}
