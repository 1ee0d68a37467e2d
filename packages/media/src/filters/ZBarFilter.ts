import { MediaError } from '../core/errors.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { BusMessage } from './busMessage.js';
import { Filter, type FilterEvents, type FilterOptions } from './Filter.js';
import { missingElement } from './gstInspect.js';

export interface ZBarFilterEvents extends FilterEvents {
  /** A code was read: zbar's symbology name ("QR-Code", "EAN-13", ...) and its data. */
  codeFound: [codeType: string, value: string];
}

const SECOND_NS = 1_000_000_000n;

/**
 * Kurento's ZBarFilter: reads bar codes and QR codes in the video (GStreamer's zbar,
 * Debian's gstreamer1.0-plugins-bad) and raises codeFound as Kurento Media Server
 * does: for a code other than the last one, or the same one again at least one
 * second (of stream time) after it was last raised. Video is passed on as it came in
 * (re-encoded); audio passes untouched.
 */
export class ZBarFilter extends Filter<ZBarFilterEvents> {
  private last: { type: string; value: string; ts: bigint } | undefined;

  /** Refuses (FILTER_UNAVAILABLE) when this machine's GStreamer has no zbar element. */
  static async check(options: FilterOptions = {}): Promise<void> {
    const missing = await missingElement(['zbar'], options.gstInspect);
    if (missing) throw new MediaError('FILTER_UNAVAILABLE', `ZBarFilter plugin not available: ${missing} (install gstreamer1.0-plugins-bad)`);
  }

  constructor(pipeline: MediaPipeline, options: FilterOptions = {}) {
    super('ZBarFilter', pipeline, ['video'], options);
  }

  protected stage(): string[] {
    return ['zbar', 'qos=false', 'cache=false'];
  }

  protected override onBusMessage(message: BusMessage): void {
    if (message.name !== 'barcode') return;
    const type = message.fields.get('type');
    const value = message.fields.get('symbol');
    if (type === undefined || value === undefined) return;
    let ts: bigint;
    try {
      ts = BigInt(message.fields.get('timestamp') ?? '0');
    } catch {
      ts = 0n;
    }
    const last = this.last;
    // A restarted child's clock starts again at zero: a timestamp going back counts as new.
    if (last && last.type === type && last.value === value && ts >= last.ts && ts - last.ts < SECOND_NS) return;
    this.last = { type, value, ts };
    this.emit('codeFound', type, value);
  }
}
