import type { Socket } from 'node:dgram';
import { RtpHeader, RtpPacket } from 'werift';
import { TypedEmitter } from '../core/TypedEmitter.js';
import type { PortAllocator } from '../core/PortAllocator.js';
import type { MediaKind } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { isKeyframe } from '../rtp/keyframe.js';
import { StreamRewriter } from '../rtp/StreamRewriter.js';
import { SupervisedProcess } from '../recording/SupervisedProcess.js';
import { childCodecInfo, childCodecOf, filterPipeline, kindOfCodec, type ChildCodec, type FilterPipelineSpec } from './filterPipeline.js';

export interface FilterChildOptions {
  /** Name in logs and errors, e.g. "ZBarFilter 1234". */
  name: string;
  kind: MediaKind;
  /** The raw-media stage (gst-launch tokens), asked at each start so a restart applies changes. */
  stage: () => string[];
  /** Output codec for an input codec. Default: the input's. */
  outputCodec?: (input: ChildCodec) => ChildCodec;
  /** Encoder settings (see FilterPipelineSpec). */
  frameRate?: FilterPipelineSpec['frameRate'];
  bitrate?: number;
  /** Frames between forced keyframes (a safety net: keyframe requests reach the encoder as PLI). Default 60. */
  keyframeDistance?: number;
  /** Restarts after a crash before the child gives up ('failed'). Default 5. */
  maxRestarts?: number;
  /** The gst-launch-1.0 executable. Default 'gst-launch-1.0'. */
  gstLaunch?: string;
}

export interface FilterChildEvents {
  [key: string]: unknown[];
  /** One RTP packet of the filtered output. */
  output: [stream: InboundStream, packet: RtpPacket, now: number];
  /** A bus message the child posted (gst-launch -m line of an "element" message). */
  message: [line: string];
  /** The child needs a keyframe of its input (it starts, or lost one). */
  keyframeNeeded: [];
  /** The child started processing (true) or stopped (false). */
  running: [running: boolean];
  /** The child crashed and is restarted. */
  restarting: [reason: string];
  /** The child gave up (crashed too often, or cannot start). */
  failed: [error: Error];
}

export interface FilterChildStats {
  starts: number;
  crashes: number;
  inputPackets: number;
  /** Input not sent to the child: no child ready, waiting for a keyframe, an undecodable codec. */
  inputDropped: number;
  outputPackets: number;
  keyframeRequests: number;
}

const PLI_SENDER_SSRC = 0x52544646;
const randomSsrc = (): number => (Math.floor(Math.random() * 0x7ffffffe) + 1) >>> 0;

/**
 * One media kind of a filter, run in a supervised gst-launch-1.0 child: the input RTP
 * goes to the child over 127.0.0.1 (renumbered into one continuous stream whatever
 * source feeds it, starting at a keyframe), the child decodes it, runs the filter
 * stage, encodes again and sends RTP back, where it becomes an InboundStream for the
 * filter's sinks. The child starts with the first input packet (its codec decides the
 * decoder) and is restarted after a crash; each run sends a new SSRC, which the sinks'
 * outbound streams splice seamlessly. Keyframe requests from sinks reach the encoder
 * as RTCP PLI.
 */
export class FilterChild extends TypedEmitter<FilterChildEvents> {
  readonly stats: FilterChildStats = { starts: 0, crashes: 0, inputPackets: 0, inputDropped: 0, outputPackets: 0, keyframeRequests: 0 };
  private process: SupervisedProcess | undefined;
  private socket: Socket | undefined;
  private outputPort: number | undefined;
  private ports: { input: number; rtcp: number } | undefined;
  private input: ChildCodec | undefined;
  private ssrc = 0;
  private stream: InboundStream | undefined;
  private ready = false;
  private awaitingKeyframe = true;
  private readonly rewriter = new StreamRewriter<InboundStream>();
  private readonly inputSsrc = randomSsrc();
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly portAllocator: PortAllocator,
    private readonly options: FilterChildOptions,
  ) {
    super();
  }

  /** True while a child runs and takes media. */
  get running(): boolean {
    return this.ready;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** One input packet. The first one (or one of another codec) starts the child. */
  push(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    this.stats.inputPackets++;
    const codec = childCodecOf(stream.codec);
    if (!codec || kindOfCodec(codec) !== this.options.kind) {
      this.stats.inputDropped++;
      return;
    }
    if (codec !== this.input) {
      this.input = codec;
      this.restart();
      this.stats.inputDropped++;
      return;
    }
    if (!this.ready || !this.socket || !this.ports) {
      this.stats.inputDropped++;
      return;
    }
    if (this.rewriter.stream !== stream) this.awaitingKeyframe = this.options.kind === 'video';
    if (this.awaitingKeyframe) {
      if (!isKeyframe(stream.codec.mimeType, packet.payload)) {
        this.stats.inputDropped++;
        this.emit('keyframeNeeded');
        return;
      }
      this.awaitingKeyframe = false;
    }
    const info = childCodecInfo(codec);
    const h = packet.header;
    const out = this.rewriter.rewrite(stream, h.sequenceNumber, h.timestamp, info.clockRate, now);
    if (!out) return;
    const header = new RtpHeader({ payloadType: info.payloadType, sequenceNumber: out.seq, timestamp: out.ts, ssrc: this.inputSsrc, marker: h.marker });
    this.socket.send(new RtpPacket(header, packet.payload).serialize(), this.ports.input, '127.0.0.1');
  }

  /** A sink wants a keyframe of the output: a PLI to the encoder (rate-limited). */
  requestKeyframe(): void {
    this.stream?.requestKeyframe();
  }

  /** Starts the child again (e.g. with a new stage); the running one is replaced. No-op before the first input. */
  restart(): void {
    if (this.closed || !this.input) return;
    const previous = this.starting ?? Promise.resolve();
    this.starting = previous.then(() => this.launch()).catch((error: unknown) => {
      this.emit('failed', error instanceof Error ? error : new Error(String(error)));
    });
  }

  /** Stops the child and releases the sockets. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopProcess();
    this.socket?.close();
    this.socket = undefined;
    if (this.outputPort !== undefined) this.portAllocator.release(this.outputPort, 1);
    this.outputPort = undefined;
    this.removeAllListeners();
  }

  private async launch(): Promise<void> {
    if (this.closed) return;
    this.stopProcess();
    await this.ensureSocket();
    if (this.closed || !this.input) return;
    const input = this.input;
    const output = this.options.outputCodec?.(input) ?? input;
    const proc = new SupervisedProcess({
      name: this.options.name,
      command: this.options.gstLaunch ?? 'gst-launch-1.0',
      maxRestarts: this.options.maxRestarts ?? 5,
      restartDelayMs: 500,
      args: () => {
        // Each run: fresh ports (a crash may have left one bound for a moment) and SSRC.
        this.releaseChildPorts();
        const first = this.portAllocator.reserve(2);
        this.ports = { input: first, rtcp: first + 1 };
        this.ssrc = randomSsrc();
        this.stats.starts++;
        return ['-m', ...filterPipeline({
          input,
          output,
          stage: this.options.stage(),
          inputPort: this.ports.input,
          rtcpPort: this.ports.rtcp,
          outputPort: this.outputPort!,
          ssrc: this.ssrc,
          frameRate: this.options.frameRate,
          bitrate: this.options.bitrate,
          keyframeDistance: this.options.keyframeDistance,
        })];
      },
    });
    this.process = proc;
    proc.on('output', (line) => {
      if (this.process !== proc) return;
      if (line.startsWith('Setting pipeline to PLAYING')) this.onReady(output);
      else if (/^Got message #\d+ from element "[^"]*" \(element\): /.test(line)) this.emit('message', line);
    });
    proc.on('restarting', (reason) => {
      if (this.process !== proc) return;
      this.stats.crashes++;
      this.setReady(false);
      this.emit('restarting', reason);
    });
    proc.on('failed', (error) => {
      if (this.process !== proc) return;
      this.setReady(false);
      this.releaseChildPorts();
      this.emit('failed', error);
    });
    proc.start();
  }

  private onReady(output: ChildCodec): void {
    this.stream?.close();
    this.stream = new InboundStream(this.options.kind, this.ssrc, childCodecInfo(output), () => this.sendPli());
    this.awaitingKeyframe = this.options.kind === 'video';
    this.setReady(true);
    this.emit('keyframeNeeded');
  }

  private setReady(ready: boolean): void {
    if (this.ready === ready) return;
    this.ready = ready;
    this.emit('running', ready);
  }

  private stopProcess(): void {
    const proc = this.process;
    this.process = undefined;
    this.setReady(false);
    proc?.close();
    this.releaseChildPorts();
  }

  private releaseChildPorts(): void {
    if (this.ports) this.portAllocator.release(this.ports.input, 2);
    this.ports = undefined;
  }

  private async ensureSocket(): Promise<void> {
    if (this.socket) return;
    const { socket, port } = await this.portAllocator.bindLoopback("a filter's output");
    // ICMP "port unreachable" while a child (re)starts shows up here: not an error of ours.
    socket.on('error', () => undefined);
    socket.on('message', (msg) => this.onOutput(msg));
    if (this.closed) {
      socket.close();
      this.portAllocator.release(port, 1);
      return;
    }
    this.socket = socket;
    this.outputPort = port;
  }

  private onOutput(msg: Buffer): void {
    if (this.closed || !this.stream || msg.length < 12 || msg[0]! >> 6 !== 2) return;
    const second = msg[1]!;
    if (second >= 200 && second <= 204) return;
    let packet: RtpPacket;
    try {
      packet = RtpPacket.deSerialize(msg);
    } catch {
      return;
    }
    // Late packets of a previous run carry its SSRC.
    if (packet.header.ssrc !== this.ssrc) return;
    const now = performance.now();
    if (!this.stream.receive(packet, now)) return;
    this.stats.outputPackets++;
    this.emit('output', this.stream, packet, now);
  }

  /** An RTCP receiver report + PLI (RFC 4585) for the output SSRC, to the child's rtpbin. */
  private sendPli(): void {
    if (!this.socket || !this.ports || !this.ready || this.options.kind !== 'video') return;
    const packet = Buffer.alloc(20);
    packet.writeUInt8(0x80, 0);
    packet.writeUInt8(201, 1);
    packet.writeUInt16BE(1, 2);
    packet.writeUInt32BE(PLI_SENDER_SSRC, 4);
    packet.writeUInt8(0x81, 8);
    packet.writeUInt8(206, 9);
    packet.writeUInt16BE(2, 10);
    packet.writeUInt32BE(PLI_SENDER_SSRC, 12);
    packet.writeUInt32BE(this.ssrc, 16);
    this.socket.send(packet, this.ports.rtcp, '127.0.0.1');
    this.stats.keyframeRequests++;
  }
}
