import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { Topology } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { Call } from './Call.js';
import type { LocalMediaState } from './LocalTracks.js';
import { FakeDevices, nextIncoming, RtpCounter, signUp, stalls, startServer, until, type TestUser } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [51000, 51199];

interface Pair {
  alice: TestUser;
  bob: TestUser;
  aliceCall: Call;
  bobCall: Call;
  /** What Bob receives from Alice, and the reverse. */
  bobGot: RtpCounter;
  aliceGot: RtpCounter;
  aliceDevices: FakeDevices;
  bobDevices: FakeDevices;
}

/** Alice calls Bob and Bob accepts; with `voice`, both send their microphone only. */
async function connected(prefix: string, topology: Exclude<Topology, 'loopback'>, voice = false): Promise<Pair> {
  const server = await startServer(env, PORTS);
  const aliceDevices = new FakeDevices(env, 11);
  const bobDevices = new FakeDevices(env, 21);
  const alice = await signUp(env, server.url, `${prefix}alice`, 1, { mediaDevices: aliceDevices });
  const bob = await signUp(env, server.url, `${prefix}bob`, 2, { mediaDevices: bobDevices });
  const conversation = await alice.client.im.directConversation(bob.id);
  const ringing = nextIncoming(bob.client);
  const media = (u: TestUser) => (voice ? { getTracks: () => [u.publisher.audio] } : u.localMedia);
  const aliceCall = await alice.client.startCall(conversation.id, { topology, audioOnly: voice, localMedia: media(alice) });
  const aliceGot = new RtpCounter(aliceCall);
  const bobCall = await ringing;
  const bobGot = new RtpCounter(bobCall);
  await bobCall.accept({ localMedia: media(bob) });
  await until(() => aliceGot.count(bob.id, 'audio') > 10 && bobGot.count(alice.id, 'audio') > 10, 'audio both ways');
  return { alice, bob, aliceCall, bobCall, aliceGot, bobGot, aliceDevices, bobDevices };
}

describe('devices', () => {
  it('listDevices() sorts the devices by kind; openLocalMedia() asks getUserMedia for the default or a chosen device', async () => {
    const server = await startServer(env, PORTS);
    const devices = new FakeDevices(env, 40);
    const alice = await signUp(env, server.url, 'dalice', 1, { mediaDevices: devices });

    const list = await alice.client.listDevices();
    expect([list.audioInputs.map((d) => d.deviceId), list.videoInputs.map((d) => d.deviceId), list.audioOutputs.map((d) => d.deviceId)]).toEqual([['mic-1'], ['camera-1', 'camera-2'], ['speaker-1']]);

    const media = await alice.client.openLocalMedia({ audio: true, video: 'camera-2' });
    expect(devices.asked).toEqual([{ audio: true, video: { deviceId: { exact: 'camera-2' } } }]);
    expect(media.getTracks().map((t) => t.kind)).toEqual(['audio', 'video']);
    await expect(alice.client.openLocalMedia({})).rejects.toMatchObject({ code: 'MEDIA' });
  });
});

describe('local controls', () => {
  it('mute / unmute and camera off / on: nothing goes out while off, the track is disabled, media resumes when on', async () => {
    const { alice, bob, aliceCall, bobGot } = await connected('m', 'sfu');
    await until(() => bobGot.grew(alice.id, 10), 'bob gets alice');
    const changes: LocalMediaState[] = [];
    aliceCall.on('localMediaChanged', (s) => changes.push(s));

    await aliceCall.setAudioMuted(true);
    expect([aliceCall.audioMuted, alice.publisher.audio.enabled]).toEqual([true, false]);
    await stalls(() => bobGot.count(alice.id, 'audio'), 'alice audio after mute');
    const video = bobGot.count(alice.id, 'video');
    await until(() => bobGot.count(alice.id, 'video') > video + 10, 'video goes on while muted');

    await aliceCall.setAudioMuted(false);
    const audio = bobGot.count(alice.id, 'audio');
    await until(() => bobGot.count(alice.id, 'audio') > audio + 10, 'audio back after unmute');

    await aliceCall.setCameraOff(true);
    expect([aliceCall.cameraOff, alice.publisher.video.enabled]).toEqual([true, false]);
    await stalls(() => bobGot.count(alice.id, 'video'), 'alice video after camera off');
    await aliceCall.setCameraOff(false);
    const v = bobGot.count(alice.id, 'video');
    await until(() => bobGot.count(alice.id, 'video') > v + 10, 'video back after camera on');
    expect(changes.map((c) => [c.audioMuted, c.cameraOff])).toEqual([
      [true, false],
      [false, false],
      [false, true],
      [false, false],
    ]);
    expect(bob.client.activeCalls).toHaveLength(1);
  }, 90_000);

  it('screen share replaces the camera (the other side gets the screen), stopScreenShare() brings the camera back', async () => {
    const { alice, aliceCall, bobGot, aliceDevices } = await connected('s', 'sfu');
    await until(() => bobGot.lastTag.get(alice.id) === 1, 'bob sees alice camera (tag 1)');

    const screen = await aliceCall.startScreenShare();
    expect(aliceCall.screenSharing).toBe(true);
    expect(aliceDevices.asked).toEqual([{ video: true }]);
    expect(aliceCall.localMedia.screen).toBe(screen);
    await until(() => bobGot.lastTag.get(alice.id) === 11, 'bob sees the screen (tag 11)');

    await aliceCall.stopScreenShare();
    expect(aliceCall.screenSharing).toBe(false);
    await until(() => bobGot.lastTag.get(alice.id) === 1, 'bob sees the camera again');
  }, 90_000);

  it('switchDevice() mid-call sends the new camera and microphone (replaceTrack), stopping the old ones', async () => {
    const { alice, aliceCall, bobGot, aliceDevices } = await connected('d', 'p2p');
    await until(() => bobGot.lastTag.get(alice.id) === 1, 'bob sees alice camera (tag 1)');

    const camera = await aliceCall.switchDevice('video', 'camera-2');
    expect(aliceDevices.asked).toEqual([{ video: { deviceId: { exact: 'camera-2' } } }]);
    expect(aliceCall.localMedia.video).toBe(camera);
    expect(alice.publisher.video.stopped).toBe(true);
    await until(() => bobGot.lastTag.get(alice.id) === 11, 'bob sees the new camera (tag 11)');

    const audio = bobGot.count(alice.id, 'audio');
    const mic = await aliceCall.switchDevice('audio', 'mic-2', { stopOld: false });
    expect(aliceCall.localMedia.audio).toBe(mic);
    expect(alice.publisher.audio.stopped).toBe(false);
    await until(() => bobGot.count(alice.id, 'audio') > audio + 10, 'audio from the new microphone');
  }, 90_000);

  for (const topology of ['sfu', 'p2p'] as const) {
    it(`voice -> video -> voice (${topology}): the camera opens when there is none, video flows both ways, then stops`, async () => {
      const { alice, bob, aliceCall, bobCall, aliceGot, bobGot, bobDevices } = await connected(`v${topology}`, topology, true);
      expect([aliceCall.audioOnly, bobCall.audioOnly]).toEqual([true, true]);
      expect([aliceGot.count(bob.id, 'video'), bobGot.count(alice.id, 'video')]).toEqual([0, 0]);
      const told = new Promise<boolean>((resolve) => aliceCall.once('modified', ({ audioOnly }) => resolve(audioOnly)));

      // Bob (the callee) switches: he has no camera yet, so one is opened.
      await bobCall.switchToVideo();
      expect(await told).toBe(false);
      expect(bobDevices.asked).toEqual([{ video: true }]);
      await until(() => aliceGot.lastTag.get(bob.id) === 21, 'alice gets bob new camera');
      // Alice's call is now a video call too; she adds the camera she opened herself.
      await aliceCall.replaceLocalTrack('video', alice.publisher.video);
      await until(() => bobGot.lastTag.get(alice.id) === 1, 'bob gets alice camera');

      await aliceCall.switchToVoice();
      await until(() => bobCall.audioOnly, 'bob told voice');
      await stalls(() => bobGot.count(alice.id, 'video'), 'alice video after voice');
      await stalls(() => aliceGot.count(bob.id, 'video'), 'bob video after voice');
      const audio = aliceGot.count(bob.id, 'audio');
      await until(() => aliceGot.count(bob.id, 'audio') > audio + 10, 'audio goes on');
    }, 90_000);
  }
});
