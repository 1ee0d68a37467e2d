import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { CallId, CallRecord, ChatMessage, ConversationId, ConversationInfo, RecordingId, RecordingInfo, UserId, UserInfo, UserSettings } from '@roundtable/protocol';
import type { Store, StoredRecording, StoredSession, StoredUser } from './Store.js';
import { StoreError } from './StoreError.js';
import { MIGRATIONS, newerSchemaError, type Migration, type MigrationReport } from './migrations.js';
import {
  directKeyOf,
  toCallRecord,
  toConversation,
  toMessage,
  toSession,
  toUser,
  toUserInfo,
  type CallRecordRow,
  type ConversationRow,
  type MessageRow,
  type SessionRow,
  type UserRow,
} from './rows.js';

export interface SqliteStoreOptions {
  /** Database file (its folder is created if missing), or `':memory:'` for a private in-memory database. */
  path: string;
  /** How long a statement waits for another connection's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
}

interface SqliteConversationRow extends ConversationRow {
  /** JSON array text. */
  member_ids: string;
}

// Members come back in the order they were given (the creator first).
const CONVERSATION_COLUMNS = `
  c.id, c.kind, c.name, c.created_at,
  (SELECT json_group_array(user_id) FROM (
     SELECT user_id FROM conversation_members WHERE conversation_id = c.id ORDER BY position
  )) AS member_ids`;

/**
 * The `Store` on SQLite (better-sqlite3): one file, WAL journal, foreign keys on, the
 * schema migrated when opened. better-sqlite3 is synchronous; the methods are async
 * only to honour the interface, and each one runs to completion without yielding, so
 * a multi-statement method is atomic with respect to the event loop as well.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly description: string;
  readonly migration: MigrationReport;
  private readonly db: Database.Database;
  private readonly statements: ReturnType<typeof prepareStatements>;
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    this.description = options.path === ':memory:' ? 'SQLite database in memory' : `SQLite database ${options.path}`;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    try {
      this.db.pragma('journal_mode = WAL');
      // NORMAL is durable across application crashes in WAL mode; only a power loss can drop the last commits.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      this.migration = migrateSqlite(this.db, MIGRATIONS);
      this.statements = prepareStatements(this.db);
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** The schema version of the open database. (Not part of `Store`.) */
  async schemaVersion(): Promise<number> {
    return currentVersion(this.open());
  }

  async ping(): Promise<void> {
    this.open().prepare('SELECT 1').get();
  }

  /** The journal mode in force ('wal' for files; in-memory databases report 'memory'). */
  get journalMode(): string {
    return String(this.open().pragma('journal_mode', { simple: true }));
  }

  // --- users -----------------------------------------------------------------------

  async createUser(user: StoredUser): Promise<void> {
    this.open();
    guard(() =>
      this.statements.insertUser.run({
        id: user.id,
        username: user.username,
        display_name: user.displayName,
        password_hash: user.passwordHash,
        created_at: user.createdAt,
      }),
    );
  }

  async userById(id: UserId): Promise<StoredUser | undefined> {
    this.open();
    const row = this.statements.userById.get(id);
    return row && toUser(row);
  }

  async userByName(username: string): Promise<StoredUser | undefined> {
    this.open();
    const row = this.statements.userByName.get(username);
    return row && toUser(row);
  }

  // --- sessions --------------------------------------------------------------------

  async createSession(session: StoredSession): Promise<void> {
    this.open();
    guard(() =>
      this.statements.insertSession.run({
        token_hash: session.tokenHash,
        user_id: session.userId,
        device_id: session.deviceId,
        device_name: session.deviceName,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
      }),
    );
  }

  async sessionByTokenHash(tokenHash: string): Promise<StoredSession | undefined> {
    this.open();
    const row = this.statements.sessionByTokenHash.get(tokenHash);
    return row && toSession(row);
  }

  async deleteSession(tokenHash: string): Promise<void> {
    this.open();
    this.statements.deleteSession.run(tokenHash);
  }

  async countSessions(userId: UserId, now: number): Promise<number> {
    this.open();
    this.statements.deleteExpiredSessionsOf.run(userId, now);
    return this.statements.countSessions.get(userId)!.n;
  }

  /** Deletes sessions that expired at or before `now`; returns how many. (Not part of `Store`: housekeeping.) */
  async deleteExpiredSessions(now: number): Promise<number> {
    this.open();
    return this.statements.deleteExpiredSessions.run(now).changes;
  }

  // --- contacts --------------------------------------------------------------------

  /** Idempotent: adding a contact twice keeps one. */
  async addContact(userId: UserId, contactId: UserId): Promise<void> {
    this.open();
    guard(() => this.statements.insertContact.run(userId, contactId, Date.now()));
  }

  async contactsOf(userId: UserId): Promise<UserInfo[]> {
    this.open();
    return this.statements.contactsOf.all(userId).map((row) => toUserInfo(row));
  }

  async isContact(userId: UserId, contactId: UserId): Promise<boolean> {
    this.open();
    return this.statements.isContact.get(userId, contactId) !== undefined;
  }

  // --- contact requests ------------------------------------------------------------

  /** Idempotent: a second request keeps the first. */
  async addContactRequest(fromId: UserId, toId: UserId): Promise<void> {
    this.open();
    guard(() => this.statements.insertContactRequest.run(fromId, toId, Date.now()));
  }

  async hasContactRequest(fromId: UserId, toId: UserId): Promise<boolean> {
    this.open();
    return this.statements.hasContactRequest.get(fromId, toId) !== undefined;
  }

  async deleteContactRequest(fromId: UserId, toId: UserId): Promise<boolean> {
    this.open();
    return this.statements.deleteContactRequest.run(fromId, toId).changes > 0;
  }

  async makeContacts(a: UserId, b: UserId): Promise<void> {
    this.open();
    const now = Date.now();
    guard(() =>
      this.db.transaction(() => {
        this.statements.insertContact.run(a, b, now);
        this.statements.insertContact.run(b, a, now);
        this.statements.deleteContactRequest.run(a, b);
        this.statements.deleteContactRequest.run(b, a);
      })(),
    );
  }

  async contactRequestsOf(userId: UserId): Promise<{ incoming: UserInfo[]; outgoing: UserInfo[] }> {
    this.open();
    return {
      incoming: this.statements.requestsTo.all(userId).map((row) => toUserInfo(row)),
      outgoing: this.statements.requestsFrom.all(userId).map((row) => toUserInfo(row)),
    };
  }

  // --- blocks ----------------------------------------------------------------------

  /** Idempotent. */
  async addBlock(userId: UserId, blockedId: UserId): Promise<void> {
    this.open();
    guard(() => this.statements.insertBlock.run(userId, blockedId, Date.now()));
  }

  /** Idempotent. */
  async deleteBlock(userId: UserId, blockedId: UserId): Promise<void> {
    this.open();
    this.statements.deleteBlock.run(userId, blockedId);
  }

  async isBlocked(userId: UserId, blockedId: UserId): Promise<boolean> {
    this.open();
    return this.statements.isBlocked.get(userId, blockedId) !== undefined;
  }

  async blockedBy(userId: UserId): Promise<UserInfo[]> {
    this.open();
    return this.statements.blockedBy.all(userId).map((row) => toUserInfo(row));
  }

  async blockersOf(userId: UserId): Promise<UserId[]> {
    this.open();
    return this.statements.blockersOf.all(userId).map((row) => row.user_id as UserId);
  }

  // --- settings --------------------------------------------------------------------

  async userSettings(userId: UserId): Promise<UserSettings> {
    this.open();
    const row = this.statements.userSettings.get(userId);
    return { callsFromNonContacts: row?.calls_from_non_contacts ?? 'ring' };
  }

  async saveUserSettings(userId: UserId, settings: UserSettings): Promise<void> {
    this.open();
    guard(() => this.statements.upsertUserSettings.run(userId, settings.callsFromNonContacts));
  }

  // --- conversations ---------------------------------------------------------------

  /**
   * A direct conversation has exactly two distinct members, and a pair has at most
   * one: creating a second rejects with `StoreError('conflict')`.
   */
  async createConversation(conversation: ConversationInfo): Promise<void> {
    this.open();
    const members = conversation.memberIds;
    if (new Set(members).size !== members.length) throw new RangeError('conversation members must be distinct');
    if (conversation.kind === 'direct' && members.length !== 2) throw new RangeError('a direct conversation has two members');
    const directKey = conversation.kind === 'direct' ? directKeyOf(members[0]!, members[1]!) : null;
    guard(() =>
      this.db.transaction(() => {
        this.statements.insertConversation.run({
          id: conversation.id,
          kind: conversation.kind,
          name: conversation.name,
          direct_key: directKey,
          created_at: conversation.createdAt,
        });
        members.forEach((userId, position) => this.statements.insertMember.run(conversation.id, userId, position));
      })(),
    );
  }

  async conversationById(id: ConversationId): Promise<ConversationInfo | undefined> {
    this.open();
    const row = this.statements.conversationById.get(id);
    return row && toConversation(row, JSON.parse(row.member_ids) as string[]);
  }

  async directConversation(a: UserId, b: UserId): Promise<ConversationInfo | undefined> {
    this.open();
    const row = this.statements.conversationByDirectKey.get(directKeyOf(a, b));
    return row && toConversation(row, JSON.parse(row.member_ids) as string[]);
  }

  /** The user's conversations, most recently active first. */
  async conversationsOf(userId: UserId): Promise<ConversationInfo[]> {
    this.open();
    return this.statements.conversationsOf.all(userId).map((row) => toConversation(row, JSON.parse(row.member_ids) as string[]));
  }

  // --- messages --------------------------------------------------------------------

  /** Assigns the next seq of the conversation (from 1) in the same transaction as the insert. */
  async appendMessage(message: Omit<ChatMessage, 'seq'>): Promise<ChatMessage> {
    this.open();
    return guard(() =>
      this.db.transaction((): ChatMessage => {
        const bumped = this.statements.bumpSeq.get(message.sentAt, message.conversationId);
        if (!bumped) throw new StoreError('notFound', `no conversation ${message.conversationId}`);
        const stored: ChatMessage = { ...message, seq: bumped.last_seq };
        this.statements.insertMessage.run({
          id: stored.id,
          conversation_id: stored.conversationId,
          seq: stored.seq,
          sender_id: stored.senderId,
          kind: stored.kind,
          text: stored.text ?? null,
          call_json: stored.call ? JSON.stringify(stored.call) : null,
          sent_at: stored.sentAt,
        });
        return stored;
      })(),
    );
  }

  /** Up to `limit` messages with seq below `beforeSeq` (the latest ones when undefined), oldest first. */
  async history(conversationId: ConversationId, beforeSeq: number | undefined, limit: number): Promise<ChatMessage[]> {
    this.open();
    const rows = this.statements.history.all(conversationId, beforeSeq ?? Number.MAX_SAFE_INTEGER, Math.max(0, Math.floor(limit)));
    return rows.reverse().map((row) => toMessage(row));
  }

  // --- call records ----------------------------------------------------------------

  /** Saving the same call again replaces its record (a call's record is final once it ended). */
  async saveCallRecord(record: CallRecord, conversationId: ConversationId | null): Promise<void> {
    this.open();
    guard(() =>
      this.statements.upsertCallRecord.run({
        call_id: record.callId,
        conversation_id: conversationId,
        initiator: record.initiator,
        audio_only: record.audioOnly ? 1 : 0,
        topology: record.topology,
        participants: JSON.stringify(record.participants),
        started_at: record.startedAt,
        answered_at: record.answeredAt,
        ended_at: record.endedAt,
        duration: record.duration,
        end_reason: record.endReason,
        missed: record.missed ? 1 : 0,
      }),
    );
  }

  /** One saved call record and its conversation. (Not part of `Store`.) */
  async callRecord(callId: CallId): Promise<{ record: CallRecord; conversationId: ConversationId | null } | undefined> {
    this.open();
    const row = this.statements.callRecordById.get(callId);
    return row && { record: toCallRecord(row), conversationId: row.conversation_id as ConversationId | null };
  }

  // --- recordings' metadata ------------------------------------------------------------

  async saveRecording(info: RecordingInfo, fileUrl?: string | null): Promise<void> {
    this.open();
    const row = { id: info.id, started_by: info.startedBy, started_at: info.startedAt, info: JSON.stringify(info), file_url: fileUrl ?? null };
    guard(() => (fileUrl === undefined ? this.statements.upsertRecordingKeepUrl.run(row) : this.statements.upsertRecording.run(row)));
  }

  async recordingById(id: RecordingId): Promise<StoredRecording | undefined> {
    this.open();
    const row = this.statements.recordingById.get(id);
    return row && toRecording(row);
  }

  async recordings(): Promise<StoredRecording[]> {
    this.open();
    return this.statements.recordings.all().map(toRecording);
  }

  async deleteRecording(id: RecordingId): Promise<void> {
    this.open();
    this.statements.deleteRecording.run(id);
  }

  /** Idempotent. Any later call rejects with `StoreError('closed')`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private open(): Database.Database {
    if (this.closed) throw new StoreError('closed', 'the store is closed');
    return this.db;
  }
}

/**
 * Applies the migrations after the database's version, each in its own transaction, and
 * says which. A database newer than `migrations` is refused and left untouched.
 * (Exported for tests, which build databases of older versions.)
 */
export function migrateSqlite(db: Database.Database, migrations: readonly Migration[]): MigrationReport {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  const known = ordered.at(-1)?.version ?? 0;
  const from = currentVersion(db);
  if (from > known) throw newerSchemaError(from, known);
  const applied: MigrationReport['applied'] = [];
  for (const migration of ordered) {
    if (migration.version <= from) continue;
    db.transaction(() => {
      db.exec(migration.sqlite);
      db.prepare('DELETE FROM schema_version').run();
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migration.version);
    })();
    applied.push({ version: migration.version, description: migration.description });
  }
  return { from, to: Math.max(from, known), applied };
}

function currentVersion(db: Database.Database): number {
  const row = db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
  return row?.version ?? 0;
}

interface RecordingRow {
  info: string;
  file_url: string | null;
}

function toRecording(row: RecordingRow): StoredRecording {
  return { info: JSON.parse(row.info) as RecordingInfo, fileUrl: row.file_url };
}

function prepareStatements(db: Database.Database) {
  return {
    upsertRecording: db.prepare<[Record<string, string | number | null>]>(
      `INSERT INTO recordings (id, started_by, started_at, info, file_url) VALUES (@id, @started_by, @started_at, @info, @file_url)
       ON CONFLICT (id) DO UPDATE SET started_by = excluded.started_by, started_at = excluded.started_at, info = excluded.info, file_url = excluded.file_url`,
    ),
    upsertRecordingKeepUrl: db.prepare<[Record<string, string | number | null>]>(
      `INSERT INTO recordings (id, started_by, started_at, info, file_url) VALUES (@id, @started_by, @started_at, @info, @file_url)
       ON CONFLICT (id) DO UPDATE SET started_by = excluded.started_by, started_at = excluded.started_at, info = excluded.info`,
    ),
    recordingById: db.prepare<[string], RecordingRow>('SELECT info, file_url FROM recordings WHERE id = ?'),
    recordings: db.prepare<[], RecordingRow>('SELECT info, file_url FROM recordings ORDER BY started_at DESC, id'),
    deleteRecording: db.prepare<[string]>('DELETE FROM recordings WHERE id = ?'),
    insertUser: db.prepare<[Record<string, string | number>]>(
      'INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (@id, @username, @display_name, @password_hash, @created_at)',
    ),
    userById: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
    userByName: db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?'),
    insertSession: db.prepare<[Record<string, string | number>]>(
      'INSERT INTO sessions (token_hash, user_id, device_id, device_name, created_at, expires_at) VALUES (@token_hash, @user_id, @device_id, @device_name, @created_at, @expires_at)',
    ),
    sessionByTokenHash: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE token_hash = ?'),
    deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE token_hash = ?'),
    deleteExpiredSessions: db.prepare<[number]>('DELETE FROM sessions WHERE expires_at <= ?'),
    insertContact: db.prepare<[string, string, number]>('INSERT OR IGNORE INTO contacts (user_id, contact_id, created_at) VALUES (?, ?, ?)'),
    contactsOf: db.prepare<[string], UserRow>(
      'SELECT u.* FROM contacts k JOIN users u ON u.id = k.contact_id WHERE k.user_id = ? ORDER BY u.username',
    ),
    isContact: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM contacts WHERE user_id = ? AND contact_id = ?'),
    deleteExpiredSessionsOf: db.prepare<[string, number]>('DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?'),
    countSessions: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?'),
    insertContactRequest: db.prepare<[string, string, number]>('INSERT OR IGNORE INTO contact_requests (from_id, to_id, created_at) VALUES (?, ?, ?)'),
    hasContactRequest: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM contact_requests WHERE from_id = ? AND to_id = ?'),
    deleteContactRequest: db.prepare<[string, string]>('DELETE FROM contact_requests WHERE from_id = ? AND to_id = ?'),
    requestsTo: db.prepare<[string], UserRow>('SELECT u.* FROM contact_requests r JOIN users u ON u.id = r.from_id WHERE r.to_id = ? ORDER BY u.username'),
    requestsFrom: db.prepare<[string], UserRow>('SELECT u.* FROM contact_requests r JOIN users u ON u.id = r.to_id WHERE r.from_id = ? ORDER BY u.username'),
    insertBlock: db.prepare<[string, string, number]>('INSERT OR IGNORE INTO blocks (user_id, blocked_id, created_at) VALUES (?, ?, ?)'),
    deleteBlock: db.prepare<[string, string]>('DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?'),
    isBlocked: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM blocks WHERE user_id = ? AND blocked_id = ?'),
    blockedBy: db.prepare<[string], UserRow>('SELECT u.* FROM blocks b JOIN users u ON u.id = b.blocked_id WHERE b.user_id = ? ORDER BY u.username'),
    blockersOf: db.prepare<[string], { user_id: string }>('SELECT user_id FROM blocks WHERE blocked_id = ?'),
    userSettings: db.prepare<[string], { calls_from_non_contacts: UserSettings['callsFromNonContacts'] }>('SELECT calls_from_non_contacts FROM user_settings WHERE user_id = ?'),
    upsertUserSettings: db.prepare<[string, string]>(
      'INSERT INTO user_settings (user_id, calls_from_non_contacts) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET calls_from_non_contacts = excluded.calls_from_non_contacts',
    ),
    insertConversation: db.prepare<[Record<string, string | number | null>]>(
      'INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at) VALUES (@id, @kind, @name, @direct_key, @created_at, @created_at)',
    ),
    insertMember: db.prepare<[string, string, number]>('INSERT INTO conversation_members (conversation_id, user_id, position) VALUES (?, ?, ?)'),
    conversationById: db.prepare<[string], SqliteConversationRow>(`SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?`),
    conversationByDirectKey: db.prepare<[string], SqliteConversationRow>(`SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.direct_key = ?`),
    conversationsOf: db.prepare<[string], SqliteConversationRow>(
      `SELECT ${CONVERSATION_COLUMNS} FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id
       WHERE m.user_id = ? ORDER BY c.last_activity_at DESC, c.created_at DESC, c.id`,
    ),
    bumpSeq: db.prepare<[number, string], { last_seq: number }>(
      'UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = MAX(last_activity_at, ?) WHERE id = ? RETURNING last_seq',
    ),
    insertMessage: db.prepare<[Record<string, string | number | null>]>(
      'INSERT INTO messages (id, conversation_id, seq, sender_id, kind, text, call_json, sent_at) VALUES (@id, @conversation_id, @seq, @sender_id, @kind, @text, @call_json, @sent_at)',
    ),
    history: db.prepare<[string, number, number], MessageRow>(
      'SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    upsertCallRecord: db.prepare<[Record<string, string | number | null>]>(
      `INSERT OR REPLACE INTO call_records
         (call_id, conversation_id, initiator, audio_only, topology, participants, started_at, answered_at, ended_at, duration, end_reason, missed)
       VALUES (@call_id, @conversation_id, @initiator, @audio_only, @topology, @participants, @started_at, @answered_at, @ended_at, @duration, @end_reason, @missed)`,
    ),
    callRecordById: db.prepare<[string], CallRecordRow>('SELECT * FROM call_records WHERE call_id = ?'),
  };
}

/** Runs `fn`, turning SQLite constraint failures into `StoreError`s. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof Database.SqliteError) {
      if (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StoreError('conflict', error.message);
      }
      if (error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreError('notFound', 'a referenced user or conversation does not exist');
    }
    throw error;
  }
}
