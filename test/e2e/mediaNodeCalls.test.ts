import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { ConversationId, UserId } from '@roundtable/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import type { Call } from '../../packages/client/src/Call.js';
import { nextIncoming, RtpCounter, signUp, until, type TestUser } from '../../packages/client/src/testing/harness.js';
import { MediaNodeRegistry } from '../../packages/signaling/src/media/nodes/MediaNodeRegistry.js';
import { RedisServer, hasRedisServer } from '../../packages/signaling/src/testing/index.js';

// One signaling and two media processes (the real CLI) on one Redis; calls through a
// media node that is SIGKILLed mid-call (calls and rooms over two signaling nodes:
// mediaNodes.test.ts and signalingNodes.test.ts). Media ports: 58000-58029 and
// 58030-58059 (one shared UDP port each, then their ranges).
const BIN = fileURLToPath(new URL('../../packages/server/bin/roundtable.mjs', import.meta.url));
const tools = hasRedisServer();
const env = useTestPeerEnvironment();
const dir = mkdtempSync(join(tmpdir(), 'rt-media-node-calls-'));
const db = join(dir, 'roundtable.db');
const running: ChildProcess[] = [];
let redis: RedisServer | undefined;
let registry: MediaNodeRegistry | undefined;
afterAll(async () => {
  await registry?.close();
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Node {
  child: ChildProcess;
  ws: string | undefined;
  kurento: string | undefined;
  /** Its log lines so far. */
  log: () => string;
  exited: Promise<unknown>;
}

/** `roundtable start` with these flags; resolves once it listens. */
async function startNode(args: string[]): Promise<Node> {
  const all = ['start', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--log-level', 'info', ...args];
  const child = spawn(process.execPath, [BIN, ...all], { cwd: dir, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise<Node>((resolve, reject) => {
    let listening = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (listening) return;
      const line = stdout.split('\n').find((l) => l.includes('"event":"listening"'));
      if (!line) return;
      listening = true;
      const said = JSON.parse(line) as { signaling?: string; kurento?: string };
      resolve({ child, ws: said.signaling, kurento: said.kurento, log: () => stdout, exited });
    });
    void exited.then(() => reject(new Error(`the node exited before listening: ${stdout}${stderr}`)));
  });
}

const mediaNode = (redisUrl: string, udpPort: number): Promise<Node> =>
  startNode(['--role', 'media', '--kurento-port', '0', '--redis-url', redisUrl, '--ice-addresses', '127.0.0.1', '--udp-port', String(udpPort), '--port-range', `${udpPort + 1}-${udpPort + 29}`]);
const signalingNode = (redisUrl: string): Promise<Node> => startNode(['--role', 'signaling', '--db', db, '--redis-url', redisUrl]);

/** `caller` calls `callees` in `conversationId` (a group call when more than one); each callee accepts. */
async function call(caller: TestUser, callees: TestUser[], conversationId: ConversationId, options: { topology?: 'p2p' | 'sfu'; audioOnly?: boolean } = {}): Promise<Call[]> {
  const media = (u: TestUser) => (options.audioOnly ? { getTracks: () => [u.publisher.audio] } : u.localMedia);
  const rings = callees.map((u) => Promise.race([nextIncoming(u.client), new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${u.client.userId} was not rung within 20 s`)), 20_000))]));
  const group = callees.length > 1;
  const started = await caller.client.startCall(conversationId, { ...(group ? { members: callees.map((u) => u.id) } : { topology: options.topology ?? 'sfu' }), audioOnly: options.audioOnly ?? false, localMedia: media(caller) });
  const incoming = await Promise.all(rings);
  for (const [i, c] of incoming.entries()) await c.accept({ localMedia: media(callees[i]!) });
  return [started, ...incoming];
}

describe.skipIf(!tools)('calls through a media node that dies (processes)', () => {
  it("a group call and a 1:1 call through media move to the other media node when theirs is SIGKILLed: media flows again, the calls stay CONNECTED with their participants and announced states, and their records end as hung up; a P2P call is not touched", async () => {
    redis = await RedisServer.start();
    // One media node at first: every call is placed on it.
    const [media1, sig] = await Promise.all([mediaNode(redis.url, 58000), signalingNode(redis.url)]);
    registry = await MediaNodeRegistry.connect({ url: redis.url });

    const users: TestUser[] = [];
    for (const [i, name] of ['calice', 'cbob', 'ccarol', 'cdave', 'cerin', 'cfrank', 'cgrace'].entries()) users.push(await signUp(env, sig.ws!, name, i + 1));
    const [alice, bob, carol, dave, erin, frank, grace] = users as [TestUser, TestUser, TestUser, TestUser, TestUser, TestUser, TestUser];

    const group = await alice.client.im.createGroup('standup', [bob.id, carol.id]);
    const groupCalls = await call(alice, [bob, carol], group.id);
    const daveErin = await dave.client.directConversation(erin.id);
    const directCalls = await call(dave, [erin], daveErin, { audioOnly: true });
    const frankGrace = await frank.client.directConversation(grace.id);
    const p2pCalls = await call(frank, [grace], frankGrace, { topology: 'p2p', audioOnly: true });
    // The second media node comes up once both calls are placed on the first.
    const media2 = await mediaNode(redis.url, 58030);

    const members = [alice, bob, carol];
    const groupGot = groupCalls.map((c) => new RtpCounter(c));
    const directGot = directCalls.map((c) => new RtpCounter(c));
    const p2pGot = p2pCalls.map((c) => new RtpCounter(c));
    const others = (i: number): TestUser[] => members.filter((_, j) => j !== i);
    const mediaCalls = [...groupCalls, ...directCalls];
    // Carol mutes and raises her hand: the others see it.
    await groupCalls[2]!.setAudioMuted(true);
    await groupCalls[2]!.setHandRaised(true);
    const carolSeen = (c: Call) => c.participants.find((p) => p.id === carol.id);
    const carolMutedForAll = (): boolean => groupCalls.slice(0, 2).every((c) => carolSeen(c)?.audioMuted === true && carolSeen(c)?.handRaised === true);
    // Carol is muted: her video is what the others get from her.
    const groupFlows = (since: Array<Record<string, number>> = []): boolean =>
      groupGot.every((got, i) => others(i).every((o) => (o === carol ? got.count(o.id, 'video') > (since[i]?.[`${o.id}/video`] ?? 0) + 10 : got.grew(o.id, 10, since[i]))));
    // The 1:1 calls are voice calls (less load on the machine): their audio is what flows.
    const heard = (got: RtpCounter[], [a, b]: [TestUser, TestUser], since: Array<Record<string, number>>): boolean =>
      got[0]!.count(b.id, 'audio') > (since[0]?.[`${b.id}/audio`] ?? 0) + 10 && got[1]!.count(a.id, 'audio') > (since[1]?.[`${a.id}/audio`] ?? 0) + 10;
    const directFlows = (since: Array<Record<string, number>> = []): boolean => heard(directGot, [dave, erin], since);
    const p2pFlows = (since: Array<Record<string, number>> = []): boolean => heard(p2pGot, [frank, grace], since);
    const states = () => [...mediaCalls, ...p2pCalls].map((c) => `${c.state}${c.endReason ? `/${c.endReason}` : ''}`);
    await until(() => groupFlows() && directFlows() && p2pFlows() && carolMutedForAll(), 'media flows in the three calls and Carol is seen muted with her hand up', 45_000, states);
    expect(mediaCalls.concat(p2pCalls).map((c) => c.state)).toEqual(Array(7).fill('CONNECTED'));

    // Both calls through media are on the first node (its heartbeat counts them), the second has none.
    const placedBy = Date.now() + 10_000;
    let listed = await registry.list();
    while (!(listed.length === 2 && listed.find((n) => n.url === media1.kurento)?.participants === 5)) {
      if (Date.now() > placedBy) throw new Error(`the media nodes do not report the calls on the first one: ${JSON.stringify(listed)}`);
      await new Promise((r) => setTimeout(r, 200));
      listed = await registry.list();
    }
    expect(listed.find((n) => n.url === media2.kurento)).toMatchObject({ rooms: 0, participants: 0 });

    const moves = new Map<Call, number>();
    let p2pAtFirstMove: Array<Record<string, number>> | undefined;
    for (const c of [...mediaCalls, ...p2pCalls]) {
      moves.set(c, 0);
      c.on('moved', () => {
        moves.set(c, moves.get(c)! + 1);
        p2pAtFirstMove ??= p2pGot.map((g) => g.snapshot());
      });
    }

    // The media node of both calls is killed.
    const killedAt = Date.now();
    const atKill = { group: groupGot.map((g) => g.snapshot()), direct: directGot.map((g) => g.snapshot()), p2p: p2pGot.map((g) => g.snapshot()) };
    media1.child.kill('SIGKILL');
    let groupBackAt = 0;
    let directBackAt = 0;
    await until(
      () => {
        if (!groupBackAt && groupFlows(atKill.group)) groupBackAt = Date.now();
        if (!directBackAt && directFlows(atKill.direct)) directBackAt = Date.now();
        return groupBackAt > 0 && directBackAt > 0;
      },
      'media flows again in both calls after their media node was killed',
      40_000,
      () => ({ states: states(), moves: [...moves.values()], group: groupGot.map((g) => g.snapshot()), direct: directGot.map((g) => g.snapshot()) }),
    );
    const [groupGap, directGap] = [groupBackAt - killedAt, directBackAt - killedAt];
    const movedLines = sig.log().split('\n').filter((l) => l.includes('"event":"callMediaMoved"'));
    console.log(`media gap of the moved calls: group call (3 people) ${groupGap} ms, 1:1 call ${directGap} ms (kill to 10 packets each way from everyone on the new media node)\n${movedLines.join('\n')}`);

    // Every participant of a call through media was moved once; the P2P call was not, and its media flowed meanwhile.
    expect(mediaCalls.map((c) => moves.get(c))).toEqual([1, 1, 1, 1, 1]);
    expect(p2pCalls.map((c) => moves.get(c))).toEqual([0, 0]);
    expect(p2pFlows(atKill.p2p)).toBe(true);
    expect(p2pAtFirstMove && p2pAtFirstMove[0]![`${grace.id}/audio`]! > (atKill.p2p[0]![`${grace.id}/audio`] ?? 0) + 10).toBe(true);
    // The calls go on as they were: CONNECTED, the same people, Carol still muted with her hand up.
    expect(mediaCalls.concat(p2pCalls).map((c) => [c.state, c.endReason])).toEqual(Array(7).fill(['CONNECTED', undefined]));
    expect(groupCalls.map((c) => c.participants.filter((p) => p.state === 'joined').map((p) => p.id).sort())).toEqual(members.map((_, i) => others(i).map((u) => u.id).sort()));
    expect(carolMutedForAll()).toBe(true);
    expect([groupCalls[2]!.audioMuted, groupCalls[2]!.handRaised]).toEqual([true, true]);
    // On the node that is left.
    const after = await registry.list();
    expect(after.map((n) => n.url)).toEqual([media2.kurento]);

    // Media keeps flowing there; then the calls are hung up, and their records say so (not mediaError).
    const later = { group: groupGot.map((g) => g.snapshot()), direct: directGot.map((g) => g.snapshot()) };
    await until(() => groupFlows(later.group) && directFlows(later.direct), 'media keeps flowing on the new media node', 20_000);
    await groupCalls[0]!.hangUp();
    await directCalls[0]!.hangUp();
    await p2pCalls[0]!.hangUp();
    await until(() => [...mediaCalls, ...p2pCalls].every((c) => c.ended), 'every call ended', 20_000, states);
    const lastRecord = async (u: TestUser, conversationId: ConversationId) => (await u.client.im.history(conversationId)).filter((m) => m.kind === 'call').at(-1)?.call;
    const records = [await lastRecord(bob, group.id), await lastRecord(erin, daveErin)];
    expect(records.map((r) => r?.endReason)).toEqual(['hangup', 'hangup']);
    expect([...(records[0]?.participants ?? [])].sort()).toEqual(members.map((u) => u.id as UserId).sort());
    expect(records.map((r) => r?.missed)).toEqual([false, false]);

    for (const node of [sig, media2]) node.child.kill('SIGTERM');
    await Promise.all([sig.exited, media2.exited]);
  }, 180_000);
});
