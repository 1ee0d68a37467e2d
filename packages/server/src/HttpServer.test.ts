import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '@roundtable/kurento/testing';
import { HttpServer } from './HttpServer.js';
import { startServer, type RunningServer } from './index.js';
import { WsTestClient } from './testing/WsTestClient.js';

let server: RunningServer;
const clients: WsTestClient[] = [];

beforeAll(async () => {
  // The server's own pages: without the web app (whose index.html would answer `/`).
  server = await startServer({ host: '127.0.0.1', port: 0, webDir: false, media: { iceAddresses: ['127.0.0.1'], portRange: [47000, 47999] }, logger: pino({ level: 'silent' }) });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await server.close();
});

async function connect(): Promise<WsTestClient> {
  const client = await WsTestClient.connect(`${server.url.replace('http', 'ws')}ws/loopback`);
  clients.push(client);
  return client;
}

/** A raw GET, so that paths reach the server exactly as written (fetch() would normalise `..`). */
function rawGet(path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP', () => {
  it('GET /healthz answers {"status":"ok"}', async () => {
    const response = await fetch(`${server.url}healthz`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('serves the start page at / and links to the loopback page', async () => {
    const response = await fetch(server.url);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toContain('href="loopback.html"');
  });

  it('with a web app folder, serves its index.html at / and its assets, and the server pages still answer', async () => {
    const webDir = mkdtempSync(join(tmpdir(), 'roundtable-web-'));
    writeFileSync(join(webDir, 'index.html'), '<!doctype html><div id="app"></div>');
    mkdirSync(join(webDir, 'assets'));
    writeFileSync(join(webDir, 'assets', 'app.js'), 'console.log(1);');
    const withApp = await startServer({ host: '127.0.0.1', port: 0, webDir, logger: pino({ level: 'silent' }) });
    try {
      const index = await fetch(withApp.url);
      const asset = await fetch(`${withApp.url}assets/app.js`);
      const loopback = await fetch(`${withApp.url}loopback.html`);
      const health = await fetch(`${withApp.url}healthz`);

      expect(await index.text()).toContain('<div id="app">');
      expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(await loopback.text()).toContain('src="loopback.js"');
      expect(await health.json()).toEqual({ status: 'ok' });
    } finally {
      await withApp.close();
      rmSync(webDir, { recursive: true, force: true });
    }
  });

  it('serves loopback.html and loopback.js with their content types', async () => {
    const html = await fetch(`${server.url}loopback.html`);
    const js = await fetch(`${server.url}loopback.js`);

    expect(html.status).toBe(200);
    expect(await html.text()).toContain('src="loopback.js"');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('window.roundtableLoopback');
  });

  it('answers HEAD with headers and no body', async () => {
    const response = await rawGet('/loopback.js', 'HEAD');

    expect(response.status).toBe(200);
    expect(Number(response.headers['content-length'])).toBeGreaterThan(0);
    expect(response.body).toBe('');
  });

  it.each(['/nope.html', '/../package.json', '/%2e%2e/package.json', '/..%2fsrc%2fcli.ts', '/%00', '/%E0%A4%A'])(
    'answers 404 for %s and never serves files outside public/',
    async (path) => {
      const response = await rawGet(path);

      expect(response.status).toBe(404);
    },
  );

  it('answers 405 to a POST', async () => {
    const response = await fetch(`${server.url}healthz`, { method: 'POST' });

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('refuses a WebSocket upgrade on another path', async () => {
    await expect(WsTestClient.connect(`${server.url.replace('http', 'ws')}elsewhere`)).rejects.toThrow(/404/);
  });
});

describe('WebSocket /ws/loopback message validation', () => {
  it.each([
    ['bad JSON', '{"id": "start", ', /not valid JSON/],
    ['a JSON array', '[]', /must be a JSON object/],
    ['an unknown id', '{"id":"launch"}', /unknown message id 'launch'/],
    ['a message without id', '{"sdpOffer":"v=0"}', /no string 'id'/],
    ['start without sdpOffer', '{"id":"start"}', /invalid 'start' message: sdpOffer/],
    ['onIceCandidate without candidate', '{"id":"onIceCandidate"}', /invalid 'onIceCandidate' message: candidate/],
  ])('%s gets an error reply and the socket stays open', async (_what, text, reason) => {
    const client = await connect();

    client.sendRaw(text);
    const reply = await client.next();

    expect(reply).toEqual({ id: 'error', message: expect.stringMatching(reason) });
    expect(client.isOpen).toBe(true);
    // The same socket still answers: the bad message changed nothing.
    client.send({ id: 'launch' });
    expect(await client.next()).toMatchObject({ id: 'error' });
    expect(client.isOpen).toBe(true);
  });

  it('a binary frame gets an error reply and the socket stays open', async () => {
    const client = await connect();

    client.sendRaw(Buffer.from('{"id":"stop"}'), true);

    expect(await client.next()).toEqual({ id: 'error', message: expect.stringMatching(/binary/) });
    expect(client.isOpen).toBe(true);
  });

  it("onIceCandidate before start gets an error reply saying to send 'start' first", async () => {
    const client = await connect();

    client.send({ id: 'onIceCandidate', candidate: { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 } });

    expect(await client.next()).toEqual({ id: 'error', message: expect.stringMatching(/send 'start' first/) });
    expect(client.isOpen).toBe(true);
  });

  it('stop without a running loopback is accepted silently', async () => {
    const client = await connect();

    client.send({ id: 'stop' });

    expect(await client.staysQuiet(300)).toBe(true);
    expect(client.isOpen).toBe(true);
  });

  it('a message over the size limit closes the socket with 1009', async () => {
    const client = await connect();
    const closed = new Promise<number>((resolve) => client.ws.once('close', (code) => resolve(code)));

    client.send({ id: 'start', sdpOffer: 'x'.repeat(70 * 1024) });

    expect(await closed).toBe(1009);
  });
});

describe('startServer() with the Kurento Protocol endpoint', () => {
  it('serves the Kurento Protocol beside the web server, and closes both', async () => {
    const both = await startServer({
      host: '127.0.0.1',
      port: 0,
      media: { iceAddresses: ['127.0.0.1'], portRange: [47000, 47999] },
      kurento: { host: '127.0.0.1', port: 0 },
      logger: pino({ level: 'silent' }),
    });
    try {
      expect(both.kurentoUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/kurento$/);
      const kurento = await RawClient.connect(both.kurentoUrl!);
      const pipeline = await kurento.value<string>('create', { type: 'MediaPipeline' });
      expect(pipeline).toMatch(/_kurento\.MediaPipeline$/);
      await kurento.close();
    } finally {
      await both.close();
    }
  });
});

describe('startServer() with the signaling server', () => {
  it('serves accounts and calls at /ws beside the loopback endpoint, on an SQLite file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roundtable-server-'));
    const both = await startServer({
      host: '127.0.0.1',
      port: 0,
      media: { iceAddresses: ['127.0.0.1'], portRange: [47000, 47999] },
      signaling: { dbPath: join(dir, 'db.sqlite'), iceServers: ['stun:127.0.0.1:3478'], ringTimeoutMs: 60_000 },
      logger: pino({ level: 'silent' }),
    });
    try {
      expect(both.signalingUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
      const signaling = await WsTestClient.connect(both.signalingUrl!);
      signaling.send({ id: 1, type: 'register', username: 'zoe', password: 'password-123' });
      const registered = (await signaling.next()) as { id: number; ok: boolean; result: { userId: string } };
      expect(registered).toMatchObject({ id: 1, ok: true });
      signaling.send({ id: 2, type: 'ice.servers' });
      expect(await signaling.next()).toMatchObject({ id: 2, ok: false, error: { code: 'UNAUTHENTICATED' } });
      await signaling.close();
      const loopback = await WsTestClient.connect(`${both.url.replace('http', 'ws')}ws/loopback`);
      await loopback.close();
    } finally {
      await both.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HttpServer on its own', () => {
  it('/readyz says what is not ready with 503, /metrics is not on the public port, and HEAD gets headers only', async () => {
    let ready = false;
    const http = new HttpServer({
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      readiness: async () => ({ ready, checks: { database: ready ? 'ok' : 'the SQLite database does not answer' } }),
    });
    const port = await http.listen();
    try {
      const url = `http://127.0.0.1:${port}`;
      const notReady = await fetch(`${url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(notReady.headers.get('cache-control')).toBe('no-store');
      expect(await notReady.json()).toEqual({ status: 'not ready', checks: { database: 'the SQLite database does not answer' } });
      ready = true;
      expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', checks: { database: 'ok' } });
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
      const head = await fetch(`${url}/readyz`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toBe('application/json');
      expect(await head.text()).toBe('');
    } finally {
      await http.close();
    }
  });

  it('drain() stops taking connections while an open WebSocket goes on until close()', async () => {
    const http = new HttpServer({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), media: { iceAddresses: ['127.0.0.1'], portRange: [47000, 47999] } });
    const port = await http.listen();
    const open = await WsTestClient.connect(`ws://127.0.0.1:${port}/ws/loopback`);

    http.drain();

    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    open.send({ id: 'onIceCandidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
    expect(await open.next()).toMatchObject({ id: 'error' });
    const closed = new Promise<number>((resolve) => open.ws.once('close', (code) => resolve(code)));
    await http.close();
    expect(await closed).toBe(1001);
  });
});
