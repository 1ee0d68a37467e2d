import type { CallState, EndReason, PeerState, Reaction, RecordingId, RoomMessage, RoomName, ServerNotification, ServerSignalPayload, SignalPayload } from '@roundtable/protocol';
import type { CallStateChange } from './CallStateMachine.js';
import { ClientError } from './ClientError.js';
import { MediaSession, type MediaSessionContext, type MediaSessionEvents } from './MediaSession.js';
import type { LocalMedia } from './platform.js';
import type { ClientResultMap } from './results.js';
import { SfuMedia } from './SfuMedia.js';
import type { RequestFields } from './SignalingConnection.js';

/** How long a room is joined again after a reconnect while the server that held it is taken over (ms). */
const REJOIN_RETRY_MS = 60_000;

/** The failures of a rejoin that a takeover in progress explains: tried again. */
const RETRIED_ON: ReadonlySet<ClientError['code']> = new Set(['NOT_FOUND', 'TIMEOUT', 'OVERLOADED', 'CONFLICT']);

export type RoomEvents = MediaSessionEvents & {
  /** CONNECTING (joining) -> CONNECTED (our media reached the server) -> IDLE (left). */
  stateChanged: CallStateChange;
  /**
   * Left: `hangup` after leave(), `signalError` when joining (or re-joining after a
   * reconnect) failed, `mediaError` when the server lost the room's media (room.ended).
   */
  ended: { reason: EndReason };
  /** A message in the room's chat (yours too, once the server took it). */
  message: { message: RoomMessage };
};

type RoomRequest = 'room.join' | 'room.signal' | 'room.leave' | 'room.record' | 'room.state' | 'room.react' | 'room.message';

/** The room notifications about its members and chat, fed to `Room.handlePeer`. */
export type RoomPeerNotification = Extract<ServerNotification, { type: 'room.participantState' | 'room.reaction' | 'room.participant' | 'room.left' | 'room.message' }>;

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
 * A member whose socket drops is kept by the server for a grace period (the others get
 * `participantConnection`); after a reconnect the room is joined again (same object, new
 * peer connections) and the others see no leave. The room has a chat of its own
 * (`messages`, `sendMessage`), kept by the server while the room is open.
 */
export class Room extends MediaSession<RoomEvents> {
  readonly name: RoomName;
  private current: CallState = 'IDLE';
  private reason: EndReason | undefined;
  private readonly audio: boolean;
  /** room.join answered (the server takes our state from then on). */
  private joined = false;
  /** Counts reconnects: a rejoin that a newer one overtook stops trying. */
  private resumes = 0;
  private readonly chat: RoomMessage[] = [];

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

  /** The room's chat, oldest first: what was said before we joined (kept by the server while the room is open) and since. */
  get messages(): readonly RoomMessage[] {
    return this.chat;
  }

  /** Joins (the client calls this once); resolves when the server took us in. */
  async join(): Promise<void> {
    try {
      await this.enter();
    } catch (error) {
      this.finish('signalError');
      throw error;
    }
  }

  /** Asks the server to take us in, with fresh media; a failure leaves the room as it is. */
  private async enter(): Promise<void> {
    if (this.ended) throw new ClientError('CLOSED', 'this room was left');
    this.setState('CONNECTING', 'start');
    this.joined = false;
    this.closeMedia(false);
    this.media = new SfuMedia(this.mediaContext(), { connectedOnUplink: true, bundled: this.session.bundledMedia ?? true, simulcast: this.session.simulcast ?? false });
    const result = (await this.ctx.request('room.join', { room: this.name })) as ClientResultMap['room.join'];
    const present = new Set(result.participants);
    for (const u of this.people.ids('joined')) if (!present.has(u)) this.people.left(u);
    for (const u of result.participants) this.people.joined(u);
    this.takeHistory(result.messages ?? []);
    this.joined = true;
    // A rejoin starts afresh on the server: tell it again.
    this.announceState(true);
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

  /** Feeds a room notification about a member (state, reaction, connection, leave) or the chat. */
  handlePeer(n: RoomPeerNotification): void {
    if (this.ended) return;
    switch (n.type) {
      case 'room.participantState':
        this.onPeerState(n.userId, n.state);
        break;
      case 'room.reaction':
        this.onReaction(n.from, n.reaction);
        break;
      case 'room.participant':
        this.people.connection(n.userId, n.connection === 'reconnecting');
        break;
      case 'room.left':
        this.people.left(n.userId, n.dropped === true);
        break;
      case 'room.message':
        this.addMessage(n.message);
        break;
    }
  }

  /** Sends a message to the room's chat (at most 4,000 characters); resolves with it as the server keeps it (the `message` event comes too). */
  async sendMessage(text: string): Promise<RoomMessage> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'this room was left');
    const message = (await this.ctx.request('room.message', { room: this.name, text })) as ClientResultMap['room.message'];
    this.addMessage(message);
    return message;
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

  /**
   * The server moved the room's media to another media server (room.moved): we are still
   * in the room; the peer connections to the old server are dropped and new ones are made
   * when the server's `existingParticipants` follows, as after a join. CONNECTING until
   * media flows again.
   */
  handleMoved(): void {
    if (this.ended) return;
    this.moveMedia(new SfuMedia(this.mediaContext(), { connectedOnUplink: true, bundled: this.session.bundledMedia ?? true, simulcast: this.session.simulcast ?? false }));
    // Rooms show CONNECTING until media flows again (`moved` says why).
    this.setState('CONNECTING', 'start');
    this.emit('moved', {});
  }

  /** Starts or stops recording the room (any member). Resolves with the recording's id. */
  async record(action: 'start' | 'stop'): Promise<RecordingId> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'this room was left');
    const result = (await this.ctx.request('room.record', { room: this.name, action })) as ClientResultMap['room.record'];
    return result.recordingId;
  }

  /**
   * After a reconnect: the server dropped us when the socket went, so join again. When the
   * signaling node that held the room died, another node takes it over a little later
   * (docs/deployment.md, "A node killed"): until then the join fails with NOT_FOUND (or
   * times out), and is tried again every second for up to `REJOIN_RETRY_MS`.
   */
  async resume(): Promise<void> {
    if (this.ended) return;
    const attempt = ++this.resumes;
    const giveUpAt = Date.now() + REJOIN_RETRY_MS;
    for (;;) {
      try {
        await this.enter();
        return;
      } catch (error) {
        if (this.ended || attempt !== this.resumes) return;
        if (!(error instanceof ClientError && RETRIED_ON.has(error.code)) || Date.now() > giveUpAt) {
          this.finish('signalError');
          this.fire('error', { error });
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      // Left meanwhile, or a newer reconnect joins instead.
      if (this.ended || attempt !== this.resumes) return;
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

  /**
   * The chat as room.join gives it: the server's is the one that counts (after a reconnect
   * the room may even be a new one of the same name, its seqs starting again from 1).
   */
  private takeHistory(history: RoomMessage[]): void {
    const known = new Set(this.chat.map((m) => `${m.seq}/${m.sentAt}`));
    this.chat.splice(0, this.chat.length, ...history);
    for (const message of history) if (!known.has(`${message.seq}/${message.sentAt}`)) this.emit('message', { message });
  }

  /** Keeps a chat message once (it may come both as the request's result and as a notification). */
  private addMessage(message: RoomMessage): void {
    if (this.chat.some((m) => m.seq === message.seq)) return;
    const after = this.chat.findIndex((m) => m.seq > message.seq);
    if (after < 0) this.chat.push(message);
    else this.chat.splice(after, 0, message);
    this.emit('message', { message });
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
