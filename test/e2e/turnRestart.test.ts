/**
 * coturn restarted under a relayed call: the TURN allocations of the participants are
 * gone with the old process, so their media stops; an ICE restart (new credentials, a
 * new allocation on the new coturn) brings it back without a new call.
 */
import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { InProcessMediaServer, Signaling } from '@roundtable/signaling';
import { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RtpCounter, signUp, stalls, until } from '../../packages/client/src/testing/harness.js';
import { Coturn, skipTurnTests } from './coturn.js';

const SUITE = 'coturn restarted under a relayed call';
// Ports: the media server 64762-64767, coturn relays 64768-64787.
const MEDIA_PORTS: [number, number] = [64762, 64767];
const RELAY_PORTS: [number, number] = [64768, 64787];
const skip = skipTurnTests(SUITE);
const env = useTestPeerEnvironment();

/** werift for the SDK that may only use relay candidates (whatever the SDK's configuration says). */
class RelayOnlyPeerConnection extends WeriftPeerConnection {
  constructor(config: ConstructorParameters<typeof WeriftPeerConnection>[0] = {}) {
    super({ ...config, iceTransportPolicy: 'relay' });
  }
}

describe.skipIf(skip)(SUITE, () => {
  let coturn: Coturn | undefined;
  beforeAll(async () => {
    coturn = await Coturn.start({ relayPorts: RELAY_PORTS });
  });
  afterAll(async () => {
    await coturn?.close();
  });

  it("stops the relayed room's media; an ICE restart of each member finds new relays and the media flows again", async () => {
    const turn = coturn!;
    const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: MEDIA_PORTS });
    const signaling = await Signaling.open({ dbPath: ':memory:', media, iceServers: { urls: [turn.url('udp')], sharedSecret: turn.secret } });
    const { port } = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
    env.cleanup.push(async () => {
      await signaling.close();
      await media.close();
    });
    const url = `ws://127.0.0.1:${port}/ws`;
    // The SDK asks the server for ice.servers (coturn, with TURN REST credentials) and may only relay.
    const relayOnly = { iceServers: undefined, RTCPeerConnection: RelayOnlyPeerConnection };
    const alice = await signUp(env, url, 'talice', 1, relayOnly);
    const bob = await signUp(env, url, 'tbob', 2, relayOnly);
    const aliceRoom = await alice.client.joinRoom('relayed', { localMedia: alice.localMedia });
    const bobRoom = await bob.client.joinRoom('relayed', { localMedia: bob.localMedia });
    const [aliceGot, bobGot] = [new RtpCounter(aliceRoom), new RtpCounter(bobRoom)];
    await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'alice and bob get each other through coturn', 30_000, () => [aliceRoom.state, bobRoom.state, aliceGot.snapshot(), bobGot.snapshot(), turn.log.split('\n').filter((l) => / error|ERROR|ALLOCATE/.test(l)).slice(-12)]);
    const allocations = (): number => turn.log.split('\n').filter((l) => /ALLOCATE processed, success/.test(l)).length;
    const before = allocations();
    expect(before).toBeGreaterThanOrEqual(4); // an uplink and a downlink each

    await turn.restart();
    // The relays died with the old process: nothing gets through.
    await stalls(() => aliceGot.count(bob.id, 'video') + bobGot.count(alice.id, 'video'), 'media through the dead relays');

    const [aliceSince, bobSince] = [aliceGot.snapshot(), bobGot.snapshot()];
    await Promise.all([aliceRoom.restartIce(), bobRoom.restartIce()]);
    await until(() => aliceGot.grew(bob.id, 10, aliceSince) && bobGot.grew(alice.id, 10, bobSince), 'media again after the ICE restart', 30_000, () => [aliceGot.snapshot(), bobGot.snapshot()]);

    // New allocations on the new coturn carry it; same rooms, same server endpoints.
    expect(allocations()).toBeGreaterThanOrEqual(before + 4);
    expect([aliceRoom.state, bobRoom.state]).toEqual(['CONNECTED', 'CONNECTED']);
    expect(signaling.rooms.openRooms).toBe(1);
    await Promise.all([aliceRoom.leave(), bobRoom.leave()]);
  });
});
