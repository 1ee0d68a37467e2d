import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallId, CallRecord, ConversationId, ConversationInfo, DeviceId, MessageId, UserId } from '@roundtable/protocol';
import { SqliteStore } from './SqliteStore.js';
import type { StoredUser } from './Store.js';
import { StoreError } from './StoreError.js';
import { MIGRATIONS } from './migrations.js';

const uid = (s: string) => s as UserId;
const cid = (s: string) => s as ConversationId;

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

describe('SqliteStore (in memory)', () => {
  let store: SqliteStore;
  const alice = user('alice');
  const bob = user('bob');
  const carol = user('carol');

  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    for (const u of [alice, bob, carol]) await store.createUser(u);
  });
  afterEach(() => store.close());

  it('opens at the latest schema version', () => {
    expect(store.schemaVersion).toBe(MIGRATIONS.at(-1)!.version);
  });

  it('finds users by id and by name, and a taken username rejects with conflict', async () => {
    expect(await store.userById(alice.id)).toEqual(alice);
    expect(await store.userByName('bob')).toEqual(bob);
    expect(await store.userByName('nobody')).toBeUndefined();
    await expect(store.createUser({ ...user('alice'), id: uid('other') })).rejects.toMatchObject({ code: 'conflict' });
  });

  it('creates, finds and deletes sessions; deleteExpiredSessions drops only expired ones', async () => {
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

  it('a session of an unknown user rejects with notFound', async () => {
    const session = { tokenHash: 'h', userId: uid('ghost'), deviceId: 'd' as DeviceId, deviceName: '', createdAt: 1, expiresAt: 2 };
    await expect(store.createSession(session)).rejects.toMatchObject({ code: 'notFound' });
  });

  it('adds contacts idempotently and lists them by username', async () => {
    await store.addContact(alice.id, carol.id);
    await store.addContact(alice.id, bob.id);
    await store.addContact(alice.id, bob.id);
    expect(await store.contactsOf(alice.id)).toEqual([
      { id: bob.id, username: 'bob', displayName: 'BOB' },
      { id: carol.id, username: 'carol', displayName: 'CAROL' },
    ]);
    expect(await store.contactsOf(bob.id)).toEqual([]);
    await expect(store.addContact(alice.id, uid('ghost'))).rejects.toBeInstanceOf(StoreError);
  });

  it('keeps one direct conversation per pair, found from either side', async () => {
    const direct: ConversationInfo = { id: cid('d1'), kind: 'direct', name: '', memberIds: [bob.id, alice.id], createdAt: 5 };
    await store.createConversation(direct);
    expect(await store.directConversation(alice.id, bob.id)).toEqual(direct);
    expect(await store.directConversation(bob.id, alice.id)).toEqual(direct);
    expect(await store.directConversation(alice.id, carol.id)).toBeUndefined();
    await expect(store.createConversation({ ...direct, id: cid('d2') })).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.conversationById(cid('d2'))).toBeUndefined();
  });

  it('keeps members in the order given and lists conversations most recently active first', async () => {
    await store.createConversation(group('g1', [carol.id, alice.id, bob.id], 100));
    await store.createConversation(group('g2', [alice.id, bob.id], 200));
    expect((await store.conversationById(cid('g1')))?.memberIds).toEqual([carol.id, alice.id, bob.id]);
    expect((await store.conversationsOf(alice.id)).map((c) => c.id)).toEqual(['g2', 'g1']);
    await store.appendMessage(text(cid('g1'), alice.id, 'hi', 1));
    expect((await store.conversationsOf(alice.id)).map((c) => c.id)).toEqual(['g1', 'g2']);
    expect((await store.conversationsOf(carol.id)).map((c) => c.id)).toEqual(['g1']);
  });

  it('a conversation with an unknown member is not created at all', async () => {
    await expect(store.createConversation(group('g', [alice.id, uid('ghost')]))).rejects.toMatchObject({ code: 'notFound' });
    expect(await store.conversationById(cid('g'))).toBeUndefined();
  });

  it('assigns seq from 1 per conversation and stores text and call messages', async () => {
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

  it('appendMessage to an unknown conversation rejects with notFound', async () => {
    await expect(store.appendMessage(text(cid('nope'), alice.id, 'x', 1))).rejects.toMatchObject({ code: 'notFound' });
  });

  it('pages history backwards with beforeSeq and limit, oldest first within a page', async () => {
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
    await store.createConversation(group('g', [alice.id, bob.id]));
    const appended = await Promise.all(
      Array.from({ length: 500 }, (_, n) => store.appendMessage(text(cid('g'), n % 2 ? alice.id : bob.id, `#${n}`, n))),
    );
    expect(appended.map((m) => m.seq)).toEqual(Array.from({ length: 500 }, (_, n) => n + 1));
    const all = await store.history(cid('g'), undefined, 1000);
    expect(all.map((m) => m.text)).toEqual(Array.from({ length: 500 }, (_, n) => `#${n}`));
  });

  it('saves call records with or without a conversation, and replaces a record saved twice', async () => {
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

  it('close() is idempotent and later calls reject with StoreError closed', async () => {
    await store.close();
    await store.close();
    await expect(store.userById(alice.id)).rejects.toMatchObject({ name: 'StoreError', code: 'closed' });
  });
});

describe('SqliteStore (file)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'roundtable-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('uses WAL and keeps everything across close and reopen', async () => {
    const path = join(dir, 'nested', 'roundtable.db');
    const alice = user('alice');
    const bob = user('bob');
    const first = new SqliteStore({ path });
    expect(first.journalMode).toBe('wal');
    await first.createUser(alice);
    await first.createUser(bob);
    await first.createConversation(group('g', [alice.id, bob.id]));
    await first.appendMessage(text(cid('g'), alice.id, 'before', 1));
    await first.saveCallRecord(callRecord('c', alice.id), null);
    await first.close();

    const second = new SqliteStore({ path });
    try {
      expect(await second.userByName('alice')).toEqual(alice);
      expect((await second.conversationsOf(bob.id)).map((c) => c.id)).toEqual(['g']);
      const next = await second.appendMessage(text(cid('g'), bob.id, 'after', 2));
      expect(next.seq).toBe(2);
      expect((await second.history(cid('g'), undefined, 10)).map((m) => m.text)).toEqual(['before', 'after']);
      expect(await second.callRecord('c' as CallId)).toBeDefined();
    } finally {
      await second.close();
    }
  });

  it('migrating a version-1 database keeps its contacts: a one-way contact stays, and the one added gets a request to accept', async () => {
    const path = join(dir, 'v1.db');
    const raw = new Database(path);
    raw.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1); ${MIGRATIONS[0]!.sql}`);
    const insertUser = raw.prepare('INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, 1)');
    for (const name of ['alice', 'bob', 'carol']) insertUser.run(`u-${name}`, name, name.toUpperCase(), 'h');
    const insertContact = raw.prepare('INSERT INTO contacts (user_id, contact_id, created_at) VALUES (?, ?, 1)');
    // Alice and Bob added each other; Alice added Carol, who never added her back.
    for (const [a, b] of [['alice', 'bob'], ['bob', 'alice'], ['alice', 'carol']]) insertContact.run(`u-${a}`, `u-${b}`);
    raw.close();

    const store = new SqliteStore({ path });
    try {
      expect(store.schemaVersion).toBe(MIGRATIONS.at(-1)!.version);
      expect((await store.contactsOf(uid('u-alice'))).map((u) => u.username)).toEqual(['bob', 'carol']);
      expect((await store.contactsOf(uid('u-bob'))).map((u) => u.username)).toEqual(['alice']);
      expect(await store.contactsOf(uid('u-carol'))).toEqual([]);
      const carols = await store.contactRequestsOf(uid('u-carol'));
      expect({ incoming: carols.incoming.map((u) => u.username), outgoing: carols.outgoing }).toEqual({ incoming: ['alice'], outgoing: [] });
      expect(await store.contactRequestsOf(uid('u-bob'))).toEqual({ incoming: [], outgoing: [] });
      await store.makeContacts(uid('u-carol'), uid('u-alice'));
      expect((await store.contactsOf(uid('u-carol'))).map((u) => u.username)).toEqual(['alice']);
      expect(await store.contactRequestsOf(uid('u-carol'))).toEqual({ incoming: [], outgoing: [] });
      expect(await store.userSettings(uid('u-carol'))).toEqual({ callsFromNonContacts: 'ring' });
    } finally {
      await store.close();
    }
  });

  it('refuses a database whose schema is newer than it knows, and leaves it untouched', () => {
    const path = join(dir, 'future.db');
    const raw = new Database(path);
    raw.exec('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (999);');
    raw.close();
    expect(() => new SqliteStore({ path })).toThrow(/newer than this server knows/);
    const check = new Database(path, { readonly: true });
    expect(check.prepare('SELECT version FROM schema_version').get()).toEqual({ version: 999 });
    check.close();
  });
});
