import { networkInterfaces } from 'node:os';
import { StunServer } from '@roundtable/media/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundledPeer } from '../testing/bundledPeer.js';
import { until } from '../testing/wait.js';
import { InProcessMediaServer } from './InProcessMediaServer.js';

/*
 * A bundled room of the in-process media server with two ICE addresses: 127.0.0.1 and
 * the machine's other IPv4 address (found at run time; skipped on a machine with none).
 * Its transports are on the shared port of each.
 */

// This file's UDP ports: 59600-59639.
const OTHER = Object.values(networkInterfaces())
  .flat()
  .find((info) => info?.family === 'IPv4' && !info.internal)?.address;

const stun = new StunServer();
let stunUrl = '';
beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterAll(() => stun.close());

describe.runIf(OTHER !== undefined)('a bundled room on two ICE addresses', () => {
  it('offers a host candidate on each address, the first preferred, and the media flows both ways', async () => {
    const server = new InProcessMediaServer({ iceAddresses: ['127.0.0.1', OTHER!], portRange: [59600, 59639] });
    const room = await server.createRoom('two-addresses');
    const offers: string[] = [];
    room.onOffer((offer) => offers.push(offer.sdp));
    const a = new BundledPeer(room, 'a', stunUrl, 1);
    const b = new BundledPeer(room, 'b', stunUrl, 2);
    try {
      await room.join('a');
      await room.join('b');
      await a.publish();
      await b.publish();
      await until(() => a.videoCount('b') > 10 && b.videoCount('a') > 10, 20_000, () => [a.state(), b.state()]);
      // Each m-line lists them (the first one's are enough).
      const firstSection = offers.at(-1)!.split(/^m=/m)[1]!;
      const candidates = [...firstSection.matchAll(/^a=candidate:\S+ 1 udp (\d+) (\S+) \d+ typ host/gm)].map((m) => [Number(m[1]), m[2]]);
      expect(candidates).toEqual([
        [2130706431, '127.0.0.1'],
        [2130706175, OTHER],
      ]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await room.close();
      await server.close();
    }
  }, 60_000);
});
