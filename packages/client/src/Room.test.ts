import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { CallState, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { ClientError } from './ClientError.js';
import { endedWith, RtpCounter, signUp, startServer, until } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [50800, 50899];

describe('open rooms through the SDK', () => {
  it('joinRoom(): members get each other\'s media, a newcomer is announced, leave() tells the others (participantLeft)', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'ralice', 1);
    const bob = await signUp(env, server.url, 'rbob', 2);
    const carol = await signUp(env, server.url, 'rcarol', 3);

    const aliceRoom = await alice.client.joinRoom('standup', { localMedia: alice.localMedia });
    const states: CallState[] = [];
    aliceRoom.on('stateChanged', ({ to }) => states.push(to));
    const aliceGot = new RtpCounter(aliceRoom);
    // Alone in the room: CONNECTED once our own media reaches the server.
    await until(() => aliceRoom.state === 'CONNECTED', 'alice CONNECTED alone');
    expect(aliceRoom.participants).toEqual([]);

    const joined = new Promise<UserId>((resolve) => aliceRoom.once('participantJoined', ({ participant }) => resolve(participant)));
    const bobRoom = await bob.client.joinRoom('standup', { localMedia: bob.localMedia });
    const bobGot = new RtpCounter(bobRoom);
    expect(await joined).toBe(bob.id);
    await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'alice and bob get each other');
    expect([aliceGot.tags.get(bob.id), bobGot.tags.get(alice.id)]).toEqual([new Set([2]), new Set([1])]);
    await expect(bob.client.joinRoom('standup')).rejects.toBeInstanceOf(ClientError);

    const carolRoom = await carol.client.joinRoom('standup', { localMedia: carol.localMedia, audioOnly: true });
    const carolGot = new RtpCounter(carolRoom);
    await until(() => carolGot.grew(alice.id, 10) && carolGot.grew(bob.id, 10) && aliceGot.count(carol.id, 'audio') > 10 && bobGot.count(carol.id, 'audio') > 10, 'carol in: gets both, sends audio');
    expect(aliceGot.count(carol.id, 'video')).toBe(0);
    expect(carolRoom.participants.map((p) => p.id).sort()).toEqual([alice.id, bob.id].sort());

    const left = [aliceRoom, carolRoom].map((r) => new Promise<UserId>((resolve) => r.once('participantLeft', ({ participant }) => resolve(participant))));
    await bobRoom.leave();
    expect(await Promise.all(left)).toEqual([bob.id, bob.id]);
    expect([bobRoom.state, await endedWith(bobRoom)]).toEqual(['IDLE', 'hangup']);
    expect(bob.client.activeRooms).toEqual([]);
    expect(aliceRoom.participants.find((p) => p.id === bob.id)?.state).toBe('left');

    await aliceRoom.leave();
    await carolRoom.leave();
    expect(states).toEqual(['CONNECTED', 'IDLE']);
    await until(() => server.signaling.rooms.openRooms === 0, 'the room closed');
  }, 90_000);

  it('the room chat: sendMessage() reaches every member (`message`, `messages`), and one who joins later has what was said', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'calice', 1);
    const bob = await signUp(env, server.url, 'cbob', 2);
    const aliceRoom = await alice.client.joinRoom('retro', { localMedia: alice.localMedia });
    const heard: string[] = [];
    aliceRoom.on('message', ({ message }) => heard.push(message.text));

    const sent = await aliceRoom.sendMessage('first point');

    expect(sent).toMatchObject({ seq: 1, senderId: alice.id, text: 'first point' });
    const bobRoom = await bob.client.joinRoom('retro', { localMedia: bob.localMedia });
    expect(bobRoom.messages.map((m) => m.text)).toEqual(['first point']);
    await bobRoom.sendMessage('second point');
    await until(() => aliceRoom.messages.length === 2, 'alice gets bob\'s message');
    expect(aliceRoom.messages.map((m) => [m.seq, m.senderId, m.text])).toEqual([[1, alice.id, 'first point'], [2, bob.id, 'second point']]);
    // Her own message once (the notification and the request's result are the same message).
    expect(heard).toEqual(['first point', 'second point']);
    await bobRoom.leave();
    await aliceRoom.leave();
    await expect(aliceRoom.sendMessage('too late')).rejects.toBeInstanceOf(ClientError);
  }, 60_000);
});
