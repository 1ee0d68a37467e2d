import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { KurentoClientInstance } from 'kurento-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KurentoServer } from './KurentoServer.js';
import { RawClient } from './testing/RawClient.js';
import { useKurentoHarness } from './testing/harness.js';
import { callOperation, makeWebmClip, mediaToolsAvailable } from './testing/officialClient.js';
import { connectThroughKurento, until, viewerPeer } from './testing/kurentoPeers.js';

// Ports: the servers' media 62550-62699.
const h = useKurentoHarness([62550, 62649]);
const cleanup = h.cleanup;
const dir = mkdtempSync(join(tmpdir(), 'rt-kurento-httppost-'));
const clip = join(dir, 'clip.webm');
/** Larger than what is read to probe the tracks (256 KiB): the rest streams in at the media's pace. */
const bigClip = join(dir, 'big.webm');
/** H.264 + AAC with its index first, as `-movflags +faststart` writes it. */
const mp4Clip = join(dir, 'clip.mp4');
const tools = mediaToolsAvailable('HttpPostEndpoint tests', ['ffmpeg', 'ffprobe']);


beforeAll(() => {
  if (!tools) return;
  makeWebmClip(clip);
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30:duration=4', '-f', 'lavfi', '-i', 'sine=frequency=660:duration=4'],
    // Near-lossless quantisers make a small picture big (about 700 KB) at little encoding cost.
    ...['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-crf', '4', '-b:v', '4M', '-qmin', '0', '-qmax', '10', '-c:a', 'libopus', bigClip],
  ]);
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30:duration=2', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', mp4Clip],
  ]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kurento = (): Promise<KurentoClientInstance> => h.officialClient();

const call = callOperation;

interface Answer {
  status: number;
  body: string;
}

/** POSTs `body` (a stream: chunked, as a live upload is) and resolves with the answer. */
function post(url: string, body: Readable | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', (error) => reject(error));
    if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!tools)('HttpPostEndpoint through the official kurento-client', () => {
  it('a WebM file POSTed to getUrl() plays (useEncodedMedia: as it is) into a WebRtcEndpoint a werift peer receives; a second POST meanwhile is refused; EndOfStream at its end', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    // VP8 + Opus are sent as they are (no transcoding of the large clip on a busy machine).
    const httpPost = await pipeline.create('HttpPostEndpoint', { disconnectionTimeout: 5, useEncodedMedia: true });
    const ep = await pipeline.create('WebRtcEndpoint');
    const viewer = viewerPeer(h.stunUrl);
    cleanup.push(() => viewer.pc.close());
    await httpPost.connect(ep);
    await connectThroughKurento(viewer.pc, ep);
    const events: string[] = [];
    httpPost.on('MediaSessionStarted', () => events.push('MediaSessionStarted'));
    httpPost.on('EndOfStream', () => events.push('EndOfStream'));
    await sleep(200);

    const url = await call<string>(httpPost, 'getUrl');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/kurento\/http\/[0-9a-f-]{36}$/);
    expect(readFileSync(bigClip).length).toBeGreaterThan(512 * 1024);
    const upload = post(url, createReadStream(bigClip, { highWaterMark: 16 * 1024 }), { 'content-type': 'video/webm' });
    await until(() => viewer.got.video.length > 20 && viewer.got.audio.length > 20, 20_000);
    const second = await post(url, readFileSync(clip), { 'content-type': 'video/webm' });
    expect(second.status).toBe(409);
    expect((await upload).status).toBe(200);
    await until(() => events.includes('EndOfStream'), 20_000);
    expect(events).toEqual(['MediaSessionStarted', 'EndOfStream']);
    const videoAtEnd = viewer.got.video.length;
    expect(videoAtEnd).toBeGreaterThan(120); // about 4 s of 30 fps video, a packet or more per frame
    await pipeline.release();
  });

  it('a multipart/form-data upload plays too (transcoded); disconnectionTimeout after the POST ends expires the URL: MediaSessionTerminated, getUrl() empty, 404', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const httpPost = await pipeline.create('HttpPostEndpoint', { disconnectionTimeout: 1 });
    const ep = await pipeline.create('WebRtcEndpoint');
    const viewer = viewerPeer(h.stunUrl);
    cleanup.push(() => viewer.pc.close());
    await httpPost.connect(ep);
    await connectThroughKurento(viewer.pc, ep);
    const events: string[] = [];
    for (const type of ['MediaSessionStarted', 'EndOfStream', 'MediaSessionTerminated']) httpPost.on(type, () => events.push(type));
    await sleep(200);
    const url = await call<string>(httpPost, 'getUrl');

    // As a browser's form sends it: a text field, then the file.
    const form = new FormData();
    form.append('title', 'my clip');
    form.append('file', new Blob([readFileSync(clip)], { type: 'video/webm' }), 'clip.webm');
    const answer = await fetch(url, { method: 'POST', body: form });
    // The answer comes once the media has played.
    expect(answer.status).toBe(200);
    expect(events).toEqual(['MediaSessionStarted', 'EndOfStream']);
    expect(viewer.got.video.length).toBeGreaterThan(60);
    const ended = performance.now();
    await until(() => events.includes('MediaSessionTerminated'), 10_000);
    expect(performance.now() - ended).toBeGreaterThan(900);
    expect(events).toEqual(['MediaSessionStarted', 'EndOfStream', 'MediaSessionTerminated']);
    expect(await call<string>(httpPost, 'getUrl')).toBe('');
    expect((await post(url, readFileSync(clip))).status).toBe(404);
    expect((await post(url.replace(/[0-9a-f-]{36}$/, '00000000-0000-4000-8000-000000000000'), Buffer.from('x'))).status).toBe(404);
    await pipeline.release();
  });

  it('an MP4 (H.264 + AAC) POSTed plays as VP8 + Opus', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const httpPost = await pipeline.create('HttpPostEndpoint');
    const ep = await pipeline.create('WebRtcEndpoint');
    const viewer = viewerPeer(h.stunUrl);
    cleanup.push(() => viewer.pc.close());
    await httpPost.connect(ep);
    await connectThroughKurento(viewer.pc, ep);
    let ended = false;
    httpPost.on('EndOfStream', () => {
      ended = true;
    });
    await sleep(200);
    const answer = await post(await call<string>(httpPost, 'getUrl'), readFileSync(mp4Clip), { 'content-type': 'video/mp4' });
    expect(answer.status).toBe(200);
    await until(() => ended);
    expect(viewer.got.video.length).toBeGreaterThan(40);
    expect(viewer.got.audio.length).toBeGreaterThan(40);
    await pipeline.release();
  });

  it('bad constructor parameters get KMS error codes and create nothing', async () => {
    const raw = await RawClient.connect(h.url);
    cleanup.push(() => raw.close());
    const pipeline = await raw.value<string>('create', { type: 'MediaPipeline' });
    const before = h.server.objectCount;
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ mediaPipeline: pipeline, disconnectionTimeout: -1 }, 40107],
      [{ mediaPipeline: pipeline, disconnectionTimeout: 'soon' }, -32602],
      [{ mediaPipeline: pipeline, useEncodedMedia: 'yes' }, -32602],
      [{ mediaPipeline: 'no-such-pipeline' }, 40101],
      [{}, -32602],
    ];
    for (const [constructorParams, code] of cases) {
      const answer = await raw.request('create', { type: 'HttpPostEndpoint', constructorParams });
      expect(answer.error?.code, JSON.stringify(constructorParams)).toBe(code);
    }
    expect(h.server.objectCount).toBe(before);
    const ok = await raw.value<string>('create', { type: 'HttpPostEndpoint', constructorParams: { mediaPipeline: pipeline } });
    expect(await raw.value<string>('invoke', { object: ok, operation: 'getUrl' })).toMatch(/\/kurento\/http\//);
  });
});

describe.skipIf(!tools)('HttpPostEndpoint URLs: limits', () => {
  const server = new KurentoServer({ port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: [62650, 62699] }, httpPost: { maxBodyBytes: 50_000, idleTimeoutMs: 500, announcedAddress: '192.0.2.7' } });
  let url = '';
  beforeAll(async () => {
    url = (await server.listen()).url;
  });
  afterAll(() => server.close());

  it('answers 413 to a body over the cap, 415 (and an Error event) to what is not media, 408 to a stalled body; the announced address is in the URL', async () => {
    const raw = await RawClient.connect(url);
    cleanup.push(() => raw.close());
    const pipeline = await raw.value<string>('create', { type: 'MediaPipeline' });
    const endpoint = await raw.value<string>('create', { type: 'HttpPostEndpoint', constructorParams: { mediaPipeline: pipeline } });
    await raw.value('subscribe', { object: endpoint, type: 'Error' });
    const announced = await raw.value<string>('invoke', { object: endpoint, operation: 'getUrl' });
    const port = /^ws:\/\/127\.0\.0\.1:(\d+)\//.exec(url)![1]!;
    expect(announced).toMatch(new RegExp(`^http://192\\.0\\.2\\.7:${port}/kurento/http/`));
    const local = announced.replace('192.0.2.7', '127.0.0.1');

    expect((await post(local, Buffer.alloc(60_000))).status).toBe(413);
    // The same over chunked transfer (no Content-Length to refuse up front).
    const chunked = await post(local, createReadStream(clip), { 'transfer-encoding': 'chunked' });
    expect(chunked.status).toBe(413);

    const notMedia = await post(local, Buffer.from('this is not a video\n'.repeat(100)));
    expect(notMedia.status).toBe(415);
    const notPlayable = () => raw.notifications.find((n) => n.params.value.type === 'Error' && /not playable media/.test(String(n.params.value.data.description)));
    await until(() => notPlayable() !== undefined);
    expect(notPlayable()!.params.value.data).toMatchObject({ errorCode: 40107, type: 'MEDIA_OBJECT_ILLEGAL_PARAM_ERROR' });

    const stalled = await new Promise<Answer>((resolve, reject) => {
      const req = request(local, { method: 'POST', headers: { 'content-length': '50000' } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, body: '' });
      });
      req.on('error', reject);
      req.write(readFileSync(clip).subarray(0, 1000));
    });
    expect(stalled.status).toBe(408);
  });
});
