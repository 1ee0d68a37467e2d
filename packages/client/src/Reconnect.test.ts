import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { CallState, ServerNotification, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { RoundtableClient } from './RoundtableClient.js';
import { endedWith, nextIncoming, RtpCounter, signUp, startServer, until, type TestUser } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [51200, 51349];

/** Drops the client's current socket the hard way (no close frame) and waits for the SDK to be back. */
async function dropSocket(user: TestUser): Promise<void> {
  const back = new Promise<void>((resolve) => user.client.once('reconnected', () => resolve()));
  user.sockets.at(-1)!.terminate();
  await back;
}

function offersReceived(client: RoundtableClient): () => number {
  let n = 0;
  client.on('notification', (x: ServerNotification) => {
    if (x.type === 'call.signal' && x.payload.type === 'offer') n++;
  });
  return () => n;
}

describe('reconnecting mid-call', () => {
  it('a group call member whose socket drops comes back: the call stays CONNECTED, media flows both ways, and later events reach it', async () => {
    const server = await startServer(env, PORTS);
    const users = [await signUp(env, server.url, 'galice', 1), await signUp(env, server.url, 'gbob', 2), await signUp(env, server.url, 'gcarol', 3)];
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    const group = await alice.client.im.createGroup('g', [bob.id, carol.id]);
    const rings = [nextIncoming(bob.client), nextIncoming(carol.client)];
    const call = await alice.client.startCall(group.id, { members: [bob.id, carol.id], localMedia: alice.localMedia });
    const [bobCall, carolCall] = await Promise.all(rings);
    const calls = [call, bobCall!, carolCall!];
    const got = calls.map((c) => new RtpCounter(c));
    await bobCall!.accept({ localMedia: bob.localMedia });
    await carolCall!.accept({ localMedia: carol.localMedia });
    await until(() => got.every((g, i) => users.every((u, j) => i === j || g.grew(u.id, 10))), 'everyone gets everyone', 30_000, () => got.map((g) => g.snapshot()));

    const seenByAlice: boolean[] = [];
    call.on('participantConnection', ({ participant, reconnecting }) => participant === bob.id && seenByAlice.push(reconnecting));
    await dropSocket(bob);
    // Alice is told bob's device dropped, then that it came back.
    await until(() => seenByAlice.length === 2, 'alice hears bob reconnecting and back', 10_000, () => seenByAlice);
    expect(seenByAlice).toEqual([true, false]);

    const before = got.map((g) => g.snapshot());
    await until(() => got[1]!.grew(alice.id, 20, before[1]) && got[1]!.grew(carol.id, 20, before[1]) && got[0]!.grew(bob.id, 20, before[0]), 'media to and from bob still flowing');
    expect(calls.map((c) => c.state)).toEqual<CallState[]>(['CONNECTED', 'CONNECTED', 'CONNECTED']);
    // The server sends the call's events to bob's new socket.
    const left = new Promise<UserId>((resolve) => bobCall!.once('participantLeft', ({ participant }) => resolve(participant)));
    await carolCall!.hangUp();
    expect(await left).toBe(carol.id);
    await call.hangUp();
    expect(await endedWith(bobCall!)).toBe('remoteHangup');
  }, 120_000);

  it('peer to peer: after a reconnect the link that kept its path is left alone (no ICE restart) and media keeps flowing', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'palice', 1);
    const bob = await signUp(env, server.url, 'pbob', 2);
    const conversation = await alice.client.im.directConversation(bob.id);
    const ringing = nextIncoming(bob.client);
    const offers = offersReceived(bob.client);
    const aliceCall = await alice.client.startCall(conversation.id, { topology: 'p2p', localMedia: alice.localMedia });
    const aliceGot = new RtpCounter(aliceCall);
    const bobCall = await ringing;
    const bobGot = new RtpCounter(bobCall);
    await bobCall.accept({ localMedia: bob.localMedia });
    await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'media both ways');

    await dropSocket(alice);

    const before = [aliceGot.snapshot(), bobGot.snapshot()];
    await until(() => aliceGot.grew(bob.id, 20, before[0]) && bobGot.grew(alice.id, 20, before[1]), 'media still flowing both ways');
    expect([aliceCall.state, bobCall.state, offers()]).toEqual(['CONNECTED', 'CONNECTED', 1]);
    await bobCall.hangUp();
    expect(await endedWith(aliceCall)).toBe('remoteHangup');
  }, 90_000);

  it('a room member whose socket drops joins again by itself (same Room): the others see it reconnecting and back, never leaving; media flows again', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'ralice', 1);
    const bob = await signUp(env, server.url, 'rbob', 2);
    const aliceRoom = await alice.client.joinRoom('daily', { localMedia: alice.localMedia });
    const bobRoom = await bob.client.joinRoom('daily', { localMedia: bob.localMedia });
    const aliceGot = new RtpCounter(aliceRoom);
    const bobGot = new RtpCounter(bobRoom);
    await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'media both ways');
    const seen: string[] = [];
    bobRoom.on('participantLeft', ({ participant }) => seen.push(`left ${participant}`));
    bobRoom.on('participantJoined', ({ participant }) => seen.push(`joined ${participant}`));
    bobRoom.on('participantConnection', ({ participant, reconnecting }) => seen.push(`${reconnecting ? 'reconnecting' : 'back'} ${participant}`));
    const states: CallState[] = [];
    aliceRoom.on('stateChanged', ({ to }) => states.push(to));

    await dropSocket(alice);

    await until(() => seen.length === 2 && aliceRoom.state === 'CONNECTED', 'alice back in the room', 30_000, () => seen);
    expect(seen).toEqual([`reconnecting ${alice.id}`, `back ${alice.id}`]);
    expect(states).toEqual(['CONNECTING', 'CONNECTED']);
    expect(alice.client.activeRooms).toEqual([aliceRoom]);
    const before = [aliceGot.snapshot(), bobGot.snapshot()];
    await until(() => aliceGot.grew(bob.id, 20, before[0]) && bobGot.grew(alice.id, 20, before[1]), 'media flows again both ways');
    await aliceRoom.leave();
    await bobRoom.leave();
  }, 90_000);
});
