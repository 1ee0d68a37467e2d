import type { Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { RtpPacket, type RtpHeader } from 'werift';
import { MediaError } from '../core/errors.js';
import { MediaElement, type MediaElementEvents } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { MediaKind } from '../core/types.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import { OutboundStream } from '../rtp/OutboundStream.js';
import { concatSegments, segmentPath } from './segments.js';
import { isMediaProfile, profileSpec, recorderPipeline, type MediaProfile, type ProfileSpec } from './profiles.js';
import { SupervisedProcess } from './SupervisedProcess.js';
import { CONTAINER_MIME, UploadError, uploadFile } from './upload.js';
import { checkWritable, recordingTargetOf } from './uris.js';

/** Kurento's UriEndpointState. */
export type UriEndpointState = 'STOP' | 'START' | 'PAUSE';

export interface RecorderEndpointOptions {
  /**
   * `file://` URI of the file to write, or an `http(s)://` URL the finished recording
   * is POSTed to (see uploadFile); until then it is written under `spoolDir`.
   */
  uri: string;
  /**
   * Folder of the local copies of recordings to HTTP URLs: written there, uploaded at
   * stop, removed once uploaded and kept when the upload fails. Default
   * `<os.tmpdir()>/roundtable-recordings`.
   */
  spoolDir?: string;
  /** An upload that makes no progress for this long fails (ms). Default 30000. */
  uploadIdleTimeoutMs?: number;
  /** Container and kinds. Default 'WEBM' (VP8 + Opus). */
  mediaProfile?: MediaProfile | string;
  /**
   * With video in the profile, audio waits for the first video keyframe, so the file (and
   * each segment) opens on a picture with audio and video together; and the file's
   * timeline is the streams' RTP timestamps (not arrival times, which a busy engine
   * bunches), which needs the streams to start together. Default false (as Kurento:
   * audio from the start, video from its first keyframe, arrival-time timeline); the
   * product's call and room recordings set it.
   */
  startWithPicture?: boolean;
  /** Stop when the source reaches its end (a PlayerEndpoint's EndOfStream). Default false. */
  stopOnEndOfStream?: boolean;
  /** gst-launch-1.0 binary. Default 'gst-launch-1.0' from PATH. */
  gstLaunch?: string;
  /** Restarts of a crashed recorder process before giving up. Default 3. */
  maxRestarts?: number;
  /** How long the recorder process starts before record() fails (ms). Default 10000. */
  startTimeoutMs?: number;
}

export interface RecorderEndpointEvents extends MediaElementEvents {
  /** Media is being written. */
  recording: [];
  /**
   * The first media of the file (or of a new segment after a process restart) went to
   * the recorder process, at `at` (performance clock, ms): the file's timeline starts
   * here (with startWithPicture, at a video keyframe).
   */
  writing: [at: number];
  paused: [];
  /** The file is complete (finalised, segments joined; uploaded, or its upload failed) after stop(). */
  stopped: [];
  stateChanged: [state: UriEndpointState];
  /** Something failed: the file cannot be written, the process keeps crashing. */
  error: [error: MediaError];
}

/**
 * Writes what its source sends into a file, without re-encoding: the forwarded RTP
 * goes over 127.0.0.1 to a supervised gst-launch-1.0 process that depayloads and
 * muxes it (WebM/Matroska/MP4). When the process crashes it is restarted into a new
 * segment file; stop() joins the segments into the one file named by the URI.
 */
export class RecorderEndpoint extends MediaElement<RecorderEndpointEvents> {
  protected readonly forwardsInput = false;
  readonly uri: string;
  readonly profile: MediaProfile;
  readonly stopOnEndOfStream: boolean;
  private readonly spec: ProfileSpec;
  /** The file the recorder process writes: the target file, or the local copy of an upload. */
  private readonly path: string;
  /** Where the finished file is POSTed, for http(s) URIs. */
  private readonly uploadUrl: string | undefined;
  private readonly pipeline: MediaPipeline;
  private state: UriEndpointState = 'STOP';
  private process: SupervisedProcess | undefined;
  private socket: Socket | undefined;
  private ports: Partial<Record<MediaKind, number>> = {};
  private sendPort: number | undefined;
  private readonly outbound = new Map<MediaKind, OutboundStream>();
  /** True while the current process is up and takes media. */
  private ready = false;
  /** The current process has been sent media (the `writing` event was emitted). */
  private written = false;
  private segments: string[] = [];
  /** A run of the process ended without finishing its segment (killed, crashed): the file needs a remux. */
  private cut = false;
  private finishing: Promise<void> = Promise.resolve();

  constructor(
    pipeline: MediaPipeline,
    private readonly options: RecorderEndpointOptions,
  ) {
    const profile = options.mediaProfile ?? 'WEBM';
    if (!isMediaProfile(profile)) throw new MediaError('INVALID_ARGUMENT', `unknown media profile '${profile}'`);
    const target = recordingTargetOf(options.uri);
    super('RecorderEndpoint', pipeline);
    this.pipeline = pipeline;
    this.uri = options.uri;
    this.profile = profile;
    this.spec = profileSpec(profile);
    if (target.kind === 'file') {
      this.path = target.path;
      this.uploadUrl = undefined;
    } else {
      this.uploadUrl = target.url;
      this.path = spoolPath(options.spoolDir ?? join(tmpdir(), 'roundtable-recordings'), this.id, target.url, this.spec.extension);
    }
    this.stopOnEndOfStream = options.stopOnEndOfStream ?? false;
  }

  getState(): UriEndpointState {
    return this.state;
  }

  /** Process id of the recorder process, while one runs. */
  get processId(): number | undefined {
    return this.process?.pid;
  }

  /** Starts (or resumes after pause()) recording. Rejects when the file cannot be written. */
  async record(): Promise<void> {
    this.assertOpen();
    if (this.state === 'START') return;
    if (this.state === 'PAUSE') {
      this.setState('START');
      this.emit('recording');
      return;
    }
    await this.finishing;
    try {
      if (this.uploadUrl) await mkdir(join(this.path, '..'), { recursive: true });
      await checkWritable(this.path);
    } catch (error) {
      throw this.fail(error instanceof MediaError ? error : new MediaError('INVALID_ARGUMENT', String(error)));
    }
    this.segments = [];
    this.cut = false;
    this.setState('START');
    try {
      await this.startProcess();
    } catch (error) {
      this.setState('STOP');
      this.release();
      throw this.fail(error instanceof MediaError ? error : new MediaError('INVALID_STATE', (error as Error).message));
    }
    this.emit('recording');
  }

  /** Stops writing media; record() resumes in the same file. The paused time stays in the file's timeline. */
  pause(): void {
    this.assertOpen();
    if (this.state !== 'START') return;
    for (const out of this.outbound.values()) out.detach();
    this.setState('PAUSE');
    this.emit('paused');
  }

  /** Stops recording; the file is finalised in the background ('stopped' when done). */
  stop(): void {
    if (this.state === 'STOP') return;
    this.setState('STOP');
    this.finishing = this.finish();
  }

  /** Stops recording and resolves once the file is complete. */
  async stopAndWait(): Promise<void> {
    this.stop();
    await this.finishing;
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed || this.state !== 'START' || !this.ready) return;
    this.lastIn[stream.kind] = now;
    const out = this.outbound.get(stream.kind);
    if (!out) return;
    // startWithPicture: audio waits for the first video keyframe (the video stream drops until it comes).
    if (stream.kind === 'audio' && this.options.startWithPicture && this.spec.kinds.includes('video') && (this.outbound.get('video')?.stats.packets ?? 0) === 0) return;
    const before = out.stats.packets;
    out.forward(stream, packet, now);
    this.lastOut[stream.kind] = now;
    if (!this.written && out.stats.packets > before) {
      this.written = true;
      this.emit('writing', now);
    }
  }

  /** Called by a source that reached its end (PlayerEndpoint). */
  sourceEnded(): void {
    if (this.stopOnEndOfStream) this.stop();
  }

  protected onClose(): void {
    this.disconnectAll();
    // The file is still finalised (gracefully, bounded by the process stop timeout).
    if (this.state !== 'STOP') {
      this.state = 'STOP';
      this.finishing = this.finish();
    } else {
      this.process?.close();
    }
  }

  private async startProcess(): Promise<void> {
    this.socket = await this.bindSender();
    for (const kind of this.spec.kinds) this.ports[kind] = await this.pipeline.ports.reserveFree(1, 'the recorder');
    const proc = new SupervisedProcess({
      name: `recorder ${this.id}`,
      command: this.options.gstLaunch ?? 'gst-launch-1.0',
      maxRestarts: this.options.maxRestarts ?? 3,
      args: (run) => {
        // A restart may follow a failed bind (another process took a port): new ports.
        if (run > 1) this.renewPorts();
        const path = segmentPath(this.path, run);
        this.segments.push(path);
        return recorderPipeline(this.spec, this.ports, path, { rtpTimeline: this.options.startWithPicture ?? false });
      },
    });
    this.process = proc;
    proc.on('output', (line) => {
      if (/Setting pipeline to PLAYING/.test(line)) this.onProcessReady();
    });
    proc.on('restarting', (reason) => {
      this.ready = false;
      this.cut = true;
      console.error(`recorder ${this.id}: ${reason}; restarting into a new segment`);
    });
    proc.on('failed', (error) => {
      this.ready = false;
      this.cut = true;
      if (this.state !== 'STOP') {
        this.fail(new MediaError('INVALID_STATE', `recording stopped: ${error.message}`));
        this.stop();
      }
    });
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new MediaError('INVALID_STATE', `recorder process did not start: ${proc.stderr}`)), this.options.startTimeoutMs ?? 10_000);
      proc.once('output', function onLine(this: void, line: string) {
        if (/Setting pipeline to PLAYING/.test(line)) {
          clearTimeout(timer);
          resolve();
        } else {
          proc.once('output', onLine);
        }
      });
      proc.once('failed', (error) => {
        clearTimeout(timer);
        reject(new MediaError('INVALID_STATE', error.message));
      });
    });
    proc.start();
    await started;
  }

  /** A (re)started process takes media: fresh outbound streams, so it starts on a keyframe. */
  private onProcessReady(): void {
    for (const out of this.outbound.values()) out.detach();
    this.outbound.clear();
    for (const kind of this.spec.kinds) {
      const codec = this.spec.codecs[kind]!;
      const port = this.ports[kind]!;
      const transport = {
        sendRtp: (payload: Buffer, header: RtpHeader) => this.send(new RtpPacket(header, payload).serialize(), port),
        // RTCP would reach gst's RTP-only udpsrc: not sent.
        sendRtcp: () => undefined,
      };
      this.outbound.set(kind, new OutboundStream(kind, randomBytes(4).readUInt32BE(0) || 1, [codec], transport, () => []));
    }
    this.ready = true;
    this.written = false;
    this.requestKeyframe('video');
  }

  private async finish(): Promise<void> {
    this.ready = false;
    for (const out of this.outbound.values()) out.detach();
    this.outbound.clear();
    const proc = this.process;
    this.process = undefined;
    if (proc) {
      await proc.stop();
      proc.close();
      // Killed after the grace time, or by someone else while stopping: not finalised.
      if (proc.lastExit && proc.lastExit.code !== 0) this.cut = true;
    }
    this.release();
    try {
      await concatSegments(this.segments, this.path, { remux: this.cut });
    } catch (error) {
      this.fail(new MediaError('INVALID_STATE', `joining the segments of ${this.path} failed: ${(error as Error).message}`));
    }
    if (this.uploadUrl) await this.upload(this.uploadUrl);
    this.emit('stopped');
  }

  /** POSTs the finished local copy; removes it once the server took it, keeps it (and says where) when not. */
  private async upload(url: string): Promise<void> {
    try {
      await uploadFile(this.path, url, { contentType: CONTAINER_MIME[this.spec.container], idleTimeoutMs: this.options.uploadIdleTimeoutMs });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const failed = new UploadError(`${reason}; the recording is kept at ${this.path}`, this.path, error instanceof UploadError ? error.status : undefined);
      console.error(JSON.stringify({ event: 'recordingUploadFailed', recorderId: this.id, url, localCopy: this.path, reason }));
      this.fail(failed);
      return;
    }
    await unlink(this.path).catch(() => undefined);
  }

  private release(): void {
    if (this.socket) {
      try {
        this.socket.close();
      } catch {
        // Already closed.
      }
    }
    this.socket = undefined;
    if (this.sendPort !== undefined) this.pipeline.ports.release(this.sendPort, 1);
    this.sendPort = undefined;
    for (const port of Object.values(this.ports)) this.pipeline.ports.release(port, 1);
    this.ports = {};
  }

  private renewPorts(): void {
    for (const kind of this.spec.kinds) {
      const old = this.ports[kind];
      this.ports[kind] = this.pipeline.ports.reserve(1);
      if (old !== undefined) this.pipeline.ports.release(old, 1);
    }
  }

  private async bindSender(): Promise<Socket> {
    const { socket, port } = await this.pipeline.ports.bindLoopback('the recorder');
    socket.on('error', () => undefined); // ICMP unreachable while the process restarts
    this.sendPort = port;
    return socket;
  }

  private send(data: Buffer, port: number): void {
    this.socket?.send(data, port, '127.0.0.1', () => undefined);
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

/** The local copy of a recording to `url`: `<dir>/<element id>-<last path segment of the URL>`. */
function spoolPath(dir: string, id: string, url: string, extension: string): string {
  const last = basename(decodeURIComponent(new URL(url).pathname)).replace(/[^A-Za-z0-9._-]/g, '_');
  const name = last === '' ? `recording.${extension}` : extname(last) === '' ? `${last}.${extension}` : last;
  return join(dir, `${id.replace(/[^A-Za-z0-9_-]/g, '_')}-${name}`);
}
