import { StunServer } from '@roundtable/media/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundledPeer } from '../../testing/bundledPeer.js';
import { MediaNodeHarness } from '../../testing/mediaNode.js';
import { until } from '../../testing/wait.js';

// UDP ports 59460-59519 (the media node's shared port, then its range).
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [59460, 59519] as [number, number] };
const NAMES = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9'];

const stun = new StunServer();
let stunUrl = '';
beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterAll(() => stun.close());

describe('a room of nine on a media node', () => {
  it('runs on two server transports per participant (18, where endpoints per sender made 81), and everyone receives everyone else\'s video and audio', async () => {
    const server = await MediaNodeHarness.start(MEDIA);
    const room = await server.createRoom('nine');
    const peers = NAMES.map((name, i) => new BundledPeer(room, name, stunUrl, i + 1));
    try {
      expect(room.bundled).toBe(true);
      for (const name of NAMES) await room.join(name);
      for (const peer of peers) await peer.publish();
      await until(() => peers.every((p) => peers.every((q) => p === q || (p.videoCount(q.me) > 5 && p.audioCount(q.me) > 5))), 90_000);
      // Counted on the media node: asked over the connection, and as its metrics read it.
      expect(await room.connectionCount()).toBe(18);
      expect(server.node.connections).toBe(18);
      expect(server.node.load()).toEqual({ rooms: 1, participants: 9 });
      expect(peers.every((p) => p.peerConnections === 2)).toBe(true);
    } finally {
      await Promise.all(peers.map((p) => p.close()));
      await room.close();
      await server.close();
    }
  }, 180_000);
});
