/**
 * The synthetic media each simulated participant publishes, and the bench header every
 * packet carries so receivers measure one-way delay and loss per downlink.
 *
 * Payload layout (both kinds), after a 4-byte codec prefix:
 *   0..3   codec prefix: VP8 payload descriptor + header (video), zeros (audio)
 *   4..5   magic 0x5242 ('RB')
 *   6      kind: 0 audio, 1 video
 *   7      reserved
 *   8..11  sender id (unique within a run)
 *   12..15 sequence number (per sender and kind)
 *   16..23 send time, µs on the monotonic clock (float64; process.hrtime is one clock for every process)
 */

export const BENCH_MAGIC = 0x5242;
export const HEADER_OFFSET = 4;
export const MIN_PAYLOAD = 24;
/** Bytes of an RTP header without extensions: counted in forwarded megabits. */
export const RTP_HEADER_BYTES = 12;

export type Kind = 'audio' | 'video';
export const KIND_CODE: Record<Kind, number> = { audio: 0, video: 1 };

export interface TrafficOptions {
  /** Video bitrate in kb/s (payload + RTP header). Default 500. */
  videoKbps: number;
  /** Video frames per second. Default 30. */
  fps: number;
  /** Seconds between keyframes. Default 3. */
  keyframeIntervalS: number;
  /** A keyframe is this many times a delta frame (the average bitrate stays `videoKbps`). Default 5. */
  keyframeFactor: number;
  /** Audio packet payload bytes (Opus at ~32 kb/s, 20 ms frames). Default 100. */
  audioBytes: number;
  /** Audio packets per second. Default 50. */
  audioPps: number;
  /** Largest RTP payload of a video packet (browsers packetize at ~1100-1200 B). Default 1100. */
  maxVideoPayload: number;
}

export const DEFAULT_TRAFFIC: TrafficOptions = {
  videoKbps: 500,
  fps: 30,
  keyframeIntervalS: 3,
  keyframeFactor: 5,
  audioBytes: 100,
  audioPps: 50,
  maxVideoPayload: 1100,
};

/** One packet to send: its kind, payload size and, for video, whether it starts a (key)frame and ends one. */
export interface PlannedPacket {
  kind: Kind;
  size: number;
  frameStart: boolean;
  keyframe: boolean;
  marker: boolean;
}

/** Sizes of the video packets of one frame: equal parts no bigger than `max`. */
export function splitFrame(frameBytes: number, max: number): number[] {
  const count = Math.max(1, Math.ceil(frameBytes / max));
  const base = Math.floor(frameBytes / count);
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) sizes.push(Math.max(MIN_PAYLOAD, i === count - 1 ? frameBytes - base * (count - 1) : base));
  return sizes;
}

/**
 * The schedule of one publisher: audio every 1/audioPps s, a video frame every 1/fps s,
 * a keyframe every keyframeIntervalS s or on request (PLI). `due(now)` returns what is
 * late at `now` (ms), so a coarse timer still sends the right number of packets.
 */
export class TrafficSchedule {
  private nextAudio: number;
  private nextFrame: number;
  private framesSinceKey = 0;
  private keyRequested = true;
  private readonly framesPerKey: number;
  private readonly deltaBytes: number;
  private readonly keyBytes: number;

  constructor(
    private readonly options: TrafficOptions,
    startMs: number,
  ) {
    // Spread publishers over a frame interval so that all of them do not send in the same tick.
    const phase = Math.random();
    this.nextAudio = startMs + phase * (1000 / options.audioPps);
    this.nextFrame = startMs + phase * (1000 / options.fps);
    this.framesPerKey = Math.max(1, Math.round(options.keyframeIntervalS * options.fps));
    const bytesPerFrame = (options.videoKbps * 1000) / 8 / options.fps;
    // Average over one keyframe period: (framesPerKey - 1) deltas + one key of factor x delta.
    this.deltaBytes = (bytesPerFrame * this.framesPerKey) / (this.framesPerKey - 1 + options.keyframeFactor);
    this.keyBytes = this.deltaBytes * options.keyframeFactor;
  }

  /** Asks for a keyframe at the next frame (a PLI/FIR arrived); at most one per 300 ms is honoured by the caller. */
  requestKeyframe(): void {
    this.keyRequested = true;
  }

  due(nowMs: number): PlannedPacket[] {
    const out: PlannedPacket[] = [];
    while (this.nextAudio <= nowMs) {
      out.push({ kind: 'audio', size: this.options.audioBytes, frameStart: true, keyframe: false, marker: false });
      this.nextAudio += 1000 / this.options.audioPps;
    }
    while (this.nextFrame <= nowMs) {
      const keyframe = this.keyRequested || this.framesSinceKey >= this.framesPerKey - 1;
      this.keyRequested = false;
      this.framesSinceKey = keyframe ? 0 : this.framesSinceKey + 1;
      // Packet headers are part of the bitrate: take them off the frame's payload budget.
      const bytes = Math.round((keyframe ? this.keyBytes : this.deltaBytes));
      const sizes = splitFrame(bytes, this.options.maxVideoPayload);
      const payloadSizes = sizes.map((s) => Math.max(MIN_PAYLOAD, s - RTP_HEADER_BYTES));
      payloadSizes.forEach((size, i) => out.push({ kind: 'video', size, frameStart: i === 0, keyframe, marker: i === payloadSizes.length - 1 }));
      this.nextFrame += 1000 / this.options.fps;
    }
    return out;
  }
}

/** Monotonic time in µs, the same clock in every process of the machine. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Fills `buf` (a payload of `planned.size` bytes) with the codec prefix and the bench header. */
export function writePayload(buf: Buffer, planned: PlannedPacket, sender: number, seq: number, sendUs: number): void {
  if (planned.kind === 'video') {
    buf[0] = planned.frameStart ? 0x10 : 0x00; // VP8 descriptor: S bit on the first packet of a frame, partition 0
    buf[1] = planned.keyframe ? 0x00 : 0x01; // VP8 payload header: P bit clear on keyframes
    buf[2] = 0;
    buf[3] = 0;
  } else {
    buf.writeUInt32BE(0, 0);
  }
  buf.writeUInt16BE(BENCH_MAGIC, 4);
  buf[6] = KIND_CODE[planned.kind];
  buf[7] = 0;
  buf.writeUInt32BE(sender >>> 0, 8);
  buf.writeUInt32BE(seq >>> 0, 12);
  buf.writeDoubleBE(sendUs, 16);
}

export interface ParsedHeader {
  kind: Kind;
  sender: number;
  seq: number;
  sendUs: number;
}

/** Reads the bench header of a payload; undefined when it is not one of ours (e.g. padding-only packets). */
export function readPayload(buf: Uint8Array, offset = 0): ParsedHeader | undefined {
  if (buf.length < offset + MIN_PAYLOAD) return undefined;
  const view = Buffer.from(buf.buffer, buf.byteOffset + offset, buf.length - offset);
  if (view.readUInt16BE(4) !== BENCH_MAGIC) return undefined;
  return { kind: view[6] === 1 ? 'video' : 'audio', sender: view.readUInt32BE(8), seq: view.readUInt32BE(12), sendUs: view.readDoubleBE(16) };
}
