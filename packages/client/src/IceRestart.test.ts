import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { ServerNotification } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { Call } from './Call.js';
import type { RoundtableClient } from './RoundtableClient.js';
import { endedWith, nextIncoming, RtpCounter, signUp, startServer, until, type TestUser } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [53200, 53349];

/** The ice-ufrag of every SDP this client receives in call.signal payloads of `type` ('offer', 'answer', 'receiveVideoAnswer'), in order; for receiveVideoAnswer `name:ufrag`. */
function ufragsReceived(client: RoundtableClient, type: string): string[] {
  const seen: string[] = [];
  client.on('notification', (x: ServerNotification) => {
    if (x.type !== 'call.signal' || x.payload.type !== type) return;
    const p = x.payload;
    const sdp = p.type === 'offer' || p.type === 'answer' ? p.sdp : p.type === 'receiveVideoAnswer' || p.type === 'publishAnswer' ? p.sdpAnswer : '';
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? '?';
    seen.push(p.type === 'receiveVideoAnswer' ? `${p.name}:${ufrag}` : ufrag);
  });
  return seen;
}

/**
 * A 1:1 call between two new users, answered, with media flowing both ways. Through the
 * media server in the seed's words (an uplink and a downlink each: this test is about
 * their endpoints' restarts), unless `bundled`.
 */
async function connectedCall(topology: 'p2p' | 'sfu', prefix: string, bundled = false): Promise<{ alice: TestUser; bob: TestUser; aliceCall: Call; bobCall: Call; aliceGot: RtpCounter; bobGot: RtpCounter; offersToBob: string[]; answersToBob: string[]; answersToAlice: string[] }> {
  const server = await startServer(env, PORTS);
  const alice = await signUp(env, server.url, `${prefix}alice`, 1, { bundledMedia: bundled });
  const bob = await signUp(env, server.url, `${prefix}bob`, 2, { bundledMedia: bundled });
  const offersToBob = ufragsReceived(bob.client, 'offer');
  const answersToBob = ufragsReceived(alice.client, topology === 'p2p' ? 'answer' : bundled ? 'publishAnswer' : 'receiveVideoAnswer');
  const answersToAlice = answersToBob;
  const conversation = await alice.client.im.directConversation(bob.id);
  const ringing = nextIncoming(bob.client);
  const aliceCall = await alice.client.startCall(conversation.id, { topology, localMedia: alice.localMedia });
  const aliceGot = new RtpCounter(aliceCall);
  const bobCall = await ringing;
  const bobGot = new RtpCounter(bobCall);
  await bobCall.accept({ localMedia: bob.localMedia });
  await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'media both ways', 30_000, () => [aliceGot.snapshot(), bobGot.snapshot()]);
  return { alice, bob, aliceCall, bobCall, aliceGot, bobGot, offersToBob, answersToBob, answersToAlice };
}


describe('ICE restart in calls', () => {
  it('peer to peer: after a forced ICE restart (new credentials both sides) media still flows both ways', async () => {
    const { alice, bob, aliceCall, bobCall, aliceGot, bobGot, offersToBob, answersToAlice } = await connectedCall('p2p', 'pr');

    await aliceCall.restartIce();

    await until(() => offersToBob.length === 2 && answersToAlice.length === 2, 'the restart offer reaches bob and his answer alice');
    const counts = [aliceGot.snapshot(), bobGot.snapshot()];
    await until(() => aliceGot.grew(bob.id, 30, counts[0]) && bobGot.grew(alice.id, 30, counts[1]), 'media both ways after the restart', 30_000, () => [aliceGot.snapshot(), bobGot.snapshot()]);
    // New ICE credentials on both sides.
    expect(offersToBob[1]).not.toBe(offersToBob[0]);
    expect(answersToAlice[1]).not.toBe(answersToAlice[0]);
    expect([aliceCall.state, bobCall.state]).toEqual(['CONNECTED', 'CONNECTED']);
    await aliceCall.hangUp();
    expect(await endedWith(bobCall)).toBe('remoteHangup');
  }, 90_000);

  it('through the media server: after a forced ICE restart of every link media still flows both ways', async () => {
    const { alice, bob, aliceCall, bobCall, aliceGot, bobGot, answersToAlice } = await connectedCall('sfu', 'sr');
    // One answer per link so far: alice's uplink and her downlink from bob.
    expect(answersToAlice).toHaveLength(2);

    await aliceCall.restartIce();

    await until(() => answersToAlice.length === 4, 'the media server answers both restart offers');
    const counts = [aliceGot.snapshot(), bobGot.snapshot()];
    await until(() => aliceGot.grew(bob.id, 30, counts[0]) && bobGot.grew(alice.id, 30, counts[1]), 'media both ways after the restart', 30_000, () => [aliceGot.snapshot(), bobGot.snapshot()]);
    // The server's endpoints answered with new credentials, one per link.
    expect(new Set(answersToAlice).size).toBe(4);
    expect(answersToAlice.slice(2).map((a) => a.split(':')[0]).sort()).toEqual(answersToAlice.slice(0, 2).map((a) => a.split(':')[0]).sort());
    expect([aliceCall.state, bobCall.state]).toEqual(['CONNECTED', 'CONNECTED']);
    await bobCall.hangUp();
    expect(await endedWith(aliceCall)).toBe('remoteHangup');
  }, 90_000);

  it('through the media server on the bundled words: a forced restart publishes the sending connection again (the ICE-lite server keeps its credentials) and media still flows both ways', async () => {
    const { alice, bob, aliceCall, bobCall, aliceGot, bobGot, answersToAlice } = await connectedCall('sfu', 'br', true);
    expect(answersToAlice).toHaveLength(1);

    await aliceCall.restartIce();

    await until(() => answersToAlice.length === 2, 'the media server answers the new publish');
    const counts = [aliceGot.snapshot(), bobGot.snapshot()];
    await until(() => aliceGot.grew(bob.id, 30, counts[0]) && bobGot.grew(alice.id, 30, counts[1]), 'media both ways after the restart', 30_000, () => [aliceGot.snapshot(), bobGot.snapshot()]);
    expect(answersToAlice[1]).toBe(answersToAlice[0]);
    expect([aliceCall.state, bobCall.state]).toEqual(['CONNECTED', 'CONNECTED']);
    await bobCall.hangUp();
    expect(await endedWith(aliceCall)).toBe('remoteHangup');
  }, 90_000);
});
