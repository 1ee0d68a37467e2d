import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { isVp8Keyframe } from '../rtp/keyframe.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import { createPlayerEndpoint, createRecorderEndpoint } from './factories.js';
import { probeMedia } from './probe.js';
import { SupervisedProcess } from './SupervisedProcess.js';
import { requireTools } from './testTools.js';

// Ports: pipelines 55200-55399.
const h = useMediaHarness([55200, 55399]);
const tools = requireTools(['ffmpeg', 'ffprobe', 'gst-launch-1.0']);
const dir = mkdtempSync(join(tmpdir(), 'rt-player-'));
const clip = join(dir, 'clip.webm');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  if (!tools) return;
  // 3 s of test picture (VP8) and a 440 Hz tone (Opus).
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30:duration=3', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3'],
    ...['-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '500k', '-c:a', 'libopus', clip],
  ]);
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!tools)('PlayerEndpoint', () => {
  it('plays a WebM file into a WebRtcEndpoint that a peer receives, then fires endOfStream', async () => {
    const pipeline = h.pipeline();
    const player = createPlayerEndpoint(pipeline, { uri: pathToFileURL(clip).href });
    const ep = pipeline.createWebRtcEndpoint({ direction: 'sendonly' });
    player.connect(ep);
    const pc = h.peer();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const video = collect(pc, 'video');
    const audio = collect(pc, 'audio');
    await negotiate(pc, ep);
    // The clip lasts 3 s: play it once the peer is connected, so it sees all of it.
    await waitForConnected(pc);

    const states: string[] = [];
    player.on('stateChanged', (s) => states.push(s));
    const ended = player.waitFor('endOfStream', 30_000);
    await player.play();
    await until(() => video.length > 20 && audio.length > 20, 20_000);
    expect(video.some((p) => isVp8Keyframe(p.payload))).toBe(true);
    expect(player.getPosition()).toBeGreaterThan(0);
    await ended;
    expect(states).toEqual(['START', 'STOP']);
    expect(player.getState()).toBe('STOP');
  });

  it('plays an http:// URL (a local HTTP server of the test) the same way', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'video/webm' });
      createReadStream(clip).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    h.track({ close: () => server.close() });
    const pipeline = h.pipeline();
    const player = createPlayerEndpoint(pipeline, { uri: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/clip.webm` });
    const ep = pipeline.createWebRtcEndpoint({ direction: 'sendonly' });
    player.connect(ep);
    const pc = h.peer();
    pc.addTransceiver('video', { direction: 'recvonly' });
    const video = collect(pc, 'video');
    await negotiate(pc, ep);
    await waitForConnected(pc);
    const ended = player.waitFor('endOfStream', 30_000);
    await player.play();
    await until(() => video.length > 20, 20_000);
    await ended;
    expect(player.getState()).toBe('STOP');
  });

  it('getVideoInfo() gives the duration; setPosition() seeks; pause() keeps the position', async () => {
    const pipeline = h.pipeline();
    const player = createPlayerEndpoint(pipeline, { uri: pathToFileURL(clip).href });
    const info = await player.getVideoInfo();
    expect(info.isSeekable).toBe(true);
    expect(info.duration).toBeGreaterThan(2900);
    expect(info.duration).toBeLessThan(3200);
    expect(info.seekableEnd).toBe(info.duration);

    await player.play();
    await player.setPosition(2000);
    expect(player.getPosition()).toBeGreaterThanOrEqual(2000);
    player.pause();
    const at = player.getPosition();
    expect(player.getState()).toBe('PAUSE');
    await new Promise((r) => setTimeout(r, 300));
    expect(player.getPosition()).toBe(at);
    await expect(player.setPosition(10_000)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // Resuming from 2 s, the 3 s clip ends in about a second.
    const ended = player.waitFor('endOfStream', 15_000);
    await player.play();
    await ended;
  });

  it('a player feeding a recorder with stopOnEndOfStream leaves a complete file', async () => {
    const pipeline = h.pipeline();
    const player = createPlayerEndpoint(pipeline, { uri: pathToFileURL(clip).href });
    const out = join(dir, 'copy.mkv');
    const recorder = createRecorderEndpoint(pipeline, { uri: pathToFileURL(out).href, mediaProfile: 'MKV', stopOnEndOfStream: true });
    player.connect(recorder);
    await recorder.record();
    const stopped = recorder.waitFor('stopped', 30_000);
    await player.play();
    await stopped;
    const probed = await probeMedia(out);
    expect(probed.streams.map((s) => s.codec).sort()).toEqual(['opus', 'vp8']);
    expect(probed.duration).toBeGreaterThan(2);
  });

  it('a missing file rejects play() with an error event; a bad URI scheme is refused; the pipeline keeps working', async () => {
    const pipeline = h.pipeline();
    const missing = createPlayerEndpoint(pipeline, { uri: pathToFileURL(join(dir, 'nope.webm')).href });
    const errors: string[] = [];
    missing.on('error', (e) => errors.push(e.message));
    await expect(missing.play()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(errors[0]).toMatch(/cannot play .*nope\.webm.*No such file/);
    expect(missing.getState()).toBe('STOP');
    expect(() => createPlayerEndpoint(pipeline, { uri: 'ftp://example.invalid/x.webm' })).toThrow(/file:\/\/, http/);

    const player = createPlayerEndpoint(pipeline, { uri: pathToFileURL(clip).href });
    const ended = player.waitFor('endOfStream', 30_000);
    await player.play();
    await ended;
  });

  it('closing the player kills its FFmpeg process', async () => {
    const pipeline = h.pipeline();
    const player = createPlayerEndpoint(pipeline, { uri: pathToFileURL(clip).href });
    await player.play();
    const pid = player.processId!;
    expect(processAlive(pid)).toBe(true);
    player.close();
    await until(() => !processAlive(pid), 10_000);
    await until(() => SupervisedProcess.runningPids().length === 0, 10_000);
  });
});
