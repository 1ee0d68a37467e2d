import pg from 'pg';
import type { CallId, CallRecord, ChatMessage, ConversationId, ConversationInfo, RecordingId, RecordingInfo, UserId, UserInfo, UserSettings } from '@roundtable/protocol';
import { silentLogger, type Logger } from '../logger.js';
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

export interface PostgresStoreOptions {
  /**
   * The database: `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`;
   * libpq-style parameters such as `?sslmode=require` are understood). The database must
   * exist; opening the store creates and migrates its tables.
   */
  url: string;
  /** Connections the store opens at most. Default 10. */
  maxConnections?: number;
  /** How long a call waits for a connection (a new one, or a free one of the pool) before it rejects. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Default: logs nothing. */
  logger?: Logger;
}

interface PostgresConversationRow extends ConversationRow {
  member_ids: string[];
}

/** BIGINT (times in ms, counts) read as a number rather than pg's default string: every value stored is below 2^53. */
const INT8_OID = 20;
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** The advisory lock that makes nodes starting together migrate one at a time. */
const MIGRATION_LOCK = 0x526f756e;

// Usernames and ids sort by their bytes, as SQLite sorts them, whatever the database's collation.
const BY_USERNAME = 'ORDER BY u.username COLLATE "C"';

// Members come back in the order they were given (the creator first).
const CONVERSATION_COLUMNS = `
  c.id, c.kind, c.name, c.created_at,
  (SELECT COALESCE(json_agg(cm.user_id ORDER BY cm.position), '[]'::json)
     FROM conversation_members cm WHERE cm.conversation_id = c.id) AS member_ids`;

/**
 * The `Store` on PostgreSQL (node-postgres, a pool of connections), for several signaling
 * nodes sharing one database. `open()` migrates the schema first. A multi-statement
 * method runs in a transaction (or is one statement); the appends to one conversation
 * are sent one after another, so this node's messages get their seqs in call order.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  private readonly appending = new Map<ConversationId, Promise<unknown>>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    readonly description: string,
    readonly migration: MigrationReport,
  ) {}

  /** Connects, migrates the schema (see `migratePostgres`), and resolves with the store. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const logger = options.logger ?? silentLogger;
    const description = describeUrl(options.url);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: 'roundtable',
      types: TYPES,
    });
    // An idle connection the server drops (a restart, a failover) is an event, not a crash:
    // the pool forgets it and the next call opens another.
    pool.on('error', (error) => logger.warn({ event: 'databaseConnectionLost', database: description, err: error.message }, 'an idle PostgreSQL connection failed'));
    try {
      const migration = await migratePostgres(pool, MIGRATIONS);
      return new PostgresStore(pool, description, migration);
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  /** The schema version of the database. (Not part of `Store`.) */
  async schemaVersion(): Promise<number> {
    const [row] = await this.query<{ version: number }>('SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations');
    return row?.version ?? 0;
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  // --- users -----------------------------------------------------------------------

  async createUser(user: StoredUser): Promise<void> {
    await this.query('INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [
      user.id,
      user.username,
      user.displayName,
      user.passwordHash,
      user.createdAt,
    ]);
  }

  async userById(id: UserId): Promise<StoredUser | undefined> {
    const [row] = await this.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return row && toUser(row);
  }

  async userByName(username: string): Promise<StoredUser | undefined> {
    const [row] = await this.query<UserRow>('SELECT * FROM users WHERE username = $1', [username]);
    return row && toUser(row);
  }

  // --- sessions --------------------------------------------------------------------

  async createSession(session: StoredSession): Promise<void> {
    await this.query('INSERT INTO sessions (token_hash, user_id, device_id, device_name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      session.tokenHash,
      session.userId,
      session.deviceId,
      session.deviceName,
      session.createdAt,
      session.expiresAt,
    ]);
  }

  async sessionByTokenHash(tokenHash: string): Promise<StoredSession | undefined> {
    const [row] = await this.query<SessionRow>('SELECT * FROM sessions WHERE token_hash = $1', [tokenHash]);
    return row && toSession(row);
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
  }

  async countSessions(userId: UserId, now: number): Promise<number> {
    // One statement: the count does not see the rows its own DELETE removes, so it leaves the expired ones out itself.
    const [row] = await this.query<{ n: number }>(
      `WITH expired AS (DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2)
       SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND expires_at > $2`,
      [userId, now],
    );
    return row?.n ?? 0;
  }

  /** Deletes sessions that expired at or before `now`; returns how many. (Not part of `Store`: housekeeping.) */
  async deleteExpiredSessions(now: number): Promise<number> {
    return (await this.run('DELETE FROM sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  // --- contacts --------------------------------------------------------------------

  /** Idempotent: adding a contact twice keeps one. */
  async addContact(userId: UserId, contactId: UserId): Promise<void> {
    await this.query('INSERT INTO contacts (user_id, contact_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [userId, contactId, Date.now()]);
  }

  async contactsOf(userId: UserId): Promise<UserInfo[]> {
    const rows = await this.query<UserRow>(`SELECT u.* FROM contacts k JOIN users u ON u.id = k.contact_id WHERE k.user_id = $1 ${BY_USERNAME}`, [userId]);
    return rows.map((row) => toUserInfo(row));
  }

  async isContact(userId: UserId, contactId: UserId): Promise<boolean> {
    return (await this.query('SELECT 1 FROM contacts WHERE user_id = $1 AND contact_id = $2', [userId, contactId])).length > 0;
  }

  // --- contact requests ------------------------------------------------------------

  /** Idempotent: a second request keeps the first. */
  async addContactRequest(fromId: UserId, toId: UserId): Promise<void> {
    await this.query('INSERT INTO contact_requests (from_id, to_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [fromId, toId, Date.now()]);
  }

  async hasContactRequest(fromId: UserId, toId: UserId): Promise<boolean> {
    return (await this.query('SELECT 1 FROM contact_requests WHERE from_id = $1 AND to_id = $2', [fromId, toId])).length > 0;
  }

  async deleteContactRequest(fromId: UserId, toId: UserId): Promise<boolean> {
    return ((await this.run('DELETE FROM contact_requests WHERE from_id = $1 AND to_id = $2', [fromId, toId])).rowCount ?? 0) > 0;
  }

  async makeContacts(a: UserId, b: UserId): Promise<void> {
    const now = Date.now();
    await this.transaction(async (client) => {
      await client.query('INSERT INTO contacts (user_id, contact_id, created_at) VALUES ($1, $2, $3), ($2, $1, $3) ON CONFLICT DO NOTHING', [a, b, now]);
      await client.query('DELETE FROM contact_requests WHERE (from_id = $1 AND to_id = $2) OR (from_id = $2 AND to_id = $1)', [a, b]);
    });
  }

  async contactRequestsOf(userId: UserId): Promise<{ incoming: UserInfo[]; outgoing: UserInfo[] }> {
    const [incoming, outgoing] = await Promise.all([
      this.query<UserRow>(`SELECT u.* FROM contact_requests r JOIN users u ON u.id = r.from_id WHERE r.to_id = $1 ${BY_USERNAME}`, [userId]),
      this.query<UserRow>(`SELECT u.* FROM contact_requests r JOIN users u ON u.id = r.to_id WHERE r.from_id = $1 ${BY_USERNAME}`, [userId]),
    ]);
    return { incoming: incoming.map((row) => toUserInfo(row)), outgoing: outgoing.map((row) => toUserInfo(row)) };
  }

  // --- blocks ----------------------------------------------------------------------

  /** Idempotent. */
  async addBlock(userId: UserId, blockedId: UserId): Promise<void> {
    await this.query('INSERT INTO blocks (user_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [userId, blockedId, Date.now()]);
  }

  /** Idempotent. */
  async deleteBlock(userId: UserId, blockedId: UserId): Promise<void> {
    await this.query('DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2', [userId, blockedId]);
  }

  async isBlocked(userId: UserId, blockedId: UserId): Promise<boolean> {
    return (await this.query('SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_id = $2', [userId, blockedId])).length > 0;
  }

  async blockedBy(userId: UserId): Promise<UserInfo[]> {
    const rows = await this.query<UserRow>(`SELECT u.* FROM blocks b JOIN users u ON u.id = b.blocked_id WHERE b.user_id = $1 ${BY_USERNAME}`, [userId]);
    return rows.map((row) => toUserInfo(row));
  }

  async blockersOf(userId: UserId): Promise<UserId[]> {
    const rows = await this.query<{ user_id: string }>('SELECT user_id FROM blocks WHERE blocked_id = $1', [userId]);
    return rows.map((row) => row.user_id as UserId);
  }

  // --- settings --------------------------------------------------------------------

  async userSettings(userId: UserId): Promise<UserSettings> {
    const [row] = await this.query<{ calls_from_non_contacts: UserSettings['callsFromNonContacts'] }>(
      'SELECT calls_from_non_contacts FROM user_settings WHERE user_id = $1',
      [userId],
    );
    return { callsFromNonContacts: row?.calls_from_non_contacts ?? 'ring' };
  }

  async saveUserSettings(userId: UserId, settings: UserSettings): Promise<void> {
    await this.query(
      `INSERT INTO user_settings (user_id, calls_from_non_contacts) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET calls_from_non_contacts = EXCLUDED.calls_from_non_contacts`,
      [userId, settings.callsFromNonContacts],
    );
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
    await this.transaction(async (client) => {
      await client.query('INSERT INTO conversations (id, kind, name, direct_key, created_at, last_activity_at) VALUES ($1, $2, $3, $4, $5, $5)', [
        conversation.id,
        conversation.kind,
        conversation.name,
        directKey,
        conversation.createdAt,
      ]);
      await client.query(
        `INSERT INTO conversation_members (conversation_id, user_id, position)
         SELECT $1::text, m.user_id, m.position - 1 FROM unnest($2::text[]) WITH ORDINALITY AS m(user_id, position)`,
        [conversation.id, members],
      );
    });
  }

  async conversationById(id: ConversationId): Promise<ConversationInfo | undefined> {
    const [row] = await this.query<PostgresConversationRow>(`SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = $1`, [id]);
    return row && toConversation(row, row.member_ids);
  }

  async directConversation(a: UserId, b: UserId): Promise<ConversationInfo | undefined> {
    const [row] = await this.query<PostgresConversationRow>(`SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.direct_key = $1`, [directKeyOf(a, b)]);
    return row && toConversation(row, row.member_ids);
  }

  /** The user's conversations, most recently active first. */
  async conversationsOf(userId: UserId): Promise<ConversationInfo[]> {
    const rows = await this.query<PostgresConversationRow>(
      `SELECT ${CONVERSATION_COLUMNS} FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id
       WHERE m.user_id = $1 ORDER BY c.last_activity_at DESC, c.created_at DESC, c.id COLLATE "C"`,
      [userId],
    );
    return rows.map((row) => toConversation(row, row.member_ids));
  }

  // --- messages --------------------------------------------------------------------

  /**
   * Assigns the next seq of the conversation (from 1) in the same statement as the insert.
   * Appends to one conversation wait for the one before, so that seqs follow call order.
   */
  async appendMessage(message: Omit<ChatMessage, 'seq'>): Promise<ChatMessage> {
    this.open();
    const key = message.conversationId;
    const insert = () => this.insertMessage(message);
    const appended = (this.appending.get(key) ?? Promise.resolve()).then(insert, insert);
    const settled = appended.catch(() => undefined);
    this.appending.set(key, settled);
    void settled.then(() => {
      if (this.appending.get(key) === settled) this.appending.delete(key);
    });
    return appended;
  }

  /** Up to `limit` messages with seq below `beforeSeq` (the latest ones when undefined), oldest first. */
  async history(conversationId: ConversationId, beforeSeq: number | undefined, limit: number): Promise<ChatMessage[]> {
    const rows = await this.query<MessageRow>('SELECT * FROM messages WHERE conversation_id = $1 AND seq < $2::bigint ORDER BY seq DESC LIMIT $3', [
      conversationId,
      beforeSeq ?? Number.MAX_SAFE_INTEGER,
      Math.max(0, Math.floor(limit)),
    ]);
    return rows.reverse().map((row) => toMessage(row));
  }

  // --- call records ----------------------------------------------------------------

  /** Saving the same call again replaces its record (a call's record is final once it ended). */
  async saveCallRecord(record: CallRecord, conversationId: ConversationId | null): Promise<void> {
    await this.query(
      `INSERT INTO call_records
         (call_id, conversation_id, initiator, audio_only, topology, participants, started_at, answered_at, ended_at, duration, end_reason, missed)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (call_id) DO UPDATE SET
         conversation_id = EXCLUDED.conversation_id, initiator = EXCLUDED.initiator, audio_only = EXCLUDED.audio_only,
         topology = EXCLUDED.topology, participants = EXCLUDED.participants, started_at = EXCLUDED.started_at,
         answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at, duration = EXCLUDED.duration,
         end_reason = EXCLUDED.end_reason, missed = EXCLUDED.missed`,
      [
        record.callId,
        conversationId,
        record.initiator,
        record.audioOnly,
        record.topology,
        JSON.stringify(record.participants),
        record.startedAt,
        record.answeredAt,
        record.endedAt,
        record.duration,
        record.endReason,
        record.missed,
      ],
    );
  }

  /** One saved call record and its conversation. (Not part of `Store`.) */
  async callRecord(callId: CallId): Promise<{ record: CallRecord; conversationId: ConversationId | null } | undefined> {
    const [row] = await this.query<CallRecordRow>('SELECT * FROM call_records WHERE call_id = $1', [callId]);
    return row && { record: toCallRecord(row), conversationId: row.conversation_id as ConversationId | null };
  }

  /** Idempotent; resolves once every connection is closed. Any later call rejects with `StoreError('closed')`. */
  // --- recordings' metadata ------------------------------------------------------------

  async saveRecording(info: RecordingInfo, fileUrl?: string | null): Promise<void> {
    const keep = fileUrl === undefined;
    await this.query(
      `INSERT INTO recordings (id, started_by, started_at, info, file_url) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET started_by = EXCLUDED.started_by, started_at = EXCLUDED.started_at, info = EXCLUDED.info,
         file_url = ${keep ? 'recordings.file_url' : 'EXCLUDED.file_url'}`,
      [info.id, info.startedBy, info.startedAt, JSON.stringify(info), fileUrl ?? null],
    );
  }

  async recordingById(id: RecordingId): Promise<StoredRecording | undefined> {
    const [row] = await this.query<{ info: string; file_url: string | null }>('SELECT info, file_url FROM recordings WHERE id = $1', [id]);
    return row && { info: JSON.parse(row.info) as RecordingInfo, fileUrl: row.file_url };
  }

  async recordings(): Promise<StoredRecording[]> {
    const rows = await this.query<{ info: string; file_url: string | null }>('SELECT info, file_url FROM recordings ORDER BY started_at DESC, id');
    return rows.map((row) => ({ info: JSON.parse(row.info) as RecordingInfo, fileUrl: row.file_url }));
  }

  async deleteRecording(id: RecordingId): Promise<void> {
    await this.query('DELETE FROM recordings WHERE id = $1', [id]);
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }

  private async insertMessage(message: Omit<ChatMessage, 'seq'>): Promise<ChatMessage> {
    const [row] = await this.query<{ seq: number }>(
      `WITH bumped AS (
         UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = GREATEST(last_activity_at, $2::bigint) WHERE id = $1::text RETURNING last_seq
       )
       INSERT INTO messages (id, conversation_id, seq, sender_id, kind, text, call_json, sent_at)
       SELECT $3::text, $1::text, bumped.last_seq, $4::text, $5::text, $6::text, $7::text, $2::bigint FROM bumped
       RETURNING seq`,
      [message.conversationId, message.sentAt, message.id, message.senderId, message.kind, message.text ?? null, message.call ? JSON.stringify(message.call) : null],
    );
    if (!row) throw new StoreError('notFound', `no conversation ${message.conversationId}`);
    return { ...message, seq: row.seq };
  }

  private async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.run<R>(sql, params)).rows;
  }

  private async run<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.open();
    try {
      return await this.pool.query<R>(sql, params);
    } catch (error) {
      throw storeErrorOf(error);
    }
  }

  /** Runs `fn` between BEGIN and COMMIT on one connection; ROLLBACK when it throws. */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    this.open();
    const client = await this.pool.connect();
    // A connection whose ROLLBACK failed is broken: it is destroyed, not returned to the pool.
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw storeErrorOf(error);
    } finally {
      client.release(broken);
    }
  }

  private open(): void {
    if (this.closing) throw new StoreError('closed', 'the store is closed');
  }
}

/**
 * Applies the migrations after the database's version, each in its own transaction with
 * its row in `schema_migrations`, and says which. Nodes that start together take turns
 * (an advisory lock); the later ones find nothing to apply. A database newer than
 * `migrations` is refused and left untouched. (Exported for tests, which build databases
 * of older versions.)
 */
export async function migratePostgres(pool: pg.Pool, migrations: readonly Migration[]): Promise<MigrationReport> {
  const client = await pool.connect();
  // After a failure the connection is destroyed, not returned: the server then rolls back
  // the migration under way and lets go of the lock.
  let failure: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const ordered = [...migrations].sort((a, b) => a.version - b.version);
    const known = ordered.at(-1)?.version ?? 0;
    const from = (await client.query<{ version: number }>('SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations')).rows[0]?.version ?? 0;
    if (from > known) throw newerSchemaError(from, known);
    const applied: MigrationReport['applied'] = [];
    for (const migration of ordered) {
      if (migration.version <= from) continue;
      await client.query('BEGIN');
      // No parameters: the simple protocol, which runs the migration's several statements.
      await client.query(migration.postgres);
      await client.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.description, Date.now()]);
      await client.query('COMMIT');
      applied.push({ version: migration.version, description: migration.description });
    }
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    return { from, to: Math.max(from, known), applied };
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(failure);
  }
}

/** The URL without its password, for logs and messages. */
function describeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'PostgreSQL database (an unparsable URL)';
  }
  parsed.password = '';
  parsed.searchParams.delete('password');
  return `PostgreSQL database ${parsed.toString()}`;
}

/** Constraint failures as `StoreError`s; anything else (a lost connection...) as it is. */
function storeErrorOf(error: unknown): unknown {
  if (error instanceof pg.DatabaseError) {
    if (error.code === '23505') return new StoreError('conflict', error.message);
    if (error.code === '23503') return new StoreError('notFound', 'a referenced user or conversation does not exist');
  }
  return error;
}
