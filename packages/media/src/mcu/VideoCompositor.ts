import type { ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { RtpHeader, RtpPacket } from 'werift';
import type { PortAllocator } from '../core/PortAllocator.js';
import type { CodecInfo } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { isVp8Keyframe } from '../rtp/keyframe.js';
import { StreamRewriter } from '../rtp/StreamRewriter.js';
import { spawnOwnedChild, stopChild } from './ChildProcesses.js';
import { compositorPipeline, INPUT_LATENCY_MS, MIX_LATENCY_MS } from './gstPipeline.js';
import { gridLayout, MAX_TILES } from './gridLayout.js';

export interface VideoCompositorOptions {
  /** Output width in pixels. Default 640. */
  width?: number;
  /** Output height in pixels. Default 480. */
  height?: number;
  /** Output frames per second. Default 15. */
  frameRate?: number;
  /** VP8 target bitrate of the composed stream, bits/s. Default 800000. */
  bitrate?: number;
  /**
   * Forced keyframe interval, ms (a safety net: receivers' keyframe requests reach the
   * encoder as RTCP PLI). Default 3000.
   */
  keyframeIntervalMs?: number;
  /** The gst-launch-1.0 executable. Default 'gst-launch-1.0' (Debian's gstreamer1.0-tools). */
  gstLaunch?: string;
  /** Delay that coalesces layout changes before the child restarts, ms. Default 250. */
  relayoutDelayMs?: number;
  /** A child that sends nothing this long after its start is killed and started again, ms. Default 10000. */
  startTimeoutMs?: number;
  /**
   * How long a new child's grid is held back (not sent) while some tile has not shown a
   * picture yet, ms after its first output. A grid goes out once every tile's keyframe has
   * reached the child and been decoded, or after this time (an input that sends no
   * keyframe must not hold the grid for ever). Default 3000.
   */
  pictureTimeoutMs?: number;
}

export interface VideoCompositorSink<K> {
  /** One RTP packet of the composed stream. */
  sendVideo(stream: InboundStream, packet: RtpPacket, now: number): void;
  /** Ask whoever feeds `member` for a keyframe (the decoder needs one to start). */
  requestInputKeyframe(member: K): void;
  /** Something went wrong with the child (it is restarted). */
  onChildError(message: string): void;
}

export interface VideoCompositorStats {
  /** Children started (the first one, layout changes and restarts after a crash). */
  starts: number;
  /** Children that exited without being asked to, or hung at start (see startTimeoutMs). */
  crashes: number;
  /** Keyframe requests (PLI) sent to the encoder. */
  keyframeRequests: number;
  /** Input packets not sent to the child (not VP8, waiting for a keyframe, not in the layout). */
  inputDropped: number;
  outputPackets: number;
  /** Output packets held back: the child's grid had no picture in some tile yet. */
  outputHeld: number;
  /** Grids that went out after pictureTimeoutMs with a tile still waiting for its keyframe. */
  pictureTimeouts: number;
}

interface Member {
  rewriter: StreamRewriter<InboundStream>;
  /** Fixed SSRC of this member's leg to the child, whatever source feeds it. */
  ssrc: number;
}

interface Generation {
  child: ChildProcess;
  tiles: unknown[];
  /** The child's RTCP port; the tiles' input ports follow it. */
  firstPort: number;
  ssrc: number;
  stream: InboundStream;
  /** The child sends output, so its inputs are bound: forward to it from now on. */
  ready: boolean;
  /** Tiles whose keyframe went to this child (their decoder has started). */
  keyframed: Set<unknown>;
  /** RTP timestamp of the child's newest output packet. */
  lastTs: number;
  /** Output RTP timestamp at which the last tile's keyframe went in (picture follows the child's latency later). */
  allKeyframedTs: number | undefined;
  /** Wall time of the child's first output (performance clock, ms). */
  readyAt: number;
  /** Every tile shows a picture (or pictureTimeoutMs passed): its grid may go out. */
  picture: boolean;
  stopping: boolean;
  stderr: string[];
}

const PAYLOAD_TYPE = 96;
const VP8: CodecInfo = { mimeType: 'video/VP8', payloadType: PAYLOAD_TYPE, clockRate: 90000 };
const MAX_BACKOFF_MS = 5000;
/** SSRC our PLIs to the child come from (any value the child does not use). */
const PLI_SENDER_SSRC = 0x52544d43;
/**
 * Media time (90 kHz) from a tile's keyframe entering the child to its picture in the
 * grid: the grid's latency (its inputs' jitter buffer and the compositor's wait for late
 * tiles) and 800 ms for decoding and a frame or two of the compositor (a child starved
 * of CPU took more than 400 ms: measured 0.33 s of black with Chromium at load 34). Counted in the
 * child's own output timestamps, so a child slowed down by a busy machine is given the
 * same media time, not less.
 */
const PICTURE_DELAY_TICKS = 90 * (INPUT_LATENCY_MS + MIX_LATENCY_MS + 800);

const randomSsrc = (): number => (Math.floor(Math.random() * 0xfffffffe) + 1) >>> 0;

/**
 * The video half of the Composite: a GStreamer child process (gst-launch-1.0) decodes
 * each member's VP8, composes a grid (1, 2x1, 2x2, 3x3 by count) and encodes it once;
 * the composed RTP comes back over local UDP on 127.0.0.1 and goes to every member.
 * Members joining or leaving start a child with the new layout, which takes over from
 * the running one when its first packet arrives (make before break); the output keeps
 * its numbering for receivers: each child is a new source of the ports' outbound
 * streams, which rewrite SSRC, sequence numbers and timestamps. The child is
 * supervised: restarted after a crash with a growing delay, killed with the compositor.
 */
export class VideoCompositor<K> {
  readonly stats: VideoCompositorStats = { starts: 0, crashes: 0, keyframeRequests: 0, inputDropped: 0, outputPackets: 0, outputHeld: 0, pictureTimeouts: 0 };
  private readonly width: number;
  private readonly height: number;
  private readonly frameRate: number;
  private readonly bitrate: number;
  private readonly keyframeDistance: number;
  private readonly gstLaunch: string;
  private readonly relayoutDelayMs: number;
  private readonly startTimeoutMs: number;
  private readonly pictureTimeoutMs: number;
  private readonly members = new Map<K, Member>();
  /** The child whose grid goes out now. */
  private generation: Generation | undefined;
  /** A child starting with a new layout: it replaces `generation` once its output flows. */
  private pending: Generation | undefined;
  private socket: Socket | undefined;
  private outputPort: number | undefined;
  private relayoutTimer: NodeJS.Timeout | undefined;
  private backoffMs = 250;
  private readonly stopping = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly sink: VideoCompositorSink<K>,
    private readonly ports: PortAllocator,
    options: VideoCompositorOptions = {},
  ) {
    this.width = options.width ?? 640;
    this.height = options.height ?? 480;
    this.frameRate = options.frameRate ?? 15;
    this.bitrate = options.bitrate ?? 800_000;
    this.keyframeDistance = Math.max(1, Math.round((this.frameRate * (options.keyframeIntervalMs ?? 3000)) / 1000));
    this.gstLaunch = options.gstLaunch ?? 'gst-launch-1.0';
    this.relayoutDelayMs = options.relayoutDelayMs ?? 250;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.pictureTimeoutMs = options.pictureTimeoutMs ?? 3000;
  }

  /** Pid of the running child, if any. */
  get childPid(): number | undefined {
    return this.generation?.child.pid;
  }

  /** Members shown now, in tile order. */
  get tiles(): K[] {
    return (this.generation?.tiles ?? []) as K[];
  }

  /**
   * One video packet from `member`. The first one puts the member in the grid. It goes
   * to the running child and to a child starting with a new layout, each from the
   * member's next keyframe on (asked for), so the new grid has its pictures before it
   * takes over.
   */
  push(member: K, stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    if (stream.codec.mimeType.toLowerCase() !== 'video/vp8') {
      this.stats.inputDropped++;
      return;
    }
    let m = this.members.get(member);
    if (!m) {
      m = { rewriter: new StreamRewriter<InboundStream>(), ssrc: randomSsrc() };
      this.members.set(member, m);
      this.scheduleRelayout();
    }
    const targets: Array<{ gen: Generation; tile: number }> = [];
    for (const gen of [this.generation, this.pending]) {
      const tile = gen?.ready ? gen.tiles.indexOf(member) : -1;
      if (gen && tile >= 0) targets.push({ gen, tile });
    }
    if (targets.length === 0 || !this.socket) {
      this.stats.inputDropped++;
      return;
    }
    // A new source of this member: every child's decoder needs its keyframe first.
    if (m.rewriter.stream !== stream) for (const { gen } of targets) gen.keyframed.delete(member);
    const keyframe = isVp8Keyframe(packet.payload);
    const open = targets.filter(({ gen }) => gen.keyframed.has(member) || keyframe);
    if (open.length < targets.length) this.sink.requestInputKeyframe(member);
    if (open.length === 0) {
      this.stats.inputDropped++;
      return;
    }
    const h = packet.header;
    const out = m.rewriter.rewrite(stream, h.sequenceNumber, h.timestamp, 90000, now);
    if (!out) return;
    const data = new RtpPacket(new RtpHeader({ payloadType: PAYLOAD_TYPE, sequenceNumber: out.seq, timestamp: out.ts, ssrc: m.ssrc, marker: h.marker }), packet.payload).serialize();
    for (const { gen, tile } of open) {
      if (!gen.keyframed.has(member)) {
        gen.keyframed.add(member);
        if (gen.tiles.every((t) => gen.keyframed.has(t))) gen.allKeyframedTs = gen.lastTs;
      }
      this.socket.send(data, gen.firstPort + 1 + tile, '127.0.0.1');
    }
  }

  /** The member left: the grid is laid out again without it. */
  remove(member: K): void {
    if (!this.members.delete(member)) return;
    this.scheduleRelayout();
  }

  /**
   * A receiver wants a keyframe: goes through the composed stream's KeyframeRequester
   * (at most one per second, a later one deferred, never dropped) to the encoder.
   */
  requestKeyframe(): void {
    this.generation?.stream.requestKeyframe();
  }

  /** Stops the child and releases the sockets; resolves once the child has exited. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.relayoutTimer) clearTimeout(this.relayoutTimer);
      this.stopGeneration('pending');
      this.stopGeneration('generation');
      this.socket?.close();
      this.socket = undefined;
      if (this.outputPort !== undefined) this.ports.release(this.outputPort, 1);
      this.outputPort = undefined;
      this.members.clear();
    }
    await Promise.all([...this.stopping]);
  }

  private scheduleRelayout(delay = this.relayoutDelayMs): void {
    if (this.closed || this.relayoutTimer) return;
    this.relayoutTimer = setTimeout(() => {
      this.relayoutTimer = undefined;
      void this.relayout().catch((error: unknown) => this.sink.onChildError(`video mix: ${String(error)}`));
    }, delay);
    this.relayoutTimer.unref();
  }

  /**
   * Brings the child in line with the members. Make before break: the running child
   * keeps sending its grid until the one with the new layout sends its first packet.
   */
  private async relayout(): Promise<void> {
    if (this.closed) return;
    const wanted = [...this.members.keys()].slice(0, MAX_TILES);
    const target = this.pending ?? this.generation;
    if (target && sameTiles(target.tiles, wanted)) {
      // Already starting (or running) this layout; a pending one for an older layout goes.
      if (target === this.generation) this.stopGeneration('pending');
      return;
    }
    this.stopGeneration('pending');
    if (wanted.length === 0) {
      this.stopGeneration('generation');
      return;
    }
    await this.ensureSocket();
    if (this.closed) return;
    // Ports that another process holds would make the child fail its bind (and the grid
    // stop until a restart after back-off): only ports free now are handed to it.
    const firstPort = await this.ports.reserveFree(wanted.length + 1, 'the video mix');
    if (this.closed) {
      this.ports.release(firstPort, wanted.length + 1);
      return;
    }
    this.startGeneration(wanted, firstPort);
  }

  private async ensureSocket(): Promise<void> {
    if (this.socket) return;
    const port = this.ports.reserve(1);
    const socket = createSocket('udp4');
    socket.on('message', (msg) => this.onOutput(msg));
    // ICMP "port unreachable" while a child starts shows up here: not an error of ours.
    socket.on('error', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.ports.release(port, 1);
      socket.close();
      throw error;
    }
    if (this.closed) {
      socket.close();
      this.ports.release(port, 1);
      return;
    }
    this.socket = socket;
    this.outputPort = port;
  }

  /** Starts a child for `tiles`, its RTCP on `firstPort` and its inputs on the ports after it (reserved by the caller). */
  private startGeneration(tiles: K[], firstPort: number): void {
    const ssrc = randomSsrc();
    const cells = gridLayout(tiles.length, this.width, this.height);
    const args = compositorPipeline({
      width: this.width,
      height: this.height,
      frameRate: this.frameRate,
      bitrate: this.bitrate,
      keyframeDistance: this.keyframeDistance,
      ssrc,
      outputPort: this.outputPort!,
      rtcpPort: firstPort,
      payloadType: PAYLOAD_TYPE,
      inputs: tiles.map((_, i) => ({ port: firstPort + 1 + i, cell: cells[i]! })),
    });
    const child = spawnOwnedChild(this.gstLaunch, args);
    const gen: Generation = {
      child,
      tiles,
      firstPort,
      ssrc,
      stream: new InboundStream('video', ssrc, VP8, () => this.sendPli(gen)),
      ready: false,
      keyframed: new Set(),
      lastTs: 0,
      allKeyframedTs: undefined,
      readyAt: 0,
      picture: false,
      stopping: false,
      stderr: [],
    };
    if (this.generation) this.pending = gen;
    else this.generation = gen;
    this.stats.starts++;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      gen.stderr.push(...chunk.split('\n').filter((l) => l.trim() !== ''));
      if (gen.stderr.length > 20) gen.stderr.splice(0, gen.stderr.length - 20);
    });
    // A child that never sends is as good as crashed: kill it, the exit handler restarts it.
    const watchdog = setTimeout(() => {
      if (gen.ready || gen.stopping) return;
      gen.stderr.push(`no output ${this.startTimeoutMs} ms after start: killed`);
      child.kill('SIGKILL');
    }, this.startTimeoutMs);
    watchdog.unref();
    let gone = false;
    const onGone = (detail: string): void => {
      if (gone) return;
      gone = true;
      clearTimeout(watchdog);
      this.ports.release(firstPort, tiles.length + 1);
      gen.stream.close();
      if (gen.stopping || this.closed) return;
      // Not asked to stop: a crash. Start again (same layout) after a growing delay.
      this.stats.crashes++;
      if (this.generation === gen) this.generation = undefined;
      if (this.pending === gen) this.pending = undefined;
      this.sink.onChildError(`video mix child ${detail}${gen.stderr.length ? `: ${gen.stderr.join(' | ')}` : ''}`);
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      this.scheduleRelayout(delay);
    };
    child.once('exit', (code, signal) => onGone(`exited (${signal ?? `code ${code}`})`));
    child.once('error', (error) => onGone(`failed to start (${error.message})`));
  }

  /** An RTCP receiver report + PLI (RFC 4585) for the child's SSRC, to its rtpbin. */
  private sendPli(gen: Generation): void {
    if (!this.socket || gen.stopping || !gen.ready) return;
    const packet = Buffer.alloc(20);
    packet.writeUInt8(0x80, 0); // RR, no report blocks
    packet.writeUInt8(201, 1);
    packet.writeUInt16BE(1, 2);
    packet.writeUInt32BE(PLI_SENDER_SSRC, 4);
    packet.writeUInt8(0x81, 8); // PSFB, FMT 1 = PLI
    packet.writeUInt8(206, 9);
    packet.writeUInt16BE(2, 10);
    packet.writeUInt32BE(PLI_SENDER_SSRC, 12);
    packet.writeUInt32BE(gen.ssrc, 16);
    this.socket.send(packet, gen.firstPort, '127.0.0.1');
    this.stats.keyframeRequests++;
  }

  private stopGeneration(which: 'generation' | 'pending'): void {
    const gen = this[which];
    if (!gen) return;
    this[which] = undefined;
    gen.stopping = true;
    const done = stopChild(gen.child);
    this.stopping.add(done);
    void done.then(() => this.stopping.delete(done));
  }

  private onOutput(msg: Buffer): void {
    if (this.closed) return;
    let packet: RtpPacket;
    try {
      packet = RtpPacket.deSerialize(msg);
    } catch {
      return;
    }
    const ssrc = packet.header.ssrc;
    // Late packets of a previous child carry its SSRC.
    const gen = this.generation?.ssrc === ssrc ? this.generation : this.pending?.ssrc === ssrc ? this.pending : undefined;
    if (!gen) return;
    const now = performance.now();
    if (!gen.ready) {
      // Its inputs are bound now: from here on they get media, starting at a keyframe.
      gen.ready = true;
      gen.readyAt = now;
      this.backoffMs = 250;
      for (const member of gen.tiles) this.sink.requestInputKeyframe(member as K);
    }
    gen.stream.receive(packet, now);
    gen.lastTs = packet.header.timestamp;
    if (!gen.picture && this.hasPicture(gen, packet.header.timestamp, now)) {
      gen.picture = true;
      // Its first grid with every picture: a keyframe, so receivers start on it.
      this.sendPli(gen);
      if (gen === this.pending) {
        // The new layout's child is complete: it takes over, the previous one goes.
        this.stopGeneration('generation');
        this.generation = gen;
        this.pending = undefined;
      }
    }
    if (!gen.picture || gen !== this.generation) {
      this.stats.outputHeld++;
      return;
    }
    this.stats.outputPackets++;
    this.sink.sendVideo(gen.stream, packet, now);
  }

  /**
   * True once every tile's keyframe went into the child PICTURE_DELAY_TICKS of its media
   * time ago (so its grid shows them all), or pictureTimeoutMs after its first output.
   */
  private hasPicture(gen: Generation, timestamp: number, now: number): boolean {
    if (gen.allKeyframedTs !== undefined) {
      const since = (timestamp - gen.allKeyframedTs) >>> 0;
      if (since >= PICTURE_DELAY_TICKS && since < 0x80000000) return true;
    }
    if (now - gen.readyAt < this.pictureTimeoutMs) return false;
    this.stats.pictureTimeouts++;
    return true;
  }
}

function sameTiles(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
