/**
 * The schema, as an ordered list of migrations, each written for both stores: the same
 * tables, columns and constraints in SQLite's and PostgreSQL's dialects. Opening a store
 * applies the migrations its database has not had, each in its own transaction (SQLite
 * records the last version in `schema_version`; PostgreSQL records every applied one in
 * `schema_migrations`). Never edit a migration that has shipped: append a new one.
 */
export interface Migration {
  version: number;
  description: string;
  /** SQLite's dialect (better-sqlite3). */
  sqlite: string;
  /** PostgreSQL's dialect: times and durations are BIGINT (milliseconds), flags BOOLEAN. */
  postgres: string;
}

/** What opening a store (or `roundtable migrate`) did to its schema. */
export interface MigrationReport {
  /** The schema version before. */
  from: number;
  /** The schema version now. */
  to: number;
  /** The migrations applied, in order; empty when the database was up to date. */
  applied: Array<Pick<Migration, 'version' | 'description'>>;
}

/** A database whose schema is newer than this server's migrations: it is left untouched. */
export function newerSchemaError(found: number, known: number): Error {
  return new Error(`the database has schema version ${found}, newer than this server knows (${known})`);
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, sessions, contacts, conversations, messages, call records',
    sqlite: `
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
    postgres: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE,
        display_name  TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    BIGINT NOT NULL
      );

      -- One row per device login; the bearer token itself is never stored.
      CREATE TABLE sessions (
        token_hash  TEXT PRIMARY KEY,
        user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        device_id   TEXT NOT NULL,
        device_name TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL
      );
      CREATE INDEX sessions_by_user ON sessions(user_id);
      CREATE INDEX sessions_by_expiry ON sessions(expires_at);

      CREATE TABLE contacts (
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        contact_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (user_id, contact_id)
      );

      -- direct_key (the sorted member pair) makes "one direct conversation per pair" a
      -- constraint, so two concurrent creations cannot both succeed.
      CREATE TABLE conversations (
        id               TEXT PRIMARY KEY,
        kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
        name             TEXT NOT NULL,
        direct_key       TEXT UNIQUE,
        created_at       BIGINT NOT NULL,
        last_seq         INTEGER NOT NULL DEFAULT 0,
        last_activity_at BIGINT NOT NULL
      );

      CREATE TABLE conversation_members (
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        position        INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
      );
      CREATE INDEX members_by_user ON conversation_members(user_id);

      CREATE TABLE messages (
        id              TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq             INTEGER NOT NULL,
        sender_id       TEXT NOT NULL REFERENCES users(id),
        kind            TEXT NOT NULL CHECK (kind IN ('text', 'call')),
        text            TEXT,
        call_json       TEXT,
        sent_at         BIGINT NOT NULL,
        UNIQUE (conversation_id, seq)
      );

      -- Every call, in a conversation or not (loopback self-tests have none).
      CREATE TABLE call_records (
        call_id         TEXT PRIMARY KEY,
        conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
        initiator       TEXT NOT NULL,
        audio_only      BOOLEAN NOT NULL,
        topology        TEXT NOT NULL,
        participants    TEXT NOT NULL,
        started_at      BIGINT NOT NULL,
        answered_at     BIGINT,
        ended_at        BIGINT NOT NULL,
        duration        BIGINT NOT NULL,
        end_reason      TEXT NOT NULL,
        missed          BOOLEAN NOT NULL
      );
      CREATE INDEX call_records_by_conversation ON call_records(conversation_id, started_at);
      CREATE INDEX call_records_by_initiator ON call_records(initiator, started_at);
    `,
  },
  {
    version: 2,
    description: 'contact requests, blocks, user settings; one-way contacts become requests to the other side',
    sqlite: `
      -- A request from from_id to to_id to become contacts; accepting makes two contacts rows.
      CREATE TABLE contact_requests (
        from_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        to_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (from_id, to_id)
      ) WITHOUT ROWID;
      CREATE INDEX contact_requests_to ON contact_requests(to_id);

      -- user_id blocked blocked_id: blocked_id's calls, messages and requests do not reach user_id.
      CREATE TABLE blocks (
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        blocked_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, blocked_id)
      ) WITHOUT ROWID;
      CREATE INDEX blocks_by_blocked ON blocks(blocked_id);

      -- One row per user who changed a setting; absent: the defaults.
      CREATE TABLE user_settings (
        user_id                  TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        calls_from_non_contacts  TEXT NOT NULL DEFAULT 'ring' CHECK (calls_from_non_contacts IN ('ring', 'request'))
      );

      -- Contacts were one way before: whoever added someone keeps them, and the one who was
      -- added (and did not add back) now has a request to accept or decline.
      INSERT OR IGNORE INTO contact_requests (from_id, to_id, created_at)
        SELECT k.user_id, k.contact_id, k.created_at FROM contacts k
        WHERE NOT EXISTS (SELECT 1 FROM contacts r WHERE r.user_id = k.contact_id AND r.contact_id = k.user_id);
    `,
    postgres: `
      CREATE TABLE contact_requests (
        from_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        to_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (from_id, to_id)
      );
      CREATE INDEX contact_requests_to ON contact_requests(to_id);

      CREATE TABLE blocks (
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        blocked_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (user_id, blocked_id)
      );
      CREATE INDEX blocks_by_blocked ON blocks(blocked_id);

      CREATE TABLE user_settings (
        user_id                  TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        calls_from_non_contacts  TEXT NOT NULL DEFAULT 'ring' CHECK (calls_from_non_contacts IN ('ring', 'request'))
      );

      INSERT INTO contact_requests (from_id, to_id, created_at)
        SELECT k.user_id, k.contact_id, k.created_at FROM contacts k
        WHERE NOT EXISTS (SELECT 1 FROM contacts r WHERE r.user_id = k.contact_id AND r.contact_id = k.user_id)
        ON CONFLICT DO NOTHING;
    `,
  },
  {
    version: 3,
    description: 'recordings\' metadata (it was a JSON file beside each recording)',
    sqlite: `
      -- One row per recording; info is its RecordingInfo (JSON), file_url where its file
      -- was uploaded (null: in the recordings folder).
      CREATE TABLE recordings (
        id         TEXT PRIMARY KEY,
        started_by TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        info       TEXT NOT NULL,
        file_url   TEXT
      );
      CREATE INDEX recordings_by_start ON recordings(started_at);
    `,
    postgres: `
      CREATE TABLE recordings (
        id         TEXT PRIMARY KEY,
        started_by TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        info       TEXT NOT NULL,
        file_url   TEXT
      );
      CREATE INDEX recordings_by_start ON recordings(started_at);
    `,
  },
];
