import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import { useRoundtableNodes, type RoundtableProcess } from './roundtableProcess.js';
import { RtpCounter, signUp, until } from '../../packages/client/src/testing/harness.js';
import { MediaNodeRegistry } from '../../packages/signaling/src/media/nodes/MediaNodeRegistry.js';
import { RedisServer, hasRedisServer } from '../../packages/signaling/src/testing/index.js';

// Two signaling and two media processes (the real CLI) on one Redis and one SQLite file.
// Media ports: 63400-63429 and 63430-63459 (one shared UDP port each, then their ranges).
const tools = hasRedisServer();
const env = useTestPeerEnvironment();
let redis: RedisServer | undefined;
let registry: MediaNodeRegistry | undefined;
type Node = RoundtableProcess;
const { mediaNode, signalingNode: startSignalingNode, balancer } = useRoundtableNodes('mediaNodes', { first: () => registry?.close(), last: () => redis?.close() });
const signalingNode = (redisUrl: string) => startSignalingNode(redisUrl, 1000);

describe.skipIf(!tools)('media nodes registered in Redis (processes)', () => {
  it('a room spread over two signaling nodes is placed on the least-loaded media node; that node SIGKILLed, the room moves to the other one and media flows again within 10 s; Redis restarted, nothing moves and the stored messages stay; a signaling node SIGKILLed, its client reconnects to the other and the room goes on', async () => {
    redis = await RedisServer.start();
    const [media1, media2, sig1, sig2] = await Promise.all([mediaNode(redis.url, 63400), mediaNode(redis.url, 63430), signalingNode(redis.url), signalingNode(redis.url)]);
    registry = await MediaNodeRegistry.connect({ url: redis.url });
    // Each media node registers before it says it listens.
    const nodes = await registry.list();
    expect(nodes.map((n) => n.url).sort()).toEqual([media1.kurento, media2.kurento].sort());

    // Alice on signaling node one; Bob through the balancer, on node two while it lives.
    const alice = await signUp(env, sig1.ws!, 'malice', 1);
    const bob = await signUp(env, await balancer([sig2.ws!, sig1.ws!]), 'mbob', 2);
    const aliceRoom = await alice.client.joinRoom('nodes-standup', { localMedia: alice.localMedia });
    const bobRoom = await bob.client.joinRoom('nodes-standup', { localMedia: bob.localMedia });
    const [aliceGot, bobGot] = [new RtpCounter(aliceRoom), new RtpCounter(bobRoom)];
    await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'alice and bob get each other', 30_000);
    let moves = 0;
    aliceRoom.on('moved', () => moves++);

    // The room is on one media node (the other has none), as its heartbeat says.
    let placed: { url: string; participants: number } | undefined;
    const deadline = Date.now() + 10_000;
    while (!placed && Date.now() < deadline) {
      placed = (await registry.list()).find((n) => n.rooms === 1 && n.participants === 2);
      if (!placed) await new Promise((r) => setTimeout(r, 200));
    }
    expect(placed, `media nodes in Redis: ${JSON.stringify(await registry.list())}`).toBeDefined();
    const [holder, other] = placed!.url === media1.kurento ? [media1, media2] : [media2, media1];

    // Chat across the signaling nodes, then Redis restarts (empty): the nodes register again, no room moves, the message stays.
    const conversationId = (await alice.client.im.directConversation(bob.id)).id;
    const before = await alice.client.im.sendMessage(conversationId, 'before Redis restarted');
    await redis.restart();
    const readyz = async (node: Node): Promise<number> => (await fetch(`${node.url}readyz`)).status;
    const ready = async (): Promise<boolean> => (await Promise.all([sig1, sig2, media1, media2].map(readyz))).every((s) => s === 200);
    const readyBy = Date.now() + 20_000;
    while (!(await ready().catch(() => false)) || (await registry.list().catch(() => [])).length < 2) {
      if (Date.now() > readyBy) throw new Error('the nodes are not ready again 20 s after Redis restarted');
      await new Promise((r) => setTimeout(r, 200));
    }
    const flowing = aliceGot.snapshot();
    await until(() => aliceGot.grew(bob.id, 10, flowing), 'media still flows after Redis restarted', 10_000);
    expect(moves).toBe(0);
    expect((await bob.client.im.history(conversationId)).map((m) => m.id)).toContain(before.id);

    // The media node of the room is killed: the room moves to the other one, and media comes back.
    const killedAt = Date.now();
    const [aliceAtKill, bobAtKill] = [aliceGot.snapshot(), bobGot.snapshot()];
    holder.child.kill('SIGKILL');
    await until(() => aliceGot.grew(bob.id, 10, aliceAtKill) && bobGot.grew(alice.id, 10, bobAtKill), 'media flows again after the media node was killed', 30_000, () => [aliceRoom.state, bobRoom.state]);
    const gapMs = Date.now() - killedAt;
    console.log(`media gap of the moved room: ${gapMs} ms (kill to 10 packets each way on the new media node)`);
    expect(gapMs).toBeLessThan(10_000);
    expect(moves).toBe(1);
    expect([aliceRoom.endReason, bobRoom.endReason]).toEqual([undefined, undefined]);
    expect(alice.client.activeRooms).toEqual([aliceRoom]);
    const after = await registry.list();
    expect(after.map((n) => n.url)).toEqual([other.kurento]);

    // Signaling node two (Bob's, not the room's owner) is killed: Bob's client reconnects through the balancer to node one and the room goes on.
    const bobAtSigKill = aliceGot.snapshot();
    sig2.child.kill('SIGKILL');
    await sig2.exited;
    await until(() => bob.sockets.length >= 2, 'bob reconnects', 20_000);
    await until(() => aliceGot.grew(bob.id, 10, bobAtSigKill) && bobRoom.state === 'CONNECTED', 'bob\'s media reaches alice again', 30_000, () => [bobRoom.state, aliceRoom.state]);
    expect([aliceRoom.endReason, bobRoom.endReason]).toEqual([undefined, undefined]);
    const bobAgain = bobGot.snapshot();
    await until(() => bobGot.grew(alice.id, 10, bobAgain), 'alice\'s media reaches bob again', 30_000);

    await Promise.all([aliceRoom.leave(), bobRoom.leave()]);
    sig1.child.kill('SIGTERM');
    other.child.kill('SIGTERM');
    await Promise.all([sig1.exited, other.exited]);
    // Five processes and two werift clients: 35 s on a quiet 2-core machine, 110 s at a load of 25.
  }, 180_000);
});
