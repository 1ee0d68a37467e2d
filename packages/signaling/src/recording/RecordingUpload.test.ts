import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordingId, RecordingInfo, UserId } from '@roundtable/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessMediaServer } from '../media/InProcessMediaServer.js';
import { Signaling } from '../Signaling.js';
import { TestClient } from '../testing/TestClient.js';
import { RecordingStore } from './RecordingStore.js';

// Two signaling nodes on one SQLite file, each with a recordings folder of its own (no
// shared disk), and an HTTP store the recordings are uploaded to. No media flows.
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** An upload store: PUT, GET (with one byte range) and DELETE of files in memory, behind a bearer token. */
async function uploadStore(token: string): Promise<{ url: string; files: Map<string, Buffer>; requests: string[] }> {
  const files = new Map<string, Buffer>();
  const requests: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
    const path = req.url ?? '';
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        files.set(path, Buffer.concat(chunks));
        res.writeHead(201).end();
      });
      return;
    }
    const file = files.get(path);
    if (req.method === 'DELETE') {
      files.delete(path);
      return void res.writeHead(204).end();
    }
    if (!file) return void res.writeHead(404).end();
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range) {
      const [start, end] = [Number(range[1]), Math.min(Number(range[2]), file.length - 1)];
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${file.length}`, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes' });
      return void res.end(file.subarray(start, end + 1));
    }
    res.writeHead(200, { 'Content-Length': file.length, 'Accept-Ranges': 'bytes' }).end(file);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/store/`, files, requests };
}

async function node(dbPath: string, recordingsDir: string, upload: { url: string; token: string }): Promise<{ signaling: Signaling; ws: string; http: string }> {
  const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: [63490, 63499] });
  const signaling = await Signaling.open({ dbPath, media, recordingsDir, recordingsUpload: upload });
  const { port } = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
  const http = createServer((req, res) => {
    void signaling.handleHttp(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
    await signaling.close();
    await media.close();
  });
  return { signaling, ws: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

describe('recordings uploaded (signaling.recordingsUploadUrl)', () => {
  it('a finished file is uploaded and its local copy removed; another node, without the file on its disk, lists it from the database and serves it (whole and by range); deleting it deletes the upload', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-recording-upload-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = await uploadStore('upload-secret');
    const upload = { url: store.url, token: 'upload-secret' };
    const dbPath = join(dir, 'roundtable.db');
    const one = await node(dbPath, join(dir, 'one'), upload);
    const two = await node(dbPath, join(dir, 'two'), upload);
    const alice = await TestClient.signIn(one.ws, 'ualice');
    cleanup.push(() => alice.close());

    // A recording finished on node one (as RecordingService.finish leaves it), then uploaded.
    const id = 'b1c2d3e4-0000-4000-8000-000000000001' as RecordingId;
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const info: RecordingInfo = {
      id,
      callId: null,
      room: 'uploads' as RecordingInfo['room'],
      startedBy: alice.userId as UserId,
      participants: [alice.userId as UserId],
      startedAt: Date.now() - 10_000,
      endedAt: Date.now(),
      status: 'complete',
      size: bytes.length,
      duration: 9.5,
      mimeType: 'video/webm',
      downloadPath: `/recordings/${id}`,
    };
    const local = new RecordingStore(join(dir, 'one'), one.signaling.store, upload);
    writeFileSync(local.filePath(id), bytes);
    await one.signaling.store.saveRecording(info);
    const url = await local.uploadFile(info);
    expect(url).toBe(`${store.url}${id}.webm`);
    expect(store.files.get(`/store/${id}.webm`)).toEqual(bytes);
    expect(existsSync(local.filePath(id))).toBe(false);
    expect(await one.signaling.store.recordingById(id)).toEqual({ info, fileUrl: url });

    // Node two lists it (same database) and serves it from the upload store.
    const aliceOnTwo = await TestClient.signIn(two.ws, 'ualice');
    cleanup.push(() => aliceOnTwo.close());
    expect(((await aliceOnTwo.request('recordings.list', {})) as RecordingInfo[]).map((r) => r.id)).toEqual([id]);
    const auth = { Authorization: `Bearer ${aliceOnTwo.token}` };
    const whole = await fetch(`${two.http}/recordings/${id}`, { headers: auth });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/webm');
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);
    const part = await fetch(`${two.http}/recordings/${id}`, { headers: { ...auth, Range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200));
    // Without a token: refused before the upload store is asked.
    const asked = store.requests.length;
    expect((await fetch(`${two.http}/recordings/${id}`)).status).toBe(401);
    expect(store.requests.length).toBe(asked);

    expect(await aliceOnTwo.send('recordings.delete', { recordingId: id })).toMatchObject({ ok: true });
    expect(store.files.has(`/store/${id}.webm`)).toBe(false);
    expect(await one.signaling.store.recordingById(id)).toBeUndefined();
    expect((await fetch(`${one.http}/recordings/${id}`, { headers: auth })).status).toBe(404);
  });

  it('a folder of recordings made before the database kept their metadata (JSON files) is imported at start-up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-recording-import-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const recordings = join(dir, 'recordings');
    const old = new RecordingStore(recordings);
    const info: RecordingInfo = {
      id: 'c0ffee00-0000-4000-8000-000000000002' as RecordingId,
      callId: null,
      room: 'old' as RecordingInfo['room'],
      startedBy: 'u1' as UserId,
      participants: ['u1' as UserId],
      startedAt: 1_000,
      endedAt: 2_000,
      status: 'complete',
      size: 0,
      duration: null,
      mimeType: 'video/webm',
      downloadPath: '/recordings/c0ffee00-0000-4000-8000-000000000002',
    };
    await old.save(info);
    const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: [63490, 63499] });
    const signaling = await Signaling.open({ dbPath: join(dir, 'roundtable.db'), media, recordingsDir: recordings });
    cleanup.push(async () => {
      await signaling.close();
      await media.close();
    });
    expect(await signaling.store.recordings()).toEqual([{ info, fileUrl: null }]);
    expect(existsSync(join(recordings, `${info.id}.json.imported`))).toBe(true);
  });
});
