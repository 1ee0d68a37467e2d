import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallId, CallRecord, ConversationId, DeviceId, ServerNotification, UserId, UserInfo } from '@roundtable/protocol';
import { InMemoryRouter } from '../net/InMemoryRouter.js';
import type { DeviceLink } from '../net/Router.js';
import { SqliteStore } from '../store/SqliteStore.js';
import { ImService } from './ImService.js';

interface FakeLink extends DeviceLink {
  inbox: ServerNotification[];
}

describe('ImService', () => {
  let store: SqliteStore;
  let router: InMemoryRouter;
  let im: ImService;
  let alice: UserInfo;
  let bob: UserInfo;
  let carol: UserInfo;

  const addUser = async (username: string): Promise<UserInfo> => {
    const user = { id: `id-${username}` as UserId, username, displayName: username.toUpperCase() };
    await store.createUser({ ...user, passwordHash: 'x', createdAt: 1 });
    return user;
  };
  const online = (user: UserInfo, device: string): FakeLink => {
    const inbox: ServerNotification[] = [];
    const link: FakeLink = { userId: user.id, deviceId: device as DeviceId, inbox, send: (n) => inbox.push(n) };
    router.addLink(link);
    return link;
  };

  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    router = new InMemoryRouter();
    im = new ImService({ store, router, now: () => 42 });
    alice = await addUser('alice');
    bob = await addUser('bob');
    carol = await addUser('carol');
  });
  afterEach(() => store.close());

  it('findUser() and user() return public profiles only, or NOT_FOUND', async () => {
    expect(await im.findUser('bob')).toEqual(bob);
    expect(await im.user(bob.id)).toEqual(bob);
    await expect(im.findUser('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('requestContact() asks, acceptContact() makes both contacts; unknown users and oneself are refused', async () => {
    expect(await im.requestContact(alice.id, bob.id)).toEqual({ status: 'requested', user: bob });
    expect(await im.contacts(alice.id)).toEqual([]);
    expect(await im.contactRequests(bob.id)).toEqual({ incoming: [alice], outgoing: [] });
    expect(await im.acceptContact(bob.id, alice.id)).toEqual(alice);
    expect(await im.contacts(alice.id)).toEqual([{ ...bob, online: false }]);
    expect(await im.contacts(bob.id)).toEqual([{ ...alice, online: false }]);
    expect(await im.contactRequests(bob.id)).toEqual({ incoming: [], outgoing: [] });
    await expect(im.requestContact(alice.id, 'ghost' as UserId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(im.requestContact(alice.id, alice.id)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('directConversation() creates the pair conversation once and announces only the creation', async () => {
    const a1 = online(alice, 'a1');
    const b1 = online(bob, 'b1');
    const first = await im.directConversation(alice.id, bob.id, a1);
    expect(first).toMatchObject({ created: true, conversation: { kind: 'direct', memberIds: [alice.id, bob.id], name: 'ALICE, BOB' } });
    const again = await im.directConversation(bob.id, alice.id);
    expect(again).toEqual({ conversation: first.conversation, created: false });
    expect(b1.inbox).toEqual([{ type: 'conversation', conversation: first.conversation }]);
    expect(a1.inbox).toEqual([]);
  });

  it('directConversation() created by both users at once yields one conversation', async () => {
    const [x, y] = await Promise.all([im.directConversation(alice.id, bob.id), im.directConversation(bob.id, alice.id)]);
    expect(x.conversation.id).toBe(y.conversation.id);
    expect((await store.conversationsOf(alice.id)).length).toBe(1);
  });

  it('directConversation() with oneself or an unknown user is refused', async () => {
    await expect(im.directConversation(alice.id, alice.id)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(im.directConversation(alice.id, 'ghost' as UserId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('createGroup() puts the creator first, drops duplicates, and refuses unknown members', async () => {
    const group = await im.createGroup(alice.id, 'team', [bob.id, carol.id, bob.id, alice.id]);
    expect(group.memberIds).toEqual([alice.id, bob.id, carol.id]);
    await expect(im.createGroup(alice.id, 'bad', [bob.id, 'ghost' as UserId])).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/ghost/) });
    expect((await im.conversations(alice.id)).map((c) => c.name)).toEqual(['team']);
  });

  it('sendMessage() delivers to every device of every member except the sending one', async () => {
    const a1 = online(alice, 'a1');
    const a2 = online(alice, 'a2');
    const b1 = online(bob, 'b1');
    const c1 = online(carol, 'c1');
    const { conversation } = await im.directConversation(alice.id, bob.id);
    b1.inbox.length = 0;
    a1.inbox.length = 0;
    a2.inbox.length = 0;
    const message = await im.sendMessage(alice.id, conversation.id, 'hello', a1);
    expect(message).toMatchObject({ seq: 1, senderId: alice.id, kind: 'text', text: 'hello', sentAt: 42 });
    expect(a1.inbox).toEqual([]);
    expect(a2.inbox).toEqual([{ type: 'message', message }]);
    expect(b1.inbox).toEqual([{ type: 'message', message }]);
    expect(c1.inbox).toEqual([]);
    // The list carries the newest message, for its preview line; a conversation without one has none.
    const second = await im.sendMessage(bob.id, conversation.id, 'hi back');
    await im.createGroup(alice.id, 'quiet', [carol.id]);
    const listed = await im.conversations(alice.id);
    expect(listed.find((c) => c.id === conversation.id)?.lastMessage).toEqual(second);
    expect(listed.find((c) => c.name === 'quiet')).not.toHaveProperty('lastMessage');
  });

  it('non-members may neither send nor read; unknown conversations are NOT_FOUND', async () => {
    const { conversation } = await im.directConversation(alice.id, bob.id);
    await expect(im.sendMessage(carol.id, conversation.id, 'hi')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(im.history(carol.id, conversation.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(im.sendMessage(alice.id, 'nope' as ConversationId, 'hi')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.history(conversation.id, undefined, 10)).toEqual([]);
  });

  it('history() pages with beforeSeq and clamps the limit', async () => {
    const group = await im.createGroup(alice.id, 'g', [bob.id]);
    for (let n = 1; n <= 120; n++) await im.sendMessage(n % 2 ? alice.id : bob.id, group.id, `#${n}`);
    const latest = await im.history(bob.id, group.id);
    expect(latest.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 71 + i));
    expect((await im.history(bob.id, group.id, 71, 5)).map((m) => m.seq)).toEqual([66, 67, 68, 69, 70]);
    expect(await im.history(bob.id, group.id, undefined, 1000)).toHaveLength(100);
  });

  it('isMember(), conversation() and appendCallRecord() serve the call module; the record is kept with the call records too', async () => {
    const b1 = online(bob, 'b1');
    const a1 = online(alice, 'a1');
    const { conversation } = await im.directConversation(alice.id, bob.id);
    expect(await im.isMember(conversation.id, bob.id)).toBe(true);
    expect(await im.isMember(conversation.id, carol.id)).toBe(false);
    expect(await im.isMember('nope' as ConversationId, bob.id)).toBe(false);
    expect(await im.conversation(conversation.id)).toEqual(conversation);
    expect(await im.conversation('nope' as ConversationId)).toBeUndefined();

    const record: CallRecord = {
      callId: 'call-1' as CallId,
      initiator: alice.id,
      audioOnly: true,
      topology: 'p2p',
      participants: [alice.id, bob.id],
      startedAt: 1,
      answeredAt: 2,
      endedAt: 62,
      duration: 60,
      endReason: 'hangup',
      missed: false,
    };
    await im.appendCallRecord(conversation.id, record);
    const [message] = await im.history(bob.id, conversation.id);
    expect(message).toEqual({ id: expect.any(String), conversationId: conversation.id, seq: 1, senderId: alice.id, kind: 'call', call: record, sentAt: 42 });
    expect(b1.inbox).toContainEqual({ type: 'message', message });
    expect(a1.inbox).toContainEqual({ type: 'message', message });
    expect(await im.history(bob.id, conversation.id)).toEqual([message]);
    expect(await store.callRecord(record.callId)).toEqual({ record, conversationId: conversation.id });
    await expect(im.appendCallRecord('nope' as ConversationId, record)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('saveCallRecord() keeps a call that has no conversation', async () => {
    const loopback: CallRecord = {
      callId: 'loop-1' as CallId,
      initiator: alice.id,
      audioOnly: false,
      topology: 'loopback',
      participants: [alice.id],
      startedAt: 1,
      answeredAt: 1,
      endedAt: 11,
      duration: 10,
      endReason: 'hangup',
      missed: false,
    };
    await im.saveCallRecord(loopback);
    expect(await store.callRecord(loopback.callId)).toEqual({ record: loopback, conversationId: null });
  });
});
