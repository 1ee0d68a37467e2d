import type { CallId, ConversationId } from '@roundtable/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessMediaServer } from '../media/InProcessMediaServer.js';
import { Signaling, type SignalingOptions } from '../Signaling.js';
import { TestClient } from '../testing/TestClient.js';

// Call waiting, blocking and call requests over the real server and WebSockets (P2P calls:
// no media is made). Ports 64500-64509 (none is bound by P2P calls).
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function start(options: Omit<SignalingOptions, 'media' | 'dbPath'> = {}) {
  const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: [64500, 64509] });
  const signaling = await Signaling.open({ ...options, dbPath: ':memory:', media });
  const address = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${address.port}/ws`;
  cleanup.push(async () => {
    await signaling.close();
    await media.close();
  });
  const signIn = async (name: string) => {
    const client = await TestClient.signIn(url, name, { timeoutMs: 10_000 });
    cleanup.push(() => client.close());
    return client;
  };
  return { signaling, signIn };
}

type Started = { callId: CallId; ended?: string };

async function direct(from: TestClient, to: TestClient): Promise<ConversationId> {
  return (await from.request('conversations.direct', { userId: to.userId })).id;
}

function call(from: TestClient, conversationId: ConversationId): Promise<Started> {
  return from.request('call.start', { conversationId, audioOnly: true, topology: 'p2p' }) as Promise<Started>;
}

describe('call waiting', () => {
  it('a call to someone in a call rings as waiting; answering it with switch leaves the current call, which ends for the other side', async () => {
    const env = await start();
    const [alice, bob, carol] = [await env.signIn('alice'), await env.signIn('bob'), await env.signIn('carol')];
    const first = await call(alice, await direct(alice, bob));
    expect((await bob.waitFor('call.incoming', (n) => n.callId === first.callId)).waiting).toBe(false);
    await bob.request('call.answer', { callId: first.callId, audioOnly: true });

    const second = await call(carol, await direct(carol, bob));
    expect(second.ended).toBeUndefined();
    const waiting = await bob.waitFor('call.incoming', (n) => n.callId === second.callId);
    expect(waiting).toMatchObject({ from: carol.userId, waiting: true, request: false });
    // Without switch, answering would put Bob in two calls.
    expect(await bob.send('call.answer', { callId: second.callId, audioOnly: true })).toMatchObject({ ok: false, error: { code: 'INVALID_STATE' } });

    expect(await bob.request('call.answer', { callId: second.callId, audioOnly: true, switch: true })).toMatchObject({ participants: [carol.userId, bob.userId] });
    expect(await alice.waitFor('call.ended', (n) => n.callId === first.callId)).toMatchObject({ reason: 'remoteHangup', by: bob.userId });
    await carol.waitFor('call.answered', (n) => n.callId === second.callId && n.by === bob.userId);
    expect(env.signaling.calls.activeCalls).toBe(1);
    expect(env.signaling.calls.participantCount).toBe(2);
    // Alice is free again: she may call, and Bob's phone shows hers as waiting.
    const third = await call(alice, await direct(alice, bob));
    expect((await bob.waitFor('call.incoming', (n) => n.callId === third.callId)).waiting).toBe(true);
  });

  it('a waiting call declined with busy ends for its caller with busy; the current call goes on', async () => {
    const env = await start();
    const [alice, bob, carol] = [await env.signIn('alice'), await env.signIn('bob'), await env.signIn('carol')];
    const first = await call(alice, await direct(alice, bob));
    await bob.request('call.answer', { callId: first.callId, audioOnly: true });
    const second = await call(carol, await direct(carol, bob));
    await bob.waitFor('call.incoming', (n) => n.callId === second.callId);
    await bob.request('call.bye', { callId: second.callId, reason: 'busy' });
    expect(await carol.waitFor('call.ended', (n) => n.callId === second.callId)).toMatchObject({ reason: 'busy', by: bob.userId });
    expect(env.signaling.calls.find(first.callId)?.participants.size).toBe(2);
    await alice.expectNo('call.ended');
  });

  it('being rung, again and again, never makes a user busy: they place their own call, and others still reach them', async () => {
    const env = await start();
    const [mallory, bob, carol, dave] = [await env.signIn('mallory'), await env.signIn('bob'), await env.signIn('carol'), await env.signIn('dave')];
    const mb = await direct(mallory, bob);
    for (let i = 0; i < 3; i++) {
      const ring = await call(mallory, mb);
      await bob.waitFor('call.incoming', (n) => n.callId === ring.callId);
      if (i < 2) await mallory.request('call.bye', { callId: ring.callId, reason: 'hangup' });
    }
    // Still being rung by Mallory: Carol's call rings too, not as waiting, and Bob calls Dave himself.
    const fromCarol = await call(carol, await direct(carol, bob));
    expect(fromCarol.ended).toBeUndefined();
    expect((await bob.waitFor('call.incoming', (n) => n.callId === fromCarol.callId)).waiting).toBe(false);
    const own = await call(bob, await direct(bob, dave));
    expect(own.ended).toBeUndefined();
    await dave.request('call.answer', { callId: own.callId, audioOnly: true });
    await bob.waitFor('call.answered', (n) => n.callId === own.callId);
    // Mallory's and Carol's calls still ring Bob (now waiting) until he answers or declines them.
    expect(env.signaling.calls.find(fromCarol.callId)?.ringing.has(bob.userId)).toBe(true);
    await bob.request('call.bye', { callId: fromCarol.callId, reason: 'busy' });
    await carol.waitFor('call.ended', (n) => n.callId === fromCarol.callId && n.reason === 'busy');
  });
});

describe('blocking and call requests', () => {
  it('a blocked caller gets FORBIDDEN, without ringing anyone, and a blocked sender\'s 1:1 message is refused and not stored; unblocking restores both', async () => {
    const env = await start();
    const [alice, mallory] = [await env.signIn('alice'), await env.signIn('mallory')];
    const conversationId = await direct(mallory, alice);
    await alice.request('blocks.add', { userId: mallory.userId });
    expect((await alice.request('blocks.list')).map((u) => u.username)).toEqual(['mallory']);

    expect(await mallory.send('call.start', { conversationId, audioOnly: true, topology: 'p2p' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: 'this user does not accept this from you' } });
    expect(await mallory.send('messages.send', { conversationId, text: 'hello?' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await mallory.send('contacts.add', { userId: alice.userId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    await alice.expectNo('call.incoming');
    expect(env.signaling.calls.activeCalls).toBe(0);
    expect(await alice.request('messages.history', { conversationId })).toEqual([]);
    // Alice may still call Mallory (the block is hers).
    const hers = await call(alice, conversationId);
    await mallory.waitFor('call.incoming', (n) => n.callId === hers.callId);
    await alice.request('call.bye', { callId: hers.callId, reason: 'hangup' });

    await alice.request('blocks.remove', { userId: mallory.userId });
    expect(await alice.request('blocks.list')).toEqual([]);
    const again = await call(mallory, conversationId);
    await alice.waitFor('call.incoming', (n) => n.callId === again.callId);
    await mallory.request('messages.send', { conversationId, text: 'sorry' });
    await alice.waitFor('message', (n) => n.message.text === 'sorry');
  });

  it('in a group, a blocked member\'s messages and calls do not reach the blocker; the others get them', async () => {
    const env = await start();
    const [alice, bob, mallory] = [await env.signIn('alice'), await env.signIn('bob'), await env.signIn('mallory')];
    const group = await mallory.request('conversations.createGroup', { name: 'Team', memberIds: [alice.userId, bob.userId] });
    await alice.request('blocks.add', { userId: mallory.userId });
    await mallory.request('messages.send', { conversationId: group.id, text: 'from mallory' });
    await bob.waitFor('message', (n) => n.message.text === 'from mallory');
    await bob.request('messages.send', { conversationId: group.id, text: 'from bob' });
    await alice.waitFor('message', (n) => n.message.text === 'from bob');
    expect(alice.notifications.some((n) => n.type === 'message' && n.message.text === 'from mallory')).toBe(false);
    expect((await alice.request('messages.history', { conversationId: group.id })).map((m) => m.text)).toEqual(['from bob']);
    expect((await bob.request('messages.history', { conversationId: group.id })).map((m) => m.text)).toEqual(['from mallory', 'from bob']);

    const started = (await mallory.request('call.start', { conversationId: group.id, audioOnly: true, topology: 'sfu', invitees: [alice.userId, bob.userId] })) as { callId: CallId; invitees: string[] };
    expect(started.invitees).toEqual([bob.userId]);
    await bob.waitFor('call.incoming', (n) => n.callId === started.callId);
    await alice.expectNo('call.incoming');
  });

  it('with callsFromNonContacts "request", a non-contact\'s call comes as a request and a contact\'s rings; accepting the request answers it', async () => {
    const env = await start();
    const [alice, bob, stranger] = [await env.signIn('alice'), await env.signIn('bob'), await env.signIn('stranger')];
    expect(await alice.request('settings.get')).toEqual({ callsFromNonContacts: 'ring' });
    expect(await alice.request('settings.set', { callsFromNonContacts: 'request' })).toEqual({ callsFromNonContacts: 'request' });
    expect(await alice.send('settings.set', { callsFromNonContacts: 'never' } as never)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await alice.request('settings.get')).toEqual({ callsFromNonContacts: 'request' });
    await bob.request('contacts.add', { userId: alice.userId });
    await alice.request('contacts.accept', { userId: bob.userId });

    const fromStranger = await call(stranger, await direct(stranger, alice));
    expect(await alice.waitFor('call.incoming', (n) => n.callId === fromStranger.callId)).toMatchObject({ request: true, waiting: false });
    await alice.request('call.answer', { callId: fromStranger.callId, audioOnly: true });
    await stranger.waitFor('call.answered', (n) => n.callId === fromStranger.callId);
    await alice.request('call.bye', { callId: fromStranger.callId, reason: 'hangup' });

    const fromBob = await call(bob, await direct(bob, alice));
    expect(await alice.waitFor('call.incoming', (n) => n.callId === fromBob.callId)).toMatchObject({ request: false });
  });
});
