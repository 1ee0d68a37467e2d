import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CallId, CallRecord, ConversationId, ConversationInfo, DeviceId, MessageId, RecordingId, RecordingInfo, RoomName, UserId } from '@roundtable/protocol';
import { PostgresCluster, skipPostgresTests } from '../testing/PostgresCluster.js';
import { PostgresStore, migratePostgres } from './PostgresStore.js';
import { SqliteStore, migrateSqlite } from './SqliteStore.js';
import type { Store, StoredUser } from './Store.js';
import { StoreError } from './StoreError.js';
import { MIGRATIONS, type Migration, type MigrationReport } from './migrations.js';

/** What both stores offer beyond `Store`, for housekeeping and tests. */
interface TestStore extends Store {
  schemaVersion(): Promise<number>;
  deleteExpiredSessions(now: number): Promise<number>;
  callRecord(callId: CallId): Promise<{ record: CallRecord; conversationId: ConversationId | null } | undefined>;
}

/** One empty database of a backend. */
interface TestDatabase {
  /** Opens a store on it (which migrates it). */
  open(): Promise<TestStore>;
  /** Applies `migrations` as opening a store does, without opening one: builds older (or newer) schemas. */
  migrate(migrations: readonly Migration[]): Promise<MigrationReport>;
  /** Runs SQL that both dialects understand (several statements allowed). */
  exec(sql: string): Promise<void>;
}

interface Backend {
  name: string;
  skip: boolean;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  database(): Promise<TestDatabase>;
}

function sqliteBackend(): Backend {
  let dir = '';
  let n = 0;
  return {
    name: 'SQLite',
    skip: false,
    setUp: async () => {
      dir = mkdtempSync(join(tmpdir(), 'roundtable-store-'));
    },
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
    database: async () => {
      const path = join(dir, `db-${++n}.sqlite`);
      const raw = <T>(fn: (db: Database.Database) => T): T => {
        const db = new Database(path);
        try {
          return fn(db);
        } finally {
          db.close();
        }
      };
      return {
        open: async () => new SqliteStore({ path }),
        migrate: async (migrations) => raw((db) => migrateSqlite(db, migrations)),
        exec: async (sql) => raw((db) => void db.exec(sql)),
      };
    },
  };
}

function postgresBackend(): Backend {
  let cluster: PostgresCluster | undefined;
  const withPool = async <T>(url: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      return await fn(pool);
    } finally {
      await pool.end();
    }
  };
  return {
    name: 'PostgreSQL',
    skip: skipPostgresTests('Store on PostgreSQL'),
    setUp: async () => {
      cluster = await PostgresCluster.start();
    },
    tearDown: async () => cluster?.close(),
    database: async () => {
      const url = await cluster!.createSchema();
      return {
        open: () => PostgresStore.open({ url }),
        migrate: (migrations) => withPool(url, (pool) => migratePostgres(pool, migrations)),
        exec: (sql) => withPool(url, async (pool) => void (await pool.query(sql))),
      };
    },
  };
}

const uid = (s: string) => s as UserId;
const cid = (s: string) => s as ConversationId;
const LATEST = MIGRATIONS.at(-1)!.version;
const ALL_APPLIED = MIGRATIONS.map(({ version, description }) => ({ version, description }));

function user(name: string): StoredUser {
  return { id: uid(`u-${name}`), username: name, displayName: name.toUpperCase(), passwordHash: `hash-${name}`, createdAt: 1000 };
}

function group(id: string, memberIds: UserId[], createdAt = 2000): ConversationInfo {
  return { id: cid(id), kind: 'group', name: `group ${id}`, memberIds, createdAt };
}

function text(conversationId: ConversationId, senderId: UserId, body: string, n: number) {
  return { id: `m-${conversationId}-${n}` as MessageId, conversationId, senderId, kind: 'text' as const, text: body, sentAt: 3000 + n };
}

function callRecord(callId: string, initiator: UserId): CallRecord {
  return {
    callId: callId as CallId,
    initiator,
    audioOnly: false,
    topology: 'p2p',
    participants: [initiator],
    startedAt: 10,
    answeredAt: null,
    endedAt: 20,
    duration: 0,
    endReason: 'timeout',
    missed: true,
  };
}

const names = (users: Array<{ username: string }>) => users.map((u) => u.username);

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe.skipIf(backend.skip)(`Store on ${backend.name}`, () => {
    const opened: TestStore[] = [];
    beforeAll(() => backend.setUp());
    afterAll(() => backend.tearDown());
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    async function openNew(): Promise<{ db: TestDatabase; store: TestStore }> {
      const db = await backend.database();
      const store = await db.open();
      opened.push(store);
      return { db, store };
    }

    describe('data', () => {
      const alice = user('alice');
      const bob = user('bob');
      const carol = user('carol');

      async function withUsers(): Promise<TestStore> {
        const { store } = await openNew();
        for (const u of [alice, bob, carol]) await store.createUser(u);
        return store;
      }

      it('opens a new database at the latest schema version, having applied every migration, and answers ping()', async () => {
        const { store } = await openNew();
        expect(store.migration).toEqual({ from: 0, to: LATEST, applied: ALL_APPLIED });
        expect(await store.schemaVersion()).toBe(LATEST);
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('finds users by id and by name, and a taken username rejects with conflict', async () => {
        const store = await withUsers();
        expect(await store.userById(alice.id)).toEqual(alice);
        expect(await store.userByName('bob')).toEqual(bob);
        expect(await store.userByName('nobody')).toBeUndefined();
        await expect(store.createUser({ ...user('alice'), id: uid('other') })).rejects.toMatchObject({ code: 'conflict' });
      });

      it('keeps times beyond 32 bits (milliseconds since 1970) exactly', async () => {
        const store = await withUsers();
        const later = { ...user('dave'), createdAt: 1_796_000_000_123 };
        await store.createUser(later);
        expect(await store.userById(later.id)).toEqual(later);
      });

      it('creates, finds and deletes sessions; deleteExpiredSessions drops only expired ones', async () => {
        const store = await withUsers();
        const base = { userId: alice.id, deviceId: 'd1' as DeviceId, deviceName: 'laptop', createdAt: 1 };
        await store.createSession({ ...base, tokenHash: 'h1', expiresAt: 100 });
        await store.createSession({ ...base, tokenHash: 'h2', expiresAt: 200 });
        expect(await store.sessionByTokenHash('h1')).toEqual({ ...base, tokenHash: 'h1', expiresAt: 100 });
        await store.deleteSession('h1');
        expect(await store.sessionByTokenHash('h1')).toBeUndefined();
        await store.createSession({ ...base, tokenHash: 'h3', expiresAt: 50 });
        expect(await store.deleteExpiredSessions(100)).toBe(1);
        expect(await store.sessionByTokenHash('h2')).toBeDefined();
      });

      it("countSessions counts the user's unexpired sessions and deletes the user's expired ones", async () => {
        const store = await withUsers();
        const session = (tokenHash: string, userId: UserId, expiresAt: number) => ({ tokenHash, userId, deviceId: 'd' as DeviceId, deviceName: '', createdAt: 1, expiresAt });
        await store.createSession(session('a-old', alice.id, 100));
        await store.createSession(session('a-new1', alice.id, 300));
        await store.createSession(session('a-new2', alice.id, 400));
        await store.createSession(session('b-old', bob.id, 100));

        expect(await store.countSessions(alice.id, 200)).toBe(2);
        expect(await store.sessionByTokenHash('a-old')).toBeUndefined();
        expect(await store.sessionByTokenHash('b-old')).toBeDefined();
        expect(await store.countSessions(carol.id, 200)).toBe(0);
      });

      it('a session of an unknown user rejects with notFound', async () => {
        const store = await withUsers();
        const session = { tokenHash: 'h', userId: uid('ghost'), deviceId: 'd' as DeviceId, deviceName: '', createdAt: 1, expiresAt: 2 };
        await expect(store.createSession(session)).rejects.toMatchObject({ code: 'notFound' });
      });

      it('adds contacts idempotently and lists them by username', async () => {
        const store = await withUsers();
        await store.addContact(alice.id, carol.id);
        await store.addContact(alice.id, bob.id);
        await store.addContact(alice.id, bob.id);
        expect(await store.contactsOf(alice.id)).toEqual([
          { id: bob.id, username: 'bob', displayName: 'BOB' },
          { id: carol.id, username: 'carol', displayName: 'CAROL' },
        ]);
        expect(await store.isContact(alice.id, bob.id)).toBe(true);
        expect(await store.isContact(bob.id, alice.id)).toBe(false);
        expect(await store.contactsOf(bob.id)).toEqual([]);
        await expect(store.addContact(alice.id, uid('ghost'))).rejects.toBeInstanceOf(StoreError);
      });

      it('sorts usernames by their bytes (capitals before small letters), whatever the collation', async () => {
        const store = await withUsers();
        for (const name of ['Zed', 'ann', '_x']) await store.createUser(user(name));
        for (const name of ['Zed', 'ann', '_x', 'bob']) await store.addContact(alice.id, uid(`u-${name}`));
        expect(names(await store.contactsOf(alice.id))).toEqual(['Zed', '_x', 'ann', 'bob']);
      });

      it('contact requests: added once, listed both ways by username, deleted once; makeContacts makes both contacts and drops the requests', async () => {
        const store = await withUsers();
        await store.addContactRequest(alice.id, bob.id);
        await store.addContactRequest(alice.id, bob.id);
        await store.addContactRequest(carol.id, alice.id);
        expect(await store.hasContactRequest(alice.id, bob.id)).toBe(true);
        expect(await store.hasContactRequest(bob.id, alice.id)).toBe(false);
        const requests = await store.contactRequestsOf(alice.id);
        expect({ incoming: names(requests.incoming), outgoing: names(requests.outgoing) }).toEqual({ incoming: ['carol'], outgoing: ['bob'] });

        expect(await store.deleteContactRequest(carol.id, alice.id)).toBe(true);
        expect(await store.deleteContactRequest(carol.id, alice.id)).toBe(false);
        await store.addContactRequest(bob.id, alice.id);
        await store.makeContacts(bob.id, alice.id);

        expect(names(await store.contactsOf(alice.id))).toEqual(['bob']);
        expect(names(await store.contactsOf(bob.id))).toEqual(['alice']);
        expect(await store.contactRequestsOf(alice.id)).toEqual({ incoming: [], outgoing: [] });
        await expect(store.addContactRequest(alice.id, uid('ghost'))).rejects.toMatchObject({ code: 'notFound' });
      });

      it('makeContacts with an unknown user changes nothing', async () => {
        const store = await withUsers();
        await store.addContactRequest(alice.id, bob.id);
        await expect(store.makeContacts(alice.id, uid('ghost'))).rejects.toMatchObject({ code: 'notFound' });
        expect(await store.contactsOf(alice.id)).toEqual([]);
        expect(await store.hasContactRequest(alice.id, bob.id)).toBe(true);
      });

      it('blocks: added once, listed by username, blockersOf names who blocked; deleteBlock is idempotent', async () => {
        const store = await withUsers();
        await store.addBlock(alice.id, carol.id);
        await store.addBlock(alice.id, bob.id);
        await store.addBlock(alice.id, bob.id);
        await store.addBlock(carol.id, bob.id);
        expect(names(await store.blockedBy(alice.id))).toEqual(['bob', 'carol']);
        expect((await store.blockersOf(bob.id)).sort()).toEqual([alice.id, carol.id].sort());
        expect(await store.isBlocked(alice.id, bob.id)).toBe(true);
        expect(await store.isBlocked(bob.id, alice.id)).toBe(false);
        await store.deleteBlock(alice.id, bob.id);
        await store.deleteBlock(alice.id, bob.id);
        expect(names(await store.blockedBy(alice.id))).toEqual(['carol']);
      });

      it('settings default to ring, are saved and replaced; an unknown user rejects with notFound', async () => {
        const store = await withUsers();
        expect(await store.userSettings(alice.id)).toEqual({ callsFromNonContacts: 'ring' });
        await store.saveUserSettings(alice.id, { callsFromNonContacts: 'request' });
        expect(await store.userSettings(alice.id)).toEqual({ callsFromNonContacts: 'request' });
        await store.saveUserSettings(alice.id, { callsFromNonContacts: 'ring' });
        expect(await store.userSettings(alice.id)).toEqual({ callsFromNonContacts: 'ring' });
        await expect(store.saveUserSettings(uid('ghost'), { callsFromNonContacts: 'ring' })).rejects.toMatchObject({ code: 'notFound' });
      });

      it('keeps one direct conversation per pair, found from either side', async () => {
        const store = await withUsers();
        const direct: ConversationInfo = { id: cid('d1'), kind: 'direct', name: '', memberIds: [bob.id, alice.id], createdAt: 5 };
        await store.createConversation(direct);
        expect(await store.directConversation(alice.id, bob.id)).toEqual(direct);
        expect(await store.directConversation(bob.id, alice.id)).toEqual(direct);
        expect(await store.directConversation(alice.id, carol.id)).toBeUndefined();
        await expect(store.createConversation({ ...direct, id: cid('d2') })).rejects.toMatchObject({ code: 'conflict' });
        expect(await store.conversationById(cid('d2'))).toBeUndefined();
      });

      it('keeps members in the order given and lists conversations most recently active first', async () => {
        const store = await withUsers();
        await store.createConversation(group('g1', [carol.id, alice.id, bob.id], 100));
        await store.createConversation(group('g2', [alice.id, bob.id], 200));
        expect((await store.conversationById(cid('g1')))?.memberIds).toEqual([carol.id, alice.id, bob.id]);
        expect((await store.conversationsOf(alice.id)).map((c) => c.id)).toEqual(['g2', 'g1']);
        await store.appendMessage(text(cid('g1'), alice.id, 'hi', 1));
        expect((await store.conversationsOf(alice.id)).map((c) => c.id)).toEqual(['g1', 'g2']);
        expect((await store.conversationsOf(carol.id)).map((c) => c.id)).toEqual(['g1']);
      });

      it('a conversation with an unknown member is not created at all', async () => {
        const store = await withUsers();
        await expect(store.createConversation(group('g', [alice.id, uid('ghost')]))).rejects.toMatchObject({ code: 'notFound' });
        expect(await store.conversationById(cid('g'))).toBeUndefined();
      });

      it('assigns seq from 1 per conversation and stores text and call messages', async () => {
        const store = await withUsers();
        await store.createConversation(group('g1', [alice.id, bob.id]));
        await store.createConversation(group('g2', [alice.id, bob.id]));
        const a = await store.appendMessage(text(cid('g1'), alice.id, 'one', 1));
        const b = await store.appendMessage(text(cid('g2'), bob.id, 'other', 2));
        const record = callRecord('c1', alice.id);
        const c = await store.appendMessage({ id: 'm-call' as MessageId, conversationId: cid('g1'), senderId: alice.id, kind: 'call', call: record, sentAt: 9 });
        expect([a.seq, b.seq, c.seq]).toEqual([1, 1, 2]);
        const history = await store.history(cid('g1'), undefined, 10);
        expect(history).toEqual([a, c]);
        expect(history[1]!.call).toEqual(record);
        expect(history[0]).not.toHaveProperty('call');
      });

      it('appendMessage to an unknown conversation rejects with notFound, and a failed append takes no seq', async () => {
        const store = await withUsers();
        await expect(store.appendMessage(text(cid('nope'), alice.id, 'x', 1))).rejects.toMatchObject({ code: 'notFound' });
        await store.createConversation(group('g', [alice.id, bob.id]));
        await expect(store.appendMessage(text(cid('g'), uid('ghost'), 'x', 1))).rejects.toMatchObject({ code: 'notFound' });
        expect((await store.appendMessage(text(cid('g'), alice.id, 'y', 2))).seq).toBe(1);
      });

      it('pages history backwards with beforeSeq and limit, oldest first within a page', async () => {
        const store = await withUsers();
        await store.createConversation(group('g', [alice.id, bob.id]));
        for (let n = 1; n <= 25; n++) await store.appendMessage(text(cid('g'), alice.id, `#${n}`, n));
        const seqs = async (before: number | undefined, limit: number) => (await store.history(cid('g'), before, limit)).map((m) => m.seq);
        expect(await seqs(undefined, 10)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
        expect(await seqs(16, 10)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        expect(await seqs(6, 10)).toEqual([1, 2, 3, 4, 5]);
        expect(await seqs(1, 10)).toEqual([]);
        expect(await seqs(undefined, 100)).toHaveLength(25);
        expect(await store.history(cid('unknown'), undefined, 10)).toEqual([]);
      });

      it('gives many concurrent appends distinct, gapless seqs in call order', async () => {
        const store = await withUsers();
        await store.createConversation(group('g', [alice.id, bob.id]));
        const appended = await Promise.all(
          Array.from({ length: 500 }, (_, n) => store.appendMessage(text(cid('g'), n % 2 ? alice.id : bob.id, `#${n}`, n))),
        );
        expect(appended.map((m) => m.seq)).toEqual(Array.from({ length: 500 }, (_, n) => n + 1));
        const all = await store.history(cid('g'), undefined, 1000);
        expect(all.map((m) => m.text)).toEqual(Array.from({ length: 500 }, (_, n) => `#${n}`));
      });

      it('saves call records with or without a conversation, and replaces a record saved twice', async () => {
        const store = await withUsers();
        await store.createConversation(group('g', [alice.id, bob.id]));
        const inConversation = callRecord('c1', alice.id);
        const loopback = { ...callRecord('c2', bob.id), topology: 'loopback' as const };
        await store.saveCallRecord(inConversation, cid('g'));
        await store.saveCallRecord(loopback, null);
        expect(await store.callRecord(inConversation.callId)).toEqual({ record: inConversation, conversationId: 'g' });
        expect(await store.callRecord(loopback.callId)).toEqual({ record: loopback, conversationId: null });
        const answered = { ...inConversation, answeredAt: 12, duration: 8, endReason: 'hangup' as const, missed: false };
        await store.saveCallRecord(answered, cid('g'));
        expect((await store.callRecord(inConversation.callId))?.record).toEqual(answered);
      });

      it("keeps recordings' metadata: saved and replaced (where the file was uploaded kept unless given), listed newest first, deleted", async () => {
        const { store } = await openNew();
        const recording = (id: string, startedAt: number): RecordingInfo => ({
          id: id as RecordingId,
          callId: null,
          room: 'standup' as RoomName,
          startedBy: alice.id,
          participants: [alice.id, bob.id],
          startedAt,
          endedAt: null,
          status: 'recording',
          size: null,
          duration: null,
          mimeType: 'video/webm',
          downloadPath: `/recordings/${id}`,
        });
        const [older, newer] = [recording('r1', 2 ** 40), recording('r2', 2 ** 40 + 1)];
        await store.saveRecording(older);
        await store.saveRecording(newer, null);
        expect(await store.recordings()).toEqual([
          { info: newer, fileUrl: null },
          { info: older, fileUrl: null },
        ]);
        const done = { ...older, endedAt: 2 ** 40 + 5000, status: 'complete' as const, size: 12345, duration: 4.5 };
        await store.saveRecording(done, 'https://files.example/r1.webm');
        await store.saveRecording(done);
        expect(await store.recordingById(done.id)).toEqual({ info: done, fileUrl: 'https://files.example/r1.webm' });
        await store.deleteRecording(done.id);
        expect(await store.recordingById(done.id)).toBeUndefined();
        expect((await store.recordings()).map((r) => r.info.id)).toEqual(['r2']);
      });

      it('close() is idempotent and later calls reject with StoreError closed', async () => {
        const store = await withUsers();
        await store.close();
        await store.close();
        await expect(store.userById(alice.id)).rejects.toMatchObject({ name: 'StoreError', code: 'closed' });
        await expect(store.ping()).rejects.toMatchObject({ name: 'StoreError', code: 'closed' });
      });
    });

    describe('one database over time', () => {
      it('keeps everything across close and reopen, which applies nothing', async () => {
        const db = await backend.database();
        const alice = user('alice');
        const bob = user('bob');
        const first = await db.open();
        await first.createUser(alice);
        await first.createUser(bob);
        await first.createConversation(group('g', [alice.id, bob.id]));
        await first.appendMessage(text(cid('g'), alice.id, 'before', 1));
        await first.saveCallRecord(callRecord('c', alice.id), null);
        await first.close();

        const second = await db.open();
        opened.push(second);
        expect(second.migration).toEqual({ from: LATEST, to: LATEST, applied: [] });
        expect(await second.userByName('alice')).toEqual(alice);
        expect((await second.conversationsOf(bob.id)).map((c) => c.id)).toEqual(['g']);
        const next = await second.appendMessage(text(cid('g'), bob.id, 'after', 2));
        expect(next.seq).toBe(2);
        expect((await second.history(cid('g'), undefined, 10)).map((m) => m.text)).toEqual(['before', 'after']);
        expect(await second.callRecord('c' as CallId)).toBeDefined();
      });

      it('two stores opening one new database together migrate it once', async () => {
        const db = await backend.database();
        const both = await Promise.all([db.open(), db.open()]);
        opened.push(...both);
        expect(both.map((store) => store.migration.applied.length).sort()).toEqual([0, MIGRATIONS.length]);
        expect(both.map((store) => store.migration.to)).toEqual([LATEST, LATEST]);
      });

      it('two stores on one database (two signaling nodes) appending to one conversation at once get distinct, gapless seqs', async () => {
        const db = await backend.database();
        const [a, b] = [await db.open(), await db.open()];
        opened.push(a, b);
        await a.createUser(user('alice'));
        await a.createConversation(group('g', [uid('u-alice')]));
        const appended = await Promise.all(
          Array.from({ length: 100 }, (_, n) => (n % 2 ? a : b).appendMessage(text(cid('g'), uid('u-alice'), `#${n}`, n))),
        );
        expect(appended.map((m) => m.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, n) => n + 1));
        expect(await b.history(cid('g'), undefined, 1000)).toHaveLength(100);
      });

      it('migrating a version-1 database keeps its contacts: a one-way contact stays, and the one added gets a request to accept', async () => {
        const db = await backend.database();
        expect(await db.migrate(MIGRATIONS.slice(0, 1))).toEqual({ from: 0, to: 1, applied: ALL_APPLIED.slice(0, 1) });
        await db.exec(`
          INSERT INTO users (id, username, display_name, password_hash, created_at)
            VALUES ('u-alice', 'alice', 'ALICE', 'h', 1), ('u-bob', 'bob', 'BOB', 'h', 1), ('u-carol', 'carol', 'CAROL', 'h', 1);
          -- Alice and Bob added each other; Alice added Carol, who never added her back.
          INSERT INTO contacts (user_id, contact_id, created_at)
            VALUES ('u-alice', 'u-bob', 1), ('u-bob', 'u-alice', 1), ('u-alice', 'u-carol', 1);
        `);

        const store = await db.open();
        opened.push(store);

        expect(store.migration).toEqual({ from: 1, to: LATEST, applied: ALL_APPLIED.slice(1) });
        expect(names(await store.contactsOf(uid('u-alice')))).toEqual(['bob', 'carol']);
        expect(names(await store.contactsOf(uid('u-bob')))).toEqual(['alice']);
        expect(await store.contactsOf(uid('u-carol'))).toEqual([]);
        const carols = await store.contactRequestsOf(uid('u-carol'));
        expect({ incoming: names(carols.incoming), outgoing: carols.outgoing }).toEqual({ incoming: ['alice'], outgoing: [] });
        expect(await store.contactRequestsOf(uid('u-bob'))).toEqual({ incoming: [], outgoing: [] });
        await store.makeContacts(uid('u-carol'), uid('u-alice'));
        expect(names(await store.contactsOf(uid('u-carol')))).toEqual(['alice']);
        expect(await store.contactRequestsOf(uid('u-carol'))).toEqual({ incoming: [], outgoing: [] });
        expect(await store.userSettings(uid('u-carol'))).toEqual({ callsFromNonContacts: 'ring' });
      });

      it('refuses a database whose schema is newer than it knows, and leaves it untouched', async () => {
        const db = await backend.database();
        const later: Migration = { version: LATEST + 1, description: 'from a later server', sqlite: 'CREATE TABLE later (x INTEGER)', postgres: 'CREATE TABLE later (x INTEGER)' };
        await db.migrate([...MIGRATIONS, later]);

        await expect(db.open()).rejects.toThrow(`the database has schema version ${LATEST + 1}, newer than this server knows (${LATEST})`);

        expect(await db.migrate([...MIGRATIONS, later])).toEqual({ from: LATEST + 1, to: LATEST + 1, applied: [] });
        await db.exec('INSERT INTO later (x) VALUES (1)');
      });

      it('a migration that fails is rolled back whole and the next open tries it again', async () => {
        const db = await backend.database();
        await db.migrate(MIGRATIONS);
        const broken: Migration = {
          version: LATEST + 1,
          description: 'half good',
          sqlite: 'CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1);',
          postgres: 'CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1);',
        };
        await expect(db.migrate([...MIGRATIONS, broken])).rejects.toThrow(/no_such_table/);

        const fixed: Migration = { ...broken, sqlite: 'CREATE TABLE half (x INTEGER);', postgres: 'CREATE TABLE half (x INTEGER);' };
        expect(await db.migrate([...MIGRATIONS, fixed])).toEqual({ from: LATEST, to: LATEST + 1, applied: [{ version: LATEST + 1, description: 'half good' }] });
      });
    });
  });
}

describe('SqliteStore', () => {
  it('uses WAL for a file and works in memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roundtable-store-'));
    const file = new SqliteStore({ path: join(dir, 'nested', 'roundtable.db') });
    const memory = new SqliteStore({ path: ':memory:' });
    try {
      expect(file.journalMode).toBe('wal');
      expect(memory.description).toBe('SQLite database in memory');
      expect(await memory.schemaVersion()).toBe(LATEST);
    } finally {
      await file.close();
      await memory.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
