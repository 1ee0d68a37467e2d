import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { Signaling, WorkerMediaServer } from '@roundtable/signaling';
import { describe, expect, it } from 'vitest';
import { endedWith, RtpCounter, signUp, until } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [61640, 61699];

describe('a room whose media the server lost', () => {
  it('ends with mediaError when its media worker crashes (room.ended); joining again opens a new room', async () => {
    const media = await WorkerMediaServer.start({ media: { iceAddresses: ['127.0.0.1'], portRange: PORTS }, workers: 1 });
    const signaling = await Signaling.open({ dbPath: ':memory:', media });
    const { port } = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
    env.cleanup.push(async () => {
      await signaling.close();
      await media.close();
    });
    const url = `ws://127.0.0.1:${port}/ws`;
    const alice = await signUp(env, url, 'lalice', 1);
    const bob = await signUp(env, url, 'lbob', 2);

    const aliceRoom = await alice.client.joinRoom('lost', { localMedia: alice.localMedia });
    const bobRoom = await bob.client.joinRoom('lost', { localMedia: bob.localMedia });
    const aliceGot = new RtpCounter(aliceRoom);
    await until(() => aliceGot.grew(bob.id, 10), 'alice gets bob');

    await media.simulateCrash(0).catch(() => undefined);
    expect(await Promise.all([endedWith(aliceRoom), endedWith(bobRoom)])).toEqual(['mediaError', 'mediaError']);
    expect([aliceRoom.state, bobRoom.state]).toEqual(['IDLE', 'IDLE']);
    expect(alice.client.activeRooms).toEqual([]);
    expect(signaling.rooms.openRooms).toBe(0);

    // The replacement worker takes the new room.
    await until(() => media.stats()[0]!.ready, 'the worker restarted');
    const again = await alice.client.joinRoom('lost', { localMedia: alice.localMedia });
    await until(() => again.state === 'CONNECTED', 'alice in the new room');
    expect(media.stats()[0]).toMatchObject({ rooms: 1, participants: 1, restarts: 1 });
    await again.leave();
  }, 90_000);
});
