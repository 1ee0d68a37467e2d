import { createServer as createHttpsServer, type Server } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wrtc from '@roamhq/wrtc';
import kurentoClient from 'kurento-client';
import { FaceOverlayFilter } from '@roundtable/media';
import type { KurentoElement } from 'kurento-client';
import { ASTRONAUT_FACE_320x240, findFaceImage, makeFaceClip, solidPng, selfSignedCert } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import { useKurentoHarness } from './testing/harness.js';
import { readY4mFrame } from './testing/y4m.js';
import { BrowserPeer, type RTCVideoFrame } from './tutorials/BrowserPeer.js';

const h = useKurentoHarness([63300, 63799]);
const IceCandidate = kurentoClient.getComplexType('IceCandidate');
const MAGENTA: [number, number, number] = [255, 0, 255];

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Share of the pixels of `rect` (given for a 320x240 picture, scaled to the frame) close to `rgb`. */
function shareOf(frame: RTCVideoFrame, rect: Rect, rgb: [number, number, number]): number {
  const rgba = new Uint8ClampedArray(frame.width * frame.height * 4);
  wrtc.nonstandard.i420ToRgba(frame, { width: frame.width, height: frame.height, data: rgba as unknown as Uint8Array });
  const sx = frame.width / 320;
  const sy = frame.height / 240;
  let hits = 0;
  let total = 0;
  for (let y = Math.round(rect.y * sy); y < Math.round((rect.y + rect.height) * sy); y++) {
    for (let x = Math.round(rect.x * sx); x < Math.round((rect.x + rect.width) * sx); x++) {
      const o = (y * frame.width + x) * 4;
      total++;
      if (Math.abs(rgba[o]! - rgb[0]) + Math.abs(rgba[o + 1]! - rgb[1]) + Math.abs(rgba[o + 2]! - rgb[2]) < 90) hits++;
    }
  }
  return total === 0 ? 0 : hits / total;
}

/** The middle half of a rectangle: inside the face whatever the detector's margin. */
function middle(r: Rect): Rect {
  return { x: r.x + r.width / 4, y: r.y + r.height / 4, width: r.width / 2, height: r.height / 2 };
}

/** An https server with a self-signed certificate serving one picture, as the magic-mirror app serves its own. */
async function servePicture(png: Buffer): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rt-magic-mirror-'));
  const { key, cert } = selfSignedCert(dir);
  const server: Server = createHttpsServer({ key, cert }, (req, res) => {
    if (req.url === '/img/overlay.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `https://localhost:${port}/img/overlay.png`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The browser side of the tutorial: offer to `ep`, candidates both ways, through the official client. */
async function connect(peer: BrowserPeer, ep: KurentoElement): Promise<void> {
  ep.on('IceCandidateFound', (e) => void peer.addRemoteCandidate(e.candidate as { candidate: string; sdpMid: string; sdpMLineIndex: number }).catch(() => undefined));
  const answer = await ep.processOffer(await peer.createOffer());
  peer.trickleTo((c) => void ep.addIceCandidate(IceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 })));
  await peer.setAnswer(answer);
  await ep.gatherCandidates();
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

describe('magic mirror (Kurento tutorial 2) through the official kurento-client', () => {
  it('a WebRtcEndpoint looped through a FaceOverlayFilter returns the face with the picture from an https URL over it', async (ctx) => {
    const missing = !findFaceImage() ? 'no face picture on this machine (see makeFaceClip)' : await FaceOverlayFilter.check().then(() => undefined, (e: Error) => e.message);
    if (missing) {
      if (process.env.CI) throw new Error(missing);
      console.warn(`SKIPPED: ${missing}`);
      ctx.skip();
    }
    const dir = await mkdtemp(join(tmpdir(), 'rt-face-'));
    h.cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const face = await readY4mFrame(await makeFaceClip({ output: join(dir, 'face.y4m'), width: 320, height: 240, frameRate: 1, seconds: 1 }));
    const picture = await servePicture(solidPng(32, 32, [...MAGENTA, 255]));
    h.cleanup.push(picture.close);

    const client = await kurentoClient(h.url, { failAfter: 1 });
    h.cleanup.push(() => client.close());
    const pipeline = await client.create('MediaPipeline');
    h.cleanup.push(() => pipeline.release());
    const webRtc = await pipeline.create('WebRtcEndpoint');
    const filter = await pipeline.create('FaceOverlayFilter');
    await (filter.setOverlayedImage as (uri: string, x: number, y: number, w: number, h: number) => Promise<void>)(picture.url, 0, 0, 1, 1);
    await webRtc.connect(filter);
    await filter.connect(webRtc);

    const peer = new BrowserPeer({ mode: 'sendrecv', stunUrl: h.stunUrl, frame: () => face, toneHz: 440 });
    h.cleanup.push(() => peer.close());
    await connect(peer, webRtc);

    const r = peer.reception;
    const faceRect = middle(ASTRONAUT_FACE_320x240);
    const away: Rect = { x: 10, y: 160, width: 60, height: 60 };
    const overlaid = await until(() => r.lastFrame !== undefined && shareOf(r.lastFrame, faceRect, MAGENTA) > 0.6, 25_000);
    const last = r.lastFrame!;
    expect(overlaid, `magenta over the face: ${r.lastFrame ? shareOf(r.lastFrame, faceRect, MAGENTA).toFixed(2) : 'no frame'} after ${r.videoFrames} frames`).toBe(true);
    expect(shareOf(last, away, MAGENTA)).toBeLessThan(0.05);
    expect(shareOf(face, faceRect, MAGENTA)).toBe(0); // the camera's picture has none: the filter drew it
  }, 60_000);
});
