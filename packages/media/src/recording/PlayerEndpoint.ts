import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { RtpPacket } from 'werift';
import { MediaError } from '../core/errors.js';
import { MediaElement, type MediaElementEvents } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { CodecInfo, MediaKind } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { probeMedia, type ProbeResult } from './probe.js';
import { RecorderEndpoint, type UriEndpointState } from './RecorderEndpoint.js';
import { SupervisedProcess } from './SupervisedProcess.js';

export interface PlayerEndpointOptions {
  /** `file://` path, or an `http(s)://` / `rtsp://` URL that FFmpeg can read. */
  uri: string;
  /** Send VP8/Opus from the file as they are (no transcoding) when the file has them. Default false. */
  useEncodedMedia?: boolean;
  /** Buffering of network sources (ms), as Kurento's networkCache. Default 2000. */
  networkCache?: number;
  /** Binaries. Default 'ffmpeg' and 'ffprobe' from PATH. */
  ffmpeg?: string;
  ffprobe?: string;
  /** Restarts of a crashed player process (at the position reached) before giving up. Default 3. */
  maxRestarts?: number;
}

export interface PlayerEndpointEvents extends MediaElementEvents {
  endOfStream: [];
  stateChanged: [state: UriEndpointState];
  error: [error: MediaError];
}

/** Kurento's VideoInfo, in milliseconds. */
export interface VideoInfo {
  isSeekable: boolean;
  seekableInit: number;
  seekableEnd: number;
  duration: number;
}

const VP8: CodecInfo = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 };
const OPUS: CodecInfo = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 };
const CODECS: Record<MediaKind, CodecInfo> = { video: VP8, audio: OPUS };

/**
 * A source element that plays a file or URL into the pipeline: a supervised FFmpeg
 * process reads it in real time, encodes VP8 and Opus (a keyframe every second, since
 * it cannot hear keyframe requests) and sends RTP to 127.0.0.1, where the player turns
 * it into InboundStreams for its sinks. Pause, seek and crash recovery restart FFmpeg
 * at the position reached.
 */
export class PlayerEndpoint extends MediaElement<PlayerEndpointEvents> {
  protected readonly forwardsInput = false;
  readonly uri: string;
  private readonly input: string;
  private readonly pipeline: MediaPipeline;
  private state: UriEndpointState = 'STOP';
  private process: SupervisedProcess | undefined;
  private readonly sockets = new Map<MediaKind, { socket: Socket; port: number }>();
  private readonly inbound = new Map<number, InboundStream>();
  /** SSRCs of the current FFmpeg run: packets of a killed run still in flight are dropped. */
  private readonly currentSsrc = new Map<MediaKind, number>();
  private info: ProbeResult | undefined;
  /** Position (ms) at which the current process started, and when it started (performance.now()). */
  private offsetMs = 0;
  private startedAt: number | undefined;

  constructor(
    pipeline: MediaPipeline,
    private readonly options: PlayerEndpointOptions,
  ) {
    const input = inputOf(options.uri);
    super('PlayerEndpoint', pipeline);
    this.pipeline = pipeline;
    this.uri = options.uri;
    this.input = input;
  }

  getState(): UriEndpointState {
    return this.state;
  }

  get processId(): number | undefined {
    return this.process?.pid;
  }

  /** Starts (or resumes) playing. Rejects when the URI cannot be opened. */
  async play(): Promise<void> {
    this.assertOpen();
    if (this.state === 'START') return;
    const info = await this.probe();
    if (!info.streams.some((s) => s.kind === 'audio' || s.kind === 'video')) {
      throw this.fail(new MediaError('INVALID_ARGUMENT', `${this.uri} has neither audio nor video`));
    }
    await this.openSockets(info);
    this.assertOpen();
    this.setState('START');
    this.launch();
  }

  /** Stops sending, keeping the position; play() resumes there. */
  pause(): void {
    if (this.state !== 'START') return;
    this.offsetMs = this.getPosition();
    this.startedAt = undefined;
    this.killProcess();
    this.setState('PAUSE');
  }

  /** Stops and goes back to the beginning. */
  stop(): void {
    if (this.state === 'STOP') return;
    this.killProcess();
    this.offsetMs = 0;
    this.startedAt = undefined;
    this.setState('STOP');
  }

  /** Playing position in milliseconds. */
  getPosition(): number {
    const elapsed = this.startedAt === undefined ? 0 : performance.now() - this.startedAt;
    const position = Math.round(this.offsetMs + elapsed);
    const duration = this.info?.duration;
    return duration === undefined ? position : Math.min(position, Math.round(duration * 1000));
  }

  /** Seeks to `ms`; playing continues from there (FFmpeg restarts at that position). */
  async setPosition(ms: number): Promise<void> {
    this.assertOpen();
    const info = await this.getVideoInfo();
    if (!info.isSeekable) throw new MediaError('INVALID_STATE', `${this.uri} is not seekable`);
    if (!Number.isFinite(ms) || ms < 0 || ms > info.seekableEnd) {
      throw new MediaError('INVALID_ARGUMENT', `position ${ms} ms is outside 0-${info.seekableEnd} ms`);
    }
    this.offsetMs = ms;
    if (this.state === 'START') {
      this.killProcess();
      this.launch();
    } else {
      this.startedAt = undefined;
    }
  }

  async getVideoInfo(): Promise<VideoInfo> {
    const info = await this.probe();
    const duration = info.duration === undefined ? 0 : Math.round(info.duration * 1000);
    const live = this.input.startsWith('rtsp:');
    return { isSeekable: !live && duration > 0, seekableInit: 0, seekableEnd: live ? 0 : duration, duration };
  }

  acceptRtp(): void {
    // A player is a source only: what is connected into it is ignored.
  }

  override requestKeyframe(): void {
    // FFmpeg cannot be asked for a keyframe: it makes one every second.
  }

  protected onClose(): void {
    this.disconnectAll();
    this.killProcess();
    for (const s of this.inbound.values()) s.close();
    this.inbound.clear();
    for (const { socket, port } of this.sockets.values()) {
      socket.close();
      this.pipeline.ports.release(port, 1);
    }
    this.sockets.clear();
    this.state = 'STOP';
  }

  private async probe(): Promise<ProbeResult> {
    if (this.info) return this.info;
    try {
      this.info = await probeMedia(this.input, { ffprobe: this.options.ffprobe, timeoutMs: Math.max(5000, this.options.networkCache ?? 2000) * 3 });
      return this.info;
    } catch (error) {
      throw this.fail(new MediaError('INVALID_ARGUMENT', `cannot play ${this.uri}: ${(error as Error).message}`));
    }
  }

  private launch(): void {
    const proc = new SupervisedProcess({
      name: `player ${this.id}`,
      command: this.options.ffmpeg ?? 'ffmpeg',
      maxRestarts: this.options.maxRestarts ?? 3,
      args: () => this.ffmpegArgs(),
    });
    this.process = proc;
    proc.on('started', () => {
      this.startedAt = performance.now();
    });
    proc.on('restarting', (reason) => {
      // Resume where it was: the position keeps counting from the last start.
      this.offsetMs = this.getPosition();
      this.startedAt = undefined;
      console.error(`player ${this.id}: ${reason}; restarting at ${this.offsetMs} ms`);
    });
    proc.on('ended', () => this.onEnded());
    proc.on('failed', (error) => {
      if (this.process !== proc) return;
      this.process = undefined;
      this.offsetMs = this.getPosition();
      this.startedAt = undefined;
      this.setState('STOP');
      this.fail(new MediaError('INVALID_STATE', `playing stopped: ${error.message}`));
    });
    proc.start();
  }

  private ffmpegArgs(): string[] {
    const info = this.info!;
    const args = ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'error'];
    const live = this.input.startsWith('rtsp:');
    if (!live) args.push('-re');
    if (this.offsetMs > 0) args.push('-ss', (this.offsetMs / 1000).toFixed(3));
    if (live) args.push('-rtsp_transport', 'tcp');
    args.push('-i', this.input);
    const encoded = this.options.useEncodedMedia ?? false;
    for (const [kind, { port }] of this.sockets) {
      const stream = info.streams.find((s) => s.kind === kind)!;
      // FFmpeg takes the SSRC as a signed 32-bit option.
      const ssrcValue = randomBytes(4).readUInt32BE(0) & 0x7fffffff || 1;
      this.currentSsrc.set(kind, ssrcValue);
      const ssrc = String(ssrcValue);
      if (kind === 'video') {
        args.push('-map', '0:v:0', '-an');
        if (encoded && stream.codec === 'vp8') args.push('-c:v', 'copy');
        else args.push('-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '800k', '-pix_fmt', 'yuv420p', '-force_key_frames', 'expr:gte(t,n_forced*1)');
      } else {
        args.push('-map', '0:a:0', '-vn');
        if (encoded && stream.codec === 'opus') args.push('-c:a', 'copy');
        else args.push('-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k');
      }
      args.push('-payload_type', String(CODECS[kind].payloadType), '-ssrc', ssrc, '-f', 'rtp', `rtp://127.0.0.1:${String(port)}?rtcpport=${String(port)}&pkt_size=1200`);
    }
    return args;
  }

  private onEnded(): void {
    this.process = undefined;
    this.offsetMs = 0;
    this.startedAt = undefined;
    this.setState('STOP');
    this.emit('endOfStream');
    for (const { sink } of this.getSinkConnections()) if (sink instanceof RecorderEndpoint) sink.sourceEnded();
  }

  private killProcess(): void {
    const proc = this.process;
    this.process = undefined;
    proc?.close();
  }

  private async openSockets(info: ProbeResult): Promise<void> {
    for (const kind of ['video', 'audio'] as const) {
      if (this.sockets.has(kind) || !info.streams.some((s) => s.kind === kind)) continue;
      for (let attempt = 0; ; attempt++) {
        const port = this.pipeline.ports.reserve(1);
        const socket = createSocket('udp4');
        try {
          await new Promise<void>((resolve, reject) => {
            socket.once('error', reject);
            socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => {
              socket.off('error', reject);
              resolve();
            });
          });
        } catch (error) {
          socket.close();
          this.pipeline.ports.release(port, 1);
          if (attempt < 4) continue;
          throw new MediaError('NO_PORT_AVAILABLE', `no free UDP port for the player: ${(error as Error).message}`);
        }
        socket.on('message', (data, from) => {
          if (from.address === '127.0.0.1') this.onDatagram(kind, data);
        });
        socket.on('error', () => undefined);
        this.sockets.set(kind, { socket, port });
        break;
      }
    }
  }

  private onDatagram(kind: MediaKind, data: Buffer): void {
    if (this.closed || this.state !== 'START' || data.length < 12 || data[0]! >> 6 !== 2) return;
    const second = data[1]!;
    if (second >= 200 && second <= 204) return; // FFmpeg's RTCP, on the same port
    let packet: RtpPacket;
    try {
      packet = RtpPacket.deSerialize(data);
    } catch {
      return;
    }
    const ssrc = packet.header.ssrc;
    if (this.currentSsrc.get(kind) !== ssrc) return;
    let stream = this.inbound.get(ssrc);
    if (!stream) {
      // A new FFmpeg run (play after pause, seek, restart) sends a new SSRC: sinks switch
      // over seamlessly. Older streams are dropped.
      for (const [old, s] of this.inbound) {
        if (s.kind === kind) {
          s.close();
          this.inbound.delete(old);
        }
      }
      stream = new InboundStream(kind, ssrc, CODECS[kind], () => undefined, {
        retransmissionMs: this.pipeline.config.retransmissionMs,
        keyframeIntervalMs: this.pipeline.config.keyframeIntervalMs,
      });
      this.inbound.set(ssrc, stream);
    }
    const now = performance.now();
    if (!stream.receive(packet, now)) return;
    this.lastIn[kind] = now;
    this.emitRtp(stream, packet, now);
  }

  private setState(state: UriEndpointState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('stateChanged', state);
  }

  private fail(error: MediaError): MediaError {
    this.emit('error', error);
    return error;
  }
}

/** What FFmpeg opens for a URI: a local path for file://, the URL for http(s) and rtsp. */
function inputOf(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new MediaError('INVALID_ARGUMENT', `'${uri}' is not a URI (file:///path, http://..., rtsp://...)`);
  }
  if (url.protocol === 'file:') return fileURLToPath(url);
  if (url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'rtsp:') return uri;
  throw new MediaError('INVALID_ARGUMENT', `'${uri}': a player takes file://, http(s):// or rtsp:// URIs`);
}
