import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { RtpEndpoint } from '../rtp/RtpEndpoint.js';
import { until, useMediaHarness } from '../testing/harness.js';
import { RealMediaSender } from '../testing/RealMediaSender.js';
import { probeMedia } from './probe.js';
import { createRecorderEndpoint } from './factories.js';
import { SupervisedProcess } from './SupervisedProcess.js';
import { requireTools } from './testTools.js';

// Ports: pipelines 55000-55199, test senders from 55900.
const h = useMediaHarness([55000, 55199]);
const dir = mkdtempSync(join(tmpdir(), 'rt-recorder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tools = requireTools(['gst-launch-1.0', 'ffprobe', 'ffmpeg']);
let nextSenderPort = 55900;

/** A plain-RTP endpoint fed with real VP8 + Opus from a gst-launch encoder. */
async function liveSource(pipeline: MediaPipeline, kinds: { video?: boolean; audio?: boolean; videoCodec?: 'VP8' | 'H264' } = {}): Promise<RtpEndpoint> {
  const ep = pipeline.createRtpEndpoint({ direction: 'recvonly' });
  const base = nextSenderPort;
  nextSenderPort += 4;
  const offer = [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=sender',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${base + 2} RTP/AVP 111`,
    'a=rtpmap:111 opus/48000/2',
    'a=sendonly',
    ...(kinds.videoCodec === 'H264'
      ? [`m=video ${base} RTP/AVPF 102`, 'a=rtpmap:102 H264/90000', 'a=fmtp:102 packetization-mode=1;profile-level-id=42e01f']
      : [`m=video ${base} RTP/AVPF 96`, 'a=rtpmap:96 VP8/90000']),
    'a=sendonly',
    '',
  ].join('\r\n');
  const answer = await ep.processOffer(offer);
  const port = Number(/^m=video (\d+) /m.exec(answer)![1]);
  const sender = new RealMediaSender({ ports: [base, base + 1], ...kinds });
  h.track({ close: () => sender.close() });
  await sender.start();
  sender.relayTo({ video: port, audio: port });
  return ep;
}

/** First and last packet time (s) of the file's audio ('a') or video ('v') stream. */
function packetTimes(path: string, stream: 'a' | 'v'): { first: number; last: number } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', `${stream}:0`, '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', path], { encoding: 'utf8' });
  const times = out.split('\n').filter((line) => line.trim() !== '').map(Number).filter((t) => Number.isFinite(t));
  return { first: Math.min(...times), last: Math.max(...times) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!tools)('RecorderEndpoint', () => {
  it('records VP8 + Opus into a seekable WebM whose duration matches the wall time, audio and video in sync', async () => {
    const pipeline = h.pipeline();
    const source = await liveSource(pipeline);
    const path = join(dir, 'call.webm');
    const recorder = createRecorderEndpoint(pipeline, { uri: pathToFileURL(path).href });
    source.connect(recorder);
    const events: string[] = [];
    recorder.on('recording', () => events.push('recording'));
    recorder.on('stopped', () => events.push('stopped'));
    recorder.on('stateChanged', (s) => events.push(s));

    await recorder.record();
    const started = performance.now();
    await sleep(4000);
    const pid = recorder.processId!;
    await recorder.stopAndWait();
    const wall = (performance.now() - started) / 1000;

    expect(events).toEqual(['START', 'recording', 'STOP', 'stopped']);
    const info = await probeMedia(path);
    expect(info.streams.map((s) => `${s.kind}:${s.codec}`).sort()).toEqual(['audio:opus', 'video:vp8']);
    expect(info.duration).toBeDefined();
    expect(Math.abs(info.duration! - wall)).toBeLessThan(1);
    // One clock for both: they end together; video may start up to one keyframe interval (1 s) after audio.
    const [a, v] = [packetTimes(path, 'a'), packetTimes(path, 'v')];
    expect(Math.abs(a.last - v.last)).toBeLessThan(0.3);
    expect(v.first - a.first).toBeLessThan(1.3);
    // Seekable: a seek to the middle decodes a frame.
    execFileSync('ffmpeg', ['-v', 'error', '-ss', '2', '-i', path, '-frames:v', '1', '-f', 'null', '-']);
    expect(processAlive(pid)).toBe(false);
  });

  it('startWithPicture: audio waits for the first video keyframe, so the file opens on a picture with both; its length runs from the writing event', async () => {
    const pipeline = h.pipeline();
    const source = await liveSource(pipeline);
    const path = join(dir, 'picture-first.webm');
    const recorder = createRecorderEndpoint(pipeline, { uri: pathToFileURL(path).href, startWithPicture: true });
    source.connect(recorder);
    let writingAt = 0;
    recorder.on('writing', (at) => (writingAt ||= at));
    await recorder.record();
    await until(() => writingAt > 0, 10_000);
    await sleep(3000);
    const stopAt = performance.now();
    await recorder.stopAndWait();
    const [a, v] = [packetTimes(path, 'a'), packetTimes(path, 'v')];
    expect(Math.abs(v.first - a.first)).toBeLessThan(0.1);
    const info = await probeMedia(path);
    expect(Math.abs(info.duration! - (stopAt - writingAt) / 1000)).toBeLessThan(0.5);
  });

  it('audio-only and video-only profiles write one stream; MKV writes Matroska', async () => {
    const pipeline = h.pipeline();
    const source = await liveSource(pipeline);
    const cases = [
      ['WEBM_AUDIO_ONLY', 'a.webm', ['audio:opus']],
      ['WEBM_VIDEO_ONLY', 'v.webm', ['video:vp8']],
      ['MKV', 'b.mkv', ['audio:opus', 'video:vp8']],
    ] as const;
    const recorders = cases.map(([profile, name]) => createRecorderEndpoint(pipeline, { uri: pathToFileURL(join(dir, name)).href, mediaProfile: profile }));
    for (const r of recorders) source.connect(r);
    await Promise.all(recorders.map((r) => r.record()));
    await sleep(2500);
    await Promise.all(recorders.map((r) => r.stopAndWait()));
    for (const [, name, streams] of cases) {
      const info = await probeMedia(join(dir, name));
      expect(info.streams.map((s) => `${s.kind}:${s.codec}`).sort()).toEqual([...streams]);
      expect(info.duration).toBeGreaterThan(1);
      if (name.endsWith('.mkv')) expect(info.formatName).toContain('matroska');
    }
  });

  it('MP4 takes H.264 as sent (no re-encoding) with Opus, in a fragmented MP4', async () => {
    const pipeline = h.pipeline();
    const source = await liveSource(pipeline, { videoCodec: 'H264' });
    const path = join(dir, 'h264.mp4');
    const recorder = createRecorderEndpoint(pipeline, { uri: pathToFileURL(path).href, mediaProfile: 'MP4' });
    source.connect(recorder);
    await recorder.record();
    await sleep(3000);
    await recorder.stopAndWait();
    const info = await probeMedia(path);
    expect(info.formatName).toContain('mp4');
    expect(info.streams.map((s) => `${s.kind}:${s.codec}`).sort()).toEqual(['audio:opus', 'video:h264']);
    expect(info.duration).toBeGreaterThan(2);
  });

  it('pause() stops writing and record() resumes in the same file', async () => {
    const pipeline = h.pipeline();
    const source = await liveSource(pipeline);
    const path = join(dir, 'paused.webm');
    const recorder = createRecorderEndpoint(pipeline, { uri: pathToFileURL(path).href });
    source.connect(recorder);
    await recorder.record();
    await sleep(1500);
    const paused = recorder.waitFor('paused', 1000);
    recorder.pause();
    await paused;
    expect(recorder.getState()).toBe('PAUSE');
    await sleep(1000);
    await recorder.record();
    expect(recorder.getState()).toBe('START');
    await sleep(1500);
    await recorder.stopAndWait();
    const info = await probeMedia(path);
    expect(info.streams).toHaveLength(2);
    expect(info.duration).toBeGreaterThan(2.5);
  });

  it('a recorder process killed mid-recording is restarted; the file stays playable and holds both parts', async () => {
    const pipeline = h.pipeline();
    const source = await liveSource(pipeline);
    const path = join(dir, 'crash.webm');
    const recorder = createRecorderEndpoint(pipeline, { uri: pathToFileURL(path).href });
    source.connect(recorder);
    await recorder.record();
    await sleep(2000);
    const first = recorder.processId!;
    process.kill(-first, 'SIGKILL');
    // The killed process left a playable (not finalised) file behind.
    await until(() => recorder.processId !== undefined && recorder.processId !== first, 10_000);
    const partial = await probeMedia(path);
    expect(partial.streams.map((s) => s.codec).sort()).toEqual(['opus', 'vp8']);
    await sleep(2500);
    await recorder.stopAndWait();
    const info = await probeMedia(path);
    expect(info.streams.map((s) => s.codec).sort()).toEqual(['opus', 'vp8']);
    expect(info.duration).toBeGreaterThan(3);
    expect(existsSync(path.replace('.webm', '.part2.webm'))).toBe(false);
  });

  it('an unwritable path rejects record() with an error event; an unknown profile or a URI of another scheme (ftp:) is refused', async () => {
    const pipeline = h.pipeline();
    const locked = join(dir, 'locked');
    execFileSync('mkdir', ['-p', locked]);
    chmodSync(locked, 0o500);
    const recorder = createRecorderEndpoint(pipeline, { uri: pathToFileURL(join(dir, 'missing-dir', 'x.webm')).href });
    const errors: string[] = [];
    recorder.on('error', (e) => errors.push(e.message));
    await expect(recorder.record()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(errors[0]).toMatch(/not writable/);
    expect(recorder.getState()).toBe('STOP');
    if (process.getuid?.() !== 0) {
      const r2 = createRecorderEndpoint(pipeline, { uri: pathToFileURL(join(locked, 'x.webm')).href });
      await expect(r2.record()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(() => createRecorderEndpoint(pipeline, { uri: pathToFileURL(join(dir, 'x.webm')).href, mediaProfile: 'AVI' })).toThrow(/unknown media profile 'AVI'/);
    expect(() => createRecorderEndpoint(pipeline, { uri: 'ftp://example.invalid/x.webm' })).toThrow(/a recorder takes file:\/\/, http:\/\/ or https:\/\//);
    // The pipeline still works.
    const ok = createRecorderEndpoint(pipeline, { uri: pathToFileURL(join(dir, 'after-errors.webm')).href });
    const source = await liveSource(pipeline);
    source.connect(ok);
    await ok.record();
    await sleep(1000);
    await ok.stopAndWait();
    expect((await probeMedia(join(dir, 'after-errors.webm'))).streams).toHaveLength(2);
  });

  it('closing the element or the pipeline ends the recorder process and finalises the file', async () => {
    const pipeline = h.pipeline();
    const source = await liveSource(pipeline);
    const path = join(dir, 'closed.webm');
    const recorder = createRecorderEndpoint(pipeline, { uri: pathToFileURL(path).href });
    source.connect(recorder);
    await recorder.record();
    await sleep(1500);
    const pid = recorder.processId!;
    pipeline.close();
    expect(recorder.closed).toBe(true);
    await until(() => !processAlive(pid), 10_000);
    const info = await probeMedia(path);
    expect(info.duration).toBeGreaterThan(0.5);
  });
});

describe.skipIf(!tools)('no orphaned processes', () => {
  it('leaves no supervised child process alive after the tests above', async () => {
    await until(() => SupervisedProcess.runningPids().length === 0, 10_000);
    expect(SupervisedProcess.runningPids()).toEqual([]);
  });
});
