import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { EndReason } from '@roundtable/protocol';
import { Signaling, WorkerMediaServer } from '@roundtable/signaling';
import { describe, expect, it } from 'vitest';
import type { Room } from './Room.js';
import { RtpCounter, signUp, until, type TestUser } from './testing/harness.js';

const env = useTestPeerEnvironment();
// Ports: media 64700-64723 (three slices of 8: the main thread and two workers).
const PORTS: [number, number] = [64700, 64723];

/** What an app does with a room whose media was lost: join it again, once. */
function rejoinOnMediaError(user: TestUser, room: Room): Promise<Room> {
  return new Promise((resolve, reject) => {
    room.once('ended', ({ reason }: { reason: EndReason }) => {
      if (reason !== 'mediaError') reject(new Error(`the room ended with ${reason}`));
      else user.client.joinRoom(room.name, { localMedia: user.localMedia }).then(resolve, reject);
    });
  });
}

describe('a media worker killed mid-call', () => {
  it("ends only its rooms (mediaError), and the members who join again get each other's media on a running worker", async () => {
    const media = await WorkerMediaServer.start({ media: { iceAddresses: ['127.0.0.1'], portRange: PORTS }, workers: 2 });
    const signaling = await Signaling.open({ dbPath: ':memory:', media });
    const { port } = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
    env.cleanup.push(async () => {
      await signaling.close();
      await media.close();
    });
    const url = `ws://127.0.0.1:${port}/ws`;
    const alice = await signUp(env, url, 'kalice', 1);
    const bob = await signUp(env, url, 'kbob', 2);
    const carol = await signUp(env, url, 'kcarol', 3);

    // Two rooms, one per worker: the first worker takes the room with two people.
    const aliceRoom = await alice.client.joinRoom('standup', { localMedia: alice.localMedia });
    const bobRoom = await bob.client.joinRoom('standup', { localMedia: bob.localMedia });
    const carolRoom = await carol.client.joinRoom('elsewhere', { localMedia: carol.localMedia });
    const [aliceGot, bobGot] = [new RtpCounter(aliceRoom), new RtpCounter(bobRoom)];
    await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'alice and bob get each other');
    await until(() => carolRoom.state === 'CONNECTED', 'carol in her room');
    const killed = media.stats().findIndex((w) => w.participants === 2);
    expect(media.stats().map((w) => w.participants).sort()).toEqual([1, 2]);

    const rejoined = Promise.all([rejoinOnMediaError(alice, aliceRoom), rejoinOnMediaError(bob, bobRoom)]);
    media.simulateKill(killed);

    // Both members are told (room.ended mediaError), the old rooms are over, and both are in again.
    const [aliceAgain, bobAgain] = await rejoined;
    expect([aliceRoom.endReason, bobRoom.endReason]).toEqual(['mediaError', 'mediaError']);
    expect([aliceRoom.state, bobRoom.state]).toEqual(['IDLE', 'IDLE']);
    const [aliceGotAgain, bobGotAgain] = [new RtpCounter(aliceAgain), new RtpCounter(bobAgain)];
    await until(() => aliceGotAgain.grew(bob.id, 10) && bobGotAgain.grew(alice.id, 10), 'alice and bob get each other in the new room', 30_000, () => [aliceAgain.state, bobAgain.state, aliceGotAgain.snapshot(), bobGotAgain.snapshot()]);
    expect(alice.client.activeRooms).toEqual([aliceAgain]);
    expect(bob.client.activeRooms).toEqual([bobAgain]);

    // The other worker's room went on untouched; the killed worker came back.
    expect(carolRoom.state).toBe('CONNECTED');
    expect(carolRoom.endReason).toBeUndefined();
    expect(signaling.rooms.openRooms).toBe(2);
    await until(() => media.stats()[killed]!.ready, 'the killed worker is replaced');
    expect(media.stats()[killed]!.restarts).toBe(1);
    await Promise.all([aliceAgain.leave(), bobAgain.leave(), carolRoom.leave()]);
    // Two worker threads start (each compiles the engine) and three clients connect twice: 25-30 s on a busy machine.
  }, 90_000);
});
