/**
 * libwebrtc peers (@roamhq/wrtc) for the transport tests: a publisher with a
 * synthetic video source and a tone, a subscriber, the offer/answer exchanges with a
 * WebRtcTransport, and the peer's RTP stats.
 */
import wrtc from '@roamhq/wrtc';
import type { WebRtcTransport } from './WebRtcTransport.js';

const { RTCPeerConnection, nonstandard } = wrtc;
export type Peer = InstanceType<typeof RTCPeerConnection>;

export interface Publisher {
  pc: Peer;
  stop(): void;
}

/** A peer sending `videoTracks` synthetic 320x240 videos (30 fps) and one 440 Hz tone, sendonly (or sendrecv: it receives on the same m-lines). */
export function createPublisher(videoTracks = 1, direction: 'sendonly' | 'sendrecv' = 'sendonly'): Publisher {
  const pc = new RTCPeerConnection();
  const width = 320;
  const height = 240;
  const sources = Array.from({ length: videoTracks }, () => new nonstandard.RTCVideoSource());
  const audio = new nonstandard.RTCAudioSource();
  for (const source of sources) pc.addTransceiver(source.createTrack(), { direction });
  pc.addTransceiver(audio.createTrack(), { direction });
  const frame = new Uint8Array((width * height * 3) / 2);
  let n = 0;
  const videoTimer = setInterval(() => {
    n++;
    for (let i = 0; i < width * height; i += 97) frame[i] = (n * 7 + i) & 0xff;
    for (const source of sources) source.onFrame({ width, height, data: frame });
  }, 33);
  const samples = new Int16Array(480);
  let phase = 0;
  const audioTimer = setInterval(() => {
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * phase++) / 48000));
    audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }, 10);
  return {
    pc,
    stop: () => {
      clearInterval(videoTimer);
      clearInterval(audioTimer);
      pc.close();
    },
  };
}

export function createSubscriber(): Peer {
  return new RTCPeerConnection();
}

/** The client offers, the sending transport answers. */
export async function publish(pc: Peer, transport: WebRtcTransport): Promise<void> {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const answer = transport.processOffer(offer.sdp!);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
}

/** The receiving transport offers, the client answers (optionally rewriting its answer first). */
export async function subscribe(pc: Peer, transport: WebRtcTransport, mungeAnswer: (sdp: string) => string = (s) => s): Promise<void> {
  await pc.setRemoteDescription({ type: 'offer', sdp: transport.createOffer() });
  const answer = await pc.createAnswer();
  const sdp = mungeAnswer(answer.sdp!);
  await pc.setLocalDescription({ type: 'answer', sdp });
  transport.processAnswer(sdp);
}

export type Stat = Record<string, unknown> & { type: string; kind?: string; ssrc?: number };

export async function statsOf(pc: Peer): Promise<Stat[]> {
  const out: Stat[] = [];
  (await pc.getStats()).forEach((s: Stat) => out.push(s));
  return out;
}

/** Sum of a numeric field over stats of one type (and kind). */
export function total(stats: readonly Stat[], type: string, field: string, kind?: string): number {
  return stats.filter((s) => s.type === type && (kind === undefined || s.kind === kind)).reduce((sum, s) => sum + Number(s[field] ?? 0), 0);
}

/** Polls `read` until `done` holds for its result, or `timeoutMs` passed; returns the last result. */
export async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    value = await read();
  }
  return value;
}
