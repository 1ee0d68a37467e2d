import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { CallRecord, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { Call } from './Call.js';
import { ClientError } from './ClientError.js';
import { endedWith, nextIncoming, RtpCounter, signUp, startServer, until, type TestUser } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [50500, 50799];

/** Everyone in `calls` gets both kinds of media from every other user in `users`, each with the right tag. */
async function everyoneHearsEveryone(users: TestUser[], counters: RtpCounter[]): Promise<void> {
  await until(
    () => users.every((me, i) => users.every((other) => other === me || counters[i]!.grew(other.id, 10))),
    'everyone receives everyone else',
    45_000,
    () => counters.map((c) => c.snapshot()),
  );
  for (const [i, me] of users.entries()) {
    for (const other of users) if (other !== me) expect(counters[i]!.tags.get(other.id)).toEqual(new Set([other.publisher.tag]));
  }
}

describe('group calls through the SDK', () => {
  it('a group call of 4: everyone gets the 3 others\' tracks and media, one leaves (participantLeft), the initiator ends it for all', async () => {
    const server = await startServer(env, PORTS);
    const users = [];
    for (const [i, name] of ['galice', 'gbob', 'gcarol', 'gdave'].entries()) users.push(await signUp(env, server.url, name, i + 1));
    const [alice, bob, carol, dave] = users as [TestUser, TestUser, TestUser, TestUser];
    const group = await alice.client.im.createGroup('team', [bob.id, carol.id, dave.id]);
    const records: CallRecord[] = [];
    bob.client.im.on('callRecord', ({ record }) => records.push(record));

    const ringing = [bob, carol, dave].map((u) => nextIncoming(u.client));
    const call = await alice.client.startCall(group.id, { members: [bob.id, carol.id, dave.id], localMedia: alice.localMedia });
    expect([call.state, call.group, call.initiator]).toEqual(['OUTGOING', true, alice.id]);
    expect(call.participants.map((p) => [p.id, p.state])).toEqual([bob, carol, dave].map((u) => [u.id, 'ringing']));
    const incoming = await Promise.all(ringing);
    for (const c of incoming) expect([c.group, c.initiator, c.state]).toEqual([true, alice.id, 'INCOMING']);
    const calls: Call[] = [call, ...incoming];
    const counters = calls.map((c) => new RtpCounter(c));
    const joined: UserId[] = [];
    call.on('participantJoined', ({ participant }) => joined.push(participant));

    for (const [i, c] of incoming.entries()) await c.accept({ localMedia: users[i + 1]!.localMedia });

    await until(
      () => calls.every((c) => c.state === 'CONNECTED'),
      'every call CONNECTED',
      30_000,
      () => calls.map((c) => c.state),
    );
    await everyoneHearsEveryone(users, counters);
    expect(new Set(joined)).toEqual(new Set([bob.id, carol.id, dave.id]));
    for (const [i, c] of calls.entries()) {
      const others = users.filter((_, j) => j !== i).map((u) => u.id);
      expect(c.participants.filter((p) => p.state === 'joined').map((p) => p.id).sort()).toEqual([...others].sort());
      for (const p of c.participants) expect(p.tracks.map((t) => t.kind).sort()).toEqual(['audio', 'video']);
    }

    // Carol leaves: the others see participantLeft, the call goes on.
    const carolCall = incoming[1]!;
    const left = [call, incoming[0]!, incoming[2]!].map((c) => new Promise<UserId>((resolve) => c.once('participantLeft', ({ participant }) => resolve(participant))));
    await carolCall.hangUp();
    expect(await Promise.all(left)).toEqual([carol.id, carol.id, carol.id]);
    expect(carolCall.endReason).toBe('hangup');
    expect(call.participants.find((p) => p.id === carol.id)?.state).toBe('left');
    expect(call.ended).toBe(false);

    // The initiator hangs up: the call ends for everyone.
    await call.hangUp();
    expect(await endedWith(incoming[0]!)).toBe('remoteHangup');
    expect(await endedWith(incoming[2]!)).toBe('remoteHangup');
    await until(() => records.length === 1, 'the call record reached bob');
    expect([records[0]!.initiator, [...records[0]!.participants].sort()]).toEqual([alice.id, users.map((u) => u.id).sort()]);
    await until(() => server.media.roomCount === 0, 'the media room freed');
  }, 120_000);

  it('invite() mid-call: the invitee rings, the others are told (invited), and once in everyone gets everyone', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'ialice', 1);
    const bob = await signUp(env, server.url, 'ibob', 2);
    const carol = await signUp(env, server.url, 'icarol', 3);
    const group = await alice.client.im.createGroup('trio', [bob.id, carol.id]);
    const bobRings = nextIncoming(bob.client);
    const call = await alice.client.startCall(group.id, { members: [bob.id], localMedia: alice.localMedia });
    const bobCall = await bobRings;
    await bobCall.accept({ localMedia: bob.localMedia });
    await until(() => call.state === 'CONNECTED' && bobCall.state === 'CONNECTED', 'alice and bob CONNECTED');
    await expect(bobCall.invite([carol.id])).rejects.toBeInstanceOf(ClientError);

    const bobTold = new Promise<UserId[]>((resolve) => bobCall.once('invited', ({ invitees }) => resolve(invitees)));
    const carolRings = nextIncoming(carol.client);
    expect(await call.invite([carol.id])).toEqual([carol.id]);
    expect(await bobTold).toEqual([carol.id]);
    expect(bobCall.participants.find((p) => p.id === carol.id)?.state).toBe('ringing');
    const carolCall = await carolRings;
    const calls = [call, bobCall, carolCall];
    const counters = calls.map((c) => new RtpCounter(c));
    await carolCall.accept({ localMedia: carol.localMedia });

    await everyoneHearsEveryone([alice, bob, carol], counters);
    expect(carolCall.participants.map((p) => [p.id, p.state]).sort()).toEqual([[alice.id, 'joined'], [bob.id, 'joined']].sort());
    await call.hangUp();
    expect(await endedWith(carolCall)).toBe('remoteHangup');
  }, 120_000);
});
