import { pathToFileURL } from 'node:url';
import { MediaError, TransportRoom, type Composite, type DtlsCertificate, type HubPort, type MediaConfig, type MediaElement, type MediaPipeline, type RecorderEndpoint, type UdpMux, type WebRtcEndpoint } from '@roundtable/media';
import type { IceCandidateInit } from '@roundtable/protocol';
import type { Logger } from '../logger.js';
import { SignalingError } from '../net/Handlers.js';
import type { MediaRoom, PublishOptions, RoomAudio, RoomRecordingOptions, RoomRecordingResult, RoomVideoRequest } from './MediaServer.js';
import { RoomLinks } from './RoomLinks.js';
import { ListenedRoom } from './RoomListeners.js';

/**
 * How long starting a recording waits for its file to begin (the media to reach the
 * recorder); after that it counts as started anyway (nobody sends video yet, say).
 */
const FIRST_WRITE_WAIT_MS = 10_000;

/**
 * A receiveVideoFrom naming a sender that has not said anything yet waits this long for
 * its first words (they say whether it publishes on transports or on an uplink endpoint).
 */
const SENDER_WAIT_MS = 2000;

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

/** An engine error as the signaling error a client gets (a bad SDP, a closed object...). */
function mediaError(error: unknown): SignalingError {
  if (error instanceof SignalingError) return error;
  if (error instanceof MediaError && error.code === 'INVALID_STATE') return new SignalingError('INVALID_STATE', error.message);
  return new SignalingError('MEDIA_ERROR', error instanceof Error ? error.message : String(error));
}

/** What the rooms' transports share: the UDP port of each ICE address and the DTLS certificate. */
export interface TransportEngine {
  muxes: readonly UdpMux[];
  certificate: DtlsCertificate;
  announcedAddress: string | undefined;
  bandwidthEstimation: MediaConfig['bandwidthEstimation'];
}

/**
 * The room, written once: the bundled words on a TransportRoom (two transports per
 * participant), the seed's receiveVideoFrom on an endpoint per (participant, sender), a
 * Composite for the mixed audio and for the recording. InProcessMediaServer makes it; a
 * media worker's or a media node's RoomHost holds it for signaling elsewhere.
 */
export class InProcessRoom extends ListenedRoom implements MediaRoom {
  readonly bundled = true;
  /** Everyone who joined, whichever words they speak. */
  private readonly members = new Set<string>();
  /** The seed's words: an uplink endpoint per participant, a downlink per (receiver, sender). */
  private readonly links = new RoomLinks<WebRtcEndpoint>();
  /** The bundled words: two transports per participant, made at its first publish. */
  private transports: TransportRoom | undefined;
  private opening: Promise<TransportRoom> | undefined;
  /** Participants whose first publish waits for the TransportRoom. */
  private readonly publishing = new Set<string>();
  /** The audio mix of a 'mixed' room, and each participant's port on it. */
  private mixer: Composite | undefined;
  private readonly mixPorts = new Map<string, HubPort>();
  /** The recording: a Composite of every uplink whose output port feeds a recorder. */
  private rec: { composite: Composite; recorder: RecorderEndpoint; path: string; ports: Map<string, HubPort>; failed?: string } | undefined;

  constructor(
    label: string,
    readonly audio: RoomAudio,
    readonly pipeline: MediaPipeline,
    private readonly engine: () => Promise<TransportEngine>,
    private readonly onGone: () => void,
    log: Logger,
  ) {
    // Never `closed` but by close(): a fault of this thread's engine ends the process.
    super(label, log);
  }

  async join(participant: string): Promise<void> {
    this.assertOpen();
    this.members.add(participant);
  }

  async publish(participant: string, sdpOffer: string, options: PublishOptions = {}): Promise<string> {
    this.assertOpen();
    this.assertMember(participant);
    if (this.links.has(participant)) throw new SignalingError('INVALID_STATE', `${participant} already sends with receiveVideoFrom in this room`);
    this.publishing.add(participant);
    let room: TransportRoom;
    try {
      room = await this.transportRoom();
    } finally {
      this.publishing.delete(participant);
    }
    this.assertMember(participant);
    const first = !room.has(participant);
    let answer: string;
    try {
      answer = room.publish(participant, sdpOffer, { renew: options.renew === true });
    } catch (error) {
      throw mediaError(error);
    }
    if (first && this.rec) this.addToRecording(participant, room.elementOf(participant)!);
    return answer;
  }

  async restartReceiving(participant: string): Promise<void> {
    this.assertOpen();
    if (!this.transports?.has(participant)) throw new SignalingError('INVALID_STATE', `${participant} has not published in this room`);
    try {
      this.transports.restartReceiving(participant);
    } catch (error) {
      throw mediaError(error);
    }
  }

  async subscribeAnswer(participant: string, sdpAnswer: string): Promise<void> {
    this.assertOpen();
    if (!this.transports?.has(participant)) throw new SignalingError('INVALID_STATE', `${participant} has not published in this room`);
    try {
      this.transports.answer(participant, sdpAnswer);
    } catch (error) {
      throw mediaError(error);
    }
  }

  async repeatOffer(participant: string): Promise<void> {
    this.transports?.repeatOffer(participant);
  }

  async requestVideo(participant: string, publisher: string, request: RoomVideoRequest): Promise<void> {
    this.assertOpen();
    if (!this.transports?.has(participant)) throw new SignalingError('INVALID_STATE', `${participant} has not published in this room`);
    try {
      this.transports.requestLayers(participant, publisher, request);
    } catch (error) {
      throw mediaError(error);
    }
  }

  async connectionCount(): Promise<number> {
    return this.connections;
  }

  get connections(): number {
    return (this.transports?.transportCount ?? 0) + this.links.endpointCount();
  }

  async receiveVideoFrom(participant: string, sender: string, sdpOffer: string, options: { loopback?: boolean } = {}): Promise<string> {
    this.assertOpen();
    this.assertMember(participant);
    if (this.transports?.has(participant)) throw new SignalingError('INVALID_STATE', `${participant} publishes on its sending connection in this room`);
    this.ensureUplink(participant);
    if (sender !== participant) {
      this.assertMember(sender);
      // The sender's own first words may still be on their way: they say which words it speaks.
      const started = await this.started(sender);
      this.assertOpen();
      this.assertMember(participant);
      this.assertMember(sender);
      if (!started) this.ensureUplink(sender);
    }
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
    // The bundled words need no candidates: the transports are ICE-lite.
    if (this.transports?.has(participant)) return;
    // A client of the seed's words may trickle its uplink's candidates before its offer
    // arrives: the uplink takes them. (An empty one only says "this socket": nothing to make.)
    if (!this.links.has(participant)) {
      if (sender !== participant || candidate.candidate === '') return;
      this.ensureUplink(participant);
    }
    const ep = this.linkFor(participant, sender, false);
    try {
      await ep.addIceCandidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null });
    } catch (error) {
      throw new SignalingError('BAD_REQUEST', error instanceof Error ? error.message : String(error));
    }
  }

  async leave(participant: string): Promise<void> {
    this.members.delete(participant);
    this.rec?.ports.get(participant)?.close();
    this.rec?.ports.delete(participant);
    this.mixPorts.get(participant)?.close();
    this.mixPorts.delete(participant);
    this.transports?.leave(participant);
    for (const ep of this.links.remove(participant)) ep.close();
  }

  participants(): string[] {
    return [...this.members];
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
    for (const participant of this.transports?.participants() ?? []) this.addToRecording(participant, this.transports!.elementOf(participant)!);
    // The recording starts when its file does: at the grid's first picture (with every
    // tile's keyframe in it), so what people are told matches what is written. When after
    // a while nobody sends media at all, there is nothing to wait for.
    const kind = video ? 'video' : 'audio';
    const sending = (): boolean =>
      this.links.participants().some((p) => this.links.linkFor(p, p).isMediaFlowingIn(kind)) || (this.transports?.participants() ?? []).some((p) => this.transports!.isSending(p, kind));
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
    this.listeners.emit('recordingEnded', result);
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopRecording().catch(() => undefined);
    this.transports?.close();
    this.pipeline.close();
    this.onGone();
  }

  /** The room's TransportRoom, made at the first publish (it needs the shared port and certificate). */
  private async transportRoom(): Promise<TransportRoom> {
    if (this.transports) return this.transports;
    this.opening ??= this.engine().then((engine) => {
      this.assertOpen();
      const room = new TransportRoom({
        pipeline: this.pipeline,
        mux: engine.muxes,
        certificate: engine.certificate,
        audio: this.audio,
        ...(this.audio === 'mixed' ? { mixer: this.mix() } : {}),
        transport: {
          ...(engine.announcedAddress === undefined ? {} : { announcedAddress: engine.announcedAddress }),
          ...(engine.bandwidthEstimation === undefined ? {} : { bandwidthEstimation: engine.bandwidthEstimation }),
        },
      });
      room.on('offer', (participant, sdp, tracks) => {
        this.listeners.emit('offer', { participant, sdp, tracks });
      });
      room.on('layers', (participant, mid, rids, active) => {
        this.listeners.emit('layers', { participant, mid, rids, active });
      });
      room.on('speaker', (update) => {
        this.listeners.emit('speakers', { speaker: update.speaker, levels: update.levels });
      });
      // Those who speak the seed's words reach the transports' participants through their uplinks.
      for (const p of this.links.participants()) room.addSource(p, this.links.linkFor(p, p));
      this.transports = room;
      return room;
    });
    try {
      return await this.opening;
    } catch (error) {
      this.opening = undefined;
      throw error instanceof SignalingError ? error : new SignalingError('MEDIA_ERROR', error instanceof Error ? error.message : String(error));
    }
  }

  /** The Composite of a 'mixed' room, shared by the endpoints' and the transports' participants. */
  private mix(): Composite {
    this.mixer ??= this.pipeline.createComposite({ video: false });
    return this.mixer;
  }

  /** The seed's words: `participant`'s uplink endpoint, made at its first use (into the mix and the recording). */
  private ensureUplink(participant: string): void {
    if (this.links.has(participant)) return;
    const uplink = this.endpoint(participant, participant, 'recvonly');
    this.links.addUplink(participant, uplink);
    if (this.audio === 'mixed') {
      // The uplink's audio goes into the mix; the mix of the others comes back on it.
      const port = this.mix().createHubPort();
      uplink.connect(port, 'audio');
      port.connect(uplink, 'audio');
      this.mixPorts.set(participant, port);
    }
    if (this.rec) this.addToRecording(participant, uplink);
    this.transports?.addSource(participant, uplink);
  }

  /**
   * Whether `participant` sends media by now (an uplink, or transports); waits up to
   * SENDER_WAIT_MS for it to start. False: it has not said anything yet.
   */
  private async started(participant: string): Promise<boolean> {
    const deadline = Date.now() + SENDER_WAIT_MS;
    for (;;) {
      if (this.links.has(participant) || this.transports?.has(participant)) return true;
      if (this.closed || !this.members.has(participant)) return false;
      // A first publish waiting for the transports is on its way.
      if (Date.now() >= deadline && !this.publishing.has(participant)) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private assertMember(participant: string): void {
    if (!this.members.has(participant)) throw new SignalingError('NOT_FOUND', `${participant} is not in this room`);
  }

  private addToRecording(participant: string, uplink: MediaElement): void {
    if (!this.rec) return;
    const port = this.rec.composite.createHubPort();
    uplink.connect(port);
    this.rec.ports.set(participant, port);
  }

  /** The endpoint for (participant, sender); a downlink is made (and fed) on first use. */
  private linkFor(participant: string, sender: string, create: boolean): WebRtcEndpoint {
    const feed = (source: MediaElement, ep: WebRtcEndpoint): WebRtcEndpoint => {
      // In a mixed room, the sender's audio reaches others only through the mix.
      if (this.audio === 'mixed') source.connect(ep, 'video');
      else source.connect(ep);
      return ep;
    };
    const bundledSender = sender !== participant ? this.transports?.elementOf(sender) : undefined;
    if (bundledSender) {
      // A sender on transports, seen by a receiver of the seed's words: its media as an element.
      if (!create) return this.links.downlink(participant, sender, () => {
        throw new SignalingError('INVALID_STATE', `no link from ${sender} to ${participant} yet: send receiveVideoFrom first`);
      });
      return this.links.downlink(participant, sender, () => feed(bundledSender, this.endpoint(participant, sender, 'sendonly')));
    }
    return this.links.linkFor(participant, sender, create ? (source) => feed(source, this.endpoint(participant, sender, 'sendonly')) : undefined);
  }

  private endpoint(participant: string, sender: string, direction: 'sendonly' | 'recvonly'): WebRtcEndpoint {
    // An uplink only receives from its peer; a downlink only sends. Loopback needs both.
    const ep = this.pipeline.createWebRtcEndpoint({ direction: direction === 'recvonly' ? 'sendrecv' : 'sendonly' });
    ep.on('iceCandidate', (candidate) => {
      this.listeners.emit('candidate', { participant, sender, candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null } });
    });
    return ep;
  }

}
