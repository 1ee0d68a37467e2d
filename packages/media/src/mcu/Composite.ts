import { RtpHeader, RtpPacket } from 'werift';
import { Hub } from '../core/Hub.js';
import type { HubPort } from '../core/HubPort.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { CodecInfo, MediaKind } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { AudioMixer, type AudioMixerOptions, type AudioMixerStats } from './AudioMixer.js';
import { VideoCompositor, type VideoCompositorOptions, type VideoCompositorStats } from './VideoCompositor.js';

export interface CompositeOptions {
  /** Audio mix settings (defaults: mono, 32 kb/s, @discordjs/opus, 40 ms jitter buffer). */
  audio?: AudioMixerOptions;
  /** Video grid settings (default 640x480 at 15 fps, VP8), or false for an audio-only mix. Default: on. */
  video?: VideoCompositorOptions | false;
}

export interface CompositeStats {
  audio: AudioMixerStats;
  video: VideoCompositorStats | undefined;
  /** Input packets of a codec the mix cannot decode (audio other than Opus, video other than VP8). */
  unsupportedInput: number;
}

/** Each port's mix leaves as its own audio stream (one SSRC and RTP clock per port). */
interface PortAudio {
  stream: InboundStream;
  seq: number;
  ts: number;
  /** The source stream feeding the port's input last, to notice a change of source. */
  input: InboundStream | undefined;
}

const OPUS_PT = 111;

const randomSsrc = (): number => (Math.floor(Math.random() * 0xfffffffe) + 1) >>> 0;

/**
 * Kurento's Composite, the MCU: every port's audio is decoded and mixed, and each port
 * sends out the mix of all the OTHER ports (never its own input); every port's video
 * is decoded and composed into one grid, encoded once and sent out of every port.
 * Ports join and leave while it runs; a silent or frozen port does not hold up the mix.
 * Audio runs in this process (libopus); video in a supervised GStreamer child.
 */
export class Composite extends Hub {
  private readonly mixer: AudioMixer<HubPort>;
  private readonly compositor: VideoCompositor<HubPort> | undefined;
  private readonly audio = new Map<HubPort, PortAudio>();
  private readonly opus: CodecInfo;
  private unsupportedInput = 0;

  constructor(pipeline: MediaPipeline, options: CompositeOptions = {}) {
    super('Composite', pipeline);
    const channels = options.audio?.channels ?? 1;
    this.opus = { mimeType: 'audio/opus', payloadType: OPUS_PT, clockRate: 48000, channels: 2, parameters: channels === 2 ? 'stereo=1' : '' };
    this.mixer = new AudioMixer<HubPort>(
      {
        wantsMix: (port) => !port.closed && port.getSinkConnections('audio').length > 0,
        sendMix: (port, opus, samples) => this.sendMix(port, opus, samples),
        skip: (samples) => {
          for (const state of this.audio.values()) state.ts = (state.ts + samples) >>> 0;
        },
      },
      options.audio,
    );
    if (options.video !== false) {
      this.compositor = new VideoCompositor<HubPort>(
        {
          sendVideo: (stream, packet, now) => {
            for (const port of this.getPorts()) port.emitOutput(stream, packet, now);
          },
          requestInputKeyframe: (port) => port.requestInputKeyframe('video'),
          onChildError: (message) => console.error(`Composite ${this.id}: ${message}`),
        },
        pipeline.ports,
        options.video,
      );
    }
  }

  getStats(): CompositeStats {
    return { audio: { ...this.mixer.stats }, video: this.compositor ? { ...this.compositor.stats } : undefined, unsupportedInput: this.unsupportedInput };
  }

  /** Pid of the video mix child process while one runs. */
  get videoChildPid(): number | undefined {
    return this.compositor?.childPid;
  }

  /** Ports shown in the video grid, in tile order. */
  get videoTiles(): HubPort[] {
    return this.compositor?.tiles ?? [];
  }

  /** Resolves once the video child has exited (after close()). */
  async whenStopped(): Promise<void> {
    await this.compositor?.close();
  }

  override attachPort(port: HubPort): void {
    super.attachPort(port);
    this.audio.set(port, { stream: new InboundStream('audio', randomSsrc(), this.opus, () => undefined), seq: Math.floor(Math.random() * 0x10000), ts: randomSsrc(), input: undefined });
    this.mixer.add(port);
  }

  /** A port's input enters the mix (nothing is forwarded as is). */
  override route(input: HubPort, stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    if (stream.kind === 'audio') {
      if (stream.codec.mimeType.toLowerCase() !== 'audio/opus') {
        this.unsupportedInput++;
        return;
      }
      const state = this.audio.get(input);
      if (!state) return;
      if (state.input !== stream) {
        if (state.input) this.mixer.resetInput(input);
        state.input = stream;
      }
      this.mixer.push(input, packet.header.sequenceNumber, packet.payload);
    } else if (this.compositor) {
      if (stream.codec.mimeType.toLowerCase() !== 'video/vp8') {
        this.unsupportedInput++;
        return;
      }
      this.compositor.push(input, stream, packet, now);
    }
  }

  /** A receiver of the grid wants a keyframe: the request reaches the encoder (RTCP PLI to the child). */
  override requestKeyframeFor(_output: HubPort, kind: MediaKind): void {
    if (kind === 'video') this.compositor?.requestKeyframe();
  }

  protected outputsOf(): Iterable<HubPort> {
    return [];
  }

  protected inputOf(): HubPort | undefined {
    return undefined;
  }

  protected onPortRemoved(port: HubPort): void {
    this.mixer.remove(port);
    this.audio.get(port)?.stream.close();
    this.audio.delete(port);
    this.compositor?.remove(port);
  }

  protected override onClose(): void {
    this.mixer.close();
    void this.compositor?.close();
    super.onClose();
    for (const state of this.audio.values()) state.stream.close();
    this.audio.clear();
  }

  private sendMix(port: HubPort, opus: Buffer, samples: number): void {
    const state = this.audio.get(port);
    if (!state) return;
    const header = new RtpHeader({ payloadType: OPUS_PT, sequenceNumber: state.seq, timestamp: state.ts, ssrc: state.stream.ssrc });
    const packet = new RtpPacket(header, opus);
    state.seq = (state.seq + 1) & 0xffff;
    state.ts = (state.ts + samples) >>> 0;
    const now = performance.now();
    state.stream.receive(packet, now);
    port.emitOutput(state.stream, packet, now);
  }
}
