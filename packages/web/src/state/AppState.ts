/**
 * The app's state and actions: the signed-in client, contacts, conversations and their
 * messages, the ringing call, the call in progress, and what the call screen and the
 * dialogs show. Components read `state` and call the actions; nothing else talks to
 * the server.
 */
import { Call, ClientError, RoundtableClient, type Room, type SessionResult } from '@roundtable/client';
import type { ChatMessage, ConversationId, ConversationInfo, EndReason, RecordingId, RecordingInfo, RoomName, ServerNotification, UserId, UserInfo } from '@roundtable/protocol';
import { MAX_CALL_PARTICIPANTS } from '@roundtable/protocol';
import { markRaw, reactive, type Raw } from 'vue';
import { openLocalMedia } from '../platform/localMedia.js';
import { TrackedPeerConnection } from '../platform/peerConnections.js';
import { Ringer } from '../platform/ringer.js';
import { CallSession, type CallKind, type SessionLike } from './CallSession.js';

export type Topology1to1 = 'p2p' | 'sfu';

export interface IncomingCall {
  call: Raw<Call>;
  from: UserId;
  audioOnly: boolean;
  conversationId: ConversationId | null;
  group: boolean;
}

export interface CallNotice {
  reason: EndReason;
  /** The call ended before anyone answered and the other side said no. */
  declined: boolean;
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
  return error instanceof Error ? error.message : String(error);
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
  });
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
    Object.assign(this.state, { auth: 'signedOut', me: null, contacts: [], conversations: [], messages: {}, unread: {}, selected: null, incoming: null, recordings: [] });
  }

  private async openSession(signIn: (client: RoundtableClient) => Promise<SessionResult>, resuming = false): Promise<void> {
    this.state.error = null;
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
      this.state.me = session.user;
      this.rememberUsers([session.user]);
      this.state.auth = 'signedIn';
      await this.refresh();
    } catch (error) {
      client.close();
      this.client = null;
      this.state.auth = 'signedOut';
      if (resuming && error instanceof ClientError && error.code === 'UNAUTHENTICATED') forgetToken();
      this.state.error = resuming && error instanceof ClientError && error.code === 'UNAUTHENTICATED' ? null : messageOf(error);
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
    const [contacts, conversations] = await Promise.all([client.signaling.request('contacts.list') as Promise<UserInfo[]>, client.signaling.request('conversations.list') as Promise<ConversationInfo[]>]);
    this.rememberUsers(contacts);
    this.state.contacts = contacts.map((u) => u.id);
    this.state.conversations = conversations;
    await this.loadUsers(conversations.flatMap((c) => c.memberIds));
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

  async addContact(userId: UserId): Promise<void> {
    await this.requireClient().signaling.request('contacts.add', { userId });
    if (!this.state.contacts.includes(userId)) this.state.contacts.push(userId);
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
    if (!conversation || this.state.call) return;
    const group = conversation.kind === 'group';
    if (group && (!invitees || invitees.length === 0 || invitees.length > MAX_GROUP_INVITEES)) throw new Error(`pick 1 to ${MAX_GROUP_INVITEES} members`);
    const localStream = await this.openMedia(audioOnly);
    if (!localStream) return;
    try {
      const call = await client.startCall(conversationId, { audioOnly, topology: this.state.topology, localMedia: localStream, ...(group ? { members: invitees, media } : {}) });
      this.beginSession({ session: markRaw(call), kind: group ? 'group' : 'direct', conversationId, initiator: true, localStream });
    } catch (error) {
      for (const track of localStream.getTracks()) track.stop();
      this.state.error = messageOf(error);
    }
  }

  async acceptIncoming(audioOnly?: boolean): Promise<void> {
    const incoming = this.state.incoming;
    if (!incoming) return;
    this.ringer.stop();
    this.state.incoming = null;
    const voice = audioOnly ?? incoming.audioOnly;
    const localStream = await this.openMedia(voice);
    if (!localStream) {
      await incoming.call.hangUp('openCameraError').catch(() => undefined);
      return;
    }
    const session = this.beginSession({ session: incoming.call, kind: incoming.group ? 'group' : 'direct', conversationId: incoming.conversationId, initiator: false, localStream });
    try {
      await incoming.call.accept({ localMedia: localStream, audioOnly: voice });
    } catch (error) {
      this.state.error = messageOf(error);
      if (session.ended) this.finishSession(session);
    }
  }

  async declineIncoming(): Promise<void> {
    const incoming = this.state.incoming;
    if (!incoming) return;
    this.ringer.stop();
    this.state.incoming = null;
    await incoming.call.decline().catch((error: unknown) => (this.state.error = messageOf(error)));
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

  async joinRoom(room: RoomName): Promise<void> {
    if (this.state.call) return;
    const localStream = await this.openMedia(false);
    if (!localStream) return;
    try {
      const joined = await this.requireClient().joinRoom(room, { localMedia: localStream });
      this.beginSession({ session: markRaw(joined), kind: 'room', conversationId: null, room, initiator: false, localStream });
    } catch (error) {
      for (const track of localStream.getTracks()) track.stop();
      this.state.error = messageOf(error);
    }
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
      incoming: this.state.incoming ? { callId: this.state.incoming.call.id, from: this.state.incoming.from } : null,
      call: call
        ? {
            id: call.id,
            kind: call.kind,
            phase: call.state.phase,
            endReason: call.state.endReason,
            participants: call.state.tiles.map((t) => ({ id: t.userId, state: t.state })),
            connectedAt: call.state.connectedAt,
            recording: call.state.recording,
            mediaMode: call.mediaMode,
            mixedAudio: call.state.mixedAudio !== null,
          }
        : null,
      notice: this.state.notice ? { ...this.state.notice } : null,
      ringing: this.ringer.kind ?? null,
      sessionStored: storedToken() !== null,
    };
  }

  // --- internals ---------------------------------------------------------------------

  private beginSession(init: { session: Call | Room; kind: CallKind; conversationId: ConversationId | null; room?: string; initiator: boolean; localStream: MediaStream }): CallSession {
    const session = markRaw(new CallSession(init));
    this.state.call = session;
    this.state.notice = null;
    const ended = (): void => this.finishSession(session);
    if (session.ended) {
      ended();
      return session;
    }
    const sdk = init.session as SessionLike;
    sdk.on('ended', ended);
    sdk.on('stateChanged', ({ to }) => this.updateRinger(session, to));
    sdk.on('participantsChanged', ({ participants }) => void this.loadUsers(participants.map((p) => p.id)));
    this.updateRinger(session, sdk.state);
    void this.loadUsers(sdk.participants.map((p) => p.id));
    return session;
  }

  private finishSession(session: CallSession): void {
    const reason = session.state.endReason ?? 'unknown';
    const answered = session.state.answered || (session.sdk instanceof Call && session.sdk.stateHistory.includes('CONNECTING'));
    session.dispose();
    if (this.state.call === session) this.state.call = null;
    this.ringer.stop();
    // Our own hang-up, or the others hanging up a call that went on, need no explanation.
    const normalEnd = reason === 'hangup' || (answered && (reason === 'remoteHangup' || reason === 'allLeft'));
    if (!normalEnd) this.state.notice = { reason, declined: reason === 'remoteHangup' && !answered && session.initiator };
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
    const incoming: IncomingCall = { call, from: call.initiator, audioOnly: call.audioOnly, conversationId: call.conversationId, group: call.group };
    this.state.incoming = incoming;
    void this.loadUsers([call.initiator]);
    this.ringer.start('incoming');
    call.on('ended', () => {
      if (this.state.incoming?.call !== call) return;
      this.state.incoming = null;
      this.ringer.stop();
    });
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
      case 'session.ended':
        this.state.error = `session ended: ${n.reason}`;
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
    if (message.conversationId !== this.state.selected) this.state.unread[message.conversationId] = (this.state.unread[message.conversationId] ?? 0) + 1;
    if (!this.conversation(message.conversationId)) void this.refresh();
  }

  private upsertConversation(conversation: ConversationInfo): void {
    const index = this.state.conversations.findIndex((c) => c.id === conversation.id);
    if (index >= 0) this.state.conversations[index] = conversation;
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
