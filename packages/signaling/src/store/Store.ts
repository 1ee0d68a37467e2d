import type { CallRecord, ChatMessage, ConversationId, ConversationInfo, DeviceId, RecordingId, RecordingInfo, UserId, UserInfo, UserSettings } from '@roundtable/protocol';
import type { MigrationReport } from './migrations.js';

export interface StoredUser extends UserInfo {
  passwordHash: string;
  createdAt: number;
}

export interface StoredSession {
  /** SHA-256 of the bearer token; the token itself is never stored. */
  tokenHash: string;
  userId: UserId;
  deviceId: DeviceId;
  deviceName: string;
  createdAt: number;
  expiresAt: number;
}

/** Which database a store keeps its data in. */
export type StoreKind = 'sqlite' | 'postgres';

/**
 * The data layer: SQLite (one file, `SqliteStore`) by default, PostgreSQL
 * (`PostgresStore`) for several signaling nodes. Every method is async and callers
 * always await; each method is atomic on its own (a multi-statement one runs in a
 * transaction), but two calls may interleave with other callers' calls.
 */
export interface Store {
  readonly kind: StoreKind;
  /** The database, for logs and messages: the SQLite file, or the PostgreSQL URL without its password. */
  readonly description: string;
  /** What opening the store applied to the schema. */
  readonly migration: MigrationReport;
  /** Resolves when the database answers a query; rejects with why it does not (for /readyz). */
  ping(): Promise<void>;
  // users
  createUser(user: StoredUser): Promise<void>;
  userById(id: UserId): Promise<StoredUser | undefined>;
  userByName(username: string): Promise<StoredUser | undefined>;
  // sessions (device logins)
  createSession(session: StoredSession): Promise<void>;
  sessionByTokenHash(tokenHash: string): Promise<StoredSession | undefined>;
  deleteSession(tokenHash: string): Promise<void>;
  /** Sessions of the user that have not expired at `now` (the user's devices); expired ones of the user are deleted. */
  countSessions(userId: UserId, now: number): Promise<number>;
  // contacts
  addContact(userId: UserId, contactId: UserId): Promise<void>;
  contactsOf(userId: UserId): Promise<UserInfo[]>;
  isContact(userId: UserId, contactId: UserId): Promise<boolean>;
  // contact requests: accepting one makes both users each other's contacts
  addContactRequest(fromId: UserId, toId: UserId): Promise<void>;
  hasContactRequest(fromId: UserId, toId: UserId): Promise<boolean>;
  /** Deletes the request; whether there was one. */
  deleteContactRequest(fromId: UserId, toId: UserId): Promise<boolean>;
  /** In one transaction: both contacts rows, and the requests between the two deleted. */
  makeContacts(a: UserId, b: UserId): Promise<void>;
  /** Requests to the user (incoming) and from the user (outgoing), by username. */
  contactRequestsOf(userId: UserId): Promise<{ incoming: UserInfo[]; outgoing: UserInfo[] }>;
  // blocks: userId blocked blockedId
  addBlock(userId: UserId, blockedId: UserId): Promise<void>;
  deleteBlock(userId: UserId, blockedId: UserId): Promise<void>;
  isBlocked(userId: UserId, blockedId: UserId): Promise<boolean>;
  /** The users this user blocked, by username. */
  blockedBy(userId: UserId): Promise<UserInfo[]>;
  /** The ids of the users who blocked this user. */
  blockersOf(userId: UserId): Promise<UserId[]>;
  // settings
  userSettings(userId: UserId): Promise<UserSettings>;
  saveUserSettings(userId: UserId, settings: UserSettings): Promise<void>;
  // conversations
  createConversation(conversation: ConversationInfo): Promise<void>;
  conversationById(id: ConversationId): Promise<ConversationInfo | undefined>;
  directConversation(a: UserId, b: UserId): Promise<ConversationInfo | undefined>;
  conversationsOf(userId: UserId): Promise<ConversationInfo[]>;
  // messages (text and call records); seq is assigned by the store, from 1 per conversation
  appendMessage(message: Omit<ChatMessage, 'seq'>): Promise<ChatMessage>;
  history(conversationId: ConversationId, beforeSeq: number | undefined, limit: number): Promise<ChatMessage[]>;
  /** Call records of calls not in a conversation (loopback) are kept too. */
  saveCallRecord(record: CallRecord, conversationId: ConversationId | null): Promise<void>;
  // recordings' metadata (their files are in the recordings folder, or uploaded: fileUrl)
  /** Inserts or replaces a recording's metadata; `fileUrl` where its file was uploaded (kept as it was when undefined). */
  saveRecording(info: RecordingInfo, fileUrl?: string | null): Promise<void>;
  recordingById(id: RecordingId): Promise<StoredRecording | undefined>;
  /** Every recording, newest first. */
  recordings(): Promise<StoredRecording[]>;
  deleteRecording(id: RecordingId): Promise<void>;
  close(): Promise<void>;
}

export interface StoredRecording {
  info: RecordingInfo;
  /** Where its file was uploaded; null: in the recordings folder of the signaling nodes. */
  fileUrl: string | null;
}
