import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KurentoClientInstance } from 'kurento-client';
import { SupervisedProcess, probeMedia } from '@roundtable/media';
import { RealMediaSender, createWeriftPeer } from '@roundtable/media/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaStreamTrack, type RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { RawClient } from './testing/RawClient.js';
import { useKurentoHarness } from './testing/harness.js';
import { callOperation, makeWebmClip, mediaToolsAvailable } from './testing/officialClient.js';
import { connectThroughKurento, receivedBy, until, viewerPeer, type Received } from './testing/kurentoPeers.js';

// Ports: the server's media 55400-55589; test encoders from 55950.
const h = useKurentoHarness([55400, 55589]);
const cleanup = h.cleanup;
const dir = mkdtempSync(join(tmpdir(), 'rt-kurento-rec-'));
const clip = join(dir, 'clip.webm');
let nextSenderPort = 55950;
const tools = mediaToolsAvailable('Kurento recording tests', ['gst-launch-1.0', 'ffmpeg', 'ffprobe']);


beforeAll(() => {
  if (!tools) return;
  makeWebmClip(clip);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kurento = (): Promise<KurentoClientInstance> => h.officialClient();

const call = callOperation;

/** A werift peer sending real VP8 + Opus (encoded live by gst-launch) and receiving. */
async function realPeer(frequency: number): Promise<{ pc: WeriftPeerConnection; sender: RealMediaSender; got: Received }> {
  const pc = createWeriftPeer(h.stunUrl);
  cleanup.push(() => pc.close());
  const video = new MediaStreamTrack({ kind: 'video' });
  const audio = new MediaStreamTrack({ kind: 'audio' });
  pc.addTransceiver(video, { direction: 'sendrecv' });
  pc.addTransceiver(audio, { direction: 'sendrecv' });
  const base = nextSenderPort;
  nextSenderPort += 2;
  const sender = new RealMediaSender({ ports: [base, base + 1], frequency });
  sender.onPacket = (kind, packet) => (kind === 'video' ? video : audio).writeRtp(packet);
  cleanup.push(() => sender.close());
  return { pc, sender, got: receivedBy(pc) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!tools)('RecorderEndpoint and PlayerEndpoint through the official kurento-client', () => {
  it('records a one-to-one call between two real VP8/Opus peers: one WebM per side, right codecs, duration = wall time', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const [caller, callee] = [await pipeline.create('WebRtcEndpoint'), await pipeline.create('WebRtcEndpoint')];
    const files = [join(dir, 'caller.webm'), join(dir, 'callee.webm')];
    const recorders = [
      await pipeline.create('RecorderEndpoint', { uri: pathToFileURL(files[0]!).href }),
      await pipeline.create('RecorderEndpoint', { uri: pathToFileURL(files[1]!).href, mediaProfile: 'WEBM' }),
    ];
    const a = await realPeer(440);
    const b = await realPeer(880);
    await caller.connect(callee);
    await callee.connect(caller);
    await caller.connect(recorders[0]!);
    await callee.connect(recorders[1]!);
    await Promise.all([connectThroughKurento(a.pc, caller), connectThroughKurento(b.pc, callee)]);
    await Promise.all([a.sender.start(), b.sender.start()]);
    await until(() => a.got.video.length > 10 && b.got.video.length > 10, 20_000);

    const events: string[] = [];
    recorders[0]!.on('Recording', () => events.push('Recording'));
    recorders[0]!.on('Stopped', () => events.push('Stopped'));
    recorders[0]!.on('UriEndpointStateChanged', (e) => events.push(`state:${String(e.state)}`));
    await sleep(300); // subscriptions are in place
    await Promise.all(recorders.map((r) => call(r, 'record')));
    const started = performance.now();
    await sleep(4000);
    expect(await call(recorders[0]!, 'getState')).toBe('START');
    await Promise.all(recorders.map((r) => call(r, 'stopAndWait')));
    const wall = (performance.now() - started) / 1000;
    await until(() => events.includes('Stopped'));
    expect(events).toEqual(['state:START', 'Recording', 'state:STOP', 'Stopped']);

    for (const file of files) {
      const info = await probeMedia(file);
      expect(info.streams.map((s) => `${s.kind}:${s.codec}`).sort()).toEqual(['audio:opus', 'video:vp8']);
      expect(Math.abs(info.duration! - wall)).toBeLessThan(1);
    }
    await pipeline.release();
  });

  it('a PlayerEndpoint plays a generated file into a WebRtcEndpoint a peer receives; EndOfStream fires', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: pathToFileURL(clip).href });
    const ep = await pipeline.create('WebRtcEndpoint');
    const viewer = viewerPeer(h.stunUrl);
    cleanup.push(() => viewer.pc.close());
    await player.connect(ep);
    await connectThroughKurento(viewer.pc, ep);
    const info = await call<Record<string, unknown>>(player, 'getVideoInfo');
    expect(info.isSeekable).toBe(true);
    expect(Number(info.duration)).toBeGreaterThan(2900);
    let ended = false;
    player.on('EndOfStream', () => {
      ended = true;
    });
    await sleep(200);
    await call(player, 'play');
    await until(() => viewer.got.video.length > 20 && viewer.got.audio.length > 20, 20_000);
    expect(Number(await call(player, 'getPosition'))).toBeGreaterThan(0);
    await until(() => ended, 20_000);
    expect(await call(player, 'getState')).toBe('STOP');
    await pipeline.release();
  });

  it('bad input gets clear errors and breaks nothing: unwritable path, unknown profile, missing file', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const recorder = await pipeline.create('RecorderEndpoint', { uri: pathToFileURL(join(dir, 'no-such-dir', 'x.webm')).href });
    const errors: string[] = [];
    recorder.on('Error', (e) => errors.push(String(e.description)));
    await sleep(200);
    await expect(call(recorder, 'record')).rejects.toMatchObject({ code: 40107 });
    await until(() => errors.length > 0);
    expect(errors[0]).toMatch(/not writable/);

    const player = await pipeline.create('PlayerEndpoint', { uri: pathToFileURL(join(dir, 'missing.webm')).href });
    const playerErrors: string[] = [];
    player.on('Error', (e) => playerErrors.push(String(e.description)));
    await sleep(200);
    await expect(call(player, 'play')).rejects.toMatchObject({ code: 40107 });
    await until(() => playerErrors.length > 0);
    expect(playerErrors[0]).toMatch(/No such file/);

    // The official client refuses an unknown profile itself; a raw request reaches the server.
    const raw = await RawClient.connect(h.url);
    cleanup.push(() => raw.close());
    const rawPipeline = await raw.value<string>('create', { type: 'MediaPipeline' });
    const bad = await raw.request('create', { type: 'RecorderEndpoint', constructorParams: { mediaPipeline: rawPipeline, uri: 'file:///tmp/x.webm', mediaProfile: 'AVI' } });
    expect(bad.error?.code).toBe(40107);
    expect(bad.error?.message).toMatch(/unknown media profile 'AVI'/);

    // Everything else still works.
    const ep = await pipeline.create('WebRtcEndpoint');
    const ok = await pipeline.create('RecorderEndpoint', { uri: pathToFileURL(join(dir, 'fine.webm')).href, mediaProfile: 'WEBM_AUDIO_ONLY' });
    await ep.connect(ok);
    await call(ok, 'record');
    expect(await call(ok, 'getState')).toBe('START');
    await call(ok, 'stopAndWait');
    await pipeline.release();
  });

  it('releasing a pipeline ends its recorder and player processes: none is left behind', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: pathToFileURL(clip).href });
    const recorder = await pipeline.create('RecorderEndpoint', { uri: pathToFileURL(join(dir, 'released.webm')).href });
    await player.connect(recorder);
    await call(recorder, 'record');
    await call(player, 'play');
    expect(SupervisedProcess.runningPids().length).toBe(2);
    const pids = SupervisedProcess.runningPids();
    await pipeline.release();
    await until(() => SupervisedProcess.runningPids().length === 0, 10_000);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
