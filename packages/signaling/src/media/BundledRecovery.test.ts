import { StunServer } from '@roundtable/media/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundledPeer } from '../testing/bundledPeer.js';
import { until as waitUntil } from '../testing/wait.js';
import { InProcessMediaServer } from './InProcessMediaServer.js';

// This file's UDP ports: 63110-63129.
const stun = new StunServer();
let stunUrl = '';
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [63110, 63129] as [number, number] };

beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterAll(() => stun.close());

const until = (check: () => boolean, timeoutMs = 20_000): Promise<void> => waitUntil(check, timeoutMs);

/** The tags (payload byte 2: which sending connection) of the video `peer` got from `sender`. */
function tagsFrom(peer: BundledPeer, sender: string): Set<number> {
  return new Set((peer.videoFrom.get(sender) ?? []).map((p) => p.payload[2]!));
}

describe('bundled rooms: links rebuilt on new transports', () => {
  it('a publish from a new sending connection (renew) gets a fresh sending transport: the others receive its media again, two transports each', async () => {
    const server = new InProcessMediaServer(MEDIA);
    const room = await server.createRoom('republish');
    const a = new BundledPeer(room, 'a', stunUrl, 1);
    const b = new BundledPeer(room, 'b', stunUrl, 2);
    try {
      await room.join('a');
      await room.join('b');
      await a.publish();
      await b.publish();
      await until(() => a.videoCount('b') > 10 && b.videoCount('a') > 10);

      await b.republish(7);

      await until(() => tagsFrom(a, 'b').has(7) && a.videoCount('b') > 30);
      const fromNew = (a.videoFrom.get('b') ?? []).filter((p) => p.payload[2] === 7).length;
      expect(fromNew).toBeGreaterThan(0);
      expect(await room.connectionCount()).toBe(4);
      // b still receives a's media on its receiving connection.
      const got = b.videoCount('a');
      await until(() => b.videoCount('a') > got + 10);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await room.close();
      await server.close();
    }
  }, 60_000);

  it('an answer to an old offer that arrives after subscribeRestart made a new receiving transport is ignored, and media flows on the new connection', async () => {
    const server = new InProcessMediaServer(MEDIA);
    const room = await server.createRoom('late-answer');
    const a = new BundledPeer(room, 'a', stunUrl, 1);
    const b = new BundledPeer(room, 'b', stunUrl, 2);
    try {
      await room.join('a');
      await room.join('b');
      await a.publish();
      await b.publish();
      await until(() => a.videoCount('b') > 10);
      const oldAnswer = a.lastAnswer!;

      await room.restartReceiving('a');
      // The client's answer on its old connection, late: taken by nobody, no error.
      await expect(room.subscribeAnswer('a', oldAnswer)).resolves.toBeUndefined();

      await until(() => a.receivingConnections === 1);
      const got = a.videoCount('b');
      await until(() => a.videoCount('b') > got + 20);
      expect(await room.connectionCount()).toBe(4);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await room.close();
      await server.close();
    }
  }, 60_000);
});
