/**
 * One call (1:1, group) or open room as the call screen shows it: tiles per
 * participant with their media, the local preview and its controls, the talk timer and
 * the quality level. Wraps the SDK's Call or Room; owns the local stream and the stats timer.
 */
import { Call, type CallStateChange, type LocalMediaState, type MediaSession, type MediaSessionEvents, type Participant, type QualityLevel, type Room } from '@roundtable/client';
import type { CallState, ConversationId, EndReason, Reaction, RoomMessage, UserId } from '@roundtable/protocol';
import { markRaw, reactive } from 'vue';
import { stopStream } from '../platform/localMedia.js';
import { errorText } from './errors.js';
import { audioLevels, collectStats, ownAudioLevel, type CallStats } from './stats.js';
import { tileState } from './tileState.js';

export type CallKind = 'direct' | 'group' | 'room';

/** The stats key of a hybrid call's mixed audio (not a user id). */
export const MIXED_AUDIO_OWNER = 'mixedAudio' as UserId;

/** What calls and rooms have in common, as far as the call screen needs. */
export type SessionLike = MediaSession<MediaSessionEvents & { stateChanged: CallStateChange; ended: { reason: EndReason } }> & {
  readonly state: CallState;
  readonly endReason: EndReason | undefined;
  readonly audioOnly: boolean;
};

export interface Tile {
  userId: UserId;
  /** ringing (not answered yet) or joined. */
  state: 'ringing' | 'joined';
  /** Remote audio and video of this participant (tracks are added as they arrive). */
  stream: MediaStream;
  /** What they announced (call.state / room.state). */
  audioMuted: boolean;
  cameraOff: boolean;
  screenSharing: boolean;
  handRaised: boolean;
  /** Their device dropped and the server waits for it to come back (the SDK's `Participant.reconnecting`). */
  reconnecting: boolean;
  /**
   * Their audio level now (0-1): from the media server where it measures levels (bundled
   * calls and rooms), else from getStats; in hybrid calls without the server's levels, 1
   * while they announce they speak.
   */
  level: number;
  /** They say they speak (hybrid calls: from their own microphone level, through signaling). */
  announcesSpeaking: boolean;
}

/** A reaction shown for a few seconds over its sender's tile. */
export interface ShownReaction {
  key: number;
  from: UserId;
  reaction: Reaction;
}

/** How long a reaction stays on screen (ms). */
export const REACTION_SHOWN_MS = 4000;
/** An audio level above this counts as speaking (getStats audioLevel, 0-1). */
export const SPEAKING_LEVEL = 0.02;
/** How often the audio levels are read (ms). */
const LEVEL_INTERVAL_MS = 500;
/** The active speaker stays highlighted this long after they went quiet (ms), so the highlight does not flicker. */
const SPEAKER_HOLD_MS = 1500;

export interface CallSessionInit {
  session: Call | Room;
  kind: CallKind;
  conversationId: ConversationId | null;
  /** The room name, for kind 'room'. */
  room?: string;
  /** We started it (a group call's initiator may invite more and ends it for all). */
  initiator: boolean;
  localStream: MediaStream;
}

export class CallSession {
  /** The SDK object: a Call, or a Room. */
  readonly sdk: Call | Room;
  readonly kind: CallKind;
  readonly conversationId: ConversationId | null;
  readonly room: string | undefined;
  readonly initiator: boolean;
  /** Through the media server (SFU calls and rooms): it can be recorded. P2P media never reaches the server. */
  readonly recordable: boolean;
  /** 'hybrid': video per participant, audio mixed by the server. */
  readonly mediaMode: 'sfu' | 'hybrid';
  readonly state = reactive({
    phase: 'IDLE' as CallState,
    /** Went through CONNECTING: someone answered. */
    answered: false,
    endReason: null as EndReason | null,
    connectedAt: null as number | null,
    tiles: [] as Tile[],
    localStream: null as MediaStream | null,
    audioOnly: false,
    muted: false,
    cameraOff: false,
    sharing: false,
    /** From the SDK's stats (loss and round trip); unknown until the first sample. */
    quality: 'unknown' as QualityLevel | 'unknown',
    lastError: null as string | null,
    /** Someone in the call is recording it (the red REC dot). */
    recording: false,
    recordingBy: null as UserId | null,
    /** A record/stop request is on its way. */
    recordingBusy: false,
    /** Hybrid calls: the server's mix of the others' audio, played once. */
    mixedAudio: null as MediaStream | null,
    /** A camera track is open (a voice call, or a voice-only answer, has none until "Turn camera on"). */
    hasCamera: false,
    /** My hand is raised. */
    handRaised: false,
    /** Reactions on screen now (each goes after REACTION_SHOWN_MS). */
    reactions: [] as ShownReaction[],
    /** The remote participant speaking loudest lately (from their audio level), or null. */
    activeSpeaker: null as UserId | null,
    /** Rooms: the room's own chat, oldest first (kept by the server while the room is open). Calls use their conversation's messages. */
    roomMessages: [] as RoomMessage[],
  });
  /** Remote track id -> its participant, to read per-participant stats. */
  readonly trackOwners = new Map<string, UserId>();
  private readonly streams = new Map<UserId, MediaStream>();
  private cameraStream: MediaStream;
  private previewScreen: MediaStream | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  private disposed = false;
  /** The last size each remote tile reported (device pixels), and the pinned one: what setVideoQuality says. */
  private readonly tileSizes = new Map<UserId, { w: number; h: number }>();
  private pinnedUser: UserId | null = null;
  private levelTimer: ReturnType<typeof setInterval> | undefined;
  private readonly reactionTimers = new Set<ReturnType<typeof setTimeout>>();
  private reactionKey = 0;
  private speakerSince = 0;
  /** The loudest level the media server reported of each participant since the last read (when it measures levels). */
  private readonly serverPeaks = new Map<UserId, number>();
  /** Hybrid calls: when our own microphone was last loud enough to count as speaking. */
  private selfSpokeAt = 0;
  /** Set when the call ended because the other side's device dropped (for the notice). */
  droppedPeer: UserId | undefined;

  constructor(init: CallSessionInit) {
    this.sdk = markRaw(init.session);
    this.kind = init.kind;
    this.conversationId = init.conversationId;
    this.room = init.room;
    this.initiator = init.initiator;
    this.recordable = init.session instanceof Call ? init.session.topology === 'sfu' : true;
    this.mediaMode = init.session instanceof Call ? init.session.mediaMode : 'sfu';
    this.cameraStream = markRaw(init.localStream);
    this.state.localStream = this.cameraStream;
    this.state.hasCamera = this.cameraStream.getVideoTracks().length > 0;
    const session = init.session as SessionLike;
    this.state.audioOnly = session.audioOnly;
    this.state.phase = session.state;
    if (session.state === 'CONNECTING' || session.state === 'CONNECTED') this.onState(session.state);
    this.syncTiles(session.participants);
    this.unsubscribe.push(
      session.on('stateChanged', ({ to }) => this.onState(to)),
      session.on('participantsChanged', ({ participants }) => this.syncTiles(participants)),
      session.on('error', ({ error }) => (this.state.lastError = errorText(error))),
      session.on('localMediaChanged', (local) => this.onLocalMedia(local)),
      session.on('quality', ({ level }) => (this.state.quality = level)),
      session.on('recording', ({ recording, by }) => {
        this.state.recording = recording;
        this.state.recordingBy = recording ? by : null;
      }),
      session.on('mixedAudio', ({ track }) => this.onMixedAudio(track as MediaStreamTrack)),
      session.on('reaction', ({ participant, reaction }) => this.showReaction(participant, reaction)),
      session.on('handRaised', ({ raised }) => (this.state.handRaised = raised)),
      session.on('activeSpeaker', ({ levels }) => this.onServerLevels(levels)),
      session.on('ended', ({ reason }) => {
        this.state.endReason = reason;
        this.state.phase = 'IDLE';
      }),
    );
    if (init.session instanceof Call) {
      const call = init.session;
      this.unsubscribe.push(call.on('modified', ({ audioOnly }) => (this.state.audioOnly = audioOnly)));
    } else {
      const room = init.session;
      this.state.roomMessages = [...room.messages];
      this.unsubscribe.push(room.on('message', () => (this.state.roomMessages = [...room.messages])));
    }
    if (session.ended) this.state.endReason = session.endReason ?? 'unknown';
    this.state.recording = session.recording;
    if (session.mixedAudio) this.onMixedAudio(session.mixedAudio as MediaStreamTrack);
    this.levelTimer = setInterval(() => void this.readLevels(), LEVEL_INTERVAL_MS);
  }

  /** People in the call now: those who joined, and me (those still being rung are not in it). */
  get headcount(): number {
    return this.state.tiles.filter((t) => t.state === 'joined').length + 1;
  }

  /** The call was answered (by us, with `audioOnly` for "voice only"): the controls follow the SDK. */
  accepted(): void {
    this.state.audioOnly = this.controls().audioOnly;
  }

  get ended(): boolean {
    return this.state.endReason !== null;
  }

  get id(): string {
    return this.sdk instanceof Call ? this.sdk.id : `room:${this.sdk.name}`;
  }
  /** The pre-join choices, applied before any media goes out (the SDK puts the state on its senders when they are made). */
  async applyChoices(muted: boolean, cameraOff: boolean): Promise<void> {
    if (muted) await this.controls().setAudioMuted(true);
    if (cameraOff) await this.controls().setCameraOff(true);
  }

  /** Mute / camera / screen share go through the SDK (replaceTrack on its senders). */
  async toggleMute(): Promise<void> {
    await this.controls().setAudioMuted(!this.state.muted);
  }

  async toggleCamera(): Promise<void> {
    await this.controls().setCameraOff(!this.state.cameraOff);
  }

  async toggleScreenShare(): Promise<void> {
    if (this.state.sharing) await this.controls().stopScreenShare();
    else await this.controls().startScreenShare();
  }

  /**
   * Voice only (a voice call, or a video call answered with voice only): turns the camera
   * on. A call asks the others too (call.modify: it becomes a video call); the SDK opens
   * the camera when there is none, and the preview shows it.
   */
  async turnCameraOn(): Promise<void> {
    if (this.sdk instanceof Call) await this.sdk.switchToVideo();
    else if (!this.controls().localMedia.video) {
      // A room joined without a camera: open one and send it.
      const camera = (await navigator.mediaDevices.getUserMedia({ video: true })).getVideoTracks()[0];
      if (camera) await this.controls().replaceLocalTrack('video', camera);
    }
    this.state.audioOnly = this.controls().audioOnly;
    if (this.state.cameraOff) await this.controls().setCameraOff(false);
    this.onLocalMedia(this.controls().localMedia);
  }

  async toggleHand(): Promise<void> {
    await this.controls().setHandRaised(!this.state.handRaised);
  }

  /**
   * The size a remote participant's tile shows their video at (device pixels): the media
   * server forwards them the simulcast layer that fits (docs/adaptation.md). A tile too
   * small to show video (0) asks for none.
   */
  reportTileSize(userId: UserId, width: number, height: number): void {
    if (this.disposed) return;
    const w = Math.round(width);
    const h = Math.round(height);
    this.tileSizes.set(userId, { w, h });
    this.sendVideoQuality(userId);
  }

  /**
   * The tile pinned by the user (null: none): its video is served first when our downlink
   * does not carry everything (docs/adaptation.md).
   */
  setPinned(userId: UserId | null): void {
    if (this.disposed || userId === this.pinnedUser) return;
    const before = this.pinnedUser;
    this.pinnedUser = userId;
    for (const user of [before, userId]) if (user !== null) this.sendVideoQuality(user);
  }

  private sendVideoQuality(userId: UserId): void {
    const size = this.tileSizes.get(userId);
    if (!size) return;
    const { w, h } = size;
    const pinned = this.pinnedUser === userId ? { pinned: true } : {};
    this.sdk.setVideoQuality(userId, w <= 0 || h <= 0 ? 'off' : { maxWidth: Math.min(w, 16384), maxHeight: Math.min(h, 16384), ...pinned });
  }

  async react(reaction: Reaction): Promise<void> {
    await this.controls().react(reaction);
  }

  /** Switches the microphone or camera mid-call (replaceTrack; the preview follows through localMediaChanged). */
  async switchDevice(kind: 'audio' | 'video', deviceId: string): Promise<void> {
    const track = (await this.controls().switchDevice(kind, deviceId)) as MediaStreamTrack;
    // The preview stream keeps showing what goes out.
    for (const old of this.cameraStream.getTracks()) if (old.kind === track.kind && old !== track) this.cameraStream.removeTrack(old);
    if (!this.cameraStream.getTrackById(track.id)) this.cameraStream.addTrack(track);
  }

  /** Starts recording, or stops it while someone records (anyone in the call may). The REC dot follows the server's notification. */
  async toggleRecording(): Promise<void> {
    if (!this.recordable || this.state.recordingBusy) return;
    this.state.recordingBusy = true;
    try {
      await this.controls().record(this.state.recording ? 'stop' : 'start');
    } finally {
      this.state.recordingBusy = false;
    }
  }

  /** Current stats of this call's peer connections, by participant. */
  stats(): Promise<CallStats> {
    return collectStats(this.trackOwners);
  }

  /** Hangs up a call (ends it for all when we started a group call) or leaves a room. */
  hangUp(): Promise<void> {
    return this.sdk instanceof Call ? this.sdk.hangUp('hangup') : this.sdk.leave();
  }

  /** Rooms: sends a message to the room's chat (it shows once the server took it). */
  async sendRoomMessage(text: string): Promise<void> {
    if (this.sdk instanceof Call) throw new Error('a call has its conversation: send to that');
    await this.sdk.sendMessage(text);
  }

  /** The initiator of a group call rings more members. */
  async invite(userIds: UserId[]): Promise<void> {
    if (this.sdk instanceof Call) await this.sdk.invite(userIds);
  }

  /** Releases the local media and timers (the call itself is ended by hangUp or remotely). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.levelTimer);
    for (const timer of this.reactionTimers) clearTimeout(timer);
    this.reactionTimers.clear();
    for (const off of this.unsubscribe.splice(0)) off();
    if (!this.sdk.ended) {
      if (this.sdk instanceof Call) this.sdk.close('hangup');
      else this.sdk.close();
    }
    stopStream(this.cameraStream);
  }

  private onState(to: CallState): void {
    this.state.phase = to;
    if (to === 'CONNECTING') this.state.answered = true;
    if (to === 'CONNECTED' && this.state.connectedAt === null) this.state.connectedAt = Date.now();
  }

  /** Tiles follow the SDK's participant list: ringing and joined people, with their tracks. */
  private syncTiles(participants: Participant[]): void {
    const present = participants.filter((p) => p.state !== 'left');
    for (const p of present) {
      let stream = this.streams.get(p.id);
      if (!stream) this.streams.set(p.id, (stream = markRaw(new MediaStream())));
      for (const track of p.tracks) this.addTrack(p.id, stream, track as MediaStreamTrack);
      const tile = this.state.tiles.find((t) => t.userId === p.id);
      if (tile) Object.assign(tile, tileState(p));
      else this.state.tiles.push({ userId: p.id, stream, level: 0, ...tileState(p) });
    }
    const ids = new Set(present.map((p) => p.id));
    for (const tile of [...this.state.tiles]) {
      if (ids.has(tile.userId)) continue;
      this.state.tiles.splice(this.state.tiles.indexOf(tile), 1);
      for (const track of this.streams.get(tile.userId)?.getTracks() ?? []) this.trackOwners.delete(track.id);
      this.streams.delete(tile.userId);
    }
  }

  private addTrack(participant: UserId, stream: MediaStream, track: MediaStreamTrack): void {
    if (stream.getTrackById(track.id)) return;
    // A renegotiated link brings a new track of the same kind: it replaces the old one.
    for (const old of stream.getTracks()) {
      if (old.kind === track.kind) {
        stream.removeTrack(old);
        this.trackOwners.delete(old.id);
      }
    }
    stream.addTrack(track);
    this.trackOwners.set(track.id, participant);
  }

  /** The media server's levels (every 200 ms at most): the loudest of each since the last read counts, so a short sound between two reads is not missed. */
  private onServerLevels(levels: ReadonlyMap<UserId, number>): void {
    for (const [participant, level] of levels) this.serverPeaks.set(participant, Math.max(level, this.serverPeaks.get(participant) ?? 0));
  }

  /**
   * Reads each remote participant's audio level and picks the active speaker (held a
   * little, so it does not flicker). Where the media server measures levels (the audio
   * level extension of everyone's audio, bundled calls and rooms; hybrid ones too), its
   * levels are used; otherwise getStats'. In a hybrid call without them each page gets
   * only the server's mix, so nobody's level can be read here: each page measures its own
   * microphone and announces whether it speaks (`setSpeaking`), and the others'
   * announcements stand for their level.
   */
  private async readLevels(): Promise<void> {
    if (this.disposed || this.state.phase === 'IDLE') return;
    const server = this.sdk.serverMeasuresSpeakers;
    const hybrid = this.mediaMode === 'hybrid' && !server;
    let levels: Map<UserId, number>;
    if (server) {
      // The server says a level again only when it changes: the latest one holds until then.
      levels = new Map(this.sdk.audioLevels);
      for (const [participant, peak] of this.serverPeaks) levels.set(participant, Math.max(peak, levels.get(participant) ?? 0));
      this.serverPeaks.clear();
      // Someone the server does not measure (their audio carries no levels, or they speak the seed's words): getStats for them, where their own audio comes.
      if (this.mediaMode !== 'hybrid' && this.state.tiles.some((t) => !levels.has(t.userId))) {
        const measured = await audioLevels(this.trackOwners).catch(() => new Map<UserId, number>());
        for (const [participant, level] of measured) if (!levels.has(participant)) levels.set(participant, level);
      }
    } else {
      levels = hybrid ? new Map<UserId, number>() : await audioLevels(this.trackOwners).catch(() => new Map<UserId, number>());
    }
    if (hybrid) await this.announceOwnSpeaking();
    if (this.disposed) return;
    let loudest: Tile | null = null;
    for (const tile of this.state.tiles) {
      tile.level = tile.audioMuted ? 0 : hybrid ? (tile.announcesSpeaking ? 1 : 0) : (levels.get(tile.userId) ?? 0);
      if (tile.level >= SPEAKING_LEVEL && (!loudest || tile.level > loudest.level)) loudest = tile;
    }
    // The server's dominant speaker (held by its hysteresis) wins over the loudest of this read, when it is one of the others and speaks.
    const dominant = server ? this.state.tiles.find((t) => t.userId === this.sdk.activeSpeaker && t.level >= SPEAKING_LEVEL) : undefined;
    if (dominant) loudest = dominant;
    const now = Date.now();
    if (loudest) {
      if (loudest.userId !== this.state.activeSpeaker) this.state.activeSpeaker = loudest.userId;
      this.speakerSince = now;
    } else if (this.state.activeSpeaker && now - this.speakerSince > SPEAKER_HOLD_MS) {
      this.state.activeSpeaker = null;
    }
    // Someone who left or muted is not speaking any more.
    const speaker = this.state.tiles.find((t) => t.userId === this.state.activeSpeaker);
    if (this.state.activeSpeaker && (!speaker || speaker.audioMuted)) this.state.activeSpeaker = null;
  }

  /** Hybrid calls: tells the others whether we speak, from our own microphone's level (held as the highlight is, so it is not announced on every syllable). */
  private async announceOwnSpeaking(): Promise<void> {
    const level = this.state.muted ? 0 : await ownAudioLevel().catch(() => 0);
    if (this.disposed) return;
    const now = Date.now();
    if (level >= SPEAKING_LEVEL) this.selfSpokeAt = now;
    this.controls().setSpeaking(!this.state.muted && now - this.selfSpokeAt <= SPEAKER_HOLD_MS);
  }

  private showReaction(from: UserId, reaction: Reaction): void {
    if (this.disposed) return;
    const key = ++this.reactionKey;
    this.state.reactions.push({ key, from, reaction });
    const timer = setTimeout(() => {
      this.reactionTimers.delete(timer);
      const index = this.state.reactions.findIndex((r) => r.key === key);
      if (index >= 0) this.state.reactions.splice(index, 1);
    }, REACTION_SHOWN_MS);
    this.reactionTimers.add(timer);
  }

  private onMixedAudio(track: MediaStreamTrack): void {
    if (this.state.mixedAudio?.getTrackById(track.id)) return;
    this.state.mixedAudio = markRaw(new MediaStream([track]));
    // Counted under a pseudo-participant: the mix belongs to nobody in particular.
    this.trackOwners.set(track.id, MIXED_AUDIO_OWNER);
  }

  private controls(): SessionLike {
    return this.sdk as SessionLike;
  }

  private onLocalMedia(local: LocalMediaState): void {
    this.state.muted = local.audioMuted;
    this.state.cameraOff = local.cameraOff;
    this.state.sharing = local.screenSharing;
    this.state.hasCamera = local.video !== null;
    // The preview shows what goes out: the screen while sharing, else the camera.
    const screen = local.screen as MediaStreamTrack | null;
    if (screen) {
      if (this.previewScreen?.getVideoTracks()[0] !== screen) this.previewScreen = markRaw(new MediaStream([screen]));
      this.state.localStream = this.previewScreen;
    } else {
      this.previewScreen = null;
      // A camera the SDK opened (voice only, then camera on) joins the preview (and is stopped with it).
      const camera = local.video as MediaStreamTrack | null;
      if (camera && !this.cameraStream.getTrackById(camera.id)) {
        for (const old of this.cameraStream.getVideoTracks()) this.cameraStream.removeTrack(old);
        this.cameraStream.addTrack(camera);
        this.state.localStream = markRaw(new MediaStream(this.cameraStream.getTracks()));
        return;
      }
      if (this.state.localStream !== this.cameraStream && this.state.localStream?.getVideoTracks()[0] !== camera) this.state.localStream = this.cameraStream;
    }
  }
}
