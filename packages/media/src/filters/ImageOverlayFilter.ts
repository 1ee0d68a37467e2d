import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RtpPacket } from 'werift';
import { MediaError } from '../core/errors.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import { isVp8Keyframe } from '../rtp/keyframe.js';
import { Filter, type FilterOptions } from './Filter.js';
import { missingElement } from './gstInspect.js';
import { fetchOverlayImage, overlaySvg, type FetchImageOptions, type OverlayImage, type PlacedImage } from './overlayImage.js';

/** One picture of an ImageOverlayFilter (Kurento's addImage parameters). */
export interface ImagePlacement {
  /** Left edge, in frame widths [0..1]. */
  offsetXPercent: number;
  /** Top edge, in frame heights [0..1]. */
  offsetYPercent: number;
  /** Width of the picture's box, in frame widths [0..1]. */
  widthPercent: number;
  /** Height of the picture's box, in frame heights [0..1]. */
  heightPercent: number;
  /** Fit the picture into the box keeping its aspect ratio (otherwise it is stretched to the box). */
  keepAspectRatio: boolean;
  /** With keepAspectRatio: centre the picture in the box (otherwise it sits at the box's top left). */
  center: boolean;
}

/** The frame size assumed until a VP8 keyframe tells the real one. */
const DEFAULT_SIZE = { width: 640, height: 480 };

/** Pixel box of a picture in a frame, as Kurento places it. */
export function placeImage(image: { width: number; height: number }, p: ImagePlacement, frame: { width: number; height: number }): { x: number; y: number; width: number; height: number } {
  let x = frame.width * p.offsetXPercent;
  let y = frame.height * p.offsetYPercent;
  const boxW = frame.width * p.widthPercent;
  const boxH = frame.height * p.heightPercent;
  if (!p.keepAspectRatio || image.width === 0 || image.height === 0) return { x, y, width: boxW, height: boxH };
  const scale = Math.min(boxW / image.width, boxH / image.height);
  const width = image.width * scale;
  const height = image.height * scale;
  if (p.center) {
    x += (boxW - width) / 2;
    y += (boxH - height) / 2;
  }
  return { x, y, width, height };
}

/**
 * Kurento's ImageOverlayFilter: pictures (fetched from http/https URLs, certificates
 * not verified, as Kurento does) drawn at fixed places of the video, given in
 * fractions of the frame. Drawn by GStreamer's rsvgoverlay from one SVG that holds
 * them all; adding or removing one restarts the filter's child with the new SVG.
 * Audio passes untouched.
 */
export class ImageOverlayFilter extends Filter {
  private readonly dir = mkdtempSync(join(tmpdir(), 'rt-imageoverlay-'));
  private readonly images = new Map<string, { image: OverlayImage; placement: ImagePlacement }>();
  private frame = { ...DEFAULT_SIZE };
  private svg: string | undefined;
  private version = 0;
  private readonly fetchOptions: FetchImageOptions;

  static async check(options: FilterOptions = {}): Promise<void> {
    const missing = await missingElement(['rsvgoverlay'], options.gstInspect);
    if (missing) throw new MediaError('FILTER_UNAVAILABLE', `ImageOverlayFilter is not available: GStreamer element '${missing}' is missing (install gstreamer1.0-plugins-bad)`);
  }

  constructor(pipeline: MediaPipeline, options: FilterOptions & { fetch?: FetchImageOptions } = {}) {
    super('ImageOverlayFilter', pipeline, ['video'], options);
    this.fetchOptions = options.fetch ?? {};
  }

  /** Ids of the pictures shown. */
  get imageIds(): string[] {
    return [...this.images.keys()];
  }

  /** Adds (or replaces) the picture `id`. Rejects when it cannot be fetched or read (nothing changes then). */
  async addImage(id: string, uri: string, placement: ImagePlacement): Promise<void> {
    this.assertOpen();
    for (const key of ['offsetXPercent', 'offsetYPercent', 'widthPercent', 'heightPercent'] as const) {
      if (!Number.isFinite(placement[key])) throw new MediaError('INVALID_ARGUMENT', `${key} must be a number`);
    }
    const image = await fetchOverlayImage(uri, this.fetchOptions);
    if (this.closed) return;
    this.images.set(id, { image, placement: { ...placement } });
    this.redraw();
  }

  /** Removes the picture `id` (nothing happens for an unknown id, as in Kurento). */
  removeImage(id: string): void {
    this.assertOpen();
    if (this.images.delete(id)) this.redraw();
  }

  protected stage(): string[] {
    return this.svg ? ['rsvgoverlay', `location=${this.svg}`, 'fit-to-frame=true'] : [];
  }

  /** A VP8 keyframe tells the frame size the pictures are placed in. */
  protected override beforeFilter(stream: InboundStream, packet: RtpPacket): void {
    if (stream.codec.mimeType.toLowerCase() !== 'video/vp8' || !isVp8Keyframe(packet.payload)) return;
    const size = vp8FrameSize(packet.payload);
    if (!size || (size.width === this.frame.width && size.height === this.frame.height)) return;
    this.frame = size;
    if (this.images.size > 0) this.redraw();
  }

  protected override onClose(): void {
    super.onClose();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private redraw(): void {
    const placed: PlacedImage[] = [];
    for (const { image, placement } of this.images.values()) {
      // Kurento skips pictures with a zero width or height.
      if (placement.widthPercent === 0 || placement.heightPercent === 0) continue;
      placed.push({ image, ...placeImage(image, placement, this.frame) });
    }
    if (placed.length === 0) {
      this.svg = undefined;
    } else {
      this.svg = join(this.dir, `overlay-${++this.version}.svg`);
      writeFileSync(this.svg, overlaySvg(this.frame.width, this.frame.height, placed));
    }
    this.restartChild('video');
  }
}

/** Width and height from the first packet of a VP8 keyframe (descriptor, then RFC 6386 9.1). */
function vp8FrameSize(payload: Uint8Array): { width: number; height: number } | undefined {
  let i = 1;
  if (payload[0]! & 0x80) {
    const ext = payload[i++]!;
    if (ext & 0x80) i += payload[i]! & 0x80 ? 2 : 1;
    if (ext & 0x40) i++;
    if (ext & 0x30) i++;
  }
  if (payload.length < i + 10 || payload[i + 3] !== 0x9d || payload[i + 4] !== 0x01 || payload[i + 5] !== 0x2a) return undefined;
  const width = (payload[i + 6]! | (payload[i + 7]! << 8)) & 0x3fff;
  const height = (payload[i + 8]! | (payload[i + 9]! << 8)) & 0x3fff;
  return width > 0 && height > 0 ? { width, height } : undefined;
}
