import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import { useRoundtableNodes, type RoundtableProcess } from './roundtableProcess.js';
import { nextIncoming, RtpCounter, signUp, until } from '../../packages/client/src/testing/harness.js';
import { RedisServer, hasRedisServer } from '../../packages/signaling/src/testing/index.js';

// Two signaling processes and one media process (the real CLI) on one Redis and one
// SQLite file; the signaling node that owns a call is SIGKILLed and the other adopts it.
// Media ports: 59200-59229 (one shared UDP port, then the range).
const tools = hasRedisServer();
const env = useTestPeerEnvironment();
let redis: RedisServer | undefined;
type Node = RoundtableProcess;
const { mediaNode, signalingNode: startSignalingNode, balancer } = useRoundtableNodes('signalingNodeKilled', { last: () => redis?.close() });
// A 2 s TTL: a node is taken for gone about 6 s after it stopped (the TTL, then twice
// the TTL missing); 1 s can be missed by a live node on a saturated machine.
const signalingNode = (redisUrl: string) => startSignalingNode(redisUrl, 2000);

/** When a call was moved (`moved`) and what its counter had by then. */
function watchMoves(session: { on(event: 'moved', listener: () => void): unknown }, counter: RtpCounter): { at: number | undefined; since: Record<string, number>; count: number } {
  const seen = { at: undefined as number | undefined, since: {} as Record<string, number>, count: 0 };
  session.on('moved', () => {
    seen.count++;
    seen.at = Date.now();
    seen.since = counter.snapshot();
  });
  return seen;
}

describe.skipIf(!tools)('a signaling node killed (processes)', () => {
  it('a call and a room through media owned by a signaling node that is SIGKILLed are adopted by the other node: the users there see them go on (moved, media again, never ended), the killed node\'s users reconnect through the balancer and go on with media both ways, their announced states and the room\'s chat; the call\'s record is written by the adopter', async () => {
    redis = await RedisServer.start();
    // The signaling nodes one after the other: two first starts on one new SQLite file race to make its tables.
    const [media, sigA] = await Promise.all([mediaNode(redis.url, 59200), signalingNode(redis.url)]);
    const sigB = await signalingNode(redis.url);

    // Alice and Carol through the balancer (on node A while it lives), Bob and Dave on node B.
    const viaBalancer = await balancer([sigA.ws!, sigB.ws!]);
    const alice = await signUp(env, viaBalancer, 'kalice', 1);
    const bob = await signUp(env, sigB.ws!, 'kbob', 2);
    const carol = await signUp(env, viaBalancer, 'kcarol', 3);
    const dave = await signUp(env, sigB.ws!, 'kdave', 4);
    const conversationId = (await alice.client.im.directConversation(bob.id)).id;

    // Alice calls Bob through the media node: the call is owned by node A.
    const ringing = nextIncoming(bob.client);
    const aliceCall = await alice.client.startCall(conversationId, { localMedia: alice.localMedia });
    const bobCall = await ringing;
    await bobCall.accept({ localMedia: bob.localMedia });
    // (Its log line comes through the child's stdout, maybe after the answer.)
    const logged = (node: Node, event: string, id: string) => node.log().split('\n').some((l) => l.includes(`"event":"${event}"`) && l.includes(id));
    await until(() => logged(sigA, 'callStarted', aliceCall.id), 'node A logs the call', 10_000);
    const [aliceGot, bobGot] = [new RtpCounter(aliceCall), new RtpCounter(bobCall)];
    const states = () => ({ alice: [aliceCall.state, aliceCall.endReason], bob: [bobCall.state, bobCall.endReason], aliceGot: aliceGot.snapshot(), bobGot: bobGot.snapshot() });
    await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'media flows both ways', 30_000, states);
    await aliceCall.setHandRaised(true);
    await until(() => bobCall.participants.find((p) => p.id === alice.id)?.handRaised === true, 'bob sees alice\'s hand up', 10_000);
    const [aliceMoved, bobMoved] = [watchMoves(aliceCall, aliceGot), watchMoves(bobCall, bobGot)];

    // Carol opens a room on node A; Dave joins it from node B. Carol raises her hand and says something.
    const carolRoom = await carol.client.joinRoom('killed-standup', { localMedia: carol.localMedia });
    const daveRoom = await dave.client.joinRoom('killed-standup', { localMedia: dave.localMedia });
    await until(() => logged(sigA, 'roomOpened', 'killed-standup'), 'node A logs the room', 10_000);
    const [carolGot, daveGot] = [new RtpCounter(carolRoom), new RtpCounter(daveRoom)];
    const roomStates = () => ({ carol: [carolRoom.state, carolRoom.endReason], dave: [daveRoom.state, daveRoom.endReason], carolGot: carolGot.snapshot(), daveGot: daveGot.snapshot() });
    await until(() => carolGot.grew(dave.id, 10) && daveGot.grew(carol.id, 10), 'media flows both ways in the room', 30_000, roomStates);
    await carolRoom.setHandRaised(true);
    const said = await carolRoom.sendMessage('before the node died');
    await until(() => daveRoom.participants.find((p) => p.id === carol.id)?.handRaised === true && daveRoom.messages.some((m) => m.seq === said.seq), 'dave sees carol\'s hand and message', 10_000);
    const daveMoved = watchMoves(daveRoom, daveGot);
    // Dave's old uplink stops when he is moved: what Carol gets of him after that comes over the new pipeline.
    let carolAtDaveMoved: Record<string, number> | undefined;
    daveRoom.on('moved', () => (carolAtDaveMoved = carolGot.snapshot()));

    // Node A (the call's owner, Alice's node) is killed.
    const killedAt = Date.now();
    sigA.child.kill('SIGKILL');
    await sigA.exited;

    // Node B takes the call and the room over and moves their media to new pipelines. Bob and Dave get
    // call.moved / room.moved; Alice's and Carol's clients reconnect through the balancer to node B,
    // sign in with their tokens and get their call back (call.moved) / join their room again.
    const gap = (check: () => boolean, what: string, detail: () => unknown): Promise<number> => until(check, what, 40_000, detail).then(() => Date.now() - killedAt);
    const [bobGap, aliceGap, daveGap, carolGap] = await Promise.all([
      gap(() => bobMoved.at !== undefined && bobGot.grew(alice.id, 10, bobMoved.since), 'alice\'s media reaches bob again', states),
      gap(() => aliceMoved.at !== undefined && aliceGot.grew(bob.id, 10, aliceMoved.since), 'bob\'s media reaches alice again', states),
      gap(() => daveMoved.at !== undefined && daveGot.grew(carol.id, 10, daveMoved.since), 'carol\'s media reaches dave again in the room', roomStates),
      gap(() => carolAtDaveMoved !== undefined && carolRoom.state === 'CONNECTED' && carolGot.grew(dave.id, 10, carolAtDaveMoved), 'dave\'s media reaches carol again in the room', roomStates),
    ]);
    const adoptedLines = sigB.log().split('\n').filter((l) => /"event":"(callAdopted|roomAdopted|callMediaMoved|clusterNodeGone)"/.test(l));
    console.log(
      `media gap after the owning signaling node was killed (kill to 10 packets of each kind on the new pipeline): call ${bobGap} ms for the user on the node left, ${aliceGap} ms for the user of the killed node; room ${daveGap} ms and ${carolGap} ms (the same order)\n${adoptedLines.join('\n')}`,
    );

    // The call went on: nobody saw it end, each was moved once, Alice's hand is still up, Alice is on node B now.
    expect(alice.sockets.length).toBeGreaterThanOrEqual(2);
    expect([aliceMoved.count, bobMoved.count]).toEqual([1, 1]);
    expect([aliceCall.state, aliceCall.endReason, bobCall.state, bobCall.endReason]).toEqual(['CONNECTED', undefined, 'CONNECTED', undefined]);
    expect(bobCall.participants.find((p) => p.id === alice.id)).toMatchObject({ state: 'joined', handRaised: true });
    expect(adoptedLines.some((l) => l.includes('"event":"callAdopted"') && l.includes(aliceCall.id))).toBe(true);
    const later = [aliceGot.snapshot(), bobGot.snapshot()] as const;
    await until(() => aliceGot.grew(bob.id, 10, later[0]) && bobGot.grew(alice.id, 10, later[1]), 'media keeps flowing', 20_000, states);
    // The room went on: nobody left it, Carol's hand is still up for Dave, the chat is kept for both.
    expect(carol.sockets.length).toBeGreaterThanOrEqual(2);
    expect([carolRoom.endReason, daveRoom.endReason, daveMoved.count]).toEqual([undefined, undefined, 1]);
    expect(daveRoom.participants.find((p) => p.id === carol.id)).toMatchObject({ state: 'joined', handRaised: true });
    expect([carolRoom.messages.map((m) => m.text), daveRoom.messages.map((m) => m.text)]).toEqual([['before the node died'], ['before the node died']]);
    expect(adoptedLines.some((l) => l.includes('"event":"roomAdopted"') && l.includes('killed-standup'))).toBe(true);
    await Promise.all([carolRoom.leave(), daveRoom.leave()]);

    // Hung up on the adopter: it ends for both, and its record (written by node B) says so.
    await aliceCall.hangUp();
    await until(() => bobCall.ended, 'the call ends for bob', 20_000, states);
    expect(bobCall.endReason).toBe('remoteHangup');
    const record = (await bob.client.im.history(conversationId)).filter((m) => m.kind === 'call').at(-1)?.call;
    expect(record).toMatchObject({ callId: aliceCall.id, endReason: 'hangup', missed: false });

    for (const node of [sigB, media]) node.child.kill('SIGTERM');
    await Promise.all([sigB.exited, media.exited]);
  }, 180_000);
});
