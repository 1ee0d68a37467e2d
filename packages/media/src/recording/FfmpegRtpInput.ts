import type { Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { RtpPacket } from 'werift';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { CodecInfo, MediaKind } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';
import type { ProbeResult } from './probe.js';

const VP8: CodecInfo = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 };
const OPUS: CodecInfo = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 };
export const FFMPEG_CODECS: Record<MediaKind, CodecInfo> = { video: VP8, audio: OPUS };

/**
 * The receiving half of a source element fed by FFmpeg (PlayerEndpoint,
 * HttpPostEndpoint): one UDP socket per kind on 127.0.0.1, the FFmpeg output
 * arguments that send VP8 and Opus RTP to them, and the InboundStreams the packets
 * become. Each FFmpeg run gets new SSRCs; packets of an older run still in flight
 * are dropped, and sinks switch over to the new streams.
 */
export class FfmpegRtpInput {
  private readonly sockets = new Map<MediaKind, { socket: Socket; port: number }>();
  private readonly inbound = new Map<number, InboundStream>();
  private readonly currentSsrc = new Map<MediaKind, number>();
  private closed = false;

  constructor(
    private readonly pipeline: MediaPipeline,
    /** Whether packets are wanted now (the element is playing). */
    private readonly accepting: () => boolean,
    /** A packet of one of the streams, in order. */
    private readonly deliver: (stream: InboundStream, packet: RtpPacket, now: number) => void,
  ) {}

  /** Binds a socket for each kind the media has (kept across runs). */
  async open(info: ProbeResult): Promise<void> {
    for (const kind of ['video', 'audio'] as const) {
      if (this.sockets.has(kind) || !info.streams.some((s) => s.kind === kind)) continue;
      const { socket, port } = await this.pipeline.ports.bindLoopback("FFmpeg's RTP");
      if (this.closed) {
        socket.close();
        this.pipeline.ports.release(port, 1);
        return;
      }
      socket.on('message', (data, from) => {
        if (from.address === '127.0.0.1') this.onDatagram(kind, data);
      });
      socket.on('error', () => undefined);
      this.sockets.set(kind, { socket, port });
    }
  }

  /**
   * FFmpeg output arguments of one run: per opened kind, the first stream of that kind
   * encoded to VP8 / Opus (a keyframe every second, since FFmpeg cannot hear keyframe
   * requests), or copied when `encoded` and it already is VP8 / Opus.
   */
  outputArgs(info: ProbeResult, encoded: boolean): string[] {
    const args: string[] = [];
    for (const [kind, { port }] of this.sockets) {
      const stream = info.streams.find((s) => s.kind === kind)!;
      // FFmpeg takes the SSRC as a signed 32-bit option.
      const ssrcValue = randomBytes(4).readUInt32BE(0) & 0x7fffffff || 1;
      this.currentSsrc.set(kind, ssrcValue);
      if (kind === 'video') {
        args.push('-map', '0:v:0', '-an');
        if (encoded && stream.codec === 'vp8') args.push('-c:v', 'copy');
        else args.push('-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '800k', '-pix_fmt', 'yuv420p', '-force_key_frames', 'expr:gte(t,n_forced*1)');
      } else {
        args.push('-map', '0:a:0', '-vn');
        if (encoded && stream.codec === 'opus') args.push('-c:a', 'copy');
        else args.push('-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k');
      }
      args.push('-payload_type', String(FFMPEG_CODECS[kind].payloadType), '-ssrc', String(ssrcValue), '-f', 'rtp', `rtp://127.0.0.1:${String(port)}?rtcpport=${String(port)}&pkt_size=1200`);
    }
    return args;
  }

  /** Releases the sockets, their ports and the streams. Idempotent. */
  close(): void {
    this.closed = true;
    for (const s of this.inbound.values()) s.close();
    this.inbound.clear();
    for (const { socket, port } of this.sockets.values()) {
      socket.close();
      this.pipeline.ports.release(port, 1);
    }
    this.sockets.clear();
  }

  private onDatagram(kind: MediaKind, data: Buffer): void {
    if (this.closed || !this.accepting() || data.length < 12 || data[0]! >> 6 !== 2) return;
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
      for (const [old, s] of this.inbound) {
        if (s.kind === kind) {
          s.close();
          this.inbound.delete(old);
        }
      }
      stream = new InboundStream(kind, ssrc, FFMPEG_CODECS[kind], () => undefined, {
        retransmissionMs: this.pipeline.config.retransmissionMs,
        keyframeIntervalMs: this.pipeline.config.keyframeIntervalMs,
      });
      this.inbound.set(ssrc, stream);
    }
    const now = performance.now();
    if (!stream.receive(packet, now)) return;
    this.deliver(stream, packet, now);
  }
}
