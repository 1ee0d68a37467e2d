import { createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline as pump } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import type { KurentoClientInstance } from 'kurento-client';
import { probeMedia } from '@roundtable/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKurentoHarness } from './testing/harness.js';
import { callOperation, makeWebmClip, mediaToolsAvailable } from './testing/officialClient.js';
import { until } from './testing/kurentoPeers.js';

// Ports: the server's media 62400-62549.
const dir = mkdtempSync(join(tmpdir(), 'rt-kurento-upload-'));
const spool = join(dir, 'spool');
const h = useKurentoHarness([62400, 62549], { recordingSpoolDir: spool });
const cleanup = h.cleanup;
const clip = join(dir, 'clip.webm');
const tools = mediaToolsAvailable('Kurento HTTP recording tests', ['gst-launch-1.0', 'ffmpeg', 'ffprobe']);


beforeAll(() => {
  if (!tools) return;
  makeWebmClip(clip);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Upload {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  file: string;
}

/** An HTTP server of the test's own: stores each POST body in a file and answers `status` ('cut': drops the connection mid-body). */
async function uploadServer(status: number | 'cut'): Promise<{ url: string; uploads: Upload[]; server: Server }> {
  const uploads: Upload[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    if (status === 'cut') {
      req.once('data', () => req.socket.destroy());
      return;
    }
    const file = join(dir, `received-${String(++n)}.webm`);
    void pump(req, createWriteStream(file)).then(() => {
      uploads.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, file });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, uploads, server };
}

const kurento = (): Promise<KurentoClientInstance> => h.officialClient();

const call = callOperation;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!tools)('RecorderEndpoint to an http:// URI through the official kurento-client', () => {
  it('uploads the finished recording in one chunked POST, as KMS does; stopAndWait resolves once the server has it', async () => {
    const target = await uploadServer(200);
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: pathToFileURL(clip).href });
    const recorder = await pipeline.create('RecorderEndpoint', { uri: `${target.url}/uploads/call.webm`, mediaProfile: 'WEBM' });
    const errors: unknown[] = [];
    recorder.on('Error', (e) => errors.push(e));
    let ended = false;
    player.on('EndOfStream', () => {
      ended = true;
    });
    await player.connect(recorder);
    await sleep(200);
    const recordFrom = Date.now();
    await call(recorder, 'record');
    await call(player, 'play');
    await until(() => ended, 20_000);

    await call(recorder, 'stopAndWait');
    const recorded = (Date.now() - recordFrom) / 1000;
    expect(target.uploads).toHaveLength(1);
    const upload = target.uploads[0]!;
    expect(upload.method).toBe('POST');
    expect(upload.url).toBe('/uploads/call.webm');
    expect(upload.headers['transfer-encoding']).toBe('chunked');
    expect(upload.headers['content-type']).toBe('video/webm');
    expect(upload.headers['content-disposition']).toBe('attachment; filename="call.webm"');
    const info = await probeMedia(upload.file);
    expect(info.streams.map((s) => `${s.kind}:${s.codec}`).sort()).toEqual(['audio:opus', 'video:vp8']);
    // The 3 s clip, in a file that runs on the wall clock from record() to the stop: no longer
    // than that (on a busy machine the player's start and the end of stream take their time).
    expect(info.duration).toBeGreaterThan(2.5);
    expect(info.duration).toBeLessThanOrEqual(recorded + 0.2);
    expect(errors).toEqual([]);
    // The local copy (in the spool folder given to the server) is gone once the server has the file.
    expect(readdirSync(spool)).toEqual([]);
    await pipeline.release();
  });

  it('a refused upload (HTTP 500), an absent server and a cut connection raise the Error event; each local copy is kept, named in it, and plays', async () => {
    const refusing = await uploadServer(500);
    const cutting = await uploadServer('cut');
    const absent = await uploadServer(200);
    await new Promise<void>((resolve) => absent.server.close(() => resolve()));
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: pathToFileURL(clip).href });
    const recorders = [
      await pipeline.create('RecorderEndpoint', { uri: `${refusing.url}/refused.webm` }),
      await pipeline.create('RecorderEndpoint', { uri: `${absent.url}/absent.webm` }),
      await pipeline.create('RecorderEndpoint', { uri: `${cutting.url}/cut.webm` }),
    ];
    const errors: Array<Array<Record<string, unknown>>> = [[], [], []];
    recorders.forEach((r, i) => r.on('Error', (e) => errors[i]!.push(e)));
    let ended = false;
    player.on('EndOfStream', () => {
      ended = true;
    });
    for (const r of recorders) await player.connect(r);
    await sleep(200);
    for (const r of recorders) await call(r, 'record');
    await call(player, 'play');
    await until(() => ended, 20_000);
    await Promise.all(recorders.map((r) => call(r, 'stopAndWait')));
    await until(() => errors.every((e) => e.length > 0));

    expect(refusing.uploads).toHaveLength(1);
    expect(errors[0]![0]).toMatchObject({ type: 'UNEXPECTED_ELEMENT_ERROR', errorCode: 10 });
    expect(String(errors[0]![0]!.description)).toMatch(/HTTP response error \(received: 500\)/);
    expect(errors[1]![0]).toMatchObject({ type: 'UNEXPECTED_ELEMENT_ERROR', errorCode: 10 });
    expect(String(errors[1]![0]!.description)).toMatch(/ECONNREFUSED/);
    expect(errors[2]![0]).toMatchObject({ type: 'UNEXPECTED_ELEMENT_ERROR', errorCode: 10 });
    expect(String(errors[2]![0]!.description)).toMatch(/EPIPE|ECONNRESET|socket hang up/);
    for (const [i, name] of ['refused.webm', 'absent.webm', 'cut.webm'].entries()) {
      const kept = /kept at (.+)$/.exec(String(errors[i]![0]!.description))?.[1];
      expect(kept!.startsWith(`${spool}/`)).toBe(true);
      expect(kept).toMatch(new RegExp(`-${name}$`));
      expect(existsSync(kept!)).toBe(true);
      const info = await probeMedia(kept!);
      expect(info.streams.map((s) => `${s.kind}:${s.codec}`).sort()).toEqual(['audio:opus', 'video:vp8']);
      expect(info.duration).toBeGreaterThan(2.5);
    }
    await pipeline.release();
  });
});
