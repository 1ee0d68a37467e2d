import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId } from '@roundtable/protocol';
import { TestServer, type TestServerOptions } from '../testing/TestServer.js';

describe('IM over the signaling WebSocket', () => {
  const servers: TestServer[] = [];
  const start = async (options: TestServerOptions = {}) => {
    const server = await TestServer.start(options);
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('users.find, and contacts.add/list: a contact is listed once the other side accepted', async () => {
    const s = await start();
    const alice = await s.signIn('alice');
    const bob = await s.signIn('bob', { displayName: 'Bob' });
    const user = await alice.request('users.find', { username: 'bob' });
    expect(user).toEqual({ id: bob.userId, username: 'bob', displayName: 'Bob' });
    expect(await alice.send('users.find', { username: 'nobody' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await alice.request('contacts.add', { userId: bob.userId })).toEqual({ status: 'requested' });
    // A request: nobody is a contact until Bob accepts.
    expect(await alice.request('contacts.list')).toEqual([]);
    await bob.request('contacts.accept', { userId: alice.userId });
    expect(await alice.request('contacts.list')).toEqual([{ ...user, online: true }]);
    expect((await bob.request('contacts.list')).map((u) => u.username)).toEqual(['alice']);
  });

  it('users.get names the members of a group who are not contacts, leaving unknown ids out', async () => {
    const s = await start();
    const alice = await s.signIn('alice');
    const bob = await s.signIn('bob', { displayName: 'Bob' });
    const carol = await s.signIn('carol', { displayName: 'Carol' });
    const users = await alice.request('users.get', { userIds: [carol.userId, bob.userId, 'no-such-user' as typeof bob.userId, carol.userId] });
    expect(users).toEqual([
      { id: carol.userId, username: 'carol', displayName: 'Carol' },
      { id: bob.userId, username: 'bob', displayName: 'Bob' },
    ]);
    expect(await alice.send('users.get', { userIds: [] })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('conversations.direct creates the conversation once and notifies both users', async () => {
    const s = await start();
    const alice = await s.signIn('alice');
    const aliceTablet = await s.signIn('alice');
    const bob = await s.signIn('bob');
    const first = await alice.request('conversations.direct', { userId: bob.userId });
    expect(first).toMatchObject({ kind: 'direct', memberIds: [alice.userId, bob.userId] });
    expect((await bob.waitFor('conversation')).conversation).toEqual(first);
    expect((await aliceTablet.waitFor('conversation')).conversation).toEqual(first);
    const second = await bob.request('conversations.direct', { userId: alice.userId });
    expect(second).toEqual(first);
    await alice.expectNo('conversation');
    await bob.expectNo('conversation');
    expect(await bob.request('conversations.list')).toEqual([first]);
  });

  it('a user logged in on two devices gets messages on both; the sender gets them on its other devices', async () => {
    const s = await start();
    const alice = await s.signIn('alice');
    const bobPhone = await s.signIn('bob', { deviceName: 'phone' });
    const bobLaptop = await s.signIn('bob', { deviceName: 'laptop' });
    expect(bobPhone.deviceId).not.toBe(bobLaptop.deviceId);
    const conversation = await alice.request('conversations.direct', { userId: bobPhone.userId });

    const message = await alice.request('messages.send', { conversationId: conversation.id, text: 'hi bob' });
    expect(message).toMatchObject({ conversationId: conversation.id, seq: 1, senderId: alice.userId, kind: 'text', text: 'hi bob' });
    expect((await bobPhone.waitFor('message')).message).toEqual(message);
    expect((await bobLaptop.waitFor('message')).message).toEqual(message);
    await alice.expectNo('message');

    const reply = await bobPhone.request('messages.send', { conversationId: conversation.id, text: 'hi alice' });
    expect((await bobLaptop.waitFor('message', (n) => n.message.seq === 2)).message).toEqual(reply);
    expect((await alice.waitFor('message')).message).toEqual(reply);
    await bobPhone.expectNo('message', (n) => n.message.seq === 2);
  });

  it('a group delivers to every member; createGroup refuses unknown members', async () => {
    const s = await start();
    const [alice, bob, carol] = [await s.signIn('alice'), await s.signIn('bob'), await s.signIn('carol')];
    const conversation = await alice.request('conversations.createGroup', { name: 'Team', memberIds: [bob.userId, carol.userId] });
    expect(conversation).toMatchObject({ kind: 'group', name: 'Team', memberIds: [alice.userId, bob.userId, carol.userId] });
    await bob.waitFor('conversation', (n) => n.conversation.id === conversation.id);
    await carol.waitFor('conversation', (n) => n.conversation.id === conversation.id);
    await bob.request('messages.send', { conversationId: conversation.id, text: 'to the team' });
    expect((await alice.waitFor('message')).message.text).toBe('to the team');
    expect((await carol.waitFor('message')).message.text).toBe('to the team');
    const bad = await alice.send('conversations.createGroup', { name: 'Bad', memberIds: [bob.userId, 'ghost-id' as typeof bob.userId] });
    expect(bad).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('a non-member can neither read the history nor send, and learns nothing about the messages', async () => {
    const s = await start();
    const [alice, bob, mallory] = [await s.signIn('alice'), await s.signIn('bob'), await s.signIn('mallory')];
    const conversation = await alice.request('conversations.direct', { userId: bob.userId });
    await alice.request('messages.send', { conversationId: conversation.id, text: 'private' });
    const history = await mallory.send('messages.history', { conversationId: conversation.id });
    expect(history).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(JSON.stringify(history)).not.toMatch(/private/);
    expect(await mallory.send('messages.send', { conversationId: conversation.id, text: 'intrusion' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await mallory.send('messages.history', { conversationId: 'no-such-id' as ConversationId })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    await bob.waitFor('message', (n) => n.message.text === 'private');
    await bob.expectNo('message', (n) => n.message.text === 'intrusion');
    expect((await bob.request('messages.history', { conversationId: conversation.id })).map((m) => m.text)).toEqual(['private']);
  });

  it('messages.history pages backwards with beforeSeq and limit', async () => {
    const s = await start();
    const [alice, bob] = [await s.signIn('alice'), await s.signIn('bob')];
    const conversation = await alice.request('conversations.direct', { userId: bob.userId });
    for (let n = 1; n <= 12; n++) await alice.request('messages.send', { conversationId: conversation.id, text: `#${n}` });
    const page1 = await bob.request('messages.history', { conversationId: conversation.id, limit: 5 });
    expect(page1.map((m) => m.seq)).toEqual([8, 9, 10, 11, 12]);
    const page2 = await bob.request('messages.history', { conversationId: conversation.id, limit: 5, beforeSeq: page1[0]!.seq });
    expect(page2.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    const page3 = await bob.request('messages.history', { conversationId: conversation.id, limit: 5, beforeSeq: 3 });
    expect(page3.map((m) => m.text)).toEqual(['#1', '#2']);
  });

  it('ice.servers hands out STUN and TURN with credentials for the user', async () => {
    const s = await start({ iceServers: { urls: ['stun:127.0.0.1:3478', 'turn:127.0.0.1:3478'], sharedSecret: 'k' } });
    const alice = await s.signIn('alice');
    const result = await alice.request('ice.servers');
    expect(result.iceServers[0]).toEqual({ urls: ['stun:127.0.0.1:3478'] });
    expect(result.iceServers[1]).toMatchObject({ urls: ['turn:127.0.0.1:3478'], username: expect.stringMatching(new RegExp(`^\\d+:${alice.userId}$`)) });
    expect(result.expiresAt).toBeGreaterThan(Date.now());
  });

  it('after a restart on the same SQLite file, accounts, conversations and messages are all there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roundtable-restart-'));
    try {
      const dbPath = join(dir, 'signaling.db');
      const before = await start({ dbPath });
      const alice = await before.signIn('alice');
      const bob = await before.signIn('bob');
      const conversation = await alice.request('conversations.direct', { userId: bob.userId });
      const group = await alice.request('conversations.createGroup', { name: 'Team', memberIds: [bob.userId] });
      await alice.request('messages.send', { conversationId: conversation.id, text: 'before the restart' });
      await alice.request('contacts.add', { userId: bob.userId });
      await bob.request('contacts.accept', { userId: alice.userId });
      const oldToken = alice.token!;
      await before.close();

      const after = await start({ dbPath });
      // A token from before the restart still opens a session.
      const resumed = await after.connect();
      expect((await resumed.request('hello', { token: oldToken })).user.username).toBe('alice');
      const bobAgain = await after.signIn('bob');
      expect(bobAgain.userId).toBe(bob.userId);
      const listed = (await bobAgain.request('conversations.list')).map((c) => c.id).sort();
      expect(listed).toEqual([conversation.id, group.id].sort());
      const history = await bobAgain.request('messages.history', { conversationId: conversation.id });
      expect(history.map((m) => m.text)).toEqual(['before the restart']);
      const message = await bobAgain.request('messages.send', { conversationId: conversation.id, text: 'after' });
      expect(message.seq).toBe(2);
      expect((await resumed.waitFor('message')).message).toEqual(message);
      expect((await resumed.request('contacts.list')).map((c) => c.username)).toEqual(['bob']);
    } finally {
      await Promise.all(servers.splice(0).map((server) => server.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
