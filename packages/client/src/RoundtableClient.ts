import type { CallId, CallMedia as CallMediaMode, ConversationId, RecordingId, RecordingInfo, RoomName, ServerNotification, Topology, UserId } from '@roundtable/protocol';
import type { RecoveryOptions } from './LinkRecovery.js';
import { Call, type CallContext } from './Call.js';
import { ClientError } from './ClientError.js';
import { ImClient } from './ImClient.js';
import type { RecordingChange } from './MediaSession.js';
import { Room, type RoomContext, type RoomOptions } from './Room.js';
import { globalMediaDevices, globalPeerConnection, type IceServerLike, type LocalMedia, type MediaDeviceInfoLike, type MediaDevicesLike, type PeerConnectionConstructor } from './platform.js';
import type { CallInit } from './Call.js';
import type { ClientResultMap, SessionResult } from './results.js';
import { SignalingConnection, type RequestFields, type SignalingConnectionOptions } from './SignalingConnection.js';
import { TypedEmitter, type ListenerErrorReporter } from './TypedEmitter.js';

export interface RoundtableClientOptions extends SignalingConnectionOptions {
  /** Default: the global RTCPeerConnection (browsers). In Node pass e.g. werift's. */
  RTCPeerConnection?: PeerConnectionConstructor;
  /** ICE servers for every peer connection. Default: asked from the server (`ice.servers`) for each call. */
  iceServers?: IceServerLike[];
  /** Extra RTCConfiguration fields (implementation-specific ones included). Default: none. */
  rtcConfig?: Record<string, unknown>;
  /** Cameras, microphones, screens (device switch, screen share, voice -> video). Default: `navigator.mediaDevices` when there is one. */
  mediaDevices?: MediaDevicesLike;
  /** How often calls and rooms emit `stats` (ms); 0 turns it off. Default 2000. */
  statsIntervalMs?: number;
  /**
   * Through the media server, use its bundled words when it takes them: one sending and
   * one receiving connection whatever the number of participants. false: always the
   * seed's words (an uplink and a downlink per participant). Default true.
   */
  bundledMedia?: boolean;
  /** How calls and rooms on the bundled words retry a media link that lost its path (back-off, give-up). Default: RecoveryOptions' defaults. */
  mediaRecovery?: RecoveryOptions;
  /**
   * On the bundled words, publish camera video as three simulcast layers (1/4, 1/2 and full
   * size; the server forwards each receiver the one that suits it and asks to pause those
   * nobody takes). Default: true where the peer connection can (browsers: RTCRtpSender has
   * getParameters/setParameters), else false.
   */
  simulcast?: boolean;
}

export interface StartCallOptions {
  /** Default false (a video call). */
  audioOnly?: boolean;
  /** Default 'sfu'. Group calls are always 'sfu'; 'p2p' is for 1:1 calls only. */
  topology?: Exclude<Topology, 'loopback'>;
  localMedia?: LocalMedia;
  /** Group conversations: the members to ring (at most 8: 9 with you). Ignored for 1:1 conversations. */
  members?: UserId[];
  /** Through the media server: 'sfu' (default) forwards everyone's audio; 'hybrid' has the server mix the others' audio into one track (`mixedAudio`), video still forwarded. */
  media?: CallMediaMode;
}

/** The devices of this machine by kind (labels are empty until the user allowed access once). */
export interface DeviceList {
  audioInputs: MediaDeviceInfoLike[];
  videoInputs: MediaDeviceInfoLike[];
  audioOutputs: MediaDeviceInfoLike[];
}

/** What openLocalMedia() opens: true for the default device, a deviceId for that one, false/absent for none. */
export interface LocalMediaRequest {
  audio?: boolean | string;
  video?: boolean | string;
}

export interface LoopbackOptions {
  /** Default false: video and audio come back. */
  audioOnly?: boolean;
  localMedia?: LocalMedia;
}

/** A recording notification, for whoever lists recordings (calls and rooms also emit `recording`). */
export type RecordingNotice = RecordingChange & { callId: CallId | null; room: RoomName | null };

export type RoundtableClientEvents = {
  /**
   * A call rings on this device; accept() or decline() it. `call.waiting`: you are in
   * another call (accept({ switch: true }) leaves it); `call.request`: a non-contact's call
   * you asked to accept first (do not ring).
   */
  incomingCall: Call;
  reconnecting: { attempt: number; delayMs: number };
  reconnected: { attempts: number };
  /**
   * A call or room you are (or were) in started or stopped being recorded; also after the
   * call ended (`recording: false`, `by: null`), when the file is complete: refresh a list of recordings then.
   */
  recording: RecordingNotice;
  /** Every server notification (raw), for anything the SDK does not model; IM events are on `client.im`. */
  notification: ServerNotification;
  /** Closed for good: close(), or the session ended (logged out elsewhere, expired) so reconnecting cannot help. */
  closed: { reason: 'closed' | 'sessionEnded' | 'reconnectDisabled' };
};

/**
 * The SDK's entry point: a signaling connection, sign-in, and the calls of this device
 * (a `Map<CallId, Call>`; close() ends them all).
 */
export class RoundtableClient extends TypedEmitter<RoundtableClientEvents> {
  readonly signaling: SignalingConnection;
  /** Users, contacts, conversations, messages, and their events. */
  readonly im: ImClient;
  private readonly calls = new Map<CallId, Call>();
  private readonly rooms = new Map<RoomName, Room>();
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
    this.im = new ImClient(this.signaling, reportError);
    this.signaling.on('notification', (n) => this.onNotification(n));
    this.signaling.on('reconnecting', (e) => this.emit('reconnecting', e));
    this.signaling.on('reconnected', (e) => {
      for (const call of this.calls.values()) void call.resume();
      for (const room of this.rooms.values()) void room.resume();
      this.emit('reconnected', e);
    });
    this.signaling.on('closed', (e) => {
      if (e.reason !== 'closed') this.endAll();
      this.emit('closed', e);
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

  /** The rooms this device is in. */
  get activeRooms(): Room[] {
    return [...this.rooms.values()];
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

  /**
   * Resumes a device session with its stored token (from `register`/`login`, e.g. kept in
   * localStorage across page reloads): signs this client in as that user, as login does.
   * Rejects with `UNAUTHENTICATED` when the token expired or was logged out.
   */
  hello(token: string): Promise<SessionResult> {
    return this.signaling.resume(token);
  }

  /** The device token of the signed-in session (store it to resume with hello() later), or null. */
  get sessionToken(): string | null {
    return this.signaling.sessionToken;
  }

  /** Ends this device's session on the server (its token stops working) and closes the client. */
  async logout(): Promise<void> {
    try {
      await this.signaling.logout();
    } finally {
      this.close();
    }
  }

  /** The recordings you may see (of calls and rooms you were in), newest first. */
  async recordings(): Promise<RecordingInfo[]> {
    const list = await this.signaling.request('recordings.list');
    return [...list].sort((a, b) => b.startedAt - a.startedAt);
  }

  /**
   * A signed download link of a recording (absolute, on the server's HTTP origin), valid a
   * few minutes (`expiresAt`), usable without credentials: for `<a href download>` or `<video src>`.
   */
  async recordingLink(recordingId: RecordingId): Promise<{ url: string; expiresAt: number }> {
    const { url, expiresAt } = await this.signaling.request('recordings.link', { recordingId });
    return { url: new URL(url, httpOrigin(this.options.url)).toString(), expiresAt };
  }

  /**
   * Deletes a recording you started (its file and its entry, for everyone who could see
   * it). Someone else's: FORBIDDEN; one still running: INVALID_STATE.
   */
  async deleteRecording(recordingId: RecordingId): Promise<void> {
    await this.signaling.request('recordings.delete', { recordingId });
  }

  /** The 1:1 conversation with `userId` (made on first use). */
  async directConversation(userId: UserId): Promise<ConversationId> {
    return (await this.signaling.request('conversations.direct', { userId })).id;
  }

  /**
   * Starts a call in a conversation: a 1:1 conversation rings its other member; a group
   * conversation rings `options.members` (through the media server). Resolves once the
   * server rang them (state OUTGOING; `participants` lists them as ringing), or with an
   * ended call (`endReason` 'busy') when the only callee is busy.
   */
  async startCall(conversationId: ConversationId, options: StartCallOptions = {}): Promise<Call> {
    this.assertOpen();
    const audioOnly = options.audioOnly ?? false;
    const group = options.members !== undefined;
    const topology = group ? 'sfu' : (options.topology ?? 'sfu');
    const media = options.media ?? 'sfu';
    return this.start(
      { conversationId, audioOnly, topology, ...(media !== 'sfu' ? { media } : {}), ...(group ? { invitees: options.members } : {}), sentAt: Date.now() },
      (result) => ({
        id: result.callId,
        direction: 'outgoing',
        conversationId,
        peer: null,
        audioOnly,
        topology,
        group,
        initiator: this.userId,
        invitees: result.invitees ?? [],
        media: result.media ?? media,
        ...(options.localMedia ? { localMedia: options.localMedia } : {}),
      }),
    );
  }

  /**
   * The loopback self-test: your media goes to the media server and straight back; the
   * call's `track` events carry it (participant = you). Resolves with the call CONNECTING;
   * it is CONNECTED once media flows. hangUp() ends it.
   */
  async startLoopback(options: LoopbackOptions = {}): Promise<Call> {
    this.assertOpen();
    const audioOnly = options.audioOnly ?? false;
    return this.start({ audioOnly, topology: 'loopback', sentAt: Date.now() }, (result) => ({
      id: result.callId,
      direction: 'outgoing',
      conversationId: null,
      peer: null,
      audioOnly,
      topology: 'loopback',
      initiator: this.userId,
      ...(options.localMedia ? { localMedia: options.localMedia } : {}),
    }));
  }

  /**
   * Takes a call you are still in onto this device with fresh media: after a page reload
   * (within the server's grace period for a dropped device) or from another device.
   * Calls through the media server only (peer-to-peer: INVALID_STATE). Resolves with the
   * call CONNECTING; it is CONNECTED once media flows.
   */
  async rejoinCall(callId: CallId, options: { localMedia?: LocalMedia } = {}): Promise<Call> {
    this.assertOpen();
    if (this.calls.has(callId)) throw new ClientError('INVALID_STATE', `call ${callId} is already on this device`);
    this.startsPending++;
    try {
      const result = await this.signaling.request('call.rejoin', { callId });
      const call = new Call(
        {
          id: result.callId,
          direction: 'incoming',
          conversationId: result.conversationId,
          peer: result.group ? null : (result.participants[0] ?? null),
          audioOnly: result.audioOnly,
          topology: result.topology,
          group: result.group,
          initiator: result.initiator,
          media: result.media,
          rejoined: { participants: result.participants, ringing: result.ringing },
          ...(options.localMedia ? { localMedia: options.localMedia } : {}),
        },
        this.callContext(),
      );
      this.calls.set(call.id, call);
      for (const n of this.takeEarly(call.id)) call.handle(n);
      return call;
    } finally {
      if (--this.startsPending === 0) this.early = [];
    }
  }

  /** Joins an open room by name (made on first use; at most 9 people). Resolves once in (state CONNECTING, then CONNECTED when media reaches the server). */
  async joinRoom(name: string, options: RoomOptions = {}): Promise<Room> {
    this.assertOpen();
    const roomName = name as RoomName;
    if (this.rooms.has(roomName)) throw new ClientError('INVALID_STATE', `already in room ${name}`);
    const room = new Room(roomName, options, this.roomContext());
    this.rooms.set(roomName, room);
    await room.join();
    return room;
  }

  /** Cameras, microphones and speakers, for a device picker (switch with `session.switchDevice(kind, deviceId)`). */
  async listDevices(): Promise<DeviceList> {
    const devices = this.mediaDevices();
    const all = (await devices.enumerateDevices?.()) ?? [];
    return {
      audioInputs: all.filter((d) => d.kind === 'audioinput'),
      videoInputs: all.filter((d) => d.kind === 'videoinput'),
      audioOutputs: all.filter((d) => d.kind === 'audiooutput'),
    };
  }

  /** Opens the microphone and/or camera (the browser asks the user); pass the result as `localMedia`. Rejects with `MEDIA` when nothing is asked. */
  async openLocalMedia(request: LocalMediaRequest): Promise<LocalMedia> {
    const pick = (want: boolean | string | undefined) => (typeof want === 'string' ? { deviceId: { exact: want } } : want === true);
    const audio = pick(request.audio);
    const video = pick(request.video);
    if (!audio && !video) throw new ClientError('MEDIA', 'openLocalMedia() needs audio or video');
    return this.mediaDevices().getUserMedia({ ...(audio ? { audio } : {}), ...(video ? { video } : {}) });
  }

  /** Ends every call and room (without telling the server: the socket goes) and closes the connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.endAll();
    this.signaling.close();
  }

  private endAll(): void {
    for (const call of [...this.calls.values()]) call.close('hangup');
    this.calls.clear();
    for (const room of [...this.rooms.values()]) room.close();
    this.rooms.clear();
  }

  private async start(fields: RequestFields<'call.start'>, init: (result: ClientResultMap['call.start']) => CallInit): Promise<Call> {
    this.startsPending++;
    try {
      const result = await this.signaling.request('call.start', fields);
      if (result.ignored) throw new ClientError('INVALID_STATE', 'the server ignored call.start as stale (check the clock)', 'call.start');
      const call = new Call(init(result), this.callContext());
      this.calls.set(call.id, call);
      for (const n of this.takeEarly(call.id)) call.handle(n);
      if (result.ended) call.close(result.ended);
      return call;
    } finally {
      if (--this.startsPending === 0) this.early = [];
    }
  }

  private onNotification(n: ServerNotification): void {
    this.emit('notification', n);
    if (n.type === 'room.signal') {
      this.rooms.get(n.room)?.handle(n.payload);
      return;
    }
    if (n.type === 'room.participantState' || n.type === 'room.reaction' || n.type === 'room.participant' || n.type === 'room.left' || n.type === 'room.message') {
      this.rooms.get(n.room)?.handlePeer(n);
      return;
    }
    if (n.type === 'room.ended') {
      this.rooms.get(n.room)?.handleEnded(n.reason);
      return;
    }
    if (n.type === 'room.moved') {
      this.rooms.get(n.room)?.handleMoved();
      return;
    }
    if (n.type === 'room.recording') {
      this.rooms.get(n.room)?.handleRecording(n);
      this.emit('recording', { recording: n.recording, by: n.by, recordingId: n.recordingId, callId: null, room: n.room });
      return;
    }
    if (n.type === 'call.recording') this.emit('recording', { recording: n.recording, by: n.by, recordingId: n.recordingId, callId: n.callId, room: null });
    if (!('callId' in n)) return;
    if (n.type === 'call.incoming') {
      if (this.calls.has(n.callId)) return;
      const group = n.group;
      const call = new Call(
        { id: n.callId, direction: 'incoming', conversationId: n.conversationId, peer: group ? null : n.from, audioOnly: n.audioOnly, topology: n.topology, group, initiator: n.from, invitees: n.invitees, ...(n.media ? { media: n.media } : {}), waiting: n.waiting === true, request: n.request === true },
        this.callContext(),
      );
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

  private roomContext(): RoomContext {
    return {
      ...this.sessionOptions(),
      me: this.userId,
      request: (type, fields) => this.signaling.send(type, fields),
      createPeer: () => this.createPeer(),
      onEnded: (room) => {
        if (this.rooms.get(room.name) === room) this.rooms.delete(room.name);
      },
      reportError: this.listenerErrors,
    };
  }

  private mediaDevices(): MediaDevicesLike {
    const devices = this.options.mediaDevices ?? globalMediaDevices();
    if (!devices) throw new ClientError('MEDIA', 'no media devices: pass options.mediaDevices (browsers: navigator.mediaDevices)');
    return devices;
  }

  private sessionOptions(): { mediaDevices: MediaDevicesLike | undefined; statsIntervalMs: number; bundledMedia: boolean; recovery: RecoveryOptions | undefined; simulcast: boolean } {
    return {
      mediaDevices: this.options.mediaDevices ?? globalMediaDevices(),
      statsIntervalMs: this.options.statsIntervalMs ?? 2000,
      bundledMedia: this.options.bundledMedia ?? true,
      recovery: this.options.mediaRecovery,
      simulcast: this.options.simulcast ?? simulcastSupported(),
    };
  }

  private callContext(): CallContext {
    return {
      ...this.sessionOptions(),
      me: this.userId,
      request: (type, fields) => this.signaling.send(type, fields),
      createPeer: () => this.createPeer(),
      onEnded: (call) => {
        if (this.calls.get(call.id) === call) this.calls.delete(call.id);
      },
      onSwitched: (call) => {
        // The server took us out of the call we were in (it tells everyone but us).
        for (const other of [...this.calls.values()]) if (other !== call && other.state !== 'INCOMING') other.close('hangup');
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

/** ws://host/ws -> http://host/, wss: -> https: (recordings are served on the signaling server's origin). */
function httpOrigin(signalingUrl: string): string {
  const url = new URL(signalingUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  return url.origin;
}

/** Whether this platform's senders take simulcast encodings and their `active` flag (browsers do; werift and Node libwebrtc builds are not relied on). */
function simulcastSupported(): boolean {
  const sender: unknown = (globalThis as Record<string, unknown>)['RTCRtpSender'];
  if (typeof sender !== 'function') return false;
  const prototype: unknown = sender.prototype;
  return typeof prototype === 'object' && prototype !== null && 'setParameters' in prototype && 'getParameters' in prototype;
}
