/**
 * What the HTTP server tells browsers (CSP, no framing), what it refuses to serve (source
 * maps), and how long it waits for slow clients (headers, bodies).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpServer, type HttpServerOptions } from './HttpServer.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roundtable-hardening-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/app.js"></script>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1);\n//# sourceMappingURL=app.js.map\n');
  writeFileSync(join(dir, 'assets', 'app.js.map'), '{"version":3,"sources":["secret.ts"]}');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let http: HttpServer | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
});

async function start(options: Partial<HttpServerOptions> = {}): Promise<string> {
  http = new HttpServer({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), webDir: dir, ...options });
  return `http://127.0.0.1:${await http.listen()}`;
}

/** Opens a raw TCP connection; resolves with what the server sent once it closed it (or after `giveUpMs`, with `closed: false`). */
function rawConnection(port: number, act: (socket: Socket) => void, giveUpMs: number): Promise<{ closed: boolean; received: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, received });
    }, giveUpMs);
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received });
    });
    socket.on('connect', () => act(socket));
  });
}

describe('HTTP security headers', () => {
  it('the web app, /healthz and a 404 carry a CSP that allows only this origin, and forbid framing', async () => {
    const url = await start();
    for (const path of ['/', '/assets/app.js', '/healthz', '/nothing-here']) {
      const response = await fetch(`${url}${path}`);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).toMatch(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+/);
      expect(csp).not.toContain("'unsafe-inline'");
      expect(csp).not.toContain("'unsafe-eval'");
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      await response.arrayBuffer();
    }
  });

  it('a Host header that is not a plain host:port is not echoed into the policy', async () => {
    const url = await start();
    const { port } = new URL(url);
    const { received } = await rawConnection(Number(port), (socket) => socket.write("GET /healthz HTTP/1.1\r\nHost: evil; script-src *\r\nConnection: close\r\n\r\n"), 5000);
    const csp = /content-security-policy: (.*)\r\n/i.exec(received)?.[1] ?? '';
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toContain('script-src *');
  });
});

describe('source maps', () => {
  it('a *.map file is not served even when the folder holds one', async () => {
    const url = await start();
    expect((await fetch(`${url}/assets/app.js`)).status).toBe(200);
    const map = await fetch(`${url}/assets/app.js.map`);
    expect(map.status).toBe(404);
    expect(await map.text()).not.toContain('secret.ts');
  });
});

describe('slow clients', () => {
  it('a client that never finishes its headers is cut after headersTimeoutMs', async () => {
    const url = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const { port } = new URL(url);
    const result = await rawConnection(
      Number(port),
      (socket) => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
        // A header line every 300 ms, never the blank line that ends them.
        const drip = setInterval(() => socket.writable && socket.write(`X-Slow: ${Date.now()}\r\n`), 300);
        socket.once('close', () => clearInterval(drip));
      },
      15_000,
    );
    expect(result.closed).toBe(true);
    expect(result.received).toMatch(/^HTTP\/1\.1 408|^$/);
  });

  it('a request whose body trickles in is cut after requestTimeoutMs', async () => {
    const url = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
    const { port } = new URL(url);
    const result = await rawConnection(
      Number(port),
      (socket) => {
        socket.write('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n');
        const drip = setInterval(() => socket.writable && socket.write('x'), 200);
        socket.once('close', () => clearInterval(drip));
      },
      15_000,
    );
    expect(result.closed).toBe(true);
  });

  it('an ordinary request on a kept-alive connection is still answered', async () => {
    const url = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
    for (let i = 0; i < 3; i++) expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
