import { fileURLToPath } from 'node:url';
import { MediaError } from '../core/errors.js';
import { MediaElement, type MediaElementEvents } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { FfmpegRtpInput } from './FfmpegRtpInput.js';
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
  private state: UriEndpointState = 'STOP';
  private process: SupervisedProcess | undefined;
  private readonly rtp: FfmpegRtpInput;
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
    this.uri = options.uri;
    this.input = input;
    this.rtp = new FfmpegRtpInput(
      pipeline,
      () => this.state === 'START',
      (stream, packet, now) => {
        this.lastIn[stream.kind] = now;
        this.emitRtp(stream, packet, now);
      },
    );
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
    await this.rtp.open(info);
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
    this.rtp.close();
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
    args.push('-i', this.input, ...this.rtp.outputArgs(info, this.options.useEncodedMedia ?? false));
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
