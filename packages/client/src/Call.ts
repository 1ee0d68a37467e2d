import type { CallId, CallMedia as CallMediaMode, CallState, ConversationId, EndReason, PeerState, Reaction, RecordingId, ServerNotification, ServerSignalPayload, SignalPayload, Topology, UserId } from '@roundtable/protocol';
import type { CallMedia } from './CallMedia.js';
import { CallStateMachine, type CallStateChange } from './CallStateMachine.js';
import { ClientError } from './ClientError.js';
import { LoopbackMedia } from './LoopbackMedia.js';
import { MediaSession, type MediaSessionContext, type MediaSessionEvents } from './MediaSession.js';
import { P2pMedia } from './P2pMedia.js';
import type { LocalMedia } from './platform.js';
import type { ClientResultMap } from './results.js';
import { SfuMedia } from './SfuMedia.js';
import type { RequestFields } from './SignalingConnection.js';

export type CallEvents = MediaSessionEvents & {
  stateChanged: CallStateChange;
  /** `dropped`: the call ended because the other side's device went and did not come back (1:1 calls). */
  ended: { reason: EndReason; dropped?: boolean };
  /** Voice <-> video, by another participant or by us. */
  modified: { audioOnly: boolean; by: UserId };
  /** The initiator invited more members (they now ring). */
  invited: { invitees: UserId[] };
};

type CallRequest = 'call.answer' | 'call.bye' | 'call.signal' | 'call.modify' | 'call.invite' | 'call.record' | 'call.state' | 'call.react';

/** What a call needs from the client: callbacks, not a reference to it. */
export interface CallContext extends MediaSessionContext {
  request<T extends CallRequest>(type: T, fields: RequestFields<T>): Promise<unknown>;
  /** The call ended: the client forgets it. */
  onEnded(call: Call): void;
  /** This call was answered with `switch`: the server took the user out of their other call. */
  onSwitched(call: Call): void;
}

export interface CallInit {
  id: CallId;
  direction: 'outgoing' | 'incoming';
  conversationId: ConversationId | null;
  /** The other side of a 1:1 call (the caller, for an incoming call). */
  peer: UserId | null;
  audioOnly: boolean;
  topology: Topology;
  localMedia?: LocalMedia;
  /** Who started the call. */
  initiator: UserId;
  /** A group call (in a group conversation): up to 9 people, invite(), the initiator's hang-up ends it. */
  group?: boolean;
  /** Taken over with `client.rejoinCall()`: the call is in progress; it starts CONNECTING with fresh media. */
  rejoined?: { participants: UserId[]; ringing: UserId[] };
  /** The others being rung (outgoing), or everyone invited (incoming, from call.incoming). */
  invitees?: UserId[];
  /** Through the media server: 'sfu' (everything forwarded, the default) or 'hybrid' (video forwarded, audio mixed by the server). */
  media?: CallMediaMode;
  /** Incoming: you were in another call when it came (call waiting). */
  waiting?: boolean;
  /** Incoming: a call request from a non-contact (your setting): show it without ringing. */
  request?: boolean;
}

/**
 * One call as this device sees it: its state machine, the other participants, its media
 * (P2P, SFU or loopback) and the app's controls. Closing (hang-up, decline, remote end)
 * releases every peer connection.
 */
export class Call extends MediaSession<CallEvents> {
  readonly id: CallId;
  readonly direction: 'outgoing' | 'incoming';
  readonly conversationId: ConversationId | null;
  readonly topology: Topology;
  readonly initiator: UserId;
  readonly group: boolean;
  /** 'hybrid': the others' audio comes mixed in one track (`mixedAudio`); 'sfu' otherwise (also for P2P and loopback). */
  readonly mediaMode: CallMediaMode;
  /** Incoming: it came while you were in another call; accept({ switch: true }) leaves that one for this one. */
  readonly waiting: boolean;
  /** Incoming: a call request from someone who is not your contact (you asked for these to need acceptance): do not ring. */
  readonly request: boolean;
  private audio: boolean;
  private peerId: UserId | null;
  private readonly machine: CallStateMachine;
  /**
   * Our media connected while the call was still OUTGOING: a hybrid call's caller gets the
   * mixed audio from the server before anyone answers. The first answer then finds the
   * media up and goes straight on to CONNECTED.
   */
  private mediaUp = false;

  constructor(
    init: CallInit,
    private readonly ctx: CallContext,
  ) {
    super(ctx, init.localMedia);
    this.id = init.id;
    this.direction = init.direction;
    this.conversationId = init.conversationId;
    this.peerId = init.peer;
    this.topology = init.topology;
    this.audio = init.audioOnly;
    this.initiator = init.initiator;
    this.group = init.group ?? false;
    this.mediaMode = init.media ?? 'sfu';
    this.waiting = init.waiting ?? false;
    this.request = init.request ?? false;
    this.machine = new CallStateMachine(ctx.reportError);
    this.machine.on('change', (change) => this.emit('stateChanged', change));
    if (init.direction === 'outgoing') {
      for (const u of init.invitees ?? []) this.people.ringing(u);
      if (!this.group && init.invitees?.length === 1) this.peerId = init.invitees[0]!;
      this.machine.start();
      this.media = this.createMedia();
      // We are in the call as soon as call.start answered: the others see our state once they answer.
      this.announceState();
      if (init.topology === 'loopback') {
        // Nobody to wait for: the server took the call when it answered call.start.
        this.machine.answered();
        this.runMedia((media) => media.answered());
      }
    } else if (init.rejoined) {
      for (const u of init.rejoined.participants) this.people.joined(u);
      for (const u of init.rejoined.ringing) this.people.ringing(u);
      this.machine.incoming();
      this.machine.answer();
      this.media = this.createMedia();
      // The server still holds what the reloaded page last announced (a raised hand, say).
      this.announceState(true);
    } else {
      this.people.joined(init.initiator);
      for (const u of init.invitees ?? []) if (u !== ctx.me) this.people.ringing(u);
      this.machine.incoming();
    }
  }

  /** The other side of a 1:1 call (null in a group call, or while an outgoing call does not know it yet). */
  get peer(): UserId | null {
    return this.peerId;
  }

  get state(): CallState {
    return this.machine.state;
  }

  /** Every state the call went through, from IDLE. */
  get stateHistory(): readonly CallState[] {
    return this.machine.history;
  }

  get endReason(): EndReason | undefined {
    return this.machine.endReason;
  }

  get ended(): boolean {
    return this.machine.ended;
  }

  get audioOnly(): boolean {
    return this.audio;
  }

  /**
   * Accepts an incoming call with the app's local media. While you are in another call
   * the server refuses (INVALID_STATE) unless `switch` is true: then it takes you out of
   * that call first (a 1:1 call ends for the other side) and this client ends it here.
   */
  async accept(options: { localMedia?: LocalMedia; audioOnly?: boolean; switch?: boolean } = {}): Promise<void> {
    this.machine.answer();
    this.local.use(options.localMedia);
    if (options.audioOnly !== undefined) this.audio = options.audioOnly;
    this.media = this.createMedia();
    try {
      const result = (await this.ctx.request('call.answer', { callId: this.id, audioOnly: this.audio, ...(this.topology === 'p2p' ? { transparent: true } : {}), ...(options.switch ? { switch: true } : {}), sentAt: Date.now() })) as ClientResultMap['call.answer'];
      if (options.switch) this.ctx.onSwitched(this);
      for (const u of result.participants ?? []) this.people.joined(u);
      this.announceState();
    } catch (error) {
      this.finish('signalError');
      throw error;
    }
  }

  /**
   * Declines an incoming call (a group call goes on). A 1:1 caller is told remoteHangup,
   * or busy with `reason` 'busy' (e.g. for a waiting call).
   */
  async decline(reason: 'hangup' | 'busy' = 'hangup'): Promise<void> {
    if (this.state !== 'INCOMING') throw new ClientError('INVALID_STATE', `decline() needs an incoming call; this one is ${this.state}`);
    await this.bye(reason);
  }

  /**
   * Ends the call (or cancels it while it rings). In a group call, the initiator's
   * hang-up ends it for everyone; anyone else's only takes them out. Idempotent.
   */
  async hangUp(reason: EndReason = 'hangup'): Promise<void> {
    if (this.ended) return;
    await this.bye(reason);
  }

  /** Rings more members of the group conversation (the initiator only; at most 9 in the call). Resolves with those actually rung (busy ones are left out). */
  async invite(userIds: UserId[]): Promise<UserId[]> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'the call has ended');
    if (!this.group) throw new ClientError('INVALID_STATE', 'only group calls take more members');
    if (this.initiator !== this.ctx.me) throw new ClientError('FORBIDDEN', 'only the initiator invites more members');
    const result = (await this.ctx.request('call.invite', { callId: this.id, invitees: userIds })) as ClientResultMap['call.invite'];
    this.onInvited(result.invited);
    return result.invited;
  }

  /** Starts or stops recording the call (through the media server only; any participant). Resolves with the recording's id. */
  async record(action: 'start' | 'stop'): Promise<RecordingId> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'the call has ended');
    const result = (await this.ctx.request('call.record', { callId: this.id, action })) as ClientResultMap['call.record'];
    return result.recordingId;
  }

  /** Sends a reaction to everyone in the call (the `reaction` event comes back to us too). */
  async react(reaction: Reaction): Promise<void> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'the call has ended');
    await this.ctx.request('call.react', { callId: this.id, reaction });
  }

  /** Makes it a video call for everyone; opens the camera (mediaDevices) if there is none yet. */
  switchToVideo(): Promise<void> {
    return this.modify(false);
  }

  /** Makes it a voice call for everyone: no video goes out (the camera track is disabled, not closed). */
  switchToVoice(): Promise<void> {
    return this.modify(true);
  }

  /** Feeds a call notification from the server. */
  handle(n: ServerNotification): void {
    if (this.ended) return;
    switch (n.type) {
      case 'call.answered':
        if (n.by !== this.ctx.me) {
          if (!this.group) this.peerId ??= n.by;
          this.people.joined(n.by);
        }
        if (this.machine.can('answered')) {
          this.machine.answered();
          this.runMedia((media) => media.answered());
          if (this.mediaUp) this.onMediaConnected();
        }
        break;
      case 'call.signal':
        this.handleSignal(n.from, n.payload as ServerSignalPayload);
        break;
      case 'call.ended':
        this.finish(n.reason, n.dropped === true);
        break;
      case 'call.participant':
        this.people.connection(n.userId, n.connection === 'reconnecting');
        break;
      case 'call.moved':
        this.handleMoved();
        break;
      case 'call.modified':
        // The whole call changes: our video goes (voice) or comes back if we have a camera (video).
        this.audio = n.audioOnly;
        this.local.refresh().catch((error: unknown) => this.fire('error', { error }));
        this.emit('modified', { audioOnly: n.audioOnly, by: n.by });
        break;
      case 'call.left':
        this.people.left(n.userId, n.dropped === true);
        break;
      case 'call.invited':
        this.onInvited(n.invitees);
        break;
      case 'call.recording':
        this.onRecording({ recording: n.recording, by: n.by, recordingId: n.recordingId });
        break;
      case 'call.participantState':
        this.onPeerState(n.userId, n.state);
        break;
      case 'call.reaction':
        this.onReaction(n.from, n.reaction);
        break;
      default:
        break;
    }
  }

  /** After a reconnect: make the server send this call's notifications to the new socket, and restart ICE where a link lost its path. */
  async resume(): Promise<void> {
    if (this.ended || !this.media || this.state === 'INCOMING') return;
    await this.sendSignal(this.media.resumeSignal());
    this.restartIceWhereNeeded();
  }

  /** Releases the media without telling the server (the client is closing). */
  close(reason: EndReason = 'hangup'): void {
    if (!this.ended) this.finish(reason);
  }

  protected async sendSignal(payload: SignalPayload): Promise<void> {
    if (this.ended) return;
    try {
      await this.ctx.request('call.signal', { callId: this.id, payload, sentAt: Date.now() });
    } catch (error) {
      if (!this.ended) this.fire('error', { error });
    }
  }

  protected onMediaConnected(): void {
    this.mediaUp = true;
    if (this.machine.can('mediaConnected')) this.machine.mediaConnected();
  }

  protected canAnnounce(): boolean {
    // An incoming call is ours once accepted (the request is on its way or answered).
    return this.machine !== undefined && this.state !== 'INCOMING' && this.state !== 'IDLE' && this.topology !== 'loopback';
  }

  protected async sendPeerState(change: Partial<PeerState>): Promise<void> {
    await this.ctx.request('call.state', { callId: this.id, ...change });
  }

  /**
   * The server moved the call's media to another media server (call.moved): the call goes
   * on (its state stays CONNECTED; `moved` says why the others' media paused); the peer
   * connections to the old server are dropped and new ones are made when the server's
   * `existingParticipants` follows.
   */
  private handleMoved(): void {
    if (!this.media || this.topology === 'p2p' || this.topology === 'loopback') return;
    this.moveMedia(this.createMedia());
    this.emit('moved', {});
  }

  private onInvited(invitees: UserId[]): void {
    const fresh = invitees.filter((u) => this.people.get(u)?.state !== 'ringing' && this.people.get(u)?.state !== 'joined');
    for (const u of invitees) this.people.ringing(u);
    if (fresh.length > 0) this.emit('invited', { invitees: fresh });
  }

  private async bye(reason: EndReason): Promise<void> {
    this.finish(reason);
    await this.ctx.request('call.bye', { callId: this.id, reason, sentAt: Date.now() });
  }

  private async modify(audioOnly: boolean): Promise<void> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'the call has ended');
    await this.ctx.request('call.modify', { callId: this.id, audioOnly, sentAt: Date.now() });
    this.audio = audioOnly;
    // Without renegotiation: the video slot is always negotiated, so video goes out or stops by replaceTrack.
    if (!audioOnly) await this.local.ensureCamera().catch((error: unknown) => this.fire('error', { error }));
    await this.local.refresh();
    this.emit('modified', { audioOnly, by: this.ctx.me });
  }

  private finish(reason: EndReason, dropped = false): void {
    if (this.ended) return;
    this.closeMedia();
    this.machine.end(reason);
    // The client forgets the call before its listeners hear of it: one may start or answer another at once.
    this.ctx.onEnded(this);
    this.emit('ended', { reason, ...(dropped ? { dropped } : {}) });
  }

  private createMedia(): CallMedia {
    const ctx = this.mediaContext();
    if (this.topology === 'loopback') return new LoopbackMedia(ctx);
    return this.topology === 'p2p' ? new P2pMedia(ctx, this.direction === 'outgoing', this.peerId ?? undefined) : new SfuMedia(ctx, { hybrid: this.mediaMode === 'hybrid', bundled: this.session.bundledMedia ?? true, simulcast: this.session.simulcast ?? false });
  }
}
