import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallId, ConversationId } from '@roundtable/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { startRoundtable, type RoundtableProcess } from './roundtableProcess.js';
import { RedisServer, TestClient, hasRedisServer } from '../../packages/signaling/src/testing/index.js';

// Two `roundtable start` processes (the real CLI) on one Redis and one SQLite file, as
// behind a load balancer. Media ports: 64700-64719 and 64720-64739.
const tools = hasRedisServer();
const dir = mkdtempSync(join(tmpdir(), 'rt-signaling-nodes-'));
const db = join(dir, 'roundtable.db');
const running: ChildProcess[] = [];
const clients: TestClient[] = [];
let redis: RedisServer | undefined;
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Node extends RoundtableProcess {
  ws: string;
  metrics: string;
}

/** A signaling node: `roundtable start` with `--redis-url`; resolves once it listens. */
async function startNode(redisUrl: string, portRange: string): Promise<Node> {
  const args = ['start', '--host', '127.0.0.1', '--port', '0', '--kurento', 'off', '--db', db, '--ice-addresses', '127.0.0.1', '--port-range', portRange, '--media-workers', '0'];
  args.push('--metrics-port', '0', '--redis-url', redisUrl, '--redis-node-ttl-ms', '1000');
  const node = await startRoundtable(args, dir, running);
  return { ...node, ws: node.ws!, metrics: node.metrics! };
}

async function signIn(node: Node, name: string): Promise<TestClient> {
  const client = await TestClient.signIn(node.ws, name, { timeoutMs: 20_000 });
  clients.push(client);
  return client;
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function metric(node: Node, name: string): Promise<number | undefined> {
  const text = await (await fetch(node.metrics)).text();
  const line = text.split('\n').find((l) => l.startsWith(`roundtable_${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe.skipIf(!tools)('two signaling nodes on one Redis (processes)', () => {
  it('users on different nodes chat and call; a node SIGKILLed: the node left takes over the calls it owned, the calls owned by the node left go on, and its users sign in on the node left and go on in their calls, then call again; /readyz follows Redis', async () => {
    redis = await RedisServer.start();
    const one = await startNode(redis.url, '64700-64719');
    const two = await startNode(redis.url, '64720-64739');
    const readyz = async (node: Node) => (await fetch(`${node.url}readyz`)).json() as Promise<{ status: string; checks: Record<string, string> }>;
    expect(await readyz(one)).toMatchObject({ status: 'ready', checks: { redis: 'ok' } });

    const alice = await signIn(one, 'nalice');
    const bob = await signIn(two, 'nbob');
    // Each node's /metrics: the cluster it sees, and the users online over all nodes.
    await eventually(async () => (await metric(one, 'cluster_nodes')) === 2 && (await metric(two, 'users_online')) === 2, 'both nodes see both users');
    const conversationId = (await alice.request('conversations.direct', { userId: bob.userId })).id as ConversationId;
    const sent = await alice.request('messages.send', { conversationId, text: 'from node one' });
    await bob.waitFor('message', (n) => n.message.id === sent.id);

    // Bob's call is owned by node two; Alice answers from node one.
    const { callId } = (await bob.request('call.start', { conversationId, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await alice.waitFor('call.incoming', (n) => n.callId === callId);
    await alice.request('call.answer', { callId, audioOnly: true });
    await bob.waitFor('call.answered', (n) => n.callId === callId);
    expect(await metric(one, 'cluster_forwarded_requests')).toBeGreaterThanOrEqual(1);

    // Carol's call with Dave is owned by node one, which stays.
    const carol = await signIn(one, 'ncarol');
    const dave = await signIn(two, 'ndave');
    await eventually(async () => (await metric(one, 'users_online')) === 4, 'node one sees Dave');
    const carolDave = (await carol.request('conversations.direct', { userId: dave.userId })).id as ConversationId;
    const kept = ((await carol.request('call.start', { conversationId: carolDave, audioOnly: true, topology: 'p2p' })) as { callId: CallId }).callId;
    await dave.waitFor('call.incoming', (n) => n.callId === kept);
    await dave.request('call.answer', { callId: kept, audioOnly: true });
    await carol.waitFor('call.answered', (n) => n.callId === kept);

    two.child.kill('SIGKILL');
    await two.exited;
    // Dave's client reconnects to node one and signals in his call again at once: it goes on.
    const daveAgain = await signIn(one, 'ndave');
    await daveAgain.request('call.signal', { callId: kept, payload: { type: 'offer', sdp: 'v=0 ice restart after the node died' } });
    await carol.waitFor('call.signal', (n) => n.callId === kept && n.payload.type === 'offer');
    // Node one finds node two gone (its key expired, then missing twice its TTL) and takes over the call node two owned: Alice sees Bob reconnecting.
    expect(await alice.waitFor('call.participant', (n) => n.callId === callId && n.userId === bob.userId, 20_000)).toMatchObject({ connection: 'reconnecting' });
    await carol.expectNo('call.ended', (n) => n.callId === kept, 500);
    await daveAgain.request('call.bye', { callId: kept, reason: 'hangup' });
    await carol.waitFor('call.ended', (n) => n.callId === kept && n.by === daveAgain.userId);

    // Bob's client reconnects to the node that is left and signals in his call again: it goes on, then Alice hangs up.
    const bobAgain = await signIn(one, 'nbob');
    await bobAgain.request('call.signal', { callId, payload: { type: 'offer', sdp: 'v=0 ice restart after the owner died' } });
    await alice.waitFor('call.signal', (n) => n.callId === callId && n.payload.type === 'offer');
    expect(await alice.waitFor('call.participant', (n) => n.callId === callId && n.userId === bob.userId && n.connection === 'connected')).toBeDefined();
    await alice.expectNo('call.ended', (n) => n.callId === callId, 500);
    await alice.request('call.bye', { callId, reason: 'hangup' });
    await bobAgain.waitFor('call.ended', (n) => n.callId === callId && n.by === alice.userId);

    // They call again (and chat).
    const again = (await alice.request('call.start', { conversationId, audioOnly: true, topology: 'p2p' })) as { callId: CallId; ended?: string };
    expect(again.ended).toBeUndefined();
    await bobAgain.waitFor('call.incoming', (n) => n.callId === again.callId);
    await bobAgain.request('call.answer', { callId: again.callId, audioOnly: true });
    await alice.waitFor('call.answered', (n) => n.callId === again.callId);
    await alice.request('call.bye', { callId: again.callId, reason: 'hangup' });
    await bobAgain.waitFor('call.ended', (n) => n.callId === again.callId);
    const history = await bobAgain.request('messages.history', { conversationId });
    expect(history.map((m) => m.text)).toContain('from node one');

    // Redis gone: the node says it is not ready (a load balancer takes it out), and ready again once Redis is back.
    await redis.stop();
    await eventually(async () => (await fetch(`${one.url}readyz`)).status === 503, '/readyz says 503 without Redis');
    expect((await readyz(one)).checks['redis']).toMatch(/does not answer/);
    await redis.restart();
    await eventually(async () => (await fetch(`${one.url}readyz`)).status === 200, '/readyz is 200 with Redis back');

    one.child.kill('SIGTERM');
    await one.exited;
  }, 120_000);
});
