/**
 * The SQLite schema, as an ordered list of migrations. A database records the last
 * version applied in `schema_version`; opening it applies the ones after that, each in
 * its own transaction. Never edit a migration that has shipped: append a new one.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, sessions, contacts, conversations, messages, call records',
    sql: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE,
        display_name  TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL
      );

      -- One row per device login; the bearer token itself is never stored.
      CREATE TABLE sessions (
        token_hash  TEXT PRIMARY KEY,
        user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        device_id   TEXT NOT NULL,
        device_name TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
      );
      CREATE INDEX sessions_by_user ON sessions(user_id);
      CREATE INDEX sessions_by_expiry ON sessions(expires_at);

      CREATE TABLE contacts (
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        contact_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, contact_id)
      ) WITHOUT ROWID;

      -- direct_key (the sorted member pair) makes "one direct conversation per pair" a
      -- constraint, so two concurrent creations cannot both succeed.
      CREATE TABLE conversations (
        id               TEXT PRIMARY KEY,
        kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
        name             TEXT NOT NULL,
        direct_key       TEXT UNIQUE,
        created_at       INTEGER NOT NULL,
        last_seq         INTEGER NOT NULL DEFAULT 0,
        last_activity_at INTEGER NOT NULL
      );

      CREATE TABLE conversation_members (
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        position        INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX members_by_user ON conversation_members(user_id);

      CREATE TABLE messages (
        id              TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq             INTEGER NOT NULL,
        sender_id       TEXT NOT NULL REFERENCES users(id),
        kind            TEXT NOT NULL CHECK (kind IN ('text', 'call')),
        text            TEXT,
        call_json       TEXT,
        sent_at         INTEGER NOT NULL,
        UNIQUE (conversation_id, seq)
      );

      -- Every call, in a conversation or not (loopback self-tests have none).
      CREATE TABLE call_records (
        call_id         TEXT PRIMARY KEY,
        conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
        initiator       TEXT NOT NULL,
        audio_only      INTEGER NOT NULL,
        topology        TEXT NOT NULL,
        participants    TEXT NOT NULL,
        started_at      INTEGER NOT NULL,
        answered_at     INTEGER,
        ended_at        INTEGER NOT NULL,
        duration        INTEGER NOT NULL,
        end_reason      TEXT NOT NULL,
        missed          INTEGER NOT NULL
      );
      CREATE INDEX call_records_by_conversation ON call_records(conversation_id, started_at);
      CREATE INDEX call_records_by_initiator ON call_records(initiator, started_at);
    `,
  },
];
