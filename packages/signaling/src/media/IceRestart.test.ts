import { KurentoServer } from '@roundtable/kurento';
import { StunServer } from '@roundtable/media/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { roomPeer, type SfuPeer } from '../testing/sfuPeer.js';
import { until as waitUntil } from '../testing/wait.js';
import { InProcessMediaServer } from './InProcessMediaServer.js';
import type { MediaRoom, MediaServer } from './MediaServer.js';
import { RemoteMediaServer } from './RemoteMediaServer.js';

const stun = new StunServer();
let stunUrl = '';
let kurento: KurentoServer;
let kurentoUrl = '';
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [53400, 53599] as [number, number] };

beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
  kurento = new KurentoServer({ port: 0, media: { ...MEDIA, portRange: [53600, 53799] } });
  kurentoUrl = (await kurento.listen()).url;
});
afterAll(async () => {
  await kurento.close();
  stun.close();
});

function participant(room: MediaRoom, name: string, tag: number): SfuPeer {
  return roomPeer(room, name, stunUrl, tag);
}

/**
 * The participant's link for `sender` restarts ICE: a new offer (new credentials) sent
 * as receiveVideoFrom again, as the client SDK does. Returns the answer's ice-ufrag.
 */
async function restartLink(room: MediaRoom, peer: SfuPeer, name: string, sender: string): Promise<{ before: string; after: string }> {
  const pc = peer.peers.get(sender)!;
  const before = ufrag(pc.remoteDescription!.sdp);
  pc.restartIce();
  await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
  const answer = await room.receiveVideoFrom(name, sender, pc.localDescription!.sdp);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  startChecks(pc);
  return { before, after: ufrag(answer) };
}

/** werift 0.24 does not run the checks of a restarted ICE generation once DTLS is up (the SDK's PeerLink does the same). */
function startChecks(pc: WeriftPeerConnection): void {
  for (const t of pc.iceTransports) if (!t.connection.nominated && t.state !== 'checking') t.start().catch(() => undefined);
}

function ufrag(sdp: string): string {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? '';
}

const until = (check: () => boolean, timeoutMs = 15_000): Promise<void> => waitUntil(check, timeoutMs);

const implementations: Array<[string, () => Promise<MediaServer>]> = [
  ['in process', async () => new InProcessMediaServer(MEDIA)],
  ['remote, over the Kurento Protocol', async () => RemoteMediaServer.connect({ url: kurentoUrl })],
];

describe.each(implementations)('MediaServer %s, ICE restart', (_name, make) => {
  it('receiveVideoFrom again on an existing link (new ICE credentials) is answered by the same endpoint and media keeps flowing', async () => {
    const server = await make();
    const room = await server.createRoom('restart');
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

      const uplink = await restartLink(room, a, 'a', 'a');
      const downlink = await restartLink(room, a, 'a', 'b');

      const [atA, atB] = [a.videoCount('b'), b.videoCount('a')];
      await until(() => a.videoCount('b') > atA + 30 && b.videoCount('a') > atB + 30, 20_000);
      expect(uplink.after).not.toBe(uplink.before);
      expect(downlink.after).not.toBe(downlink.before);
      expect(new Set(b.videoFrom.get('a')!.map((p) => p.payload[2]))).toEqual(new Set([1]));
      expect(room.participants().sort()).toEqual(['a', 'b']);
    } finally {
      await a.close();
      await b.close();
      await room.close();
      await server.close();
    }
  });
});
