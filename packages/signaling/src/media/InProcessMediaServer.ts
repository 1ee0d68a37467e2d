import { pathToFileURL } from 'node:url';
import { MediaPipeline, type Composite, type HubPort, type MediaConfig, type RecorderEndpoint, type WebRtcEndpoint } from '@roundtable/media';
import type { IceCandidateInit } from '@roundtable/protocol';
import { SignalingError } from '../net/Handlers.js';
import type { MediaRoom, MediaServer, RoomAudio, RoomCandidate, RoomOptions, RoomRecordingOptions, RoomRecordingResult } from './MediaServer.js';
import { RoomLinks } from './RoomLinks.js';

/**
 * How long starting a recording waits for its file to begin (the media to reach the
 * recorder); after that it counts as started anyway (nobody sends video yet, say).
 */
const FIRST_WRITE_WAIT_MS = 10_000;

/** How long starting a recording waits before it checks that anyone sends media at all. */
const NOBODY_SENDS_AFTER_MS = 5000;

/**
 * Resolves when `recorder` writes its first media, after `ms`, or after
 * NOBODY_SENDS_AFTER_MS when `sending()` says no media comes in.
 */
function firstWrite(recorder: RecorderEndpoint, ms: number, sending: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      clearTimeout(check);
      offWriting();
      offStopped();
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    const check = setTimeout(() => {
      if (!sending()) done();
    }, NOBODY_SENDS_AFTER_MS);
    check.unref();
    const offWriting = recorder.subscribe('writing', done);
    const offStopped = recorder.subscribe('stopped', done);
  });
}

/** The embedded default: rooms are pipelines of this process's media engine. */
export class InProcessMediaServer implements MediaServer {
  readonly kind = 'in-process';
  private readonly rooms = new Set<InProcessRoom>();

  constructor(private readonly config: Partial<MediaConfig> = {}) {}

  async createRoom(label: string, options: RoomOptions = {}): Promise<MediaRoom> {
    const room = new InProcessRoom(label, options.audio ?? 'forwarded', new MediaPipeline(this.config), () => this.rooms.delete(room));
    this.rooms.add(room);
    return room;
  }

  async ready(): Promise<boolean> {
    return true;
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  async close(): Promise<void> {
    for (const room of [...this.rooms]) await room.close();
  }
}

class InProcessRoom implements MediaRoom {
  private readonly links = new RoomLinks<WebRtcEndpoint>();
  private readonly listeners: Array<(c: RoomCandidate) => void> = [];
  /** The audio mix of a 'mixed' room, and each participant's port on it. */
  private mixer: Composite | undefined;
  private readonly mixPorts = new Map<string, HubPort>();
  /** The recording: a Composite of every uplink whose output port feeds a recorder. */
  private rec: { composite: Composite; recorder: RecorderEndpoint; path: string; ports: Map<string, HubPort>; failed?: string } | undefined;
  private readonly recordingListeners: Array<(r: RoomRecordingResult) => void> = [];
  private closed = false;

  constructor(
    readonly label: string,
    readonly audio: RoomAudio,
    private readonly pipeline: MediaPipeline,
    private readonly onGone: () => void,
  ) {}

  async join(participant: string): Promise<void> {
    this.assertOpen();
    if (this.links.has(participant)) return;
    const uplink = this.endpoint(participant, participant, 'recvonly');
    this.links.addUplink(participant, uplink);
    if (this.audio === 'mixed') {
      // The uplink's audio goes into the mix; the mix of the others comes back on it.
      this.mixer ??= this.pipeline.createComposite({ video: false });
      const port = this.mixer.createHubPort();
      uplink.connect(port, 'audio');
      port.connect(uplink, 'audio');
      this.mixPorts.set(participant, port);
    }
    if (this.rec) this.addToRecording(participant, uplink);
  }

  async receiveVideoFrom(participant: string, sender: string, sdpOffer: string, options: { loopback?: boolean } = {}): Promise<string> {
    this.assertOpen();
    const ep = this.linkFor(participant, sender, true);
    if (sender === participant && options.loopback) ep.connect(ep);
    try {
      const answer = await ep.processOffer(sdpOffer);
      await ep.gatherCandidates();
      return answer;
    } catch (error) {
      throw new SignalingError('MEDIA_ERROR', error instanceof Error ? error.message : String(error));
    }
  }

  async addIceCandidate(participant: string, sender: string, candidate: IceCandidateInit): Promise<void> {
    this.assertOpen();
    const ep = this.linkFor(participant, sender, false);
    try {
      await ep.addIceCandidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null });
    } catch (error) {
      throw new SignalingError('BAD_REQUEST', error instanceof Error ? error.message : String(error));
    }
  }

  async leave(participant: string): Promise<void> {
    this.rec?.ports.get(participant)?.close();
    this.rec?.ports.delete(participant);
    this.mixPorts.get(participant)?.close();
    this.mixPorts.delete(participant);
    for (const ep of this.links.remove(participant)) ep.close();
  }

  participants(): string[] {
    return this.links.participants();
  }

  onCandidate(listener: (c: RoomCandidate) => void): void {
    this.listeners.push(listener);
  }

  get recording(): boolean {
    return this.rec !== undefined;
  }

  async startRecording(options: RoomRecordingOptions): Promise<void> {
    this.assertOpen();
    if (this.rec) throw new SignalingError('INVALID_STATE', `room ${this.label} is already being recorded`);
    const video = options.video ?? true;
    const composite = this.pipeline.createComposite(video ? {} : { video: false });
    let recorder: RecorderEndpoint;
    try {
      recorder = this.pipeline.createRecorderEndpoint({ uri: pathToFileURL(options.path).href, mediaProfile: video ? 'WEBM' : 'WEBM_AUDIO_ONLY', startWithPicture: true });
    } catch (error) {
      composite.close();
      throw new SignalingError('MEDIA_ERROR', error instanceof Error ? error.message : String(error));
    }
    // The output port has no input: it carries the mix of everyone (and the grid).
    composite.createHubPort().connect(recorder);
    const rec = { composite, recorder, path: options.path, ports: new Map<string, HubPort>() } as NonNullable<InProcessRoom['rec']>;
    this.rec = rec;
    recorder.on('error', (error) => {
      rec.failed = error.message;
    });
    // The recorder stopped by itself (its process kept crashing and it gave up): the
    // recording ends here, as failed, with what was written so far finalised.
    recorder.on('stopped', () => {
      if (this.rec === rec) void this.stopRecording();
    });
    for (const participant of this.links.participants()) this.addToRecording(participant, this.links.linkFor(participant, participant));
    // The recording starts when its file does: at the grid's first picture (with every
    // tile's keyframe in it), so what people are told matches what is written. When after
    // a while nobody sends media at all, there is nothing to wait for.
    const kind = video ? 'video' : 'audio';
    const sending = (): boolean => this.links.participants().some((p) => this.links.linkFor(p, p).isMediaFlowingIn(kind));
    const writing = firstWrite(recorder, FIRST_WRITE_WAIT_MS, sending);
    try {
      await recorder.record();
      await writing;
    } catch (error) {
      this.rec = undefined;
      recorder.close();
      composite.close();
      throw new SignalingError('MEDIA_ERROR', error instanceof Error ? error.message : String(error));
    }
  }

  async stopRecording(): Promise<RoomRecordingResult | undefined> {
    const rec = this.rec;
    if (!rec) return undefined;
    this.rec = undefined;
    await rec.recorder.stopAndWait();
    rec.recorder.close();
    rec.composite.close();
    const result: RoomRecordingResult = rec.failed === undefined ? { path: rec.path, ok: true } : { path: rec.path, ok: false, error: rec.failed };
    for (const l of this.recordingListeners) l(result);
    return result;
  }

  onRecordingEnded(listener: (result: RoomRecordingResult) => void): void {
    this.recordingListeners.push(listener);
  }

  onClosed(_listener: (reason: string) => void): void {
    // Nothing but close() ends a room of this thread's engine: a fault here ends the process.
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopRecording().catch(() => undefined);
    this.pipeline.close();
    this.onGone();
  }

  private addToRecording(participant: string, uplink: WebRtcEndpoint): void {
    if (!this.rec) return;
    const port = this.rec.composite.createHubPort();
    uplink.connect(port);
    this.rec.ports.set(participant, port);
  }

  /** The endpoint for (participant, sender); a downlink is made (and fed) on first use. */
  private linkFor(participant: string, sender: string, create: boolean): WebRtcEndpoint {
    return this.links.linkFor(
      participant,
      sender,
      create
        ? (source) => {
            const ep = this.endpoint(participant, sender, 'sendonly');
            // In a mixed room, the sender's audio reaches others only through the mix.
            if (this.audio === 'mixed') source.connect(ep, 'video');
            else source.connect(ep);
            return ep;
          }
        : undefined,
    );
  }

  private endpoint(participant: string, sender: string, direction: 'sendonly' | 'recvonly'): WebRtcEndpoint {
    // An uplink only receives from its peer; a downlink only sends. Loopback needs both.
    const ep = this.pipeline.createWebRtcEndpoint({ direction: direction === 'recvonly' ? 'sendrecv' : 'sendonly' });
    ep.on('iceCandidate', (candidate) => {
      for (const l of this.listeners) l({ participant, sender, candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null } });
    });
    return ep;
  }

  private assertOpen(): void {
    if (this.closed) throw new SignalingError('INVALID_STATE', `room ${this.label} is closed`);
  }
}
