import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

/**
 * Where a photograph of a real face is looked for: scikit-image's "astronaut" (Eileen
 * Collins, NASA; public domain, "no known copyright restrictions"), from Debian's
 * python3-skimage package. CI (.ci/run) extracts that one picture from the package
 * into /usr/local/share/roundtable/test-media/ without installing the package and its
 * dependencies; a machine with python3-skimage installed has it in place. The
 * ROUNDTABLE_FACE_IMAGE environment variable names another picture.
 */
export const FACE_IMAGE_CANDIDATES = [
  '/usr/local/share/roundtable/test-media/astronaut.png',
  '/usr/lib/python3/dist-packages/skimage/data/astronaut.png',
];

/**
 * Path of the face picture, or undefined when this machine has none (see
 * FACE_IMAGE_CANDIDATES). A werift peer can send it live as its camera with
 * `new RealMediaSender({ picture: findFaceImage(), frameRate: 10, ... })`.
 */
export function findFaceImage(): string | undefined {
  const fromEnv = process.env['ROUNDTABLE_FACE_IMAGE'];
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  return FACE_IMAGE_CANDIDATES.find((p) => existsSync(p));
}

/**
 * Where OpenCV's facedetect finds the face of the astronaut picture when the picture
 * is scaled (stretched) to 320x240: measured with Debian 12's OpenCV 4.6 and its
 * frontal face cascade. Other sizes scale it.
 */
export const ASTRONAUT_FACE_320x240 = { x: 108, y: 23, width: 59, height: 59 };

export interface StillClipOptions {
  /** The picture (PNG or JPEG) shown in every frame. */
  picture: string;
  /** Output file: .webm (VP8 + Opus tone), .ivf (VP8 only), .y4m (raw, e.g. Chromium's --use-file-for-fake-video-capture) or .mjpeg. */
  output: string;
  /** Frame size the picture is stretched to. Default 320x240. */
  width?: number;
  height?: number;
  /** Frames per second. Default 10. */
  frameRate?: number;
  /** Length in seconds. Default 4. */
  seconds?: number;
  /** .webm only: add a 440 Hz Opus tone (Hz; 0 for none). Default 440. */
  tone?: number;
  /** The gst-launch-1.0 executable. Default 'gst-launch-1.0'. */
  gstLaunch?: string;
}

/**
 * Makes a short video of a still picture (a face, a QR code) with GStreamer: VP8 with a
 * keyframe every second, small and cheap to play. E.g. the input of FaceOverlayFilter
 * and ZBarFilter tests, played by a PlayerEndpoint (useEncodedMedia) or as a browser's
 * fake camera (.y4m).
 */
export function makeStillClip(options: StillClipOptions): Promise<string> {
  const width = options.width ?? 320;
  const height = options.height ?? 240;
  const fps = options.frameRate ?? 10;
  const frames = Math.max(1, Math.round((options.seconds ?? 4) * fps));
  const raw = `video/x-raw,width=${width},height=${height},framerate=${fps}/1,pixel-aspect-ratio=1/1`;
  const source = ['filesrc', `location=${options.picture}`, '!', 'decodebin', '!', 'videoconvert', '!', 'imagefreeze', `num-buffers=${frames}`, '!', 'videoconvert', '!', 'videoscale', 'add-borders=false', '!', raw];
  const vp8 = ['vp8enc', 'deadline=1', 'cpu-used=8', `keyframe-max-dist=${fps}`, 'target-bitrate=400000'];
  const out = options.output;
  let args: string[];
  if (out.endsWith('.webm')) {
    const tone = options.tone ?? 440;
    args = [...source, '!', ...vp8, '!', 'webmmux', 'name=mux', '!', 'filesink', `location=${out}`];
    if (tone > 0) {
      const samples = Math.round((frames / fps) * 48000);
      args.push('audiotestsrc', `freq=${tone}`, 'samplesperbuffer=960', `num-buffers=${Math.ceil(samples / 960)}`, '!', 'audioconvert', '!', 'audioresample', '!', 'opusenc', '!', 'mux.');
    }
  } else if (out.endsWith('.ivf')) {
    args = [...source, '!', ...vp8, '!', 'avmux_ivf', '!', 'filesink', `location=${out}`];
  } else if (out.endsWith('.y4m')) {
    args = [...source, '!', 'videoconvert', '!', 'video/x-raw,format=I420', '!', 'y4menc', '!', 'filesink', `location=${out}`];
  } else if (out.endsWith('.mjpeg')) {
    args = [...source, '!', 'jpegenc', '!', 'filesink', `location=${out}`];
  } else {
    return Promise.reject(new Error(`makeStillClip: unknown output type ${out}`));
  }
  return new Promise((resolve, reject) => {
    execFile(options.gstLaunch ?? 'gst-launch-1.0', ['-q', ...args], { timeout: 60_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`makeStillClip ${out}: ${error.message} ${stderr}`));
      else resolve(out);
    });
  });
}

/** Makes a face video (see makeStillClip) from the face picture; rejects when the machine has none. */
export function makeFaceClip(options: Omit<StillClipOptions, 'picture'>): Promise<string> {
  const picture = findFaceImage();
  if (!picture) return Promise.reject(new Error(`no face picture: install python3-skimage, or run .ci/run's step, or set ROUNDTABLE_FACE_IMAGE (looked in ${FACE_IMAGE_CANDIDATES.join(', ')})`));
  return makeStillClip({ ...options, picture });
}

/** A PNG of one colour (RGBA), e.g. an overlay picture whose pixels are easy to find in a frame. */
export function solidPng(width: number, height: number, rgba: [number, number, number, number]): Buffer {
  const row = Buffer.alloc(1 + width * 4);
  for (let x = 0; x < width; x++) row.set(rgba, 1 + x * 4);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Fraction of the pixels of `rect` in an RGB24 frame that are close to `rgb`. */
export function colorShare(frame: Buffer, frameWidth: number, rect: { x: number; y: number; width: number; height: number }, rgb: [number, number, number], tolerance = 60): number {
  let hits = 0;
  let total = 0;
  for (let y = Math.max(0, Math.round(rect.y)); y < Math.round(rect.y + rect.height); y++) {
    for (let x = Math.max(0, Math.round(rect.x)); x < Math.min(frameWidth, Math.round(rect.x + rect.width)); x++) {
      const o = (y * frameWidth + x) * 3;
      if (o + 2 >= frame.length) continue;
      total++;
      if (Math.abs(frame[o]! - rgb[0]) + Math.abs(frame[o + 1]! - rgb[1]) + Math.abs(frame[o + 2]! - rgb[2]) < tolerance) hits++;
    }
  }
  return total === 0 ? 0 : hits / total;
}
