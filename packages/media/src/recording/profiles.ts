import type { CodecInfo, MediaKind } from '../core/types.js';

/** Kurento's MediaProfileSpecType values that Roundtable records. */
export const MEDIA_PROFILES = [
  'WEBM',
  'WEBM_AUDIO_ONLY',
  'WEBM_VIDEO_ONLY',
  'MKV',
  'MKV_AUDIO_ONLY',
  'MKV_VIDEO_ONLY',
  'MP4',
  'MP4_AUDIO_ONLY',
  'MP4_VIDEO_ONLY',
] as const;
export type MediaProfile = (typeof MEDIA_PROFILES)[number];

export function isMediaProfile(value: unknown): value is MediaProfile {
  return typeof value === 'string' && (MEDIA_PROFILES as readonly string[]).includes(value);
}

export interface ProfileSpec {
  container: 'webm' | 'mkv' | 'mp4';
  kinds: MediaKind[];
  /** What the recorder accepts per kind: the forwarded codec is written as is (no re-encoding). */
  codecs: Partial<Record<MediaKind, CodecInfo>>;
  extension: string;
}

const VP8: CodecInfo = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 };
// MP4 cannot carry VP8 without re-encoding: the MP4 profiles take H.264 as sent.
const H264: CodecInfo = { mimeType: 'video/H264', payloadType: 102, clockRate: 90000, parameters: 'packetization-mode=1' };
const OPUS: CodecInfo = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 };

export function profileSpec(profile: MediaProfile): ProfileSpec {
  const [base, only] = profile.split('_') as [string, string | undefined];
  const kinds: MediaKind[] = only === 'AUDIO' ? ['audio'] : only === 'VIDEO' ? ['video'] : ['audio', 'video'];
  const container = base === 'WEBM' ? 'webm' : base === 'MKV' ? 'mkv' : 'mp4';
  const codecs: Partial<Record<MediaKind, CodecInfo>> = {};
  if (kinds.includes('audio')) codecs.audio = OPUS;
  if (kinds.includes('video')) codecs.video = container === 'mp4' ? H264 : VP8;
  return { container, kinds, codecs, extension: container };
}

/**
 * gst-launch-1.0 arguments of a recorder: one udpsrc per kind on 127.0.0.1, jitter
 * buffer, depayloader and parser (no decoder: the media is remuxed, not re-encoded),
 * the container's muxer, and a file written as it goes. Matroska/WebM written live
 * stays playable when the process dies; MP4 is fragmented for the same reason.
 */
export function recorderPipeline(spec: ProfileSpec, ports: Partial<Record<MediaKind, number>>, path: string, options: { rtpTimeline?: boolean } = {}): string[] {
  // Not -q: the recorder waits for gst-launch's "Setting pipeline to PLAYING" line.
  const args = ['-e'];
  const branch = (kind: MediaKind, codec: CodecInfo, chain: string[]): void => {
    const encoding = codec.mimeType.split('/')[1]!.toUpperCase();
    args.push(
      'udpsrc',
      'address=127.0.0.1',
      `port=${String(ports[kind])}`,
      // Room for seconds of media while a busy machine leaves the process unscheduled
      // (the kernel caps it at net.core.rmem_max).
      'buffer-size=4194304',
      `caps=application/x-rtp,media=${kind},encoding-name=${encoding},clock-rate=${String(codec.clockRate)},payload=${String(codec.payloadType)}`,
      '!',
      // rtpTimeline: the file's timeline is the media's own (RTP timestamps from each
      // stream's first packet), not when packets happened to arrive: a busy engine
      // forwards in bursts, and fitting those to the arrival clock (the default 'slave'
      // mode) squeezed or stretched the file by seconds. Each stream is anchored at its
      // first packet, so this needs the streams to start together (startWithPicture).
      'rtpjitterbuffer',
      'latency=300',
      ...(options.rtpTimeline ? ['mode=none'] : []),
      '!',
      ...chain.flatMap((element) => [element, '!']),
      'queue',
      '!',
      'mux.',
    );
  };
  if (spec.codecs.video) branch('video', spec.codecs.video, spec.container === 'mp4' ? ['rtph264depay', 'h264parse'] : ['rtpvp8depay']);
  if (spec.codecs.audio) branch('audio', spec.codecs.audio, ['rtpopusdepay', 'opusparse']);
  const muxer = spec.container === 'webm' ? ['webmmux'] : spec.container === 'mkv' ? ['matroskamux'] : ['mp4mux', 'fragment-duration=1000'];
  args.push(...muxer, 'name=mux', '!', 'filesink', 'buffer-mode=unbuffered', `location="${path}"`);
  return args;
}
