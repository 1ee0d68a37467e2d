/*
 * Test harness of the SDK's own tests (Node only: ws, werift, the real signaling server
 * in process). Not exported from the package.
 */
import { FakePublisher, type TestPeerEnvironment } from '@roundtable/media/testing';
import type { EndReason, UserId } from '@roundtable/protocol';
import { InProcessMediaServer, Signaling } from '@roundtable/signaling';
import { RTCPeerConnection as WeriftPeerConnection, type MediaStreamTrack } from 'werift';
import WebSocket from 'ws';
import type { Call } from '../Call.js';
import type { MediaSessionEvents } from '../MediaSession.js';
import type { Participant } from '../Participant.js';
import type { MediaConstraintsLike, MediaDeviceInfoLike, MediaDevicesLike, TrackLike } from '../platform.js';
import { RoundtableClient, type RoundtableClientOptions } from '../RoundtableClient.js';

/** Polls `check`; on timeout the error names `what` and, when given, what `detail()` shows then. */
export async function until(check: () => boolean, what: string, timeoutMs = 30_000, detail?: () => unknown): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms${detail ? `; ${JSON.stringify(detail())}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface TestServerHandle {
  url: string;
  media: InProcessMediaServer;
  signaling: Signaling;
}

/** The real signaling server, in process, with the in-process media engine on `portRange`. */
export async function startServer(env: TestPeerEnvironment, portRange: [number, number]): Promise<TestServerHandle> {
  const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange });
  const signaling = await Signaling.open({ dbPath: ':memory:', media });
  const { port } = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
  env.cleanup.push(async () => {
    await signaling.close();
    await media.close();
  });
  return { url: `ws://127.0.0.1:${port}/ws`, media, signaling };
}

export interface TestUser {
  client: RoundtableClient;
  publisher: FakePublisher;
  /** Every socket the client opened, oldest first (to drop one). */
  sockets: WebSocket[];
  localMedia: { getTracks(): MediaStreamTrack[] };
  id: UserId;
}

/** An SDK client on ws + werift, registered as `username`, publishing FakePublisher media tagged `tag`. */
export async function signUp(env: TestPeerEnvironment, url: string, username: string, tag: number, extra: Partial<RoundtableClientOptions> = {}): Promise<TestUser> {
  const sockets: WebSocket[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(address: string) {
      super(address);
      sockets.push(this);
    }
  }
  const client = new RoundtableClient({
    url,
    WebSocket: RecordingWebSocket,
    RTCPeerConnection: WeriftPeerConnection,
    iceServers: [{ urls: env.stunUrl }],
    rtcConfig: { iceUseIpv4: false, iceUseIpv6: false, iceAdditionalHostAddresses: ['127.0.0.1'] },
    requestTimeoutMs: 15_000,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    ...extra,
  });
  const publisher = new FakePublisher(tag);
  publisher.start(20);
  env.cleanup.push(
    () => client.close(),
    () => publisher.stop(),
  );
  await client.connect();
  await client.register(username, 'password-123');
  return { client, publisher, sockets, localMedia: { getTracks: () => [publisher.video, publisher.audio] }, id: client.userId };
}

/** RTP received on a session's remote tracks: per participant and kind, with the FakePublisher tags seen. */
export class RtpCounter {
  private readonly counts = new Map<string, number>();
  readonly tags = new Map<UserId, Set<number>>();
  /** The tag of the latest video packet from each participant (which source it is sending now). */
  readonly lastTag = new Map<UserId, number>();

  /** Counts the tracks the session has and every track it gets from now on. */
  constructor(session: { readonly participants: Participant[]; on(event: 'track', listener: (e: MediaSessionEvents['track']) => void): unknown }) {
    for (const p of session.participants) for (const track of p.tracks) this.watch(p.id, track);
    session.on('track', ({ participant, track }) => this.watch(participant, track));
  }

  private watch(participant: UserId, track: TrackLike): void {
    (track as MediaStreamTrack).onReceiveRtp.subscribe((rtp) => {
      const key = `${participant}/${track.kind}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      if (track.kind === 'video') {
        let tags = this.tags.get(participant);
        if (!tags) this.tags.set(participant, (tags = new Set()));
        tags.add(rtp.payload[2]!);
        this.lastTag.set(participant, rtp.payload[2]!);
      }
    });
  }

  count(participant: UserId, kind: 'audio' | 'video'): number {
    return this.counts.get(`${participant}/${kind}`) ?? 0;
  }

  /** Both kinds from `participant` grew by more than `n` since `since` (a snapshot from snapshot()). */
  grew(participant: UserId, n: number, since: Record<string, number> = {}): boolean {
    return (['audio', 'video'] as const).every((kind) => this.count(participant, kind) > (since[`${participant}/${kind}`] ?? 0) + n);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

export function nextIncoming(client: RoundtableClient): Promise<Call> {
  return new Promise((resolve) => client.once('incomingCall', resolve));
}

export function endedWith(call: { endReason: EndReason | undefined; once(event: 'ended', l: (e: { reason: EndReason }) => void): unknown }): Promise<EndReason> {
  if (call.endReason) return Promise.resolve(call.endReason);
  return new Promise((resolve) => call.once('ended', ({ reason }) => resolve(reason)));
}

/** Resolves once `read()` stops changing for `quietMs` (media stopped); fails if it keeps changing for `timeoutMs`. */
export async function stalls(read: () => number, what: string, quietMs = 600, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  let last = read();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: still flowing after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

/** A stand-in for navigator.mediaDevices: FakePublisher sources as cameras, microphones and screens. */
export class FakeDevices implements MediaDevicesLike {
  readonly publishers: FakePublisher[] = [];
  readonly asked: MediaConstraintsLike[] = [];

  constructor(
    private readonly env: TestPeerEnvironment,
    /** Tag of the first source made; each next one gets the next tag. */
    private nextTag: number,
  ) {}

  async getUserMedia(constraints: MediaConstraintsLike): Promise<{ getTracks(): MediaStreamTrack[] }> {
    this.asked.push(constraints);
    const p = this.source();
    return { getTracks: () => [...(constraints.audio ? [p.audio] : []), ...(constraints.video ? [p.video] : [])] };
  }

  async enumerateDevices(): Promise<MediaDeviceInfoLike[]> {
    return [
      { deviceId: 'mic-1', kind: 'audioinput', label: 'Fake microphone' },
      { deviceId: 'camera-1', kind: 'videoinput', label: 'Fake camera 1' },
      { deviceId: 'camera-2', kind: 'videoinput', label: 'Fake camera 2' },
      { deviceId: 'speaker-1', kind: 'audiooutput', label: 'Fake speaker' },
    ];
  }

  async getDisplayMedia(constraints: MediaConstraintsLike): Promise<{ getTracks(): MediaStreamTrack[] }> {
    this.asked.push(constraints);
    const p = this.source();
    return { getTracks: () => [p.video] };
  }

  private source(): FakePublisher {
    const p = new FakePublisher(this.nextTag++);
    p.start(20);
    this.publishers.push(p);
    this.env.cleanup.push(() => p.stop());
    return p;
  }
}
