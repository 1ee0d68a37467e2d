/**
 * Sockets of the media server for one 9-person call, in single-port and port-range mode.
 * The Kurento group-call model that signaling uses: per participant one uplink
 * endpoint (recvonly) and one downlink endpoint per other participant (sendonly): 81
 * WebRtcEndpoints for nine, each negotiated with a werift peer and connected (ICE and
 * DTLS up). Counts the UDP sockets bound in the engine's media range (/proc/net/udp: the
 * peers' sockets are on ephemeral ports outside it) and the ports the range allocator
 * holds.
 *
 * Run: npx tsx packages/media/scripts/socketCount.ts
 * Env: PARTICIPANTS (default 9).
 * Ports: 61000-61499 on 127.0.0.1 (the single port is 61000; port-range mode needs 4 per
 * endpoint); STUN on an ephemeral port. Not with the media tests of 61000-61499 running.
 */
import { readFileSync } from 'node:fs';
import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { Engine } from '../src/core/Engine.js';
import { StunServer } from '../src/net/StunServer.js';
import { FakePublisher } from '../src/testing/FakePublisher.js';
import { createWeriftPeer, waitForConnected } from '../src/testing/peers.js';
import { negotiate } from '../src/testing/signal.js';
import type { WebRtcEndpoint } from '../src/webrtc/WebRtcEndpoint.js';

/** The script's media engine. */
const engine = new Engine();

const PARTICIPANTS = Number(process.env.PARTICIPANTS ?? 9);
const RANGE: [number, number] = [61000, 61499];

function udpSocketsIn([min, max]: [number, number]): number {
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => Number.parseInt(line.trim().split(/\s+/)[1]?.split(':')[1] ?? '', 16))
    .filter((port) => port >= min && port <= max).length;
}

async function measure(stunUrl: string, udpPort: false | undefined): Promise<{ endpoints: number; sockets: number; reserved: number }> {
  const pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: RANGE, udpPort });
  const peers: WeriftPeerConnection[] = [];
  const pairs: Array<{ ep: WebRtcEndpoint; pc: WeriftPeerConnection }> = [];
  const uplinks: WebRtcEndpoint[] = [];
  for (let i = 0; i < PARTICIPANTS; i++) {
    const ep = pipeline.createWebRtcEndpoint({ direction: 'recvonly' });
    const pc = createWeriftPeer(stunUrl);
    new FakePublisher(i).attach(pc);
    uplinks.push(ep);
    pairs.push({ ep, pc });
  }
  for (const [i, up] of uplinks.entries()) {
    for (let j = 0; j < PARTICIPANTS; j++) {
      if (j === i) continue;
      const ep = pipeline.createWebRtcEndpoint({ direction: 'sendonly' });
      up.connect(ep);
      const pc = createWeriftPeer(stunUrl);
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pairs.push({ ep, pc });
    }
  }
  for (const { ep, pc } of pairs) {
    peers.push(pc);
    await negotiate(pc, ep);
  }
  await Promise.all(peers.map((pc) => waitForConnected(pc, 60_000)));
  const result = { endpoints: pairs.length, sockets: udpSocketsIn(RANGE), reserved: pipeline.ports.inUse };
  pipeline.close();
  await Promise.all(peers.map((pc) => pc.close()));
  return result;
}

async function main(): Promise<void> {
  const stun = new StunServer();
  const { url } = await stun.listen();
  for (const [mode, udpPort] of [
    ['single-port', undefined],
    ['port-range', false],
  ] as const) {
    const r = await measure(url, udpPort);
    console.log(`${mode}: ${r.endpoints} endpoints connected, ${r.sockets} UDP sockets in the media range, ${r.reserved} ports reserved from the range`);
  }
  stun.close();
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
