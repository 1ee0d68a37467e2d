import { spawn, type ChildProcess } from 'node:child_process';
import { MediaError } from '../core/errors.js';
import { MediaElement, type MediaElementEvents } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { FfmpegRtpInput } from './FfmpegRtpInput.js';
import { probeHead, type ProbeResult } from './probe.js';
import { RecorderEndpoint } from './RecorderEndpoint.js';

export interface HttpPostEndpointOptions {
  /** Send VP8/Opus as they are (no transcoding) when the stream has them. Default false. */
  useEncodedMedia?: boolean;
  /** Bytes read from the start of a stream to learn its tracks. Default 262144 (256 KiB). */
  probeBytes?: number;
  /** Binaries. Default 'ffmpeg' and 'ffprobe' from PATH. */
  ffmpeg?: string;
  ffprobe?: string;
}

export interface PlayStreamOptions {
  /** Waiting this long for the next bytes of the stream ends it with an error (ms). Default 10000. */
  idleTimeoutMs?: number;
}

export interface HttpPostEndpointEvents extends MediaElementEvents {
  /** The media of a stream has been played to its end. */
  endOfStream: [];
  error: [error: MediaError];
}

/** A body that has been read in part: what is left to read. */
type Chunks = AsyncIterator<Buffer>;

/**
 * A source element fed with a media file sent to it as a stream (the body of an HTTP
 * POST): its start is probed for tracks, then FFmpeg reads the whole stream from its
 * stdin in real time and sends VP8 and Opus RTP like a PlayerEndpoint does. Reading
 * follows FFmpeg's pace (back-pressure), so a sender uploads at the media's rate.
 */
export class HttpPostEndpoint extends MediaElement<HttpPostEndpointEvents> {
  protected readonly forwardsInput = false;
  private readonly rtp: FfmpegRtpInput;
  private ffmpeg: ChildProcess | undefined;
  /** True from play() until FFmpeg has ended (the media may play on after the body). */
  private playing = false;
  private abortFeed: ((error: Error) => void) | undefined;

  constructor(
    pipeline: MediaPipeline,
    private readonly options: HttpPostEndpointOptions = {},
  ) {
    super('HttpPostEndpoint', pipeline);
    this.rtp = new FfmpegRtpInput(
      pipeline,
      () => this.playing,
      (stream, packet, now) => {
        this.lastIn[stream.kind] = now;
        this.emitRtp(stream, packet, now);
      },
    );
  }

  /** Whether a stream is being played (a second one is refused until it ends). */
  get busy(): boolean {
    return this.playing;
  }

  /**
   * Plays a WebM/Matroska stream (or an MP4 whose index comes first) into the pipeline.
   * Resolves once `body` has been read and played to its end ('endOfStream'). Rejects,
   * with an 'error' event, when the stream cannot be played, stalls, or is cut; media
   * already received is played out first.
   * The caller owns `body` (and ends it after a rejection).
   */
  async play(body: AsyncIterable<Buffer>, options: PlayStreamOptions = {}): Promise<void> {
    this.assertOpen();
    if (this.playing) throw new MediaError('INVALID_STATE', `${this.id} is already receiving a stream`);
    this.playing = true;
    const idleMs = options.idleTimeoutMs ?? 10_000;
    const chunks = body[Symbol.asyncIterator]();
    let head: { bytes: Buffer; ended: boolean };
    let info: ProbeResult;
    try {
      head = await this.readHead(chunks, idleMs);
      info = await probeHead(head.bytes, { ffprobe: this.options.ffprobe }).catch((error: unknown) => {
        throw new MediaError('INVALID_ARGUMENT', `the stream posted to ${this.id} is not playable media: ${(error as Error).message.split('\n')[0] ?? ''}`);
      });
      if (!info.streams.some((s) => s.kind === 'audio' || s.kind === 'video')) {
        throw new MediaError('INVALID_ARGUMENT', `the stream posted to ${this.id} has neither audio nor video`);
      }
      this.assertOpen();
      await this.rtp.open(info);
      this.assertOpen();
    } catch (error) {
      this.playing = false;
      throw this.fail(error instanceof MediaError ? error : new MediaError('INVALID_STATE', (error as Error).message));
    }
    const ffmpeg = this.launch(info);
    const detach: Array<() => void> = [];
    const played = new Promise<void>((resolve, reject) => {
      detach.push(this.subscribe('endOfStream', resolve));
      detach.push(this.subscribe('error', reject));
      detach.push(this.subscribe('closed', () => reject(new MediaError('OBJECT_CLOSED', `${this.id} was released while playing`))));
    }).finally(() => detach.forEach((d) => d()));
    try {
      await this.feed(ffmpeg, head.bytes, head.ended ? undefined : chunks, idleMs);
    } catch (error) {
      ffmpeg.stdin?.end();
      played.catch(() => undefined);
      throw this.fail(error instanceof MediaError ? error : new MediaError('INVALID_STATE', `the stream posted to ${this.id} broke off: ${(error as Error).message}`));
    }
    await played;
  }

  acceptRtp(): void {
    // A source only: what is connected into it is ignored.
  }

  override requestKeyframe(): void {
    // FFmpeg cannot be asked for a keyframe: it makes one every second.
  }

  protected onClose(): void {
    this.disconnectAll();
    this.abortFeed?.(new Error(`${this.id} closed`));
    this.ffmpeg?.kill('SIGKILL');
    this.ffmpeg = undefined;
    this.rtp.close();
    this.playing = false;
  }

  /** The first `probeBytes` of the stream (or all of it, if shorter). */
  private async readHead(chunks: Chunks, idleMs: number): Promise<{ bytes: Buffer; ended: boolean }> {
    const want = this.options.probeBytes ?? 256 * 1024;
    const parts: Buffer[] = [];
    let size = 0;
    while (size < want) {
      const next = await this.next(chunks, idleMs);
      if (next.done) return { bytes: Buffer.concat(parts), ended: true };
      parts.push(next.value);
      size += next.value.length;
    }
    return { bytes: Buffer.concat(parts), ended: false };
  }

  /** The next chunk, or an error when none comes within `idleMs` (a stalled sender). */
  private next(chunks: Chunks, idleMs: number): Promise<IteratorResult<Buffer>> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new MediaError('INVALID_STATE', `the stream posted to ${this.id} sent nothing for ${idleMs} ms`)), idleMs);
    });
    const aborted = new Promise<never>((_resolve, reject) => {
      this.abortFeed = reject;
    });
    return Promise.race([chunks.next(), stalled, aborted]).finally(() => {
      clearTimeout(timer);
      this.abortFeed = undefined;
    });
  }

  private launch(info: ProbeResult): ChildProcess {
    const args = ['-hide_banner', '-nostats', '-loglevel', 'error', '-re', '-i', 'pipe:0', ...this.rtp.outputArgs(info, this.options.useEncodedMedia ?? false)];
    const child = spawn(this.options.ffmpeg ?? 'ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.ffmpeg = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-2000);
    });
    child.stdin?.on('error', () => undefined); // EPIPE when FFmpeg has stopped: feed() sees it
    child.once('error', (error) => this.onEnded(child, undefined, error.message));
    child.once('exit', (code) => this.onEnded(child, code, stderr.trim()));
    return child;
  }

  private async feed(child: ChildProcess, head: Buffer, rest: Chunks | undefined, idleMs: number): Promise<void> {
    const stdin = child.stdin!;
    const write = async (chunk: Buffer): Promise<void> => {
      if (stdin.destroyed || child.exitCode !== null) throw new Error('FFmpeg stopped reading');
      if (stdin.write(chunk)) return;
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          stdin.off('drain', done);
          child.off('exit', gone);
          resolve();
        };
        const gone = (): void => {
          stdin.off('drain', done);
          reject(new Error('FFmpeg stopped reading'));
        };
        stdin.once('drain', done);
        child.once('exit', gone);
      });
    };
    await write(head);
    if (rest) {
      for (;;) {
        const next = await this.next(rest, idleMs);
        if (next.done) break;
        await write(next.value);
      }
    }
    stdin.end();
  }

  private onEnded(child: ChildProcess, code: number | null | undefined, reason: string): void {
    if (this.ffmpeg !== child) return;
    this.ffmpeg = undefined;
    this.playing = false;
    if (this.closed) return;
    if (code === 0) {
      this.emit('endOfStream');
      for (const { sink } of this.getSinkConnections()) if (sink instanceof RecorderEndpoint) sink.sourceEnded();
    } else {
      this.fail(new MediaError('INVALID_STATE', `playing the stream posted to ${this.id} failed: ${reason || `FFmpeg exited with ${String(code)}`}`));
    }
  }

  private fail(error: MediaError): MediaError {
    this.emit('error', error);
    return error;
  }
}
