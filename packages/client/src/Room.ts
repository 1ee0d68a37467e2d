import type { CallState, EndReason, PeerState, Reaction, RecordingId, RoomName, ServerNotification, ServerSignalPayload, SignalPayload } from '@roundtable/protocol';
import type { CallStateChange } from './CallStateMachine.js';
import { ClientError } from './ClientError.js';
import { MediaSession, type MediaSessionContext, type MediaSessionEvents } from './MediaSession.js';
import type { LocalMedia } from './platform.js';
import type { ClientResultMap } from './results.js';
import { SfuMedia } from './SfuMedia.js';
import type { RequestFields } from './SignalingConnection.js';

export type RoomEvents = MediaSessionEvents & {
  /** CONNECTING (joining) -> CONNECTED (our media reached the server) -> IDLE (left). */
  stateChanged: CallStateChange;
  /**
   * Left: `hangup` after leave(), `signalError` when joining (or re-joining after a
   * reconnect) failed, `mediaError` when the server lost the room's media (room.ended).
   */
  ended: { reason: EndReason };
};

type RoomRequest = 'room.join' | 'room.signal' | 'room.leave' | 'room.record' | 'room.state' | 'room.react';

export interface RoomContext extends MediaSessionContext {
  request<T extends RoomRequest>(type: T, fields: RequestFields<T>): Promise<unknown>;
  /** The room was left: the client forgets it. */
  onEnded(room: Room): void;
}

export interface RoomOptions {
  localMedia?: LocalMedia;
  /** Send audio only. Default false. */
  audioOnly?: boolean;
}

/**
 * An open meeting room joined by name: anyone signed in may join (at most 9). The same
 * media as a group call through the server, with the same events, without ringing.
 * The server takes a member out as soon as its socket drops, so after a reconnect the
 * room is joined again (same object, new peer connections).
 */
export class Room extends MediaSession<RoomEvents> {
  readonly name: RoomName;
  private current: CallState = 'IDLE';
  private reason: EndReason | undefined;
  private readonly audio: boolean;
  /** room.join answered (the server takes our state from then on). */
  private joined = false;

  constructor(
    name: RoomName,
    options: RoomOptions,
    private readonly ctx: RoomContext,
  ) {
    super(ctx, options.localMedia);
    this.name = name;
    this.audio = options.audioOnly ?? false;
  }

  /** CONNECTING, CONNECTED, or IDLE once left. */
  get state(): CallState {
    return this.current;
  }

  get ended(): boolean {
    return this.reason !== undefined;
  }

  get endReason(): EndReason | undefined {
    return this.reason;
  }

  get audioOnly(): boolean {
    return this.audio;
  }

  /** Joins (the client calls this once); resolves when the server took us in. */
  async join(): Promise<void> {
    if (this.ended) throw new ClientError('CLOSED', 'this room was left');
    this.setState('CONNECTING', 'start');
    this.joined = false;
    this.closeMedia(false);
    this.media = new SfuMedia(this.mediaContext(), { connectedOnUplink: true, bundled: this.session.bundledMedia ?? true });
    try {
      const result = (await this.ctx.request('room.join', { room: this.name })) as ClientResultMap['room.join'];
      const present = new Set(result.participants);
      for (const u of this.people.ids('joined')) if (!present.has(u)) this.people.left(u);
      for (const u of result.participants) this.people.joined(u);
      this.joined = true;
      // A rejoin starts afresh on the server: tell it again.
      this.announceState(true);
    } catch (error) {
      this.finish('signalError');
      throw error;
    }
  }

  /** Leaves the room and releases its media. Idempotent. */
  async leave(): Promise<void> {
    if (this.ended) return;
    this.finish('hangup');
    await this.ctx.request('room.leave', { room: this.name }).catch(() => undefined);
  }

  /** Feeds a room.signal payload from the server. */
  handle(payload: ServerSignalPayload): void {
    if (!this.ended) this.handleSignal(null, payload);
  }

  /** Feeds a room.recording notification from the server. */
  handleRecording(n: Extract<ServerNotification, { type: 'room.recording' }>): void {
    if (!this.ended) this.onRecording({ recording: n.recording, by: n.by, recordingId: n.recordingId });
  }

  /** Feeds a room.participantState or room.reaction notification from the server. */
  handlePeer(n: Extract<ServerNotification, { type: 'room.participantState' | 'room.reaction' }>): void {
    if (this.ended) return;
    if (n.type === 'room.participantState') this.onPeerState(n.userId, n.state);
    else this.onReaction(n.from, n.reaction);
  }

  /** Sends a reaction to everyone in the room (the `reaction` event comes back to us too). */
  async react(reaction: Reaction): Promise<void> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'this room was left');
    await this.ctx.request('room.react', { room: this.name, reaction });
  }

  /** The server ended the room (its media was lost): the room is left, with that reason. */
  handleEnded(reason: EndReason): void {
    this.finish(reason);
  }

  /** Starts or stops recording the room (any member). Resolves with the recording's id. */
  async record(action: 'start' | 'stop'): Promise<RecordingId> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'this room was left');
    const result = (await this.ctx.request('room.record', { room: this.name, action })) as ClientResultMap['room.record'];
    return result.recordingId;
  }

  /** After a reconnect: the server dropped us when the socket went, so join again. */
  async resume(): Promise<void> {
    if (this.ended) return;
    try {
      await this.join();
    } catch (error) {
      this.fire('error', { error });
    }
  }

  /** Releases the media without telling the server (the client is closing). */
  close(): void {
    if (!this.ended) this.finish('hangup');
  }

  protected async sendSignal(payload: SignalPayload): Promise<void> {
    if (this.ended) return;
    try {
      await this.ctx.request('room.signal', { room: this.name, payload });
    } catch (error) {
      if (!this.ended) this.fire('error', { error });
    }
  }

  protected onMediaConnected(): void {
    if (this.current === 'CONNECTING') this.setState('CONNECTED', 'mediaConnected');
  }

  protected canAnnounce(): boolean {
    return this.joined;
  }

  protected async sendPeerState(change: Partial<PeerState>): Promise<void> {
    await this.ctx.request('room.state', { room: this.name, ...change });
  }

  private setState(to: CallState, event: CallStateChange['event']): void {
    if (this.current === to) return;
    const from = this.current;
    this.current = to;
    this.emit('stateChanged', { from, to, event });
  }

  private finish(reason: EndReason): void {
    if (this.ended) return;
    this.reason = reason;
    this.closeMedia();
    this.setState('IDLE', 'end');
    // The client forgets the room first, so an 'ended' listener may join it again at once.
    this.ctx.onEnded(this);
    this.emit('ended', { reason });
  }
}
