import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';
import type { MediaConfig } from '../config.js';
import { Engine } from '../core/Engine.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { WebRtcEndpoint } from '../webrtc/WebRtcEndpoint.js';
import { FakePublisher } from './FakePublisher.js';
import { createWeriftPeer, transceiverOf, waitForConnected } from './peers.js';
import { negotiate } from './signal.js';
import { useTestPeerEnvironment } from './stun.js';

export interface MediaHarness {
  /** The file's media engine: its sockets, ports and pipelines. */
  readonly engine: Engine;
  /** A pipeline on 127.0.0.1 in the harness's port range, closed after each test. */
  pipeline(extra?: Partial<MediaConfig>): MediaPipeline;
  /** A werift peer on 127.0.0.1 with the loopback STUN server, closed after each test. */
  peer(): WeriftPeerConnection;
  /** Registers something else to close after the test. */
  track<T extends { close(): unknown }>(thing: T): T;
  readonly stunUrl: string;
}

/**
 * Test fixture for engine tests: a loopback STUN server for the file, and pipelines
 * and peers that are closed after every test.
 */
export function useMediaHarness(portRange: [number, number]): MediaHarness {
  const env = useTestPeerEnvironment();
  const open = env.cleanup;
  const track = <T extends { close(): unknown }>(thing: T): T => {
    open.push(() => thing.close());
    return thing;
  };
  const engine = new Engine();
  return {
    engine,
    pipeline: (extra = {}) => track(engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange, ...extra })),
    peer: () => track(createWeriftPeer(env.stunUrl)),
    track,
    get stunUrl() {
      return env.stunUrl;
    },
  };
}

/** Collects the RTP a peer receives on its transceiver of `kind`. */
export function collect(pc: WeriftPeerConnection, kind: 'audio' | 'video'): RtpPacket[] {
  const got: RtpPacket[] = [];
  transceiverOf(pc, kind).onTrack.subscribe((track) => track.onReceiveRtp.subscribe((p) => got.push(p)));
  return got;
}

/** Polls `check` every 20 ms until it holds, or throws after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A loopback endpoint (its uplink sent back to its own peer) on a new pipeline, and a
 * werift peer publishing a FakePublisher tagged `tag` into it: negotiated, connected,
 * and streaming until at least `packets` video packets came back (default 10).
 */
export async function streamingLoopback(
  h: MediaHarness,
  tag: number,
  options: { packets?: number } = {},
): Promise<{ ep: WebRtcEndpoint; pc: WeriftPeerConnection; pub: FakePublisher; video: RtpPacket[] }> {
  const ep = h.pipeline().createWebRtcEndpoint();
  ep.connect(ep);
  const pc = h.peer();
  const pub = new FakePublisher(tag);
  pub.attach(pc, 'sendrecv');
  const video = collect(pc, 'video');
  await negotiate(pc, ep);
  await waitForConnected(pc);
  pub.start();
  await until(() => video.length >= (options.packets ?? 10));
  return { ep, pc, pub, video };
}
