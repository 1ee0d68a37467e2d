import { StunServer } from '@roundtable/media/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundledPeer } from '../testing/bundledPeer.js';
import { MediaNodeHarness } from '../testing/mediaNode.js';
import { roomPeer } from '../testing/sfuPeer.js';
import { until as waitUntil } from '../testing/wait.js';
import { InProcessMediaServer } from './InProcessMediaServer.js';
import type { MediaServer } from './MediaServer.js';
import { WorkerMediaServer } from './workers/WorkerMediaServer.js';

const stun = new StunServer();
let stunUrl = '';
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [65060, 65099] as [number, number] };

beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterAll(() => stun.close());

const until = (check: () => boolean, timeoutMs = 20_000, state?: () => unknown): Promise<void> => waitUntil(check, timeoutMs, state);

const implementations: Array<[string, () => Promise<MediaServer>]> = [
  ['in process', async () => new InProcessMediaServer(MEDIA)],
  ['on a media worker thread (the same room class)', async () => WorkerMediaServer.start({ media: { ...MEDIA, portRange: [65100, 65139] }, workers: 1 })],
  ['on a media node, over the Kurento Protocol (the same room class)', async () => MediaNodeHarness.start({ ...MEDIA, portRange: [59400, 59439] })],
];

describe.each(implementations)('bundled rooms, %s', (_name, make) => {
  it('a member left with nothing to receive gets a fresh receiving transport: the next offer has other ICE credentials and its media flows on a new connection', async () => {
    const server = await make();
    const room = await server.createRoom('alone');
    const a = new BundledPeer(room, 'a', stunUrl, 1);
    const b = new BundledPeer(room, 'b', stunUrl, 2);
    const b2 = new BundledPeer(room, 'b', stunUrl, 3);
    try {
      await room.join('a');
      await room.join('b');
      await a.publish();
      await b.publish();
      await until(() => a.videoCount('b') > 10 && b.videoCount('a') > 10, 20_000, () => [a.state(), b.state()]);
      const offers = a.offers.length;
      await room.leave('b');
      await b.close();
      expect(await room.connectionCount()).toBe(2);
      await room.join('b');
      await b2.publish();
      await until(() => a.videoCount('b') > 0 && new Set(a.videoFrom.get('b')!.map((p) => p.payload[2])).has(3), 20_000, () => [a.state(), b2.state()]);
      // No offer rejecting every m-line went out; the one that brought b back came on a new connection.
      expect(a.offers.slice(offers).every((tracks) => tracks.length > 0)).toBe(true);
      expect(a.receivingConnections).toBe(1);
      expect(await room.connectionCount()).toBe(4);
    } finally {
      await Promise.all([a.close(), b.close(), b2.close()]);
      await room.close();
      await server.close();
    }
  }, 60_000);

  it('two transports per participant; each gets the others\' tracks on one receiving connection; a participant of the seed\'s words is in the same room both ways; leaving renegotiates', async () => {
    const server = await make();
    const room = await server.createRoom('bundled');
    const a = new BundledPeer(room, 'a', stunUrl, 1);
    const b = new BundledPeer(room, 'b', stunUrl, 2);
    const c = new BundledPeer(room, 'c', stunUrl, 3);
    const old = roomPeer(room, 'old', stunUrl, 4);
    try {
      expect(room.bundled).toBe(true);
      for (const name of ['a', 'b', 'c', 'old']) await room.join(name);
      await a.publish();
      await b.publish();
      await c.publish();
      await until(() => [a, b, c].every((p) => [a, b, c].every((q) => p === q || (p.videoCount(q.me) > 10 && p.audioCount(q.me) > 10))));
      expect(new Set(a.videoFrom.get('b')!.map((p) => p.payload[2]))).toEqual(new Set([2]));
      expect(await room.connectionCount()).toBe(6);
      expect(a.offers.at(-1)!.map((t) => t.participant).sort()).toEqual(['b', 'b', 'c', 'c']);

      // The seed's words: an uplink, and a downlink per sender fed from the transports.
      await old.publish();
      for (const sender of ['a', 'b', 'c']) await old.receiveFrom(sender);
      await until(() => ['a', 'b', 'c'].every((s) => old.videoCount(s) > 10) && [a, b, c].every((p) => p.videoCount('old') > 10 && p.audioCount('old') > 10));
      expect(new Set(old.videoFrom.get('c')!.map((p) => p.payload[2]))).toEqual(new Set([3]));
      expect(new Set(a.videoFrom.get('old')!.map((p) => p.payload[2]))).toEqual(new Set([4]));
      expect(await room.connectionCount()).toBe(6 + 4);

      // B leaves: the others' receiving connections are offered without its m-lines, media goes on.
      await room.leave('b');
      await until(() => a.offers.at(-1)!.every((t) => t.participant !== 'b'));
      const before = [a.videoCount('c'), c.videoCount('a')];
      await until(() => a.videoCount('c') > before[0]! + 10 && c.videoCount('a') > before[1]! + 10);
      expect(await room.connectionCount()).toBe(4 + 3);
      expect([a.peerConnections, c.peerConnections]).toEqual([2, 2]);
      await expect(room.subscribeAnswer('b', 'v=0')).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await expect(room.publish('nobody', 'v=0')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await Promise.all([a.close(), b.close(), c.close(), old.close()]);
      await room.close();
      await server.close();
    }
  }, 60_000);
});
