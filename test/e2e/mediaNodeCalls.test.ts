import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { ConversationId, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { useRoundtableNodes } from './roundtableProcess.js';
import type { Call } from '../../packages/client/src/Call.js';
import { nextIncoming, RtpCounter, signUp, until, type TestUser } from '../../packages/client/src/testing/harness.js';
import { MediaNodeRegistry } from '../../packages/signaling/src/media/nodes/MediaNodeRegistry.js';
import { RedisServer, hasRedisServer } from '../../packages/signaling/src/testing/index.js';

// One signaling and two media processes (the real CLI) on one Redis; a group call through
// a media node that is SIGKILLed mid-call (1:1 and P2P calls: calls/CallMoved.test.ts;
// rooms over two signaling nodes: mediaNodes.test.ts). Media ports: 58000-58029 and
// 58030-58059 (one shared UDP port each, then their ranges).
const tools = hasRedisServer();
const env = useTestPeerEnvironment();
let redis: RedisServer | undefined;
let registry: MediaNodeRegistry | undefined;
const { mediaNode, signalingNode } = useRoundtableNodes('mediaNodeCalls', { first: () => registry?.close(), last: () => redis?.close() });

/** `caller` starts a group call with `callees` in `conversationId`; each callee accepts. */
async function groupCall(caller: TestUser, callees: TestUser[], conversationId: ConversationId): Promise<Call[]> {
  const rings = callees.map((u) => Promise.race([nextIncoming(u.client), new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${u.client.userId} was not rung within 20 s`)), 20_000))]));
  const started = await caller.client.startCall(conversationId, { members: callees.map((u) => u.id), localMedia: caller.localMedia });
  const incoming = await Promise.all(rings);
  for (const [i, c] of incoming.entries()) await c.accept({ localMedia: callees[i]!.localMedia });
  return [started, ...incoming];
}

describe.skipIf(!tools)('calls through a media node that dies (processes)', () => {
  it("a group call through a media node that is SIGKILLed moves to the other media node: media flows again, the call stays CONNECTED with its participants and announced states, and its record ends as hung up", async () => {
    redis = await RedisServer.start();
    // One media node at first: every call is placed on it.
    const [media1, sig] = await Promise.all([mediaNode(redis.url, 58000), signalingNode(redis.url)]);
    registry = await MediaNodeRegistry.connect({ url: redis.url });

    const users: TestUser[] = [];
    for (const [i, name] of ['calice', 'cbob', 'ccarol'].entries()) users.push(await signUp(env, sig.ws!, name, i + 1));
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    // 25 packets a second of each kind (not 50): nine peer connections in this process on a busy machine.
    for (const u of users) {
      u.publisher.stop();
      u.publisher.start(40);
    }

    const group = await alice.client.im.createGroup('standup', [bob.id, carol.id]);
    const groupCalls = await groupCall(alice, [bob, carol], group.id);
    // The second media node comes up once the call is placed on the first.
    const media2 = await mediaNode(redis.url, 58030);

    const members = [alice, bob, carol];
    const groupGot = groupCalls.map((c) => new RtpCounter(c));
    const others = (i: number): TestUser[] => members.filter((_, j) => j !== i);
    const carolSeen = (c: Call) => c.participants.find((p) => p.id === carol.id);
    const carolMutedForAll = (): boolean => groupCalls.slice(0, 2).every((c) => carolSeen(c)?.audioMuted === true && carolSeen(c)?.handRaised === true);
    // Carol mutes below: her video is what the others get from her.
    const groupFlows = (since: Array<Record<string, number>> = []): boolean =>
      groupGot.every((got, i) => others(i).every((o) => (o === carol ? got.count(o.id, 'video') > (since[i]?.[`${o.id}/video`] ?? 0) + 10 : got.grew(o.id, 10, since[i]))));
    const states = () => groupCalls.map((c) => `${c.state}${c.endReason ? `/${c.endReason}` : ''}`);
    const detail = () => ({ states: states(), got: groupGot.map((g) => g.snapshot()), tracks: groupCalls.map((c) => c.participants.map((p) => `${p.id}:${p.state}:${p.tracks.length}`)) });
    await until(() => groupFlows(), 'media flows in the call', 90_000, detail);
    // Carol mutes and raises her hand: the others see it.
    await groupCalls[2]!.setAudioMuted(true);
    await groupCalls[2]!.setHandRaised(true);
    await until(carolMutedForAll, 'Carol is seen muted with her hand up', 20_000);
    expect(states()).toEqual(['CONNECTED', 'CONNECTED', 'CONNECTED']);

    // The group call is on the first node (its heartbeat counts it), the second has none.
    const placedBy = Date.now() + 10_000;
    let listed = await registry.list();
    while (!(listed.length === 2 && listed.find((n) => n.url === media1.kurento)?.participants === 3)) {
      if (Date.now() > placedBy) throw new Error(`the media nodes do not report the call on the first one: ${JSON.stringify(listed)}`);
      await new Promise((r) => setTimeout(r, 200));
      listed = await registry.list();
    }
    expect(listed.find((n) => n.url === media2.kurento)).toMatchObject({ rooms: 0, participants: 0 });

    const moves = new Map<Call, number>();
    for (const c of groupCalls) {
      moves.set(c, 0);
      c.on('moved', () => moves.set(c, moves.get(c)! + 1));
    }

    // The group call's media node is killed.
    const killedAt = Date.now();
    const atKill = { group: groupGot.map((g) => g.snapshot()) };
    media1.child.kill('SIGKILL');
    await until(() => groupFlows(atKill.group), 'media flows again in the group call after its media node was killed', 40_000, () => ({ states: states(), moves: [...moves.values()], group: groupGot.map((g) => g.snapshot()) }));
    const gap = Date.now() - killedAt;
    const movedLines = sig.log().split('\n').filter((l) => l.includes('"event":"callMediaMoved"'));
    console.log(`media gap of the moved group call: ${gap} ms (kill to 10 packets from each of the others at each of the three, on the new media node)\n${movedLines.join('\n')}`);

    // Every participant was moved once; the call goes on as it was: CONNECTED, the same people, Carol still muted with her hand up.
    expect(groupCalls.map((c) => moves.get(c))).toEqual([1, 1, 1]);
    expect(groupCalls.map((c) => [c.state, c.endReason])).toEqual(Array(3).fill(['CONNECTED', undefined]));
    expect(groupCalls.map((c) => c.participants.filter((p) => p.state === 'joined').map((p) => p.id).sort())).toEqual(members.map((_, i) => others(i).map((u) => u.id).sort()));
    expect(carolMutedForAll()).toBe(true);
    expect([groupCalls[2]!.audioMuted, groupCalls[2]!.handRaised]).toEqual([true, true]);
    // On the node that is left.
    const after = await registry.list();
    expect(after.map((n) => n.url)).toEqual([media2.kurento]);

    // Media keeps flowing there; then the calls are hung up, and their records say so (not mediaError).
    const later = groupGot.map((g) => g.snapshot());
    await until(() => groupFlows(later), 'media keeps flowing on the new media node', 20_000);
    await groupCalls[0]!.hangUp();
    await until(() => groupCalls.every((c) => c.ended), 'the call ended for everyone', 20_000, states);
    const lastRecord = async (u: TestUser, conversationId: ConversationId) => (await u.client.im.history(conversationId)).filter((m) => m.kind === 'call').at(-1)?.call;
    const record = await lastRecord(bob, group.id);
    expect(record).toMatchObject({ endReason: 'hangup', missed: false });
    expect([...(record?.participants ?? [])].sort()).toEqual(members.map((u) => u.id as UserId).sort());

    for (const node of [sig, media2]) node.child.kill('SIGTERM');
    await Promise.all([sig.exited, media2.exited]);
  }, 240_000);
});
