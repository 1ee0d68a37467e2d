import { DEFAULT_PEER_STATE, type PeerState, type Reaction, type RecordingId, type ServerSignalPayload, type SignalPayload, type UserId, type VideoQuality } from '@roundtable/protocol';
import type { CallMedia, CallMediaContext, MediaKind } from './CallMedia.js';
import type { RecoveringLink, RecoveryChange, RecoveryOptions } from './LinkRecovery.js';
import { LocalTracks, type LocalMediaState } from './LocalTracks.js';
import { ParticipantList, type Participant } from './Participant.js';
import type { LocalMedia, MediaDevicesLike, PeerConnectionLike, TrackLike } from './platform.js';
import { StatsCollector, type QualityLevel, type SessionStats } from './StatsCollector.js';
import { TypedEmitter, type ListenerErrorReporter } from './TypedEmitter.js';

/** The events every call and room emits (a call screen listens to these). */
export type MediaSessionEvents = {
  /** Someone is now in (answered, or was there when we joined). */
  participantJoined: { participant: UserId };
  /** Someone who was in left: hung up, or (`dropped`) their device went and did not come back in time. */
  participantLeft: { participant: UserId; dropped: boolean };
  /** A participant's device dropped (`reconnecting`: the server gives them a grace period to come back) or came back. */
  participantConnection: { participant: UserId; reconnecting: boolean };
  /** This device's own media links: `reconnecting` while one lost its path (ICE restarts) until every link is connected again. */
  connection: { reconnecting: boolean };
  /**
   * A lost media link is being brought back (bundled media): each attempt ('retrying',
   * with its number and the wait before it), then 'recovered', or 'failed' once every
   * attempt failed: show it, and offer `retryMedia()`.
   */
  recovery: RecoveryChange;
  /** Any change of `participants` (ringing, joined, left, a new track): re-read the list. */
  participantsChanged: { participants: Participant[] };
  /** A remote track arrived (one per kind and participant; in a loopback call the participant is you). */
  track: { participant: UserId; track: TrackLike };
  /** Hybrid calls: the server's mix of everyone else's audio (play this one; the others' tracks are video only). */
  mixedAudio: { track: TrackLike };
  /** Your own media changed (mute, camera, screen share, device switch): update the local preview and the buttons. */
  localMediaChanged: LocalMediaState;
  /** Every `statsIntervalMs` while media is up. */
  stats: SessionStats;
  /** The overall quality level changed (also sent once with the first stats). */
  quality: { level: QualityLevel; previous: QualityLevel | null };
  /** A media or signaling step failed; the session goes on unless it also ends. */
  error: { error: unknown };
  /** Recording started or stopped (by `by`, anyone in the session; null when the server stopped it): show a red dot while `recording`. */
  recording: RecordingChange;
  /** Someone (you included) sent a reaction: show it briefly over their tile. */
  reaction: { participant: UserId; reaction: Reaction };
  /**
   * Who speaks, as the media server measures it from the audio levels in everyone's
   * audio (bundled calls and rooms; never in P2P calls, nor when the server measures no
   * levels: read getStats' audioLevel there). `speaker`: the dominant speaker (you
   * included), null when nobody speaks; `levels`: each participant's level now (0-1, as
   * getStats' audioLevel), yours included. At most every 200 ms, when something changed.
   */
  activeSpeaker: { speaker: UserId | null; levels: ReadonlyMap<UserId, number> };
  /** Your raised hand changed (the others see it in their participant list). */
  handRaised: { raised: boolean };
  /**
   * The media moved to another media server (its media node stopped; calls and rooms
   * through the media server): we are still in, the others too; new peer connections
   * follow at once, and `track` events bring the others' media again.
   */
  moved: Record<string, never>;
};

/** A recording of a call or room started or stopped. */
export interface RecordingChange {
  recording: boolean;
  /** Who started or stopped it; null when it stopped because the session ended. */
  by: UserId | null;
  recordingId: RecordingId;
}

/** What a session needs from the client: callbacks, not a reference to it. */
export interface MediaSessionContext {
  readonly me: UserId;
  createPeer(): Promise<PeerConnectionLike>;
  reportError: ListenerErrorReporter;
  /** Where cameras, microphones and screens come from (device switch, screen share, voice -> video). */
  mediaDevices?: MediaDevicesLike | undefined;
  /** How often `stats` is emitted (ms); 0 turns it off. */
  statsIntervalMs: number;
  /** Use the media server's bundled words when it takes them (SfuMedia). Default true. */
  bundledMedia?: boolean;
  /** How lost links are retried (bundled media). Default: RecoveryOptions' defaults. */
  recovery?: RecoveryOptions | undefined;
  /** Publish camera video as simulcast layers on the bundled words (BundledMedia). Default false. */
  simulcast?: boolean;
}

/**
 * What calls and rooms share: the other participants, this device's outgoing media and
 * its controls, the media layer (P2P, SFU or loopback) and the signals it exchanges
 * (handled one at a time), and stats.
 */
export abstract class MediaSession<Events extends MediaSessionEvents> extends TypedEmitter<Events> {
  protected media: CallMedia | undefined;
  protected readonly people: ParticipantList;
  protected readonly local: LocalTracks;
  private readonly collector: StatsCollector;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private level: QualityLevel | null = null;
  private mix: TrackLike | null = null;
  private speakerNow: UserId | null = null;
  private levelsNow: ReadonlyMap<UserId, number> = new Map();
  /** The media server sent who speaks at least once (it measures levels). */
  private serverSpeakers = false;
  private recordingNow: RecordingChange | null = null;
  /** The state the server was last told (what the others see on our tile). */
  private announcedState: PeerState = { ...DEFAULT_PEER_STATE };
  /** The server is to be told the whole state, not what changed (after a rejoin it may hold an old one). */
  private announceWhole = false;
  private hand = false;
  /** What the app measured of our own microphone (setSpeaking). */
  private speakingNow = false;
  /** connectionState of each media link, for the `connection` event. */
  private readonly linkStates = new Map<string, string>();
  private linksReconnecting = false;
  /** Links whose recovery gave up. */
  private readonly failedLinks = new Set<RecoveringLink>();
  /** Signals are handled one at a time, in arrival order (each may await the peer connection). */
  private signalQueue: Promise<void> = Promise.resolve();

  protected constructor(
    protected readonly session: MediaSessionContext,
    localMedia: LocalMedia | undefined,
  ) {
    super(session.reportError);
    this.people = new ParticipantList(session.me, {
      joined: (participant) => this.fire('participantJoined', { participant }),
      left: (participant, dropped) => this.fire('participantLeft', { participant, dropped }),
      connection: (participant, reconnecting) => this.fire('participantConnection', { participant, reconnecting }),
      changed: () => this.fire('participantsChanged', { participants: this.people.list() }),
    });
    this.local = new LocalTracks(session.mediaDevices, {
      videoWanted: () => !this.audioOnly,
      changed: (state) => {
        this.fire('localMediaChanged', state);
        this.announceState();
      },
      error: (error) => this.fire('error', { error }),
    });
    this.local.use(localMedia);
    this.collector = new StatsCollector(session.me);
  }

  /** The other participants (never you), in the order they became known. */
  get participants(): Participant[] {
    return this.people.list();
  }

  /** Hybrid calls: the server's audio mix of the others, once it arrived (null otherwise). */
  get mixedAudio(): TrackLike | null {
    return this.mix;
  }

  /**
   * The dominant speaker as the media server last said (null: nobody, or the server says
   * nothing: see `serverMeasuresSpeakers`).
   */
  get activeSpeaker(): UserId | null {
    return this.speakerNow;
  }

  /** Each participant's audio level (0-1) as the media server last said, you included. */
  get audioLevels(): ReadonlyMap<UserId, number> {
    return this.levelsNow;
  }

  /** Whether the media server told us who speaks (then `activeSpeaker` and `audioLevels` hold; else measure levels on the device). */
  get serverMeasuresSpeakers(): boolean {
    return this.serverSpeakers;
  }

  /** Whether the session is over (hung up, left, ended by the server). */
  abstract get ended(): boolean;

  /** Whether the session is being recorded (from the server's recording notifications). */
  get recording(): boolean {
    return this.recordingNow?.recording ?? false;
  }

  /** The recording in progress, if any. */
  get recordingId(): RecordingId | null {
    return this.recordingNow?.recording ? this.recordingNow.recordingId : null;
  }

  /**
   * Starts or stops recording the session (through the media server: SFU calls and
   * rooms; a P2P call answers INVALID_STATE). Resolves with the recording's id; everyone
   * in it then gets the `recording` event. Any participant may start or stop it.
   */
  abstract record(action: 'start' | 'stop'): Promise<RecordingId>;

  /** A recording notification for this session. */
  protected onRecording(change: RecordingChange): void {
    this.recordingNow = change;
    this.fire('recording', change);
  }

  /** Whether one of this device's media links lost its path and is being restarted (see the `connection` event). */
  get reconnecting(): boolean {
    return this.linksReconnecting;
  }

  /** Whether a media link's recovery gave up (the `recovery` event said 'failed'): offer `retryMedia()`. */
  get mediaFailed(): boolean {
    return this.failedLinks.size > 0;
  }

  /** After a media link's recovery gave up: tries again (the `recovery` events follow). */
  retryMedia(): void {
    this.media?.retry?.();
  }

  /** Voice only: no video goes out (a screen share still does). */
  abstract get audioOnly(): boolean;

  // --- local controls ----------------------------------------------------------------

  /** Your microphone, camera and screen, and whether each goes out. */
  get localMedia(): LocalMediaState {
    return this.local.state;
  }

  get audioMuted(): boolean {
    return this.local.state.audioMuted;
  }

  get cameraOff(): boolean {
    return this.local.state.cameraOff;
  }

  get screenSharing(): boolean {
    return this.local.state.screenSharing;
  }

  /** Mutes (nothing goes out, the track is disabled) or unmutes the microphone. */
  setAudioMuted(muted: boolean): Promise<void> {
    return this.local.setAudioMuted(muted);
  }

  /** Turns the camera off (nothing goes out, the track is disabled) or on again. */
  setCameraOff(off: boolean): Promise<void> {
    return this.local.setCameraOff(off);
  }

  /** Shares a screen instead of the camera (getDisplayMedia); resolves with the screen track. Ends by stopScreenShare() or the browser's own "stop sharing". */
  startScreenShare(): Promise<TrackLike> {
    return this.local.startScreenShare();
  }

  stopScreenShare(): Promise<void> {
    return this.local.stopScreenShare();
  }

  /** Switches microphone or camera mid-call to the device `deviceId` (from enumerateDevices()); the old track is stopped unless `stopOld` is false. */
  switchDevice(kind: MediaKind, deviceId: string, options: { stopOld?: boolean } = {}): Promise<TrackLike> {
    return this.local.switchDevice(kind, deviceId, options.stopOld ?? true);
  }

  /** Sends `track` as the microphone or camera from now on (a track the app opened itself). */
  replaceLocalTrack(kind: MediaKind, track: TrackLike | null, options: { stopOld?: boolean } = {}): Promise<void> {
    return this.local.replaceTrack(kind, track, options.stopOld ?? true);
  }

  /** Whether your hand is raised (the others see it). */
  get handRaised(): boolean {
    return this.hand;
  }

  /** Raises or lowers your hand: the others see it (`Participant.handRaised`). */
  async setHandRaised(raised: boolean): Promise<void> {
    if (this.hand === raised) return;
    this.hand = raised;
    this.fire('handRaised', { raised });
    this.announceState();
  }

  /** Sends a reaction to everyone in the session (you get the `reaction` event too, from the server). */
  abstract react(reaction: Reaction): Promise<void>;

  /**
   * Tells the others whether you speak (`Participant.speaking`), from your own microphone
   * level as the app measures it: for sessions where they cannot measure it themselves (mixed
   * audio: each gets only the server's mix). Announced only when it changes; never while muted.
   */
  setSpeaking(speaking: boolean): void {
    if (this.speakingNow === speaking) return;
    this.speakingNow = speaking;
    this.announceState();
  }

  /**
   * What the others are to see of us: mute, whether any video goes out (camera off,
   * voice only, or no camera at all; a screen share is video), hand.
   */
  protected wireState(): PeerState {
    const local = this.local.state;
    const videoOut = local.screenSharing || (!local.cameraOff && !this.audioOnly && local.video !== null);
    return { audioMuted: local.audioMuted, cameraOff: !videoOut, screenSharing: local.screenSharing, handRaised: this.hand, ...(this.speakingNow && !local.audioMuted ? { speaking: true } : {}) };
  }

  /**
   * Tells the server what changed since it was last told, once the session may (the
   * server takes `call.state` / `room.state` from those in it). Called on every local
   * change and when the session is joined; after a (re)join, with `fresh`: the whole
   * state (the server forgot it, or still holds the one of a page that reloaded).
   */
  protected announceState(fresh = false): void {
    if (fresh) this.announceWhole = true;
    if (this.ended || !this.canAnnounce()) return;
    const now = this.wireState();
    const last = this.announcedState;
    const whole = this.announceWhole;
    const change: Partial<PeerState> = whole ? { ...now } : {};
    if (now.audioMuted !== last.audioMuted) change.audioMuted = now.audioMuted;
    if (now.cameraOff !== last.cameraOff) change.cameraOff = now.cameraOff;
    if (now.screenSharing !== last.screenSharing) change.screenSharing = now.screenSharing;
    if (now.handRaised !== last.handRaised) change.handRaised = now.handRaised;
    if ((now.speaking === true) !== (last.speaking === true)) change.speaking = now.speaking === true;
    if (Object.keys(change).length === 0) return;
    this.announcedState = now;
    this.announceWhole = false;
    this.sendPeerState(change).catch((error: unknown) => {
      // Not taken: told again with the next change.
      this.announcedState = { ...DEFAULT_PEER_STATE, ...last };
      if (whole) this.announceWhole = true;
      if (!this.ended) this.fire('error', { error });
    });
  }

  /** Whether the server now takes our state (we are in the session). */
  protected abstract canAnnounce(): boolean;

  /** Sends `call.state` / `room.state` with the fields that changed. */
  protected abstract sendPeerState(change: Partial<PeerState>): Promise<void>;

  /** A participant state notification for this session. */
  protected onPeerState(participant: UserId, state: PeerState): void {
    this.people.peerState(participant, state);
  }

  /** A reaction notification for this session. */
  protected onReaction(participant: UserId, reaction: Reaction): void {
    this.fire('reaction', { participant, reaction });
  }

  // --- stats ---------------------------------------------------------------------------

  /** Samples the peer connections now: per participant bitrate in/out, loss, RTT, quality. Rates cover the time since the previous sample. */
  async getStats(): Promise<SessionStats> {
    return this.collector.sample(this.media?.statsSources() ?? []);
  }

  /**
   * Restarts ICE now on every link of this session (P2P: a new offer to the other side;
   * through the media server: a new offer per link to the server). The SDK does it by
   * itself when a link loses its path and after a reconnect when a link lost it.
   */
  async restartIce(): Promise<void> {
    await this.media?.restartIce(true);
  }

  // --- for subclasses ----------------------------------------------------------------

  /**
   * What we ask of `participant`'s video: 'off', 'low', 'medium', 'high', or the size of
   * the tile we show it in ({maxWidth, maxHeight}, CSS pixels times devicePixelRatio). On
   * the bundled words the media server then forwards the simulcast layer that fits
   * (docs/adaptation.md); elsewhere nothing changes.
   */
  setVideoQuality(participant: UserId, quality: VideoQuality): void {
    this.media?.setVideoQuality?.(participant, quality);
  }

  /** Sends a signal payload to the server for this session. */
  protected abstract sendSignal(payload: SignalPayload): Promise<void>;

  /** Media became connected with at least one other participant (or with the server, for loopback and rooms). */
  protected abstract onMediaConnected(): void;

  /** Emits one of the shared events (the subclass's event map includes them). */
  protected fire<K extends keyof MediaSessionEvents>(event: K, payload: MediaSessionEvents[K]): void {
    (this.emit as unknown as (event: K, payload: MediaSessionEvents[K]) => void).call(this, event, payload);
  }

  protected mediaContext(): CallMediaContext {
    return {
      me: this.session.me,
      signal: (payload) => this.sendSignal(payload),
      createPeer: () => this.session.createPeer(),
      outgoing: () => this.local.slots(),
      onSenders: (senders) => this.local.setSenders(senders),
      onTrack: (participant, track) => {
        this.people.track(participant, track);
        this.fire('track', { participant, track });
      },
      onMixedAudio: (track) => {
        this.mix = track;
        this.fire('mixedAudio', { track });
      },
      onActiveSpeaker: (speaker, levels) => {
        this.serverSpeakers = true;
        this.speakerNow = speaker;
        this.levelsNow = new Map((Object.entries(levels ?? {}) as Array<[UserId, unknown]>).filter((e): e is [UserId, number] => typeof e[1] === 'number'));
        this.fire('activeSpeaker', { speaker, levels: this.levelsNow });
      },
      onParticipantJoined: (participant) => this.people.joined(participant),
      onParticipantLeft: (participant) => this.people.left(participant),
      onConnected: () => {
        this.startStats();
        this.onMediaConnected();
      },
      onError: (error) => this.fire('error', { error }),
      onPathLost: () => this.restartIceWhereNeeded(),
      onLinkState: (link, state) => this.onLinkState(link, state),
      recovery: this.session.recovery,
      onRecovery: (change) => {
        if (change.state === 'failed') this.failedLinks.add(change.link);
        else this.failedLinks.delete(change.link);
        if (!this.ended) this.fire('recovery', change);
      },
    };
  }

  private onLinkState(link: string, state: string): void {
    if (state === 'closed') this.linkStates.delete(link);
    else this.linkStates.set(link, state);
    const reconnecting = !this.ended && [...this.linkStates.values()].some((s) => s === 'disconnected' || s === 'failed');
    if (reconnecting === this.linksReconnecting) return;
    this.linksReconnecting = reconnecting;
    this.fire('connection', { reconnecting });
  }

  /** Queues a signal for the media layer. */
  protected handleSignal(from: UserId | null, payload: ServerSignalPayload): void {
    // Who came and who left never wait behind peer connection work.
    if (this.media?.handleNow?.(from, payload)) return;
    this.runMedia((media) => media.handle(from, payload));
  }

  protected runMedia(step: (media: CallMedia) => Promise<void>): void {
    const media = this.media;
    if (!media) return;
    this.signalQueue = this.signalQueue.then(() => step(media)).catch((error: unknown) => this.fire('error', { error }));
  }

  /** After a reconnect: restart ICE where a link lost its path. */
  protected restartIceWhereNeeded(): void {
    this.runMedia((media) => media.restartIce(false));
  }

  /**
   * The server moved our media to another media server (room.moved, call.moved): the
   * peer connections to the old one are dropped and `fresh` answers the server's
   * `existingParticipants` that follows, as after a join. The local tracks (and their
   * mute states) stay.
   */
  protected moveMedia(fresh: CallMedia): void {
    this.closeMedia(false);
    this.media = fresh;
  }

  /** Closes the media layer; `final` also stops stats and the screen capture (the session is over). */
  protected closeMedia(final = true): void {
    this.media?.close();
    this.failedLinks.clear();
    if (!final) return;
    clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    this.local.close();
  }

  private startStats(): void {
    if (this.statsTimer || this.session.statsIntervalMs <= 0 || this.ended) return;
    // A first sample now, so the first `stats` event already has rates.
    void this.getStats().catch(() => undefined);
    this.statsTimer = setInterval(() => void this.emitStats(), this.session.statsIntervalMs);
  }

  private async emitStats(): Promise<void> {
    let stats: SessionStats;
    try {
      stats = await this.getStats();
    } catch (error) {
      this.fire('error', { error });
      return;
    }
    if (this.ended) return;
    this.fire('stats', stats);
    if (stats.quality !== this.level) {
      const previous = this.level;
      this.level = stats.quality;
      this.fire('quality', { level: stats.quality, previous });
    }
  }
}
