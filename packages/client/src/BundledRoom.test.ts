import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { ServerNotification, SubscribedTrack, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { Room } from './Room.js';
import type { RoundtableClient } from './RoundtableClient.js';
import { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { RtpCounter, signUp, startServer, until, type TestUser } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [65000, 65059];

/** The tracks of every subscribeOffer this client receives, in order. */
function offersTo(client: RoundtableClient): SubscribedTrack[][] {
  const offers: SubscribedTrack[][] = [];
  client.on('notification', (n: ServerNotification) => {
    if (n.type === 'room.signal' && n.payload.type === 'subscribeOffer') offers.push(n.payload.tracks);
  });
  return offers;
}

/** A werift RTCPeerConnection class that counts what it makes into `made[index]`. */
function countingPeer(made: number[], index: number): typeof WeriftPeerConnection {
  made[index] = 0;
  return class extends WeriftPeerConnection {
    constructor(...args: ConstructorParameters<typeof WeriftPeerConnection>) {
      super(...args);
      made[index]!++;
    }
  };
}

describe('rooms on the bundled words (one sending and one receiving connection each)', () => {
  it('members join and leave under media: two server transports each (18 for 9), a receiving transport offered up to its tenth m-line and down again', async () => {
    const server = await startServer(env, PORTS);
    const users: TestUser[] = [];
    const peers: number[] = [];
    for (let i = 0; i < 9; i++) users.push(await signUp(env, server.url, `bundled${i}`, i + 1, { RTCPeerConnection: countingPeer(peers, i) }));
    const offers = offersTo(users[0]!.client);
    const rooms: Room[] = [];
    const counters: RtpCounter[] = [];
    const join = async (i: number): Promise<void> => {
      const room = await users[i]!.client.joinRoom('bundled', { localMedia: users[i]!.localMedia });
      rooms[i] = room;
      counters[i] = new RtpCounter(room);
    };
    const everyoneGets = (members: number[], what: string): Promise<void> =>
      until(
        () => members.every((i) => members.every((j) => i === j || counters[i]!.grew(users[j]!.id, 5))),
        what,
        45_000,
        () => members.map((i) => counters[i]!.snapshot()),
      );

    // Six members, one after the other: the first one's receiving transport grows to ten m-lines (5 others x 2).
    for (let i = 0; i < 6; i++) await join(i);
    const six = [0, 1, 2, 3, 4, 5];
    await everyoneGets(six, 'six members get each other');
    expect(await server.media.connectionCount()).toBe(12);
    const last = offers.at(-1)!;
    expect(last).toHaveLength(10);
    expect(new Set(last.map((t) => t.participant))).toEqual(new Set(users.slice(1, 6).map((u) => u.id)));
    expect(new Set(last.map((t) => t.mid)).size).toBe(10);
    for (const i of six) for (const j of six) if (i !== j) expect(counters[i]!.tags.get(users[j]!.id)).toEqual(new Set([j + 1]));

    // One leaves: the others' receiving transports are offered again without its two m-lines, media goes on.
    const offersBefore = offers.length;
    const left = new Promise<UserId>((resolve) => rooms[0]!.once('participantLeft', ({ participant }) => resolve(participant)));
    await rooms[2]!.leave();
    expect(await left).toBe(users[2]!.id);
    await until(() => offers.length > offersBefore && offers.at(-1)!.length === 8, 'an offer without the leaver\'s m-lines');
    expect(offers.at(-1)!.some((t) => t.participant === users[2]!.id)).toBe(false);
    const five = [0, 1, 3, 4, 5];
    const snapshots = five.map((i) => counters[i]!.snapshot());
    await until(() => five.every((i, k) => five.every((j) => i === j || counters[i]!.grew(users[j]!.id, 5, snapshots[k]))), 'media goes on among the five');
    expect(await server.media.connectionCount()).toBe(10);

    // Back to nine (the leaver comes back, and three more): 18 server transports, everyone gets everyone.
    for (const i of [2, 6, 7, 8]) await join(i);
    const nine = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    await everyoneGets(nine, 'nine members get each other');
    expect(await server.media.connectionCount()).toBe(18);
    // Two peer connections per member, whatever the size (the one who came back made two more).
    expect(peers).toEqual([2, 2, 4, 2, 2, 2, 2, 2, 2]);
    // The first member's receiving transport recycled the leaver's closed m-lines: 16 live tracks.
    expect(offers.at(-1)!).toHaveLength(16);

    for (const room of rooms) await room.leave();
    await until(() => server.signaling.rooms.openRooms === 0, 'the room closed');
    expect(await server.media.connectionCount()).toBe(0);
  }, 180_000);
});
