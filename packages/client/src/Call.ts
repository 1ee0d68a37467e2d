import type { CallId, CallState, ConversationId, EndReason, ServerNotification, ServerSignalPayload, SignalPayload, Topology, UserId } from '@roundtable/protocol';
import type { CallMedia, CallMediaContext } from './CallMedia.js';
import { CallStateMachine, type CallStateChange } from './CallStateMachine.js';
import { ClientError } from './ClientError.js';
import { P2pMedia } from './P2pMedia.js';
import type { LocalMedia, PeerConnectionLike, TrackLike } from './platform.js';
import { SfuMedia } from './SfuMedia.js';
import type { RequestFields } from './SignalingConnection.js';
import { TypedEmitter, type ListenerErrorReporter } from './TypedEmitter.js';

export type CallEvents = {
  stateChanged: CallStateChange;
  ended: { reason: EndReason };
  /** A remote track arrived (one per kind and participant). */
  track: { participant: UserId; track: TrackLike };
  participantLeft: { participant: UserId };
  /** Voice <-> video, by the other side or by us. */
  modified: { audioOnly: boolean; by: UserId };
  /** A media or signaling step failed; the call goes on unless it also ends. */
  error: { error: unknown };
};

/** What a call needs from the client: callbacks, not a reference to it. */
export interface CallContext {
  readonly me: UserId;
  request<T extends 'call.answer' | 'call.bye' | 'call.signal' | 'call.modify'>(type: T, fields: RequestFields<T>): Promise<unknown>;
  createPeer(): Promise<PeerConnectionLike>;
  /** The call ended: the client forgets it. */
  onEnded(call: Call): void;
  reportError: ListenerErrorReporter;
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
}

/**
 * One call as this device sees it: its state machine, its media (P2P or SFU) and the
 * app's controls. Closing (hang-up, decline, remote end) releases every peer connection.
 */
export class Call extends TypedEmitter<CallEvents> {
  readonly id: CallId;
  readonly direction: 'outgoing' | 'incoming';
  readonly conversationId: ConversationId | null;
  readonly peer: UserId | null;
  readonly topology: Topology;
  private audio: boolean;
  private readonly machine: CallStateMachine;
  private localMedia: LocalMedia | undefined;
  private media: CallMedia | undefined;
  /** Signals are handled one at a time, in arrival order (each may await the peer connection). */
  private signalQueue: Promise<void> = Promise.resolve();

  constructor(
    init: CallInit,
    private readonly ctx: CallContext,
  ) {
    super(ctx.reportError);
    this.id = init.id;
    this.direction = init.direction;
    this.conversationId = init.conversationId;
    this.peer = init.peer;
    this.topology = init.topology;
    this.audio = init.audioOnly;
    this.localMedia = init.localMedia;
    this.machine = new CallStateMachine(ctx.reportError);
    this.machine.on('change', (change) => this.emit('stateChanged', change));
    if (init.direction === 'outgoing') {
      this.machine.start();
      this.media = this.createMedia();
    } else {
      this.machine.incoming();
    }
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

  /** Accepts an incoming call with the app's local media. */
  async accept(options: { localMedia?: LocalMedia; audioOnly?: boolean } = {}): Promise<void> {
    this.machine.answer();
    this.localMedia = options.localMedia ?? this.localMedia;
    if (options.audioOnly !== undefined) this.audio = options.audioOnly;
    this.media = this.createMedia();
    try {
      await this.ctx.request('call.answer', { callId: this.id, audioOnly: this.audio, ...(this.topology === 'p2p' ? { transparent: true } : {}), sentAt: Date.now() });
    } catch (error) {
      this.finish('signalError');
      throw error;
    }
  }

  /** Declines an incoming call (the caller is told remoteHangup). */
  async decline(): Promise<void> {
    if (this.state !== 'INCOMING') throw new ClientError('INVALID_STATE', `decline() needs an incoming call; this one is ${this.state}`);
    await this.bye('hangup');
  }

  /** Ends the call (or cancels it while it rings). Idempotent. */
  async hangUp(reason: EndReason = 'hangup'): Promise<void> {
    if (this.ended) return;
    await this.bye(reason);
  }

  switchToVideo(): Promise<void> {
    return this.modify(false);
  }

  switchToVoice(): Promise<void> {
    return this.modify(true);
  }

  /** Feeds a call notification from the server. */
  handle(n: ServerNotification): void {
    if (this.ended) return;
    switch (n.type) {
      case 'call.answered':
        if (this.machine.can('answered')) {
          this.machine.answered();
          this.runMedia((media) => media.answered());
        }
        break;
      case 'call.signal':
        this.runMedia((media) => media.handle(n.from, n.payload as ServerSignalPayload));
        break;
      case 'call.ended':
        this.finish(n.reason);
        break;
      case 'call.modified':
        this.audio = n.audioOnly;
        this.emit('modified', { audioOnly: n.audioOnly, by: n.by });
        break;
      case 'call.left':
        if (n.userId !== this.ctx.me) this.emit('participantLeft', { participant: n.userId });
        break;
      default:
        break;
    }
  }

  /** After a reconnect: make the server send this call's notifications to the new socket. */
  async resume(): Promise<void> {
    if (this.ended || !this.media || this.state === 'INCOMING') return;
    await this.sendSignal(this.media.resumeSignal());
  }

  /** Releases the media without telling the server (the client is closing). */
  close(reason: EndReason = 'hangup'): void {
    if (!this.ended) this.finish(reason);
  }

  private async bye(reason: EndReason): Promise<void> {
    this.finish(reason);
    await this.ctx.request('call.bye', { callId: this.id, reason, sentAt: Date.now() });
  }

  private async modify(audioOnly: boolean): Promise<void> {
    if (this.ended) throw new ClientError('INVALID_STATE', 'the call has ended');
    await this.ctx.request('call.modify', { callId: this.id, audioOnly, sentAt: Date.now() });
    this.audio = audioOnly;
    // Without renegotiation: the video we already send is paused or resumed.
    for (const track of this.localTracks()) if (track.kind === 'video' && track.enabled !== undefined) track.enabled = !audioOnly;
    this.emit('modified', { audioOnly, by: this.ctx.me });
  }

  private finish(reason: EndReason): void {
    if (this.ended) return;
    this.media?.close();
    this.machine.end(reason);
    this.emit('ended', { reason });
    this.ctx.onEnded(this);
  }

  private localTracks(): TrackLike[] {
    const tracks = this.localMedia?.getTracks() ?? [];
    return this.audio ? tracks.filter((t) => t.kind === 'audio') : tracks;
  }

  private createMedia(): CallMedia {
    const ctx: CallMediaContext = {
      me: this.ctx.me,
      signal: (payload) => this.sendSignal(payload),
      createPeer: () => this.ctx.createPeer(),
      localTracks: () => this.localTracks(),
      onTrack: (participant, track) => this.emit('track', { participant, track }),
      onParticipantLeft: () => undefined, // reported from call.left
      onConnected: () => {
        if (this.machine.can('mediaConnected')) this.machine.mediaConnected();
      },
      onError: (error) => this.emit('error', { error }),
    };
    return this.topology === 'p2p' ? new P2pMedia(ctx, this.direction === 'outgoing', this.peer ?? undefined) : new SfuMedia(ctx);
  }

  private async sendSignal(payload: SignalPayload): Promise<void> {
    if (this.ended) return;
    try {
      await this.ctx.request('call.signal', { callId: this.id, payload, sentAt: Date.now() });
    } catch (error) {
      if (!this.ended) this.emit('error', { error });
    }
  }

  private runMedia(step: (media: CallMedia) => Promise<void>): void {
    const media = this.media;
    if (!media) return;
    this.signalQueue = this.signalQueue.then(() => step(media)).catch((error: unknown) => this.emit('error', { error }));
  }
}
