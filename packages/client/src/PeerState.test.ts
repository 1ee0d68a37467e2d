import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { Reaction, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { FakeDevices, nextIncoming, signUp, startServer, until } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [64900, 64949];

describe('participant state and reactions', () => {
  it('mute, camera off, a raised hand and speaking reach the other side as Participant fields; reactions reach both; voice only counts as camera off', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'psalice', 1, { mediaDevices: new FakeDevices(env, 11) });
    const bob = await signUp(env, server.url, 'psbob', 2, { mediaDevices: new FakeDevices(env, 21) });
    const conversation = await alice.client.im.directConversation(bob.id);
    const ringing = nextIncoming(bob.client);
    const aliceCall = await alice.client.startCall(conversation.id, { topology: 'p2p', audioOnly: false, localMedia: alice.localMedia });
    await aliceCall.setAudioMuted(true);
    const bobCall = await ringing;
    await bobCall.accept({ localMedia: { getTracks: () => [bob.publisher.audio] }, audioOnly: true });
    const seenByBob = () => bobCall.participants.find((p) => p.id === alice.id);
    const seenByAlice = () => aliceCall.participants.find((p) => p.id === bob.id);

    // Muted before Bob answered: he is told on answering. Bob answered with voice only: no video goes out.
    await until(() => seenByBob()?.audioMuted === true, 'bob sees alice muted');
    await until(() => seenByAlice()?.cameraOff === true, 'alice sees bob without video');
    expect(seenByBob()).toMatchObject({ cameraOff: false, handRaised: false });

    await aliceCall.setAudioMuted(false);
    await aliceCall.setCameraOff(true);
    await aliceCall.setHandRaised(true);
    await until(() => seenByBob()?.audioMuted === false && seenByBob()?.cameraOff === true && seenByBob()?.handRaised === true, 'bob sees alice unmuted, camera off, hand up');
    expect(aliceCall.handRaised).toBe(true);

    // Speaking, as the app measures her own microphone: announced on change, never while muted.
    aliceCall.setSpeaking(true);
    await until(() => seenByBob()?.speaking === true, 'bob sees alice speaking');
    await aliceCall.setAudioMuted(true);
    await until(() => seenByBob()?.audioMuted === true && seenByBob()?.speaking !== true, 'muted: not speaking');
    await aliceCall.setAudioMuted(false);
    await until(() => seenByBob()?.speaking === true, 'unmuted while she still speaks');
    aliceCall.setSpeaking(false);
    await until(() => seenByBob()?.speaking !== true, 'quiet again');

    const reactions: Array<[string, UserId, Reaction]> = [];
    aliceCall.on('reaction', ({ participant, reaction }) => reactions.push(['alice', participant, reaction]));
    bobCall.on('reaction', ({ participant, reaction }) => reactions.push(['bob', participant, reaction]));
    await bobCall.react('👍');
    await until(() => reactions.length === 2, 'the reaction on both sides');
    expect(reactions.sort()).toEqual([
      ['alice', bob.id, '👍'],
      ['bob', bob.id, '👍'],
    ]);
    await aliceCall.hangUp();
  }, 60_000);
});
