import { KurentoServer } from '@roundtable/kurento';
import { StunServer } from '@roundtable/media/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roomPeer, type SfuPeer } from '../testing/sfuPeer.js';
import { until as waitUntil } from '../testing/wait.js';
import { InProcessMediaServer } from './InProcessMediaServer.js';
import type { MediaRoom, MediaServer } from './MediaServer.js';
import { RemoteMediaServer } from './RemoteMediaServer.js';
import { WorkerMediaServer } from './workers/WorkerMediaServer.js';

const stun = new StunServer();
let stunUrl = '';
let kurento: KurentoServer;
let kurentoUrl = '';
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [44100, 44399] as [number, number] };

beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
  kurento = new KurentoServer({ port: 0, media: MEDIA });
  kurentoUrl = (await kurento.listen()).url;
});
afterAll(async () => {
  await kurento.close();
  stun.close();
});

/** Plays a participant against a room directly, as the call logic would on its behalf. */
function participant(room: MediaRoom, name: string, tag: number, loopback = false): SfuPeer {
  return roomPeer(room, name, stunUrl, tag, { loopback });
}

const until = (check: () => boolean, timeoutMs = 15_000): Promise<void> => waitUntil(check, timeoutMs);

const implementations: Array<[string, () => Promise<MediaServer>]> = [
  ['in process', async () => new InProcessMediaServer(MEDIA)],
  ['remote, over the Kurento Protocol', async () => RemoteMediaServer.connect({ url: kurentoUrl })],
  ['on 2 media worker threads', async () => WorkerMediaServer.start({ media: { ...MEDIA, portRange: [61500, 61639] }, workers: 2 })],
];

describe.each(implementations)('MediaServer %s', (_name, make) => {
  it('two participants each receive the other; leaving releases their endpoints', async () => {
    const server = await make();
    const room = await server.createRoom('test');
    const a = participant(room, 'a', 1);
    const b = participant(room, 'b', 2);
    try {
      await room.join('a');
      await room.join('b');
      await a.publish();
      await b.publish();
      await a.receiveFrom('b');
      await b.receiveFrom('a');
      await until(() => a.videoCount('b') > 10 && b.videoCount('a') > 10);
      expect(new Set(a.videoFrom.get('b')!.map((p) => p.payload[2]))).toEqual(new Set([2]));
      expect(room.participants().sort()).toEqual(['a', 'b']);
      await room.leave('b');
      expect(room.participants()).toEqual(['a']);
      await expect(room.receiveVideoFrom('a', 'b', 'v=0')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await a.close();
      await b.close();
      await room.close();
      await server.close();
    }
  });

  it('loopback returns the uplink; a bad offer is a MEDIA_ERROR', async () => {
    const server = await make();
    const room = await server.createRoom('loop');
    const me = participant(room, 'me', 3, true);
    try {
      await room.join('me');
      await me.publish();
      await until(() => me.videoCount('me') > 10);
      const other = await server.createRoom('bad');
      await other.join('x');
      await expect(other.receiveVideoFrom('x', 'x', 'not sdp')).rejects.toMatchObject({ code: 'MEDIA_ERROR' });
      await other.close();
      expect(await server.ready()).toBe(true);
    } finally {
      await me.close();
      await room.close();
      await server.close();
    }
  });
});
