import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { CallState } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { Call } from './Call.js';
import { ClientError } from './ClientError.js';
import { endedWith, nextIncoming, signUp as signUpWith, startServer as startServerWith, until } from './testing/harness.js';
import type { MediaStreamTrack } from 'werift';

const peerEnv = useTestPeerEnvironment();
const PORTS: [number, number] = [50000, 50499];

const startServer = () => startServerWith(peerEnv, PORTS);
const signUp = (url: string, username: string, tag: number) => signUpWith(peerEnv, url, username, tag);

/** Counts the RTP packets of the remote tracks of a call, by kind. */
function countRtp(call: Call): Record<string, number> {
  const counts: Record<string, number> = { audio: 0, video: 0 };
  call.on('track', ({ track }) => {
    (track as MediaStreamTrack).onReceiveRtp.subscribe(() => counts[track.kind]!++);
  });
  return counts;
}

async function twoUsers(prefix: string) {
  const server = await startServer();
  const alice = await signUp(server.url, `${prefix}alice`, 1);
  const bob = await signUp(server.url, `${prefix}bob`, 2);
  const conversationId = await alice.client.directConversation(bob.client.userId);
  return { server, alice, bob, conversationId };
}

/** Alice calls Bob, Bob accepts; both sides count the RTP they receive. */
async function connectedCall(prefix: string, topology: 'sfu' | 'p2p') {
  const env = await twoUsers(prefix);
  const { alice, bob, conversationId } = env;
  const ringing = nextIncoming(bob.client);
  const outgoing = await alice.client.startCall(conversationId, { audioOnly: false, topology, localMedia: alice.localMedia });
  const aliceGot = countRtp(outgoing);
  expect(outgoing.state).toBe('OUTGOING');
  const incoming = await ringing;
  expect([incoming.state, incoming.peer, incoming.topology]).toEqual(['INCOMING', alice.client.userId, topology]);
  const bobGot = countRtp(incoming);
  await incoming.accept({ localMedia: bob.localMedia });
  await until(() => outgoing.state === 'CONNECTED' && incoming.state === 'CONNECTED', 'both sides CONNECTED');
  await until(() => aliceGot.video! > 20 && bobGot.video! > 20 && aliceGot.audio! > 20 && bobGot.audio! > 20, 'media both ways');
  return { ...env, outgoing, incoming, aliceGot, bobGot };
}

const CALLER: CallState[] = ['IDLE', 'OUTGOING', 'CONNECTING', 'CONNECTED'];
const CALLEE: CallState[] = ['IDLE', 'INCOMING', 'CONNECTING', 'CONNECTED'];

describe('RoundtableClient against the real signaling server', () => {
  it('a 1:1 SFU call: media flows both ways, states go OUTGOING/INCOMING -> CONNECTING -> CONNECTED, hang-up ends both (hangup / remoteHangup)', async () => {
    const { outgoing, incoming, server } = await connectedCall('s', 'sfu');
    expect(outgoing.stateHistory).toEqual(CALLER);
    expect(incoming.stateHistory).toEqual(CALLEE);
    expect(server.media.roomCount).toBe(1);

    await outgoing.hangUp();

    expect(await endedWith(incoming)).toBe('remoteHangup');
    expect(outgoing.endReason).toBe('hangup');
    expect([outgoing.state, incoming.state]).toEqual(['IDLE', 'IDLE']);
    await until(() => server.media.roomCount === 0, 'the media room freed');
  });

  it('a 1:1 P2P call: offer, answer and candidates relayed, media peer to peer; the callee hangs up', async () => {
    const { outgoing, incoming, server, alice, bob } = await connectedCall('p', 'p2p');
    expect(outgoing.stateHistory).toEqual(CALLER);
    expect(incoming.stateHistory).toEqual(CALLEE);
    expect(server.media.roomCount).toBe(0);

    await incoming.hangUp();

    expect(await endedWith(outgoing)).toBe('remoteHangup');
    expect(incoming.endReason).toBe('hangup');
    expect([alice.client.activeCalls, bob.client.activeCalls]).toEqual([[], []]);
  });

  it('decline() ends the call for the caller with remoteHangup and never connects', async () => {
    const { alice, bob, conversationId } = await twoUsers('d');
    const ringing = nextIncoming(bob.client);
    const outgoing = await alice.client.startCall(conversationId, { audioOnly: true, topology: 'p2p', localMedia: alice.localMedia });
    const incoming = await ringing;

    await incoming.decline();

    expect(await endedWith(outgoing)).toBe('remoteHangup');
    expect(outgoing.stateHistory).toEqual(['IDLE', 'OUTGOING', 'IDLE']);
    expect(incoming.stateHistory).toEqual(['IDLE', 'INCOMING', 'IDLE']);
    await expect(incoming.decline()).rejects.toBeInstanceOf(ClientError);
  });

  it('switchToVoice() tells the other side with call.modified', async () => {
    const { outgoing, incoming } = await connectedCall('m', 'p2p');
    const modified = new Promise<boolean>((resolve) => incoming.once('modified', ({ audioOnly }) => resolve(audioOnly)));

    await outgoing.switchToVoice();

    expect(await modified).toBe(true);
    expect([outgoing.audioOnly, incoming.audioOnly]).toEqual([true, true]);
    await outgoing.hangUp();
  });

  it('a dropped socket reconnects, re-authenticates with its token, and the call stays up', async () => {
    const { outgoing, incoming, alice, aliceGot, bobGot } = await connectedCall('r', 'sfu');
    const events: string[] = [];
    alice.client.on('reconnecting', () => events.push('reconnecting'));
    const reconnected = new Promise<void>((resolve) => alice.client.on('reconnected', () => resolve()));

    alice.sockets.at(-1)!.terminate();
    await reconnected;

    expect(events[0]).toBe('reconnecting');
    expect(alice.sockets).toHaveLength(2);
    expect(alice.client.signaling.isOpen).toBe(true);
    const [a, b] = [aliceGot.video!, bobGot.video!];
    await until(() => aliceGot.video! > a + 20 && bobGot.video! > b + 20, 'media still flowing');
    expect([outgoing.state, incoming.state]).toEqual(['CONNECTED', 'CONNECTED']);

    // The server took the call over to the new socket: the end reaches Alice there.
    await incoming.hangUp();
    expect(await endedWith(outgoing)).toBe('remoteHangup');
  });
});
