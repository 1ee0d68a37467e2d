import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import type { MediaElement } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { findFaceImage, makeFaceClip, makeStillClip, solidPng } from './faceClip.js';
import { useMediaHarness, type MediaHarness } from './harness.js';
import { decodeVp8, type DecodedVideo } from './mcu.js';
import { ProbeSink } from './probes.js';
import { selfSignedCert } from './selfSignedCert.js';

export const QR_TEXT = 'https://roundtable.example/join?room=42&who=a b,c;d"e';

export interface FilterFixtures {
  readonly h: MediaHarness;
  /** False (with a loud warning) when a tool is missing outside CI; under CI a missing tool fails. */
  readonly tools: boolean;
  /** VP8 + Opus (440 Hz) WebM clips, 320x240 at 10 fps: a QR code of QR_TEXT, the face, SMPTE bars, black. */
  readonly clips: { qr: string; face: string; bars: string; black: string };
  /** Base URL of an https server (self-signed certificate) serving /red.png (40x40) and /wide.png (100x50, red). */
  readonly imageBase: string;
  /** A player of `clip` (VP8 and Opus copied as they are) feeding `into`, and a sink recording what `into` sends. */
  play(p: MediaPipeline, clip: string, into: MediaElement): Promise<ProbeSink>;
}

export const videoOf = (sink: ProbeSink) => sink.received.filter((r) => r.stream.kind === 'video').map((r) => r.packet);
export const audioOf = (sink: ProbeSink) => sink.received.filter((r) => r.stream.kind === 'audio');

/** The last decodable frames of what `sink` received. */
export async function lastFrames(sink: ProbeSink, count = 3): Promise<DecodedVideo> {
  const video = await decodeVp8(videoOf(sink));
  expect(video.frames.length).toBeGreaterThan(count);
  return { ...video, frames: video.frames.slice(-count) };
}

function hasTools(): boolean {
  const needed = 'command -v gst-launch-1.0 && command -v ffmpeg && command -v qrencode && command -v openssl';
  try {
    execFileSync('sh', ['-c', needed], { stdio: 'ignore' });
    if (!findFaceImage()) throw new Error('no face picture');
    return true;
  } catch (error) {
    if (process.env['CI']) throw new Error(`filter tests need gst-launch-1.0, ffmpeg, qrencode, openssl and the face picture (.ci/run installs them): ${String(error)}`, { cause: error });
    console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING filter tests: ${String(error)}\n!! Under CI (CI set) they fail instead.\n${'!'.repeat(78)}\n`);
    return false;
  }
}

/**
 * Fixtures of the filter tests: a media harness in `portRange`, the test clips (made
 * with GStreamer in beforeAll) and an https server with a self-signed certificate for
 * the overlay pictures, as in Kurento's magic-mirror tutorial.
 */
export function useFilterFixtures(portRange: [number, number]): FilterFixtures {
  const h = useMediaHarness(portRange);
  const dir = mkdtempSync(join(tmpdir(), 'rt-filters-'));
  const tools = hasTools();
  const clips = { qr: join(dir, 'qr.webm'), face: join(dir, 'face.webm'), bars: join(dir, 'bars.webm'), black: join(dir, 'black.webm') };
  let https: HttpsServer | undefined;
  let imageBase = '';

  beforeAll(async () => {
    if (!tools) return;
    const qrPng = join(dir, 'qr.png');
    execFileSync('qrencode', ['-o', qrPng, '-s', '6', '-m', '2', QR_TEXT]);
    const pattern = (name: string): string => {
      const png = join(dir, `${name}.png`);
      execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', `pattern=${name}`, 'num-buffers=1', '!', 'video/x-raw,width=320,height=240', '!', 'pngenc', '!', 'filesink', `location=${png}`]);
      return png;
    };
    await Promise.all([
      makeStillClip({ picture: qrPng, output: clips.qr, seconds: 6 }),
      makeFaceClip({ output: clips.face, seconds: 15 }),
      makeStillClip({ picture: pattern('smpte'), output: clips.bars, seconds: 10 }),
      makeStillClip({ picture: pattern('black'), output: clips.black, seconds: 15 }),
    ]);
    const { key, cert } = selfSignedCert(dir);
    const pictures: Record<string, Buffer> = { '/red.png': solidPng(40, 40, [255, 0, 0, 255]), '/wide.png': solidPng(100, 50, [255, 0, 0, 255]) };
    https = createHttpsServer({ key, cert }, (req, res) => {
      const body = pictures[req.url ?? ''];
      res.writeHead(body ? 200 : 404, { 'content-type': 'image/png' }).end(body ?? '');
    });
    await new Promise<void>((resolve) => https!.listen(0, '127.0.0.1', resolve));
    imageBase = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => (https ? https.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  return {
    h,
    tools,
    clips,
    get imageBase() {
      return imageBase;
    },
    async play(p, clip, into) {
      const player = p.createPlayerEndpoint({ uri: pathToFileURL(clip).href, useEncodedMedia: true });
      const sink = h.track(new ProbeSink(p));
      player.connect(into);
      into.connect(sink);
      await player.play();
      return sink;
    },
  };
}
