import type { CodecInfo, MediaKind } from '../core/types.js';

/** Codecs a filter child decodes and encodes (the ones the engine negotiates). */
export type ChildCodec = 'VP8' | 'H264' | 'OPUS' | 'PCMU';

const CODECS: Record<ChildCodec, CodecInfo & { kind: MediaKind; encodingName: string }> = {
  VP8: { kind: 'video', mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, encodingName: 'VP8' },
  H264: { kind: 'video', mimeType: 'video/H264', payloadType: 102, clockRate: 90000, encodingName: 'H264', parameters: 'packetization-mode=1;profile-level-id=42e01f' },
  OPUS: { kind: 'audio', mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, encodingName: 'OPUS' },
  PCMU: { kind: 'audio', mimeType: 'audio/PCMU', payloadType: 0, clockRate: 8000, encodingName: 'PCMU' },
};

/** The RTP codec (payload type, clock) of a child's legs for `codec`. */
export function childCodecInfo(codec: ChildCodec): CodecInfo {
  const { kind: _kind, encodingName: _name, ...info } = CODECS[codec];
  return info;
}

export function kindOfCodec(codec: ChildCodec): MediaKind {
  return CODECS[codec].kind;
}

/** The child codec of a negotiated codec, if a child can decode it. */
export function childCodecOf(codec: CodecInfo): ChildCodec | undefined {
  switch (codec.mimeType.toLowerCase()) {
    case 'video/vp8':
      return 'VP8';
    case 'video/h264':
      return 'H264';
    case 'audio/opus':
      return 'OPUS';
    case 'audio/pcmu':
      return 'PCMU';
    default:
      return undefined;
  }
}

export interface FilterPipelineSpec {
  input: ChildCodec;
  output: ChildCodec;
  /** gst-launch tokens of the raw-media stage between decoder and encoder (may be empty). */
  stage: string[];
  /** Local UDP port the child takes the input RTP on. */
  inputPort: number;
  /** Local UDP port the child sends the output RTP to. */
  outputPort: number;
  /** Local UDP port the child takes RTCP on (video: a PLI there makes the encoder send a keyframe). */
  rtcpPort: number;
  /** SSRC of the output (a new one per child run, so its packets are told apart). */
  ssrc: number;
  /** Output frame rate forced with videorate (video only); undefined keeps the input's. */
  frameRate?: { numerator: number; denominator: number };
  /** Encoder target, bits/s. Default 500000 (video), 32000 (Opus). */
  bitrate?: number;
  /** Frames between forced keyframes (video). Default 60. */
  keyframeDistance?: number;
}

function depay(codec: ChildCodec, port: number): string[] {
  const c = CODECS[codec];
  const caps = `application/x-rtp,media=${c.kind},clock-rate=${c.clockRate},encoding-name=${c.encodingName},payload=${c.payloadType}`;
  const head = ['udpsrc', 'address=127.0.0.1', `port=${port}`, `caps=${caps}`, '!', 'rtpjitterbuffer', 'latency=50', '!'];
  switch (codec) {
    case 'VP8':
      return [...head, 'rtpvp8depay', '!', 'vp8dec', '!', 'videoconvert'];
    case 'H264':
      return [...head, 'rtph264depay', '!', 'h264parse', '!', 'avdec_h264', '!', 'videoconvert'];
    case 'OPUS':
      return [...head, 'rtpopusdepay', '!', 'opusdec', '!', 'audioconvert', '!', 'audioresample'];
    case 'PCMU':
      return [...head, 'rtppcmudepay', '!', 'mulawdec', '!', 'audioconvert', '!', 'audioresample'];
  }
}

function encode(spec: FilterPipelineSpec): string[] {
  const c = CODECS[spec.output];
  const pay = (element: string, ...extra: string[]): string[] => [element, `pt=${c.payloadType}`, `ssrc=${spec.ssrc}`, ...extra];
  const kf = spec.keyframeDistance ?? 60;
  switch (spec.output) {
    case 'VP8':
      return [
        'videoconvert', '!', 'video/x-raw,format=I420', '!',
        'vp8enc', 'deadline=1', 'cpu-used=8', 'threads=1', 'lag-in-frames=0', 'end-usage=cbr',
        `target-bitrate=${spec.bitrate ?? 500_000}`, `keyframe-max-dist=${kf}`, 'error-resilient=default', '!',
        ...pay('rtpvp8pay', 'mtu=1200', 'picture-id-mode=15-bit'),
      ];
    case 'H264':
      return [
        'videoconvert', '!', 'video/x-raw,format=I420', '!',
        'openh264enc', `bitrate=${spec.bitrate ?? 500_000}`, `gop-size=${kf}`, 'complexity=low', '!',
        'h264parse', '!', 'video/x-h264,profile=constrained-baseline', '!',
        ...pay('rtph264pay', 'mtu=1200', 'config-interval=-1', 'aggregate-mode=zero-latency'),
      ];
    case 'OPUS':
      return ['audioconvert', '!', 'audioresample', '!', 'audio/x-raw,rate=48000', '!', 'opusenc', `bitrate=${spec.bitrate ?? 32_000}`, '!', ...pay('rtpopuspay')];
    case 'PCMU':
      return ['audioconvert', '!', 'audioresample', '!', 'audio/x-raw,rate=8000,channels=1', '!', 'mulawenc', '!', ...pay('rtppcmupay')];
  }
}

/**
 * gst-launch-1.0 arguments of a filter child: the input RTP is depayloaded and
 * decoded, goes through the raw-media `stage` (the filter), and is encoded again and
 * sent as RTP to `outputPort`. Video output goes through an rtpbin whose RTCP input
 * listens on `rtcpPort`, so a PLI/FIR for `ssrc` there makes the encoder send a
 * keyframe (as in the Composite's video mix).
 */
export function filterPipeline(spec: FilterPipelineSpec): string[] {
  const kind = kindOfCodec(spec.input);
  if (kindOfCodec(spec.output) !== kind) throw new Error(`a ${spec.input} child cannot output ${spec.output}`);
  const args: string[] = [];
  if (kind === 'video') args.push('rtpbin', 'name=rtpbin');
  args.push(...depay(spec.input, spec.inputPort), '!');
  // A stage slower than the input (face detection on a big picture) drops frames here
  // instead of falling further and further behind; the queue's thread also lets decoding
  // and the stage run on two cores.
  if (kind === 'video') args.push('queue', 'max-size-buffers=2', 'max-size-bytes=0', 'max-size-time=0', 'leaky=downstream', '!');
  if (spec.stage.length > 0) args.push(...spec.stage, '!');
  if (kind === 'video' && spec.frameRate) {
    args.push('videorate', '!', `video/x-raw,framerate=${spec.frameRate.numerator}/${spec.frameRate.denominator}`, '!');
  }
  args.push(...encode(spec));
  if (kind === 'video') {
    args.push(
      '!', 'rtpbin.send_rtp_sink_0',
      'rtpbin.send_rtp_src_0', '!', 'udpsink', 'host=127.0.0.1', `port=${spec.outputPort}`, 'sync=false', 'async=false',
      'rtpbin.send_rtcp_src_0', '!', 'fakesink', 'sync=false', 'async=false',
      'udpsrc', 'address=127.0.0.1', `port=${spec.rtcpPort}`, 'caps=application/x-rtcp', '!', 'rtpbin.recv_rtcp_sink_0',
    );
  } else {
    args.push('!', 'udpsink', 'host=127.0.0.1', `port=${spec.outputPort}`, 'sync=false', 'async=false');
  }
  return args;
}
