/**
 * One call (1:1, group) or open room as the call screen shows it: tiles per
 * participant with their media, the local preview and its controls, the talk timer and
 * the quality level. Wraps the SDK's Call or Room; owns the local stream and the stats timer.
 */
import { Call, type CallStateChange, type LocalMediaState, type MediaSession, type MediaSessionEvents, type Participant, type QualityLevel, type Room } from '@roundtable/client';
import type { CallState, ConversationId, EndReason, UserId } from '@roundtable/protocol';
import { markRaw, reactive } from 'vue';
import { stopStream } from '../platform/localMedia.js';
import { collectStats, type CallStats } from './stats.js';

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
}

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
  });
  /** Remote track id -> its participant, to read per-participant stats. */
  readonly trackOwners = new Map<string, UserId>();
  private readonly streams = new Map<UserId, MediaStream>();
  private cameraStream: MediaStream;
  private previewScreen: MediaStream | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  private disposed = false;
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
    const session = init.session as SessionLike;
    this.state.audioOnly = session.audioOnly;
    this.state.phase = session.state;
    if (session.state === 'CONNECTING' || session.state === 'CONNECTED') this.onState(session.state);
    this.syncTiles(session.participants);
    this.unsubscribe.push(
      session.on('stateChanged', ({ to }) => this.onState(to)),
      session.on('participantsChanged', ({ participants }) => this.syncTiles(participants)),
      session.on('error', ({ error }) => (this.state.lastError = error instanceof Error ? error.message : String(error))),
      session.on('localMediaChanged', (local) => this.onLocalMedia(local)),
      session.on('quality', ({ level }) => (this.state.quality = level)),
      session.on('recording', ({ recording, by }) => {
        this.state.recording = recording;
        this.state.recordingBy = recording ? by : null;
      }),
      session.on('mixedAudio', ({ track }) => this.onMixedAudio(track as MediaStreamTrack)),
      session.on('ended', ({ reason }) => {
        this.state.endReason = reason;
        this.state.phase = 'IDLE';
      }),
    );
    if (init.session instanceof Call) {
      const call = init.session;
      this.unsubscribe.push(call.on('modified', ({ audioOnly }) => (this.state.audioOnly = audioOnly)));
    }
    if (session.ended) this.state.endReason = session.endReason ?? 'unknown';
    this.state.recording = session.recording;
    if (session.mixedAudio) this.onMixedAudio(session.mixedAudio as MediaStreamTrack);
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

  /** The initiator of a group call rings more members. */
  async invite(userIds: UserId[]): Promise<void> {
    if (this.sdk instanceof Call) await this.sdk.invite(userIds);
  }

  /** Releases the local media and timers (the call itself is ended by hangUp or remotely). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
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
      if (tile) tile.state = p.state === 'ringing' ? 'ringing' : 'joined';
      else this.state.tiles.push({ userId: p.id, state: p.state === 'ringing' ? 'ringing' : 'joined', stream });
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
    // The preview shows what goes out: the screen while sharing, else the camera.
    const screen = local.screen as MediaStreamTrack | null;
    if (screen) {
      if (this.previewScreen?.getVideoTracks()[0] !== screen) this.previewScreen = markRaw(new MediaStream([screen]));
      this.state.localStream = this.previewScreen;
    } else {
      this.previewScreen = null;
      this.state.localStream = this.cameraStream;
    }
  }
}
