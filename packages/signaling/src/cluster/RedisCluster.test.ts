import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StunServer } from '@roundtable/media/testing';
import type { CallId, ConversationId, RoomName, SignalPayload } from '@roundtable/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callFields } from '../calls/SavedState.js';
import { InProcessMediaServer } from '../media/InProcessMediaServer.js';
import { Signaling } from '../Signaling.js';
import { RedisServer, hasRedisServer } from '../testing/redisServer.js';
import { SfuPeer } from '../testing/sfuPeer.js';
import { TestClient } from '../testing/TestClient.js';
import { pumpSignals, until } from '../testing/wait.js';

// Two signaling nodes in this process, each with its own Redis connections and its own
// media server, on a real redis-server started here; both nodes open the same SQLite
// file (the store as it is: one file, WAL, two connections). UDP ports 64520-64549.
const tools = hasRedisServer();
let redis: RedisServer;
let dir = '';
const stun = new StunServer();
let stunUrl = '';
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  if (!tools) return;
  redis = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'rt-cluster-'));
  stunUrl = (await stun.listen()).url;
});
afterAll(async () => {
  stun.close();
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const NODE_TTL_MS = 1500;

/** Signaling nodes on one database and one Redis (each test its own database and key prefix), started by `node`. */
function nodesOnOneRedis(options: { maxRoomsPerUser?: number } = {}) {
  const dbPath = join(dir, `db-${Date.now()}-${Math.random()}.sqlite`);
  const keyPrefix = `t${Math.random().toString(36).slice(2, 8)}:`;
  const node = async (ports: [number, number]) => {
    const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: ports });
    // The node's cluster log, kept for a failure's message.
    const log: string[] = [];
    const keep = (level: string) => (obj: object, msg?: string) => {
      const fields = obj as { component?: string; event?: string };
      if (fields.component === 'cluster' || level !== 'info') log.push(`${Date.now() % 100_000} ${level} ${fields.event ?? ''} ${msg ?? ''} ${JSON.stringify(obj).slice(0, 300)}`);
      if (log.length > 60) log.shift();
    };
    const logger = { debug: () => undefined, info: keep('info'), warn: keep('warn'), error: keep('error') };
    const signaling = await Signaling.open({ dbPath, media, redisUrl: redis.url, cluster: { nodeTtlMs: NODE_TTL_MS, keyPrefix }, logger, ...options });
    const address = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
    cleanup.push(async () => {
      await signaling.close();
      await media.close();
    });
    const url = `ws://127.0.0.1:${address.port}/ws`;
    const signIn = async (name: string) => {
      const client = await TestClient.signIn(url, name, { timeoutMs: 15_000 });
      cleanup.push(() => client.close());
      return client;
    };
    return { signaling, url, signIn, log };
  };
  return { node, keyPrefix };
}

async function twoNodes(options: { maxRoomsPerUser?: number } = {}) {
  const { node, keyPrefix } = nodesOnOneRedis(options);
  const one = await node([64520, 64534]);
  const two = await node([64535, 64549]);
  return { one, two, keyPrefix };
}

/** One node alone: where a second would race it to adopt a gone node's calls. */
async function oneNode() {
  const { node, keyPrefix } = nodesOnOneRedis();
  return { one: await node([64520, 64534]), keyPrefix };
}

async function direct(from: TestClient, to: TestClient): Promise<ConversationId> {
  return (await from.request('conversations.direct', { userId: to.userId })).id;
}

async function p2pCall(from: TestClient, conversationId: ConversationId): Promise<CallId> {
  return ((await from.request('call.start', { conversationId, audioOnly: true, topology: 'p2p' })) as { callId: CallId }).callId;
}

/** Polls an asynchronous `check` every 200 ms until it holds, or throws after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Both see each other online: each node's mirror has the other's device. */
async function seeEachOther(a: { signaling: Signaling }, b: { signaling: Signaling }, ua: TestClient, ub: TestClient): Promise<void> {
  await until(() => a.signaling.router.isOnline(ub.userId) && b.signaling.router.isOnline(ua.userId), 10_000);
}

describe.skipIf(!tools)('signaling nodes sharing one Redis', () => {
  it('IM crosses nodes: a contact request and its acceptance, presence, a conversation and its messages', async () => {
    const { one, two } = await twoNodes();
    const alice = await one.signIn('calice');
    const bob = await two.signIn('cbob');
    await seeEachOther(one, two, alice, bob);

    await alice.request('contacts.add', { userId: bob.userId });
    await bob.waitFor('contact.request', (n) => n.from.id === alice.userId);
    await bob.request('contacts.accept', { userId: alice.userId });
    await alice.waitFor('contact.accepted', (n) => n.user.id === bob.userId);
    expect(await bob.request('contacts.list', {})).toEqual([expect.objectContaining({ id: alice.userId, online: true })]);
    expect(await bob.request('presence.watch', { userIds: [alice.userId] })).toEqual({ online: [alice.userId] });

    const conversationId = await direct(alice, bob);
    await bob.waitFor('conversation', (n) => n.conversation.id === conversationId);
    // A second device of Alice's, on Bob's node, hears what the first sends.
    const alice2 = await two.signIn('calice');
    // Delivery follows the registry: node one sends to the devices it knows of (its mirror).
    await until(() => one.signaling.router.devicesOf(alice.userId).length === 2, 10_000);
    const sent = await alice.request('messages.send', { conversationId, text: 'hello from node one' });
    expect((await bob.waitFor('message', (n) => n.message.id === sent.id)).message.text).toBe('hello from node one');
    await alice2.waitFor('message', (n) => n.message.id === sent.id);
    await alice.expectNo('message', (n) => n.message.id === sent.id);
    const reply = await bob.request('messages.send', { conversationId, text: 'and back from node two' });
    await alice.waitFor('message', (n) => n.message.id === reply.id);

    // Presence: Alice goes offline once her last device, on either node, is gone.
    await alice.close();
    await bob.expectNo('presence', (n) => n.userId === alice.userId, 500);
    await alice2.close();
    expect(await bob.waitFor('presence', (n) => n.userId === alice.userId)).toMatchObject({ online: false });
  }, 60_000);

  it('a 1:1 call across nodes: ringing, answer, signals both ways, hang-up and the record; a decline; being in a call on the other node is busy', async () => {
    const { one, two } = await twoNodes();
    const alice = await one.signIn('kalice');
    const bob = await two.signIn('kbob');
    await seeEachOther(one, two, alice, bob);
    const conversationId = await direct(alice, bob);

    const callId = await p2pCall(alice, conversationId);
    expect(await bob.waitFor('call.incoming', (n) => n.callId === callId)).toMatchObject({ from: alice.userId, waiting: false });
    expect(await bob.request('call.answer', { callId, audioOnly: true })).toMatchObject({ participants: [alice.userId, bob.userId] });
    await alice.waitFor('call.answered', (n) => n.callId === callId && n.by === bob.userId);
    await alice.request('call.signal', { callId, payload: { type: 'offer', sdp: 'v=0 offer from alice' } });
    expect((await bob.waitFor('call.signal', (n) => n.callId === callId && n.payload.type === 'offer')).from).toBe(alice.userId);
    await bob.request('call.signal', { callId, payload: { type: 'answer', sdp: 'v=0 answer from bob' } });
    await bob.request('call.signal', { callId, payload: { type: 'candidate', candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' } });
    await alice.waitFor('call.signal', (n) => n.callId === callId && n.payload.type === 'answer');
    await alice.waitFor('call.signal', (n) => n.callId === callId && n.payload.type === 'candidate');

    // The call is owned by node one: on node two, Bob is busy all the same.
    expect(await bob.send('call.start', { conversationId, audioOnly: true, topology: 'p2p' })).toMatchObject({ ok: false, error: { code: 'BUSY' } });

    await bob.request('call.bye', { callId, reason: 'hangup' });
    expect(await alice.waitFor('call.ended', (n) => n.callId === callId)).toMatchObject({ reason: 'remoteHangup', by: bob.userId });
    expect((await bob.waitFor('message', (n) => n.message.kind === 'call' && n.message.call?.callId === callId)).message.call).toMatchObject({ missed: false, endReason: 'hangup' });
    expect(one.signaling.calls.activeCalls + two.signaling.calls.activeCalls).toBe(0);

    // A decline from the other node ends the call for the caller.
    const declined = await p2pCall(alice, conversationId);
    await bob.waitFor('call.incoming', (n) => n.callId === declined);
    await bob.request('call.bye', { callId: declined, reason: 'hangup' });
    expect(await alice.waitFor('call.ended', (n) => n.callId === declined)).toMatchObject({ reason: 'remoteHangup', by: bob.userId });
  }, 90_000);

  it('call waiting across nodes: answering with switch hangs up the call owned by the other node', async () => {
    const { one, two } = await twoNodes();
    const alice = await one.signIn('walice');
    const bob = await two.signIn('wbob');
    const carol = await two.signIn('wcarol');
    await seeEachOther(one, two, alice, bob);
    const first = await p2pCall(alice, await direct(alice, bob));
    await bob.waitFor('call.incoming', (n) => n.callId === first);
    await bob.request('call.answer', { callId: first, audioOnly: true });

    // Carol's call is owned by node two, Bob's current one by node one.
    const second = await p2pCall(carol, await direct(carol, bob));
    expect(await bob.waitFor('call.incoming', (n) => n.callId === second)).toMatchObject({ from: carol.userId, waiting: true });
    expect(await bob.send('call.answer', { callId: second, audioOnly: true })).toMatchObject({ ok: false, error: { code: 'INVALID_STATE' } });
    await bob.request('call.answer', { callId: second, audioOnly: true, switch: true });
    expect(await alice.waitFor('call.ended', (n) => n.callId === first)).toMatchObject({ reason: 'remoteHangup', by: bob.userId });
    await carol.waitFor('call.answered', (n) => n.callId === second && n.by === bob.userId);
    expect(one.signaling.calls.activeCalls).toBe(0);
    expect(two.signaling.calls.activeCalls).toBe(1);
  }, 60_000);

  it('a 1:1 call through the media server of the caller\'s node: the callee on the other node sends and receives media, its SDP and candidates forwarded both ways', async () => {
    const { one, two } = await twoNodes();
    const alice = await one.signIn('salice');
    const bob = await two.signIn('sbob');
    await seeEachOther(one, two, alice, bob);
    const conversationId = await direct(alice, bob);
    const { callId } = (await alice.request('call.start', { conversationId, audioOnly: false, topology: 'sfu' })) as { callId: CallId };
    const peer = (client: TestClient, tag: number): SfuPeer => {
      const p = new SfuPeer(client.userId, { send: (payload: SignalPayload) => client.request('call.signal', { callId, payload }) }, stunUrl, tag);
      cleanup.push(() => p.close());
      cleanup.push(pumpSignals(client.notifications, 'call.signal', (payload) => p.handle(payload)));
      return p;
    };
    const pa = peer(alice, 1);
    const pb = peer(bob, 2);
    await bob.waitFor('call.incoming', (n) => n.callId === callId);
    await bob.request('call.answer', { callId, audioOnly: false });
    await until(() => pa.videoCount(bob.userId) > 10 && pb.videoCount(alice.userId) > 10, 30_000);
    expect(one.signaling.calls.participantCount).toBe(2);
    expect(two.signaling.calls.activeCalls).toBe(0);
    await bob.request('call.bye', { callId, reason: 'hangup' });
    await alice.waitFor('call.ended', (n) => n.callId === callId);
  }, 60_000);

  it('a group call through the owner\'s media server: invitees on both nodes are rung, join and hear of each other, and leave', async () => {
    const { one, two } = await twoNodes();
    const alice = await one.signIn('galice');
    const bob = await two.signIn('gbob');
    const carol = await one.signIn('gcarol');
    await seeEachOther(one, two, alice, bob);
    const group = await alice.request('conversations.createGroup', { name: 'team', memberIds: [bob.userId, carol.userId] });
    const { callId } = (await alice.request('call.start', { conversationId: group.id, audioOnly: true, topology: 'sfu', invitees: [bob.userId, carol.userId] })) as { callId: CallId };
    await bob.waitFor('call.incoming', (n) => n.callId === callId && n.group);
    await carol.waitFor('call.incoming', (n) => n.callId === callId && n.group);

    await bob.request('call.answer', { callId, audioOnly: true });
    const existing = await bob.waitFor('call.signal', (n) => n.callId === callId && n.payload.type === 'existingParticipants');
    expect(existing.payload).toMatchObject({ data: [alice.userId] });
    await alice.waitFor('call.signal', (n) => n.callId === callId && n.payload.type === 'newParticipantArrived' && n.payload.name === bob.userId);
    await carol.request('call.answer', { callId, audioOnly: true });
    await bob.waitFor('call.answered', (n) => n.callId === callId && n.by === carol.userId);
    await bob.request('call.state', { callId, audioMuted: true });
    await carol.waitFor('call.participantState', (n) => n.callId === callId && n.userId === bob.userId && n.state.audioMuted === true);
    expect(one.signaling.calls.participantCount).toBe(3);

    await bob.request('call.bye', { callId, reason: 'hangup' });
    await alice.waitFor('call.left', (n) => n.callId === callId && n.userId === bob.userId);
    await alice.request('call.bye', { callId, reason: 'hangup' });
    await carol.waitFor('call.ended', (n) => n.callId === callId);
  }, 60_000);

  it('rooms across nodes: the room lives on the node that opened it; joins, signals, state and leaves cross; the rooms-per-user quota counts both nodes', async () => {
    const { one, two } = await twoNodes({ maxRoomsPerUser: 1 });
    const [daily, other] = ['daily' as RoomName, 'other' as RoomName];
    const alice = await one.signIn('ralice');
    const bob = await two.signIn('rbob');
    await seeEachOther(one, two, alice, bob);
    expect(await alice.request('room.join', { room: daily })).toMatchObject({ participants: [] });
    expect(await bob.request('room.join', { room: daily })).toMatchObject({ participants: [alice.userId] });
    expect(one.signaling.rooms.openRooms).toBe(1);
    expect(two.signaling.rooms.openRooms).toBe(0);
    await bob.waitFor('room.signal', (n) => n.room === daily && n.payload.type === 'existingParticipants');
    await alice.waitFor('room.signal', (n) => n.room === daily && n.payload.type === 'newParticipantArrived' && n.payload.name === bob.userId);
    await bob.request('room.state', { room: daily, handRaised: true });
    await alice.waitFor('room.participantState', (n) => n.userId === bob.userId && n.state.handRaised === true);
    await alice.request('room.react', { room: daily, reaction: '👏' });
    await bob.waitFor('room.reaction', (n) => n.from === alice.userId);

    // Bob is in one room (on node one): another, opened on node two, is over his quota.
    expect(await bob.send('room.join', { room: other })).toMatchObject({ ok: false, error: { code: 'QUOTA_EXCEEDED' } });
    expect(two.signaling.rooms.openRooms).toBe(0);

    await bob.request('room.leave', { room: daily });
    await alice.waitFor('room.signal', (n) => n.payload.type === 'participantLeft' && n.payload.name === bob.userId);
    await bob.request('room.join', { room: other });
    expect(two.signaling.rooms.openRooms).toBe(1);
  }, 60_000);

  it('a device session logged out on one node ends on its sockets on the other node', async () => {
    const { one, two } = await twoNodes();
    const alice = await one.signIn('oalice');
    const sameDevice = await TestClient.connect(two.url, { timeoutMs: 15_000 });
    cleanup.push(() => sameDevice.close());
    await sameDevice.request('hello', { token: alice.token! });
    await alice.request('logout', {});
    expect(await sameDevice.waitFor('session.ended')).toMatchObject({ reason: 'loggedOut' });
    expect(await sameDevice.send('contacts.list', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
  }, 30_000);

  it('a call saved in Redis by a node that is gone is taken over by the node that finds it gone: owner and in-call entries move to it in one step, the participants signal in it and hang up, and its record is written', async () => {
    const { one, keyPrefix } = await oneNode();
    const alice = await one.signIn('galice');
    const bob = await one.signIn('gbob');
    const conversationId = await direct(alice, bob);
    const admin = new Redis(redis.url);
    cleanup.push(() => admin.disconnect());
    const k = (name: string): string => `${keyPrefix}${name}`;
    // What a node that died mid-call left in Redis: it owned the call, both users were in it (on its sockets), its own key expired.
    const callId = randomUUID() as CallId;
    const device = (c: TestClient, n: number) => ({ node: 'ghost', key: `ghost/${n}`, userId: c.userId, deviceId: c.deviceId! });
    const state = callFields({
      conversationId,
      initiator: alice.userId,
      audioOnly: true,
      topology: 'p2p',
      media: 'sfu',
      group: false,
      startedAt: Date.now() - 5000,
      answeredAt: Date.now() - 4000,
      mediaRoom: null,
      participants: [device(alice, 1), device(bob, 2)],
      ringing: [],
      everJoined: [alice.userId, bob.userId],
      states: [],
    });
    const ownerKey = k(`owner:call:${callId}`);
    await admin
      .multi()
      .set(ownerKey, 'ghost')
      .hset(k(`state:call:${callId}`), { owner: 'ghost', ...state })
      .set(k(`incall:${alice.userId}`), `ghost|${callId}`)
      .set(k(`incall:${bob.userId}`), `ghost|${callId}`)
      .sadd(k('owned:ghost'), ownerKey, k(`incall:${alice.userId}`), k(`incall:${bob.userId}`))
      .sadd(k('nodes'), 'ghost')
      .exec();

    // Node one finds the ghost gone (missing for twice the TTL) and takes the call over; the reconnected devices (same device ids) are in it.
    const me = one.signaling.cluster.nodeId;
    await eventually(async () => (await admin.get(ownerKey)) === me, 15_000);
    expect(await admin.mget(k(`incall:${alice.userId}`), k(`incall:${bob.userId}`))).toEqual([`${me}|${callId}`, `${me}|${callId}`]);
    expect(await admin.hget(k(`state:call:${callId}`), 'owner')).toBe(me);
    await alice.request('call.signal', { callId, payload: { type: 'offer', sdp: 'v=0 after the takeover' } });
    await bob.waitFor('call.signal', (n) => n.callId === callId && n.payload.type === 'offer');
    expect(await alice.request('call.start', { conversationId, audioOnly: true, topology: 'p2p' }).catch((error: unknown) => error)).toMatchObject({ code: 'BUSY' });

    await alice.request('call.bye', { callId, reason: 'hangup' });
    await bob.waitFor('call.ended', (n) => n.callId === callId && n.by === alice.userId);
    await eventually(async () => (await admin.exists(ownerKey, k(`state:call:${callId}`))) === 0, 5000);
    const history = await bob.request('messages.history', { conversationId });
    expect(history.find((m) => m.call?.callId === callId)?.call).toMatchObject({ endReason: 'hangup', missed: false, participants: [alice.userId, bob.userId] });
  }, 60_000);

  /** Alice and Bob on node one in an answered call that node one owns (its state saved). */
  async function answeredCallOnOne() {
    const nodes = await twoNodes();
    const { one, keyPrefix } = nodes;
    const alice = await one.signIn(`salice${Math.random().toString(36).slice(2, 6)}`);
    const bob = await one.signIn(`sbob${Math.random().toString(36).slice(2, 6)}`);
    const conversationId = await direct(alice, bob);
    const callId = await p2pCall(alice, conversationId);
    await bob.waitFor('call.incoming', (n) => n.callId === callId);
    await bob.request('call.answer', { callId, audioOnly: true });
    await alice.waitFor('call.answered', (n) => n.callId === callId);
    const admin = new Redis(redis.url);
    cleanup.push(() => admin.disconnect());
    const k = (name: string): string => `${keyPrefix}${name}`;
    await eventually(async () => (await admin.hget(k(`state:call:${callId}`), 'owner')) === one.signaling.cluster.nodeId, 5000);
    return { ...nodes, alice, bob, callId, admin, k };
  }

  it('a node whose own key expired while another node took its call over drops the call without a word at its next beat, and registers again', async () => {
    const { one, two, alice, bob, callId, admin, k } = await answeredCallOnOne();
    // As if node one had stalled past its TTL and node two had adopted the call meanwhile.
    const adopter = two.signaling.cluster.nodeId;
    await admin.multi().set(k(`owner:call:${callId}`), adopter).del(k(`node:${one.signaling.cluster.nodeId}`), k(`devices:${one.signaling.cluster.nodeId}`)).exec();
    const deletedAt = Date.now() % 100_000;
    await until(() => !one.signaling.calls.find(callId), 10_000, () => {
      // Its heartbeat's inner state, for the failure's message only.
      const inner = one.signaling.cluster as unknown as { ticking?: boolean; beaten?: boolean; cmd?: { status?: string } };
      return { deletedAt, now: Date.now() % 100_000, ticking: inner.ticking, beaten: inner.beaten, status: inner.cmd?.status, one: one.log, two: two.log.slice(-10) };
    });
    await alice.expectNo('call.ended', (n) => n.callId === callId, 300);
    await bob.expectNo('call.ended', (n) => n.callId === callId, 300);
    // Node one's saves no longer touch the adopter's call; its devices are registered again (node two sees them).
    expect(await admin.get(k(`owner:call:${callId}`))).toBe(adopter);
    await eventually(async () => (await admin.hlen(k(`devices:${one.signaling.cluster.nodeId}`))) === 2, 5000);
    await until(() => two.signaling.router.isOnline(alice.userId), 10_000);
  }, 60_000);

  it('a node cut off from Redis while another node took its call over drops the call when it reconnects, and leaves the call and its in-call entries to the adopter', async () => {
    const { one, two, alice, bob, callId, admin, k } = await answeredCallOnOne();
    // As if node one had lost Redis for longer than its TTL and node two had adopted the call meanwhile (node one's key is left: only the reconnection tells it).
    const adopter = two.signaling.cluster.nodeId;
    await admin
      .multi()
      .set(k(`owner:call:${callId}`), adopter)
      .hset(k(`state:call:${callId}`), 'owner', adopter)
      .set(k(`incall:${alice.userId}`), `${adopter}|${callId}`)
      .set(k(`incall:${bob.userId}`), `${adopter}|${callId}`)
      .exec();
    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await until(() => !one.signaling.calls.find(callId), 10_000);
    await alice.expectNo('call.ended', (n) => n.callId === callId, 300);
    await bob.expectNo('call.ended', (n) => n.callId === callId, 300);
    expect(await admin.get(k(`owner:call:${callId}`))).toBe(adopter);
    expect(await admin.hget(k(`state:call:${callId}`), 'owner')).toBe(adopter);
    expect(await admin.mget(k(`incall:${alice.userId}`), k(`incall:${bob.userId}`))).toEqual([`${adopter}|${callId}`, `${adopter}|${callId}`]);
    await eventually(async () => (await admin.hlen(k(`devices:${one.signaling.cluster.nodeId}`))) === 2, 5000);
  }, 60_000);

  it('Redis restarted: readiness says so, the nodes re-register, and messages and a call that was going on cross again', async () => {
    const { one, two } = await twoNodes();
    const alice = await one.signIn('xalice');
    const bob = await two.signIn('xbob');
    await seeEachOther(one, two, alice, bob);
    const conversationId = await direct(alice, bob);
    const callId = await p2pCall(alice, conversationId);
    await bob.waitFor('call.incoming', (n) => n.callId === callId);
    await bob.request('call.answer', { callId, audioOnly: true });

    await redis.stop();
    await eventually(async () => !(await one.signaling.readiness()).cluster, 10_000);
    await redis.restart();
    await eventually(async () => (await one.signaling.readiness()).cluster && (await two.signaling.readiness()).cluster, 15_000);
    // Nobody went offline for the others while Redis was away and the nodes came back.
    expect(one.signaling.router.isOnline(bob.userId)).toBe(true);

    // The call's owner is registered again: Bob's signal and hang-up reach Alice through node one.
    await eventually(async () => (await bob.send('call.signal', { callId, payload: { type: 'offer', sdp: 'v=0 again' } })).ok, 15_000);
    await alice.waitFor('call.signal', (n) => n.callId === callId && n.payload.type === 'offer');
    await bob.request('call.bye', { callId, reason: 'hangup' });
    await alice.waitFor('call.ended', (n) => n.callId === callId);
    const sent = await alice.request('messages.send', { conversationId, text: 'after the restart' });
    await bob.waitFor('message', (n) => n.message.id === sent.id);
    // A device that arrives now is seen by the other node.
    const carol = await two.signIn('xcarol');
    await until(() => one.signaling.router.isOnline(carol.userId), 10_000);
  }, 90_000);
});
