/**
 * The app's state and actions: the signed-in client, contacts, conversations and their
 * messages, the ringing call, the call in progress, and what the call screen and the
 * dialogs show. Components read `state` and call the actions; nothing else talks to
 * the server.
 */
import { Call, ClientError, RoundtableClient, type Room, type SessionResult } from '@roundtable/client';
import type { CallId, ChatMessage, ContactInfo, ConversationId, ConversationInfo, EndReason, RecordingId, RecordingInfo, RoomName, ServerNotification, UserId, UserInfo } from '@roundtable/protocol';
import { MAX_CALL_PARTICIPANTS } from '@roundtable/protocol';
import { markRaw, nextTick, reactive, type Raw } from 'vue';
import { openLocalMedia } from '../platform/localMedia.js';
import { TrackedPeerConnection } from '../platform/peerConnections.js';
import { Ringer } from '../platform/ringer.js';
import { displayName } from '../format.js';
import { t } from '../i18n.js';
import { CallHealth } from './CallHealth.js';
import { CallSession, type CallKind, type SessionLike } from './CallSession.js';
import { errorText, signInError, type FieldError } from './errors.js';
import { Notifier } from './notifier.js';
import { prejoinWanted, type PreJoinChoice, type PreJoinRequest } from './PreJoin.js';
import { forgetCall, rejoinAfterEnd, storeCall, storedCall, type StoredCall } from './rejoin.js';

export type Topology1to1 = 'p2p' | 'sfu';

export interface IncomingCall {
  call: Raw<Call>;
  from: UserId;
  audioOnly: boolean;
  conversationId: ConversationId | null;
  group: boolean;
  /** A call request from a non-contact (the user's setting): shown without ringing. */
  request: boolean;
}

export interface CallNotice {
  reason: EndReason;
  /** The call ended before anyone answered and the other side said no. */
  declined: boolean;
  /** The call ended because this participant's device dropped and did not come back. */
  dropped?: UserId;
}

export const MAX_GROUP_INVITEES = MAX_CALL_PARTICIPANTS - 1;

/** Where the device token is kept so that a page reload resumes the session (cleared by sign-out). */
export const SESSION_STORAGE_KEY = 'roundtable.session';

/** A recording as the Recordings page shows it: a signed download link once complete. */
export interface RecordingRow {
  info: RecordingInfo;
  /** Absolute, signed, valid a few minutes (refreshed with the list). */
  url: string | null;
}

function signalingUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

function messageOf(error: unknown): string {
  return errorText(error);
}

export class AppState {
  readonly state = reactive({
    auth: 'signedOut' as 'signedOut' | 'signingIn' | 'signedIn',
    me: null as UserInfo | null,
    users: {} as Record<string, UserInfo>,
    contacts: [] as UserId[],
    conversations: [] as ConversationInfo[],
    messages: {} as Record<string, ChatMessage[]>,
    unread: {} as Record<string, number>,
    selected: null as ConversationId | null,
    incoming: null as IncomingCall | null,
    call: null as Raw<CallSession> | null,
    notice: null as CallNotice | null,
    error: null as string | null,
    topology: 'sfu' as Topology1to1,
    recordings: [] as RecordingRow[],
    recordingsLoading: false,
    /** Why sign-in or registration failed, next to its field. */
    authError: null as FieldError | null,
    /** Contacts' presence, by user id (from contacts.list and presence notifications). */
    online: {} as Record<string, boolean>,
    /** The signaling socket dropped; the SDK reconnects. */
    reconnecting: false,
    /** The pre-join screen waits for the user's choices. */
    prejoin: null as Raw<PreJoinRequest> | null,
    /** How the call in progress holds up (banner). */
    health: null as Raw<CallHealth> | null,
    /** A call or room this tab was in before a reload, that the user may take up again. */
    rejoin: null as StoredCall | null,
    /** Calls that came while another was already shown in the incoming call dialog: shown next. */
    queued: [] as IncomingCall[],
    requestsIn: [] as UserId[],
    requestsOut: [] as UserId[],
    blocked: [] as UserId[],
    callsFromNonContacts: 'ring' as 'ring' | 'request',
  });
  readonly notifier = new Notifier();
  private client: RoundtableClient | null = null;
  private readonly ringer = new Ringer();

  get signedIn(): boolean {
    return this.state.auth === 'signedIn';
  }

  // --- accounts ----------------------------------------------------------------------

  async signIn(mode: 'login' | 'register', username: string, password: string, displayName?: string): Promise<void> {
    await this.openSession((client) => (mode === 'register' ? client.register(username, password, displayName) : client.login(username, password, navigator.userAgent.slice(0, 60))));
  }

  /**
   * Resumes the session kept in localStorage (after a page reload) with the SDK's
   * hello(token). A token the server no longer takes (expired, signed out) is forgotten;
   * a server that cannot be reached leaves it for the next reload. No stored token: nothing happens.
   */
  async resume(): Promise<void> {
    const token = storedToken();
    if (!token || this.client) return;
    await this.openSession((client) => client.hello(token), true);
  }

  signOut(): void {
    this.endCallLocally();
    forgetToken();
    const client = this.client;
    if (client) void client.logout().catch(() => client.close());
    this.client = null;
    forgetCall();
    Object.assign(this.state, { auth: 'signedOut', me: null, contacts: [], conversations: [], messages: {}, unread: {}, selected: null, incoming: null, recordings: [], online: {}, rejoin: null, reconnecting: false, queued: [], requestsIn: [], requestsOut: [], blocked: [] });
  }

  private async openSession(signIn: (client: RoundtableClient) => Promise<SessionResult>, resuming = false): Promise<void> {
    this.state.error = null;
    this.state.authError = null;
    this.state.auth = 'signingIn';
    const client = markRaw(new RoundtableClient({ url: signalingUrl(), RTCPeerConnection: TrackedPeerConnection }));
    try {
      await client.connect();
      const session = await signIn(client);
      this.client = client;
      keepToken(session.token);
      client.on('notification', (n) => this.onNotification(n));
      client.on('incomingCall', (call) => this.onIncoming(markRaw(call)));
      // Started: listed as recording; stopped: the file is complete and gets its link.
      client.on('recording', () => void this.loadRecordings());
      client.on('reconnecting', () => (this.state.reconnecting = true));
      client.on('reconnected', () => {
        this.state.reconnecting = false;
        // Presence is watched per socket: the new one asks again.
        void this.refresh().catch((error: unknown) => (this.state.error = messageOf(error)));
      });
      this.state.me = session.user;
      this.rememberUsers([session.user]);
      this.state.auth = 'signedIn';
      this.state.rejoin = storedCall();
      await this.refresh();
    } catch (error) {
      client.close();
      this.client = null;
      this.state.auth = 'signedOut';
      const tokenRefused = resuming && error instanceof ClientError && error.code === 'UNAUTHENTICATED';
      if (tokenRefused) forgetToken();
      this.state.authError = tokenRefused ? null : signInError(error);
    }
  }

  // --- recordings --------------------------------------------------------------------

  /** The recordings this user may see, newest first, each complete one with a fresh signed download link. */
  async loadRecordings(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.state.recordingsLoading = true;
    try {
      const list = await client.recordings();
      const rows = await Promise.all(
        list.map(async (info): Promise<RecordingRow> => ({ info, url: info.status === 'recording' ? null : await this.recordingUrl(client, info.id) })),
      );
      if (this.client !== client) return;
      this.state.recordings = rows;
      await this.loadUsers(list.flatMap((r) => r.participants));
    } catch (error) {
      this.state.error = messageOf(error);
    } finally {
      this.state.recordingsLoading = false;
    }
  }

  /** Deletes a recording this user started; it leaves the list. */
  async deleteRecording(id: RecordingId): Promise<void> {
    const client = this.requireClient();
    try {
      await client.deleteRecording(id);
      this.state.recordings = this.state.recordings.filter((row) => row.info.id !== id);
    } catch (error) {
      this.state.error = messageOf(error);
    }
  }

  /** A fresh signed link to a recording (links live 5 minutes), e.g. for the player; null when refused. */
  async freshRecordingUrl(id: RecordingId): Promise<string | null> {
    const client = this.client;
    return client ? this.recordingUrl(client, id) : null;
  }

  private async recordingUrl(client: RoundtableClient, id: RecordingId): Promise<string | null> {
    return (await client.recordingLink(id).catch(() => null))?.url ?? null;
  }

  // --- contacts and conversations ----------------------------------------------------

  async refresh(): Promise<void> {
    const client = this.requireClient();
    const [contacts, conversations] = await Promise.all([client.signaling.request('contacts.list') as Promise<ContactInfo[]>, client.signaling.request('conversations.list') as Promise<ConversationInfo[]>]);
    this.rememberUsers(contacts.map((c) => ({ id: c.id, username: c.username, displayName: c.displayName })));
    this.state.contacts = contacts.map((u) => u.id);
    for (const c of contacts) this.state.online[c.id] = c.online;
    this.state.conversations = conversations;
    await this.watchPresence();
    await this.loadUsers(conversations.flatMap((c) => c.memberIds));
    await this.loadContactRequests();
  }

  /** Asks the server to tell this socket when a contact comes online or goes. */
  private async watchPresence(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const result = (await client.signaling.request('presence.watch', { userIds: [...this.state.contacts] })) as { online: UserId[] };
    const online = new Set(result.online);
    for (const id of this.state.contacts) this.state.online[id] = online.has(id);
  }

  /** Finds a user by exact username; undefined when there is none. */
  async findUser(username: string): Promise<UserInfo | undefined> {
    try {
      const user = (await this.requireClient().signaling.request('users.find', { username })) as UserInfo;
      this.rememberUsers([user]);
      return user;
    } catch {
      return undefined;
    }
  }

  /** Asks `userId` to become a contact; they are listed once they accept (at once when they had asked first). */
  async addContact(userId: UserId): Promise<void> {
    const status = await this.requireClient().im.addContact(userId);
    if (status === 'contacts') this.becameContacts(userId);
    else if (!this.state.requestsOut.includes(userId)) this.state.requestsOut.push(userId);
  }

  async acceptContact(userId: UserId): Promise<void> {
    await this.requireClient().im.acceptContact(userId).catch((error: unknown) => (this.state.error = messageOf(error)));
    this.becameContacts(userId);
  }

  async declineContact(userId: UserId): Promise<void> {
    await this.requireClient().im.declineContact(userId).catch((error: unknown) => (this.state.error = messageOf(error)));
    this.state.requestsIn = this.state.requestsIn.filter((u) => u !== userId);
  }

  /** Blocks `userId`: their calls, messages and contact requests no longer reach this user. */
  async block(userId: UserId): Promise<void> {
    await this.requireClient().im.block(userId);
    if (!this.state.blocked.includes(userId)) this.state.blocked.push(userId);
    this.state.requestsIn = this.state.requestsIn.filter((u) => u !== userId);
  }

  async unblock(userId: UserId): Promise<void> {
    await this.requireClient().im.unblock(userId);
    this.state.blocked = this.state.blocked.filter((u) => u !== userId);
  }

  /** Whether calls from non-contacts ring ('ring') or come as requests ('request'). */
  async setCallsFromNonContacts(value: 'ring' | 'request'): Promise<void> {
    this.state.callsFromNonContacts = (await this.requireClient().im.updateSettings({ callsFromNonContacts: value })).callsFromNonContacts;
  }

  private async loadContactRequests(): Promise<void> {
    const im = this.requireClient().im;
    const [requests, blocked, settings] = await Promise.all([im.contactRequests(), im.blocked(), im.settings()]);
    this.rememberUsers([...requests.incoming, ...requests.outgoing, ...blocked]);
    this.state.requestsIn = requests.incoming.map((u) => u.id);
    this.state.requestsOut = requests.outgoing.map((u) => u.id);
    this.state.blocked = blocked.map((u) => u.id);
    this.state.callsFromNonContacts = settings.callsFromNonContacts;
  }

  private becameContacts(userId: UserId): void {
    if (!this.state.contacts.includes(userId)) this.state.contacts.push(userId);
    this.state.requestsIn = this.state.requestsIn.filter((u) => u !== userId);
    this.state.requestsOut = this.state.requestsOut.filter((u) => u !== userId);
    void this.watchPresence().catch((error: unknown) => (this.state.error = messageOf(error)));
  }

  /** Opens (making it on first use) the 1:1 conversation with `userId`. */
  async openDirect(userId: UserId): Promise<ConversationId> {
    const conversation = (await this.requireClient().signaling.request('conversations.direct', { userId })) as ConversationInfo;
    this.upsertConversation(conversation);
    await this.select(conversation.id);
    return conversation.id;
  }

  async createGroup(name: string, memberIds: UserId[]): Promise<ConversationId> {
    const conversation = (await this.requireClient().signaling.request('conversations.createGroup', { name, memberIds })) as ConversationInfo;
    this.upsertConversation(conversation);
    await this.select(conversation.id);
    return conversation.id;
  }

  async select(conversationId: ConversationId | null): Promise<void> {
    this.state.selected = conversationId;
    if (!conversationId) return;
    this.state.unread[conversationId] = 0;
    await this.loadHistory(conversationId);
  }

  /** Loads the latest messages of a conversation (the chat, and the chat beside a call), keeping those that arrived meanwhile. */
  async loadHistory(conversationId: ConversationId): Promise<void> {
    const history = (await this.requireClient().signaling.request('messages.history', { conversationId, limit: 100 })) as ChatMessage[];
    // Messages that arrived while the history was on its way are kept.
    const live = this.state.messages[conversationId] ?? [];
    const bySeq = new Map<number, ChatMessage>();
    for (const m of [...history, ...live]) bySeq.set(m.seq, m);
    this.state.messages[conversationId] = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  async sendMessage(text: string): Promise<void> {
    const conversationId = this.state.selected;
    const trimmed = text.trim();
    if (!conversationId || trimmed === '') return;
    const message = (await this.requireClient().signaling.request('messages.send', { conversationId, text: trimmed })) as ChatMessage;
    this.addMessage(message);
  }

  /** Sends a text message to a conversation other than the selected one (the chat beside a call). */
  async sendTo(conversationId: ConversationId, text: string): Promise<void> {
    const trimmed = text.trim();
    if (trimmed === '') return;
    const message = (await this.requireClient().signaling.request('messages.send', { conversationId, text: trimmed })) as ChatMessage;
    this.addMessage(message);
  }

  conversation(id: ConversationId | null): ConversationInfo | undefined {
    return this.state.conversations.find((c) => c.id === id);
  }

  /** The other member of a 1:1 conversation. */
  peerOf(conversation: ConversationInfo): UserId | undefined {
    return conversation.memberIds.find((u) => u !== this.state.me?.id);
  }

  user(id: UserId | null | undefined): UserInfo | undefined {
    return id ? this.state.users[id] : undefined;
  }

  // --- calls -------------------------------------------------------------------------

  /** Starts a call from a conversation: 1:1 (P2P or SFU, per `state.topology`) or a group call ringing `invitees`. */
  async startCall(conversationId: ConversationId, audioOnly: boolean, invitees?: UserId[], media: 'sfu' | 'hybrid' = 'sfu'): Promise<void> {
    const client = this.requireClient();
    const conversation = this.conversation(conversationId);
    if (!conversation || this.state.call || this.state.prejoin) return;
    const group = conversation.kind === 'group';
    if (group && (!invitees || invitees.length === 0 || invitees.length > MAX_GROUP_INVITEES)) throw new Error(`pick 1 to ${MAX_GROUP_INVITEES} members`);
    const title = group ? conversation.name : displayName(this.user(this.peerOf(conversation)), conversation.name);
    const choice = await this.prepare('call', title, audioOnly);
    if (!choice || this.state.call) {
      if (choice) for (const track of choice.stream.getTracks()) track.stop();
      return;
    }
    const localStream = choice.stream;
    try {
      const call = await client.startCall(conversationId, { audioOnly, topology: this.state.topology, localMedia: localStream, ...(group ? { members: invitees, media } : {}) });
      const session = this.beginSession({ session: markRaw(call), kind: group ? 'group' : 'direct', conversationId, initiator: true, localStream });
      await session.applyChoices(choice.muted, choice.cameraOff);
    } catch (error) {
      for (const track of localStream.getTracks()) track.stop();
      this.state.error = messageOf(error);
    }
  }

  /**
   * Answers the call in the incoming call dialog. While in another call (call waiting)
   * this switches: the current call or room is left first.
   */
  async acceptIncoming(audioOnly?: boolean): Promise<void> {
    const incoming = this.state.incoming;
    if (!incoming) return;
    this.ringer.stop();
    this.showNextIncoming();
    const current = this.state.call;
    // A room is not a call for the server: leave it here. A call is left by the server (accept with switch).
    if (current?.kind === 'room') await current.hangUp().catch(() => undefined);
    const switching = current !== null && current.kind !== 'room';
    if (switching) {
      // The call screen is made for one session: let it go before the new call's comes.
      this.state.call = null;
      await nextTick();
    }
    const voice = audioOnly ?? incoming.audioOnly;
    const localStream = await this.openMedia(voice);
    if (!localStream) {
      await incoming.call.hangUp('openCameraError').catch(() => undefined);
      return;
    }
    const session = this.beginSession({ session: incoming.call, kind: incoming.group ? 'group' : 'direct', conversationId: incoming.conversationId, initiator: false, localStream });
    try {
      await incoming.call.accept({ localMedia: localStream, audioOnly: voice, switch: switching });
      session.accepted();
    } catch (error) {
      this.state.error = messageOf(error);
      if (session.ended) this.finishSession(session);
    }
  }

  /** Declines the call in the incoming call dialog; a call waiting while in another call is declined as busy. */
  async declineIncoming(): Promise<void> {
    const incoming = this.state.incoming;
    if (!incoming) return;
    this.ringer.stop();
    this.showNextIncoming();
    await incoming.call.decline(this.state.call ? 'busy' : 'hangup').catch((error: unknown) => (this.state.error = messageOf(error)));
  }

  async hangUp(): Promise<void> {
    const session = this.state.call;
    if (!session) return;
    await session.hangUp().catch((error: unknown) => (this.state.error = messageOf(error)));
  }

  /** The initiator of a group call rings more members. */
  async invite(invitees: UserId[]): Promise<void> {
    const session = this.state.call;
    if (!session || session.kind !== 'group' || invitees.length === 0) return;
    await session.invite(invitees);
  }

  /** Joins an open room, after the pre-join screen (unless `preset` carries the choices: a rejoin). */
  async joinRoom(room: RoomName, preset?: { muted: boolean; cameraOff: boolean }): Promise<void> {
    if (this.state.call || this.state.prejoin) return;
    const choice = preset ? await this.openChoice(false, preset) : await this.prepare('room', room, false);
    if (!choice || this.state.call) {
      if (choice) for (const track of choice.stream.getTracks()) track.stop();
      return;
    }
    const localStream = choice.stream;
    try {
      const joined = await this.requireClient().joinRoom(room, { localMedia: localStream });
      const session = this.beginSession({ session: markRaw(joined), kind: 'room', conversationId: null, room, initiator: false, localStream });
      await session.applyChoices(choice.muted, choice.cameraOff);
    } catch (error) {
      for (const track of localStream.getTracks()) track.stop();
      this.state.error = messageOf(error);
    }
  }

  /** Takes up the call or room this tab was in before a reload (the one-click Rejoin). */
  async rejoin(): Promise<void> {
    const stored = this.state.rejoin;
    this.state.rejoin = null;
    if (!stored || this.state.call) return;
    const preset = { muted: stored.muted, cameraOff: stored.cameraOff };
    if (stored.kind === 'room' && stored.room) {
      await this.joinRoom(stored.room as RoomName, preset);
      return;
    }
    if (!stored.callId) return;
    const choice = await this.openChoice(false, preset);
    if (!choice) return;
    try {
      const call = await this.requireClient().rejoinCall(stored.callId as CallId, { localMedia: choice.stream });
      const session = this.beginSession({ session: markRaw(call), kind: stored.kind, conversationId: call.conversationId, initiator: call.initiator === this.state.me?.id, localStream: choice.stream });
      await session.applyChoices(choice.muted, choice.cameraOff);
    } catch (error) {
      for (const track of choice.stream.getTracks()) track.stop();
      forgetCall();
      this.state.error = messageOf(error);
    }
  }

  dismissRejoin(): void {
    this.state.rejoin = null;
    forgetCall();
  }

  /** The pre-join screen answered (null: cancelled). */
  settlePrejoin(choice: PreJoinChoice | null): void {
    const request = this.state.prejoin;
    this.state.prejoin = null;
    request?.settle(choice);
  }

  /** The pre-join screen (when wanted), else the default devices unmuted. */
  private prepare(kind: 'call' | 'room', title: string, audioOnly: boolean): Promise<PreJoinChoice | null> {
    if (!prejoinWanted()) return this.openChoice(audioOnly, { muted: false, cameraOff: false });
    this.state.prejoin?.settle(null);
    return new Promise((resolve) => {
      this.state.prejoin = markRaw({ kind, title, audioOnly, settle: resolve });
    });
  }

  private async openChoice(audioOnly: boolean, choices: { muted: boolean; cameraOff: boolean }): Promise<PreJoinChoice | null> {
    const stream = await this.openMedia(audioOnly);
    return stream ? { stream, ...choices } : null;
  }

  /** Microphones and cameras, for switching mid-call (labels are known once the camera was allowed). */
  async listDevices(): Promise<{ audioInputs: MediaDeviceInfo[]; videoInputs: MediaDeviceInfo[] }> {
    const list = await this.requireClient().listDevices();
    return { audioInputs: list.audioInputs as MediaDeviceInfo[], videoInputs: list.videoInputs as MediaDeviceInfo[] };
  }

  dismissNotice(): void {
    this.state.notice = null;
  }

  /** The debug hook's view of the app (for tests and support). */
  snapshot(): Record<string, unknown> {
    const call = this.state.call;
    return {
      auth: this.state.auth,
      me: this.state.me?.id ?? null,
      selected: this.state.selected,
      incoming: this.state.incoming ? { callId: this.state.incoming.call.id, from: this.state.incoming.from, waiting: this.state.call !== null, request: this.state.incoming.request } : null,
      call: call
        ? {
            id: call.id,
            kind: call.kind,
            phase: call.state.phase,
            endReason: call.state.endReason,
            participants: call.state.tiles.map((t) => ({ id: t.userId, state: t.state, audioMuted: t.audioMuted, cameraOff: t.cameraOff, handRaised: t.handRaised, level: t.level })),
            activeSpeaker: call.state.activeSpeaker,
            // Where levels come from: the media server (bundled calls and rooms), or this device's getStats.
            levelsFrom: call.sdk.serverMeasuresSpeakers ? 'server' : 'device',
            serverSpeaker: call.sdk.activeSpeaker,
            audioOnly: call.state.audioOnly,
            connectedAt: call.state.connectedAt,
            recording: call.state.recording,
            mediaMode: call.mediaMode,
            mixedAudio: call.state.mixedAudio !== null,
          }
        : null,
      notice: this.state.notice ? { ...this.state.notice } : null,
      ringing: this.ringer.kind ?? null,
      sessionStored: storedToken() !== null,
      reconnecting: this.state.reconnecting,
      health: this.state.health
        ? { mediaReconnecting: this.state.health.state.mediaReconnecting, poor: this.state.health.state.poor, peersReconnecting: [...this.state.health.state.peersReconnecting], notices: this.state.health.state.notices.map((n) => ({ ...n })), mediaRecovery: this.state.health.state.mediaRecovery ? { ...this.state.health.state.mediaRecovery } : null }
        : null,
      online: { ...this.state.online },
      rejoin: this.state.rejoin ? { ...this.state.rejoin } : null,
      notificationsShown: this.notifier.shown,
      muted: call?.state.muted ?? null,
      cameraOff: call?.state.cameraOff ?? null,
    };
  }

  // --- internals ---------------------------------------------------------------------

  private beginSession(init: { session: Call | Room; kind: CallKind; conversationId: ConversationId | null; room?: string; initiator: boolean; localStream: MediaStream }): CallSession {
    const session = markRaw(new CallSession(init));
    this.state.call = session;
    this.state.notice = null;
    this.state.rejoin = null;
    this.state.health = markRaw(new CallHealth(init.session as SessionLike));
    this.keepForRejoin(session);
    const ended = (): void => this.finishSession(session);
    if (session.ended) {
      ended();
      return session;
    }
    const sdk = init.session as SessionLike;
    sdk.on('ended', (e) => {
      if ('dropped' in e && e.dropped === true) session.droppedPeer = this.lastPeer(session);
      ended();
    });
    sdk.on('localMediaChanged', () => this.keepForRejoin(session));
    sdk.on('stateChanged', ({ to }) => this.updateRinger(session, to));
    sdk.on('participantsChanged', ({ participants }) => void this.loadUsers(participants.map((p) => p.id)));
    this.updateRinger(session, sdk.state);
    void this.loadUsers(sdk.participants.map((p) => p.id));
    if (!(init.session instanceof Call)) {
      // A room's chat may hold messages of people who left before we came.
      const room = init.session;
      room.on('message', ({ message }) => void this.loadUsers([message.senderId]));
      void this.loadUsers(room.messages.map((m) => m.senderId));
    }
    return session;
  }

  private finishSession(session: CallSession): void {
    const reason = session.state.endReason ?? 'unknown';
    const answered = session.state.answered || (session.sdk instanceof Call && session.sdk.stateHistory.includes('CONNECTING'));
    const offer = this.state.call === session ? rejoinAfterEnd({ kind: session.kind, room: session.room ?? null, reason, muted: session.sdk.audioMuted, cameraOff: session.sdk.cameraOff }) : null;
    session.dispose();
    if (this.state.call === session) {
      this.state.call = null;
      this.state.health?.dispose();
      this.state.health = null;
      forgetCall();
    }
    this.ringer.stop();
    // A call that waited while this one went on rings now.
    if (this.state.incoming && !this.state.incoming.request && !this.state.call) this.ringer.start('incoming');
    // A room lost to a media failure: the one-click Rejoin (its banner says what happened).
    if (offer) {
      this.state.rejoin = offer;
      return;
    }
    if (session.droppedPeer) {
      this.state.notice = { reason, declined: false, dropped: session.droppedPeer };
      return;
    }
    // Our own hang-up, or the others hanging up a call that went on, need no explanation.
    const normalEnd = reason === 'hangup' || (answered && (reason === 'remoteHangup' || reason === 'allLeft'));
    if (!normalEnd) this.state.notice = { reason, declined: reason === 'remoteHangup' && !answered && session.initiator };
  }

  /** The other side of a 1:1 call (for the "lost the connection" notice). */
  private lastPeer(session: CallSession): UserId | undefined {
    return session.sdk instanceof Call ? (session.sdk.peer ?? undefined) : undefined;
  }

  /** Calls through the media server and rooms can be taken up again after a reload. */
  private keepForRejoin(session: CallSession): void {
    if (this.state.call !== session || session.ended) return;
    const sdk = session.sdk;
    if (sdk instanceof Call && sdk.topology !== 'sfu') return;
    storeCall({
      kind: session.kind,
      callId: sdk instanceof Call ? sdk.id : null,
      room: session.room ?? null,
      conversationId: session.conversationId,
      muted: sdk.audioMuted,
      cameraOff: sdk.cameraOff,
    });
  }

  private endCallLocally(): void {
    if (this.state.call) this.finishSession(this.state.call);
    this.state.notice = null;
    this.ringer.stop();
  }

  private updateRinger(session: CallSession, phase: string): void {
    if (this.state.call !== session) return;
    if (phase === 'OUTGOING' && session.kind !== 'room') this.ringer.start('outgoing');
    else if (this.ringer.kind === 'outgoing') this.ringer.stop();
  }

  private async openMedia(audioOnly: boolean): Promise<MediaStream | null> {
    try {
      return markRaw(await openLocalMedia(audioOnly));
    } catch (error) {
      this.state.notice = { reason: 'openCameraError', declined: false };
      this.state.error = messageOf(error);
      return null;
    }
  }

  private onIncoming(call: Raw<Call>): void {
    const incoming: IncomingCall = { call, from: call.initiator, audioOnly: call.audioOnly, conversationId: call.conversationId, group: call.group, request: call.request };
    void this.loadUsers([call.initiator]).then(() => {
      if (this.state.incoming?.call !== call || !Notifier.away()) return;
      const name = displayName(this.user(call.initiator), '…');
      this.notifier.show(t(call.audioOnly ? 'incomingVoice' : 'incomingVideo', { name }), '', `call:${call.id}`);
    });
    call.on('ended', () => {
      this.state.queued = this.state.queued.filter((q) => q.call !== call);
      if (this.state.incoming?.call !== call) return;
      this.ringer.stop();
      this.showNextIncoming();
    });
    if (this.state.incoming) this.state.queued.push(incoming);
    else this.showIncoming(incoming);
  }

  /** Shows a call in the dialog; it rings unless it is a request or the user is in a call (then it shows as waiting). */
  private showIncoming(incoming: IncomingCall): void {
    this.state.incoming = incoming;
    if (!incoming.request && !this.state.call) this.ringer.start('incoming');
  }

  private showNextIncoming(): void {
    const next = this.state.queued.shift();
    this.state.incoming = null;
    if (next) this.showIncoming(next);
  }

  private onNotification(n: ServerNotification): void {
    switch (n.type) {
      case 'message':
        this.addMessage(n.message);
        break;
      case 'conversation':
        this.upsertConversation(n.conversation);
        void this.loadUsers(n.conversation.memberIds);
        break;
      case 'presence':
        this.state.online[n.userId] = n.online;
        break;
      case 'contact.request':
        this.rememberUsers([n.from]);
        if (!this.state.requestsIn.includes(n.from.id)) this.state.requestsIn.push(n.from.id);
        break;
      case 'contact.accepted':
        this.rememberUsers([n.user]);
        this.becameContacts(n.user.id);
        break;
      case 'session.ended':
        this.state.error = t('err_sessionEnded', { reason: t(`reason_${n.reason}`) });
        if (n.reason !== 'serverShutdown') forgetToken();
        break;
      default:
        break;
    }
  }

  private addMessage(message: ChatMessage): void {
    const list = (this.state.messages[message.conversationId] ??= []);
    if (list.some((m) => m.seq === message.seq)) return;
    list.push(message);
    list.sort((a, b) => a.seq - b.seq);
    const mine = message.senderId === this.state.me?.id;
    if (message.conversationId !== this.state.selected && !mine) this.state.unread[message.conversationId] = (this.state.unread[message.conversationId] ?? 0) + 1;
    const index = this.state.conversations.findIndex((c) => c.id === message.conversationId);
    if (index < 0) {
      void this.refresh();
      return;
    }
    // The list is most recently active first: this conversation moves to the top, with its preview.
    const [conversation] = this.state.conversations.splice(index, 1);
    const last = conversation!.lastMessage;
    this.state.conversations.unshift(!last || last.seq <= message.seq ? { ...conversation!, lastMessage: message } : conversation!);
    if (!mine && (message.conversationId !== this.state.selected || Notifier.away())) this.notifyMessage(message);
  }

  private notifyMessage(message: ChatMessage): void {
    const sender = displayName(this.user(message.senderId), '…');
    const body = message.kind === 'text' ? (message.text ?? '').slice(0, 140) : '';
    this.notifier.show(t('newMessageFrom', { name: sender }), body, `message:${message.conversationId}`, () => {
      location.hash = `#/chat/${message.conversationId}`;
    });
  }

  private upsertConversation(conversation: ConversationInfo): void {
    const index = this.state.conversations.findIndex((c) => c.id === conversation.id);
    if (index >= 0) this.state.conversations[index] = { ...conversation, ...(this.state.conversations[index]!.lastMessage ? { lastMessage: this.state.conversations[index]!.lastMessage } : {}) };
    else this.state.conversations.unshift(conversation);
  }

  private rememberUsers(users: UserInfo[]): void {
    for (const u of users) this.state.users[u.id] = u;
  }

  private async loadUsers(ids: UserId[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.state.users[id]);
    if (missing.length === 0 || !this.client) return;
    const users = (await this.client.signaling.request('users.get', { userIds: missing.slice(0, 100) }).catch(() => [])) as UserInfo[];
    this.rememberUsers(users);
  }

  private requireClient(): RoundtableClient {
    if (!this.client) throw new Error('sign in first');
    return this.client;
  }
}

function storedToken(): string | null {
  try {
    return globalThis.localStorage?.getItem(SESSION_STORAGE_KEY) ?? null;
  } catch {
    return null; // storage disabled: no session across reloads
  }
}

function keepToken(token: string): void {
  try {
    globalThis.localStorage?.setItem(SESSION_STORAGE_KEY, token);
  } catch {
    // storage disabled or full: the session just does not survive a reload
  }
}

function forgetToken(): void {
  try {
    globalThis.localStorage?.removeItem(SESSION_STORAGE_KEY);
  } catch {
    // nothing stored
  }
}

export const app = new AppState();
