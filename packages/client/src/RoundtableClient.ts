import type { CallId, ConversationId, ServerNotification, Topology, UserId } from '@roundtable/protocol';
import { Call, type CallContext } from './Call.js';
import { ClientError } from './ClientError.js';
import { globalPeerConnection, type IceServerLike, type LocalMedia, type PeerConnectionConstructor } from './platform.js';
import type { SessionResult } from './results.js';
import { SignalingConnection, type SignalingConnectionOptions } from './SignalingConnection.js';
import { TypedEmitter, type ListenerErrorReporter } from './TypedEmitter.js';

export interface RoundtableClientOptions extends SignalingConnectionOptions {
  /** Default: the global RTCPeerConnection (browsers). In Node pass e.g. werift's. */
  RTCPeerConnection?: PeerConnectionConstructor;
  /** ICE servers for every peer connection. Default: asked from the server (`ice.servers`) for each call. */
  iceServers?: IceServerLike[];
  /** Extra RTCConfiguration fields (implementation-specific ones included). Default: none. */
  rtcConfig?: Record<string, unknown>;
}

export interface StartCallOptions {
  /** Default false (a video call). */
  audioOnly?: boolean;
  /** Default 'sfu'. */
  topology?: Exclude<Topology, 'loopback'>;
  localMedia?: LocalMedia;
}

export type RoundtableClientEvents = {
  /** A call rings on this device; accept() or decline() it. */
  incomingCall: Call;
  reconnecting: { attempt: number; delayMs: number };
  reconnected: { attempts: number };
  /** Every server notification, for what the SDK does not model yet (IM, rooms). */
  notification: ServerNotification;
};

/**
 * The SDK's entry point: a signaling connection, sign-in, and the calls of this device
 * (a `Map<CallId, Call>`; close() ends them all).
 */
export class RoundtableClient extends TypedEmitter<RoundtableClientEvents> {
  readonly signaling: SignalingConnection;
  private readonly calls = new Map<CallId, Call>();
  private readonly PeerConnection: PeerConnectionConstructor | undefined;
  private readonly listenerErrors: ListenerErrorReporter;
  /** Call notifications that arrive before call.start answers (the SFU's first existingParticipants). */
  private early: ServerNotification[] = [];
  private startsPending = 0;
  private closed = false;

  constructor(private readonly options: RoundtableClientOptions) {
    const reportError = options.onListenerError ?? ((event: string, error: unknown) => console.error(`roundtable: a '${event}' listener threw`, error));
    super(reportError);
    this.listenerErrors = reportError;
    this.PeerConnection = options.RTCPeerConnection ?? globalPeerConnection();
    this.signaling = new SignalingConnection({ ...options, onListenerError: reportError });
    this.signaling.on('notification', (n) => this.onNotification(n));
    this.signaling.on('reconnecting', (e) => this.emit('reconnecting', e));
    this.signaling.on('reconnected', (e) => {
      for (const call of this.calls.values()) void call.resume();
      this.emit('reconnected', e);
    });
  }

  get userId(): UserId {
    const user = this.signaling.user;
    if (!user) throw new ClientError('NOT_AUTHENTICATED', 'sign in first');
    return user.id;
  }

  /** The calls of this device that have not ended. */
  get activeCalls(): Call[] {
    return [...this.calls.values()];
  }

  connect(): Promise<void> {
    return this.signaling.connect();
  }

  register(username: string, password: string, displayName?: string): Promise<SessionResult> {
    return this.signaling.register(username, password, displayName);
  }

  login(username: string, password: string, deviceName?: string): Promise<SessionResult> {
    return this.signaling.login(username, password, deviceName);
  }

  /** The 1:1 conversation with `userId` (made on first use). */
  async directConversation(userId: UserId): Promise<ConversationId> {
    return (await this.signaling.request('conversations.direct', { userId })).id;
  }

  /** Calls the other member of a 1:1 conversation. Resolves once the server rang them (state OUTGOING). */
  async startCall(conversationId: ConversationId, options: StartCallOptions = {}): Promise<Call> {
    this.assertOpen();
    const audioOnly = options.audioOnly ?? false;
    const topology = options.topology ?? 'sfu';
    this.startsPending++;
    try {
      const result = await this.signaling.request('call.start', { conversationId, audioOnly, topology, sentAt: Date.now() });
      const call = new Call({ id: result.callId, direction: 'outgoing', conversationId, peer: null, audioOnly, topology, ...(options.localMedia ? { localMedia: options.localMedia } : {}) }, this.callContext());
      this.calls.set(call.id, call);
      for (const n of this.takeEarly(call.id)) call.handle(n);
      if (result.ended) call.close(result.ended);
      return call;
    } finally {
      if (--this.startsPending === 0) this.early = [];
    }
  }

  /** Ends every call (without telling the server: the socket goes) and closes the connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const call of [...this.calls.values()]) call.close('hangup');
    this.calls.clear();
    this.signaling.close();
  }

  private onNotification(n: ServerNotification): void {
    this.emit('notification', n);
    if (!('callId' in n)) return;
    if (n.type === 'call.incoming') {
      if (this.calls.has(n.callId)) return;
      const call = new Call({ id: n.callId, direction: 'incoming', conversationId: n.conversationId, peer: n.from, audioOnly: n.audioOnly, topology: n.topology }, this.callContext());
      this.calls.set(call.id, call);
      this.emit('incomingCall', call);
      return;
    }
    const call = this.calls.get(n.callId);
    if (call) call.handle(n);
    else if (this.startsPending > 0) this.early.push(n);
  }

  private takeEarly(callId: CallId): ServerNotification[] {
    const mine = this.early.filter((n) => 'callId' in n && n.callId === callId);
    this.early = this.early.filter((n) => !mine.includes(n));
    return mine;
  }

  private callContext(): CallContext {
    return {
      me: this.userId,
      request: (type, fields) => this.signaling.send(type, fields),
      createPeer: () => this.createPeer(),
      onEnded: (call) => {
        if (this.calls.get(call.id) === call) this.calls.delete(call.id);
      },
      reportError: this.listenerErrors,
    };
  }

  private async createPeer() {
    if (!this.PeerConnection) throw new ClientError('MEDIA', 'no RTCPeerConnection implementation: pass options.RTCPeerConnection');
    const iceServers = this.options.iceServers ?? (await this.signaling.request('ice.servers')).iceServers;
    return new this.PeerConnection({ ...this.options.rtcConfig, iceServers });
  }

  private assertOpen(): void {
    if (this.closed) throw new ClientError('CLOSED', 'the client is closed');
  }
}
