import { createOpusCoder } from '@roundtable/media';
import { McuTestPeer, toneAmplitude, useTestPeerEnvironment } from '@roundtable/media/testing';
import type { UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { MediaStreamTrack } from 'werift';
import type { Call } from './Call.js';
import { nextIncoming, RtpCounter, signUp, startServer, until, type TestUser } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [51420, 51499];

/** Decodes the mixed audio a call receives (real Opus) and keeps the last frames. */
class Ear {
  private readonly frames: Int16Array[] = [];
  private readonly decoder = createOpusCoder(1);

  constructor(call: Call) {
    env.cleanup.push(() => this.decoder.close());
    call.on('mixedAudio', ({ track }) => {
      (track as MediaStreamTrack).onReceiveRtp.subscribe((p) => {
        try {
          this.frames.push(this.decoder.decode(p.payload));
        } catch {
          // an undecodable packet is nothing heard
        }
      });
    });
  }

  get heardFrames(): number {
    return this.frames.length;
  }

  /** Amplitude of `frequency` over the last second heard. */
  level(frequency: number): number {
    const last = this.frames.slice(-50);
    const pcm = new Int16Array(last.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of last) {
      pcm.set(f, o);
      o += f.length;
    }
    return toneAmplitude(pcm, frequency);
  }
}

describe('hybrid group calls through the SDK', () => {
  it("media: 'hybrid': each member gets one mixed audio track with the others' voices (not its own) and everyone else's video", async () => {
    const server = await startServer(env, PORTS);
    const tones = [440, 660, 880];
    const users: TestUser[] = [];
    const sources: McuTestPeer[] = [];
    for (const [i, name] of ['halice', 'hbob', 'hcarol'].entries()) {
      users.push(await signUp(env, server.url, name, i + 1));
      const source = new McuTestPeer({ frequency: tones[i]!, fakeVideoTag: 30 + i });
      await source.start();
      env.cleanup.push(() => source.close());
      sources.push(source);
    }
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    const media = (i: number) => ({ getTracks: () => [sources[i]!.audio, sources[i]!.video] });
    const group = await alice.client.im.createGroup('mix', [bob.id, carol.id]);
    const rings = [nextIncoming(bob.client), nextIncoming(carol.client)];
    const call = await alice.client.startCall(group.id, { members: [bob.id, carol.id], media: 'hybrid', localMedia: media(0) });
    const incoming = await Promise.all(rings);
    const calls = [call, ...incoming];
    expect(calls.map((c) => c.mediaMode)).toEqual(['hybrid', 'hybrid', 'hybrid']);
    const ears = calls.map((c) => new Ear(c));
    const video = calls.map((c) => new RtpCounter(c));
    for (const [i, c] of incoming.entries()) await c.accept({ localMedia: media(i + 1) });

    const others = (i: number): UserId[] => users.filter((_, j) => j !== i).map((u) => u.id);
    await until(
      () => video.every((v, i) => others(i).every((o) => v.count(o, 'video') > 20)) && ears.every((e) => e.heardFrames > 100),
      'video from everyone else and a second of mix',
      45_000,
      () => [video.map((v) => v.snapshot()), ears.map((e) => e.heardFrames)],
    );
    for (const [i, v] of video.entries()) for (const o of others(i)) expect(v.count(o, 'audio')).toBe(0);
    await until(
      () => ears.every((ear, i) => tones.every((f, j) => (i === j ? ear.level(f) < 300 : ear.level(f) > 1500))),
      'each hears the two others and not itself',
      30_000,
      () => ears.map((ear) => tones.map((f) => Math.round(ear.level(f)))),
    );
    expect(calls.every((c) => c.mixedAudio !== null)).toBe(true);
    expect(calls.map((c) => c.state)).toEqual(['CONNECTED', 'CONNECTED', 'CONNECTED']);
    await call.hangUp();
  }, 120_000);

  it("the caller's media is up before anyone answers (the mixed audio comes from the server at once): the first answer makes the call CONNECTED for the caller too", async () => {
    const server = await startServer(env, PORTS);
    const users: TestUser[] = [];
    const sources: McuTestPeer[] = [];
    for (const [i, name] of ['hdan', 'herin', 'hfay'].entries()) {
      users.push(await signUp(env, server.url, name, i + 11, { statsIntervalMs: 200 }));
      const source = new McuTestPeer({ frequency: 440 + 220 * i, fakeVideoTag: 40 + i });
      await source.start();
      env.cleanup.push(() => source.close());
      sources.push(source);
    }
    const [dan, erin, fay] = users as [TestUser, TestUser, TestUser];
    const media = (i: number) => ({ getTracks: () => [sources[i]!.audio, sources[i]!.video] });
    const group = await dan.client.im.createGroup('mix early', [erin.id, fay.id]);
    const rings = [nextIncoming(erin.client), nextIncoming(fay.client)];
    const call = await dan.client.startCall(group.id, { members: [erin.id, fay.id], media: 'hybrid', localMedia: media(0) });
    // Stats start when the media connects: the caller's connections are up, nobody answered yet.
    let mediaUp = false;
    call.once('stats', () => (mediaUp = true));
    await until(() => mediaUp, "the caller's media connected before any answer", 30_000, () => call.state);
    expect(call.state).toBe('OUTGOING');
    const [erinCall] = await Promise.all(rings);
    await erinCall!.accept({ localMedia: media(1) });
    await until(() => call.state === 'CONNECTED' && erinCall!.state === 'CONNECTED', 'both CONNECTED after the first answer', 30_000, () => [call.state, erinCall!.state]);
    expect(call.stateHistory).toEqual(['IDLE', 'OUTGOING', 'CONNECTING', 'CONNECTED']);
    await call.hangUp();
  }, 90_000);
});
