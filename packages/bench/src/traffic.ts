/**
 * The synthetic media each simulated participant publishes, and the bench header every
 * packet carries so receivers measure one-way delay and loss per downlink.
 *
 * Payload layout (both kinds), after a 4-byte codec prefix:
 *   0..3   codec prefix: VP8 payload descriptor + header (video), zeros (audio)
 *   4..5   magic 0x5242 ('RB')
 *   6      kind: 0 audio, 1 video
 *   7      simulcast layer: 0x80 | index (lowest 0); 0 for one stream and audio
 *   8..11  sender id (unique within a run)
 *   12..15 sequence number (per sender and kind; one count over the layers of a simulcast sender)
 *   16..23 send time, µs on the monotonic clock (float64; process.hrtime is one clock for every process)
 *
 * A simulcast layer's video has a SIMULCAST_PREFIX-byte codec prefix instead, as Chromium
 * writes it: the VP8 payload descriptor with a 15-bit picture id, TL0PICIDX and TID (each
 * layer numbers its own, the server rewrites them when it switches a receiver between
 * layers), the VP8 payload header and, on a keyframe, its start code and picture size
 * (RFC 6386 §9.1: the server reads each layer's size there); the bench header follows.
 */

export const BENCH_MAGIC = 0x5242;
export const HEADER_OFFSET = 4;
export const MIN_PAYLOAD = 24;
/** Where the bench header starts in a simulcast layer's video payload: a 6-byte VP8 descriptor and 10 bytes of keyframe header (zeros on delta frames). */
export const SIMULCAST_PREFIX = 16;
const MIN_SIMULCAST_PAYLOAD = SIMULCAST_PREFIX + MIN_PAYLOAD - HEADER_OFFSET;
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
  /**
   * Simulcast: the video is these layers, lowest first, each at its own bitrate
   * (`videoKbps` is then not used), frames of every layer at `fps`. Default none: one stream.
   */
  simulcast?: SimulcastLayer[] | undefined;
}

/** One simulcast layer of the synthetic video. */
export interface SimulcastLayer {
  /** Its RTP stream id (`a=rid`). */
  rid: string;
  /** Bitrate in kb/s (payload + RTP header). */
  kbps: number;
  /** The picture size its keyframes announce. */
  width: number;
  height: number;
}

/** The layers Roundtable's SDK asks of Chromium (client SIMULCAST_ENCODINGS) for a 1280x720 camera: a quarter, half and full size. */
export const SIMULCAST_LAYERS: readonly SimulcastLayer[] = [
  { rid: 'q', kbps: 150, width: 320, height: 180 },
  { rid: 'h', kbps: 500, width: 640, height: 360 },
  { rid: 'f', kbps: 1500, width: 1280, height: 720 },
];

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
  /** Simulcast video: the layer (index, lowest 0), its picture count and its picture size. */
  layer?: PlannedLayer | undefined;
}

export interface PlannedLayer {
  index: number;
  /** Frames of this layer so far: its VP8 picture id and TL0PICIDX. */
  picture: number;
  width: number;
  height: number;
}

/** Sizes of the video packets of one frame: equal parts no bigger than `max`. */
export function splitFrame(frameBytes: number, max: number): number[] {
  const count = Math.max(1, Math.ceil(frameBytes / max));
  const base = Math.floor(frameBytes / count);
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) sizes.push(Math.max(MIN_PAYLOAD, i === count - 1 ? frameBytes - base * (count - 1) : base));
  return sizes;
}

/** One video stream of a publisher: the single stream, or one simulcast layer. */
interface VideoStream {
  deltaBytes: number;
  keyBytes: number;
  framesSinceKey: number;
  keyRequested: boolean;
  /** Sent (a simulcast layer the server paused is not, as a browser stops encoding it). */
  active: boolean;
  /** Frames sent so far. */
  picture: number;
  layer: SimulcastLayer | undefined;
}

/**
 * The schedule of one publisher: audio every 1/audioPps s, a video frame every 1/fps s
 * (of every simulcast layer that is active), a keyframe every keyframeIntervalS s or on
 * request (PLI). `due(now)` returns what is late at `now` (ms), so a coarse timer still
 * sends the right number of packets.
 */
export class TrafficSchedule {
  private nextAudio: number;
  private nextFrame: number;
  private readonly framesPerKey: number;
  private readonly streams: VideoStream[];

  constructor(
    private readonly options: TrafficOptions,
    startMs: number,
  ) {
    // Spread publishers over a frame interval so that all of them do not send in the same tick.
    const phase = Math.random();
    this.nextAudio = startMs + phase * (1000 / options.audioPps);
    this.nextFrame = startMs + phase * (1000 / options.fps);
    this.framesPerKey = Math.max(1, Math.round(options.keyframeIntervalS * options.fps));
    const stream = (kbps: number, layer: SimulcastLayer | undefined): VideoStream => {
      const bytesPerFrame = (kbps * 1000) / 8 / options.fps;
      // Average over one keyframe period: (framesPerKey - 1) deltas + one key of factor x delta.
      const deltaBytes = (bytesPerFrame * this.framesPerKey) / (this.framesPerKey - 1 + options.keyframeFactor);
      return { deltaBytes, keyBytes: deltaBytes * options.keyframeFactor, framesSinceKey: 0, keyRequested: true, active: true, picture: 0, layer };
    };
    this.streams = options.simulcast?.length ? options.simulcast.map((l) => stream(l.kbps, l)) : [stream(options.videoKbps, undefined)];
  }

  /** Asks for a keyframe at the next frame of `layer` (every stream when not given): a PLI/FIR arrived; at most one per 300 ms is honoured by the caller. */
  requestKeyframe(layer?: number): void {
    for (const [i, s] of this.streams.entries()) if (layer === undefined || i === layer) s.keyRequested = true;
  }

  /** Simulcast: starts or stops sending layer `index` (the server's publishLayers); a layer started again begins with a keyframe. */
  setLayerActive(index: number, active: boolean): void {
    const s = this.streams[index];
    if (!s?.layer || s.active === active) return;
    s.active = active;
    if (active) s.keyRequested = true;
  }

  /** Whether each simulcast layer is sent now (empty for one stream). */
  get activeLayers(): boolean[] {
    return this.streams.filter((s) => s.layer).map((s) => s.active);
  }

  due(nowMs: number): PlannedPacket[] {
    const out: PlannedPacket[] = [];
    while (this.nextAudio <= nowMs) {
      out.push({ kind: 'audio', size: this.options.audioBytes, frameStart: true, keyframe: false, marker: false });
      this.nextAudio += 1000 / this.options.audioPps;
    }
    while (this.nextFrame <= nowMs) {
      for (const [index, s] of this.streams.entries()) {
        if (!s.active) continue;
        const keyframe = s.keyRequested || s.framesSinceKey >= this.framesPerKey - 1;
        s.keyRequested = false;
        s.framesSinceKey = keyframe ? 0 : s.framesSinceKey + 1;
        // Packet headers are part of the bitrate: take them off the frame's payload budget.
        const bytes = Math.round(keyframe ? s.keyBytes : s.deltaBytes);
        const sizes = splitFrame(bytes, this.options.maxVideoPayload);
        const min = s.layer ? MIN_SIMULCAST_PAYLOAD : MIN_PAYLOAD;
        const payloadSizes = sizes.map((size) => Math.max(min, size - RTP_HEADER_BYTES));
        const layer = s.layer ? { index, picture: s.picture, width: s.layer.width, height: s.layer.height } : undefined;
        payloadSizes.forEach((size, i) => out.push({ kind: 'video', size, frameStart: i === 0, keyframe, marker: i === payloadSizes.length - 1, layer }));
        s.picture++;
      }
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
  const layer = planned.kind === 'video' ? planned.layer : undefined;
  if (layer) {
    writeLayerPrefix(buf, planned, layer);
    writeHeader(buf.subarray(SIMULCAST_PREFIX - HEADER_OFFSET), planned, sender, seq, sendUs, 0x80 | layer.index);
    return;
  }
  if (planned.kind === 'video') {
    buf[0] = planned.frameStart ? 0x10 : 0x00; // VP8 descriptor: S bit on the first packet of a frame, partition 0
    buf[1] = planned.keyframe ? 0x00 : 0x01; // VP8 payload header: P bit clear on keyframes
    buf[2] = 0;
    buf[3] = 0;
  } else {
    buf.writeUInt32BE(0, 0);
  }
  writeHeader(buf, planned, sender, seq, sendUs, 0);
}

/** The bench header at HEADER_OFFSET of `buf`. */
function writeHeader(buf: Buffer, planned: PlannedPacket, sender: number, seq: number, sendUs: number, layerByte: number): void {
  buf.writeUInt16BE(BENCH_MAGIC, 4);
  buf[6] = KIND_CODE[planned.kind];
  buf[7] = layerByte;
  buf.writeUInt32BE(sender >>> 0, 8);
  buf.writeUInt32BE(seq >>> 0, 12);
  buf.writeDoubleBE(sendUs, 16);
}

/**
 * A simulcast layer's codec prefix (RFC 7741 §4.2, RFC 6386 §9.1), as Chromium writes it:
 *   0     X=1, S on a frame's first packet, partition 0
 *   1     I=1 L=1 T=1
 *   2..3  M=1 + 15-bit picture id
 *   4     TL0PICIDX
 *   5     TID 0, Y=1
 *   6..8  VP8 frame tag: P bit (bit 0 of byte 6) clear on a keyframe
 *   9..11 keyframe start code 9d 01 2a
 *   12..15 width, height (14 bits each, little-endian)
 * Bytes 9-15 are written on a keyframe's first packet only (zeros otherwise).
 */
function writeLayerPrefix(buf: Buffer, planned: PlannedPacket, layer: PlannedLayer): void {
  const picture = layer.picture & 0x7fff;
  buf[0] = planned.frameStart ? 0x90 : 0x80;
  buf[1] = 0xe0;
  buf.writeUInt16BE(0x8000 | picture, 2);
  buf[4] = layer.picture & 0xff;
  buf[5] = 0x20;
  buf.fill(0, 6, SIMULCAST_PREFIX);
  buf[6] = planned.keyframe ? 0x00 : 0x01;
  if (planned.keyframe && planned.frameStart) {
    buf[9] = 0x9d;
    buf[10] = 0x01;
    buf[11] = 0x2a;
    buf.writeUInt16LE(layer.width & 0x3fff, 12);
    buf.writeUInt16LE(layer.height & 0x3fff, 14);
  }
}

export interface ParsedHeader {
  kind: Kind;
  sender: number;
  seq: number;
  sendUs: number;
  /** Simulcast video: the layer it was sent on (lowest 0); undefined for one stream and audio. */
  layer?: number | undefined;
}

/** Reads the bench header of a payload (after a plain or a simulcast layer's codec prefix); undefined when it is not one of ours (e.g. padding-only packets). */
export function readPayload(buf: Uint8Array, offset = 0): ParsedHeader | undefined {
  if (buf.length < offset + MIN_PAYLOAD) return undefined;
  let view = Buffer.from(buf.buffer, buf.byteOffset + offset, buf.length - offset);
  if (view.readUInt16BE(4) !== BENCH_MAGIC) {
    // A simulcast layer's (X bit set in its VP8 descriptor): the header comes after its longer prefix.
    if (!(view[0]! & 0x80) || view.length < MIN_SIMULCAST_PAYLOAD) return undefined;
    view = view.subarray(SIMULCAST_PREFIX - HEADER_OFFSET);
    if (view.readUInt16BE(4) !== BENCH_MAGIC) return undefined;
  }
  const layerByte = view[7]!;
  return { kind: view[6] === 1 ? 'video' : 'audio', sender: view.readUInt32BE(8), seq: view.readUInt32BE(12), sendUs: view.readDoubleBE(16), layer: layerByte & 0x80 ? layerByte & 0x7f : undefined };
}
