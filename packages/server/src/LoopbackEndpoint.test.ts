/**
 * /ws/loopback against anonymous and hostile clients: a flood is refused and closed while
 * the server stays responsive, sessions are capped per address and in total, and pages of
 * other sites are refused.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HttpServer } from './HttpServer.js';
import type { LoopbackLimits } from './LoopbackEndpoint.js';
import { flood } from '@roundtable/signaling/testing';
import { WsTestClient } from './testing/WsTestClient.js';

// This file's UDP range (63800-64099); no test here starts media, the sessions stay idle.
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [63800, 63899] as [number, number] };

let http: HttpServer | undefined;
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await http?.close();
  http = undefined;
});

async function start(loopback: Partial<LoopbackLimits> = {}): Promise<{ url: string; port: number }> {
  http = new HttpServer({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), media: MEDIA, loopback });
  const port = await http.listen();
  return { url: `ws://127.0.0.1:${port}/ws/loopback`, port };
}

interface Opened {
  ws: WebSocket;
  /** Resolves with the close code and reason, and the messages received before it. */
  closed: Promise<{ code: number; reason: string; messages: unknown[] }>;
}

/** Opens a socket (optionally from another loopback address, or with an Origin); rejects on a refused upgrade. */
function open(url: string, options: { localAddress?: string; origin?: string } = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...(options.localAddress ? { localAddress: options.localAddress } : {}), ...(options.origin ? { origin: options.origin } : {}) });
    clients.push(ws);
    const messages: unknown[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    const closed = new Promise<{ code: number; reason: string; messages: unknown[] }>((done) => ws.once('close', (code, reason) => done({ code, reason: String(reason), messages })));
    ws.once('open', () => resolve({ ws, closed }));
    ws.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Whether a socket stays open for a moment (a refused session is closed right after the upgrade). */
async function staysOpen(opened: Opened, ms = 200): Promise<boolean> {
  const result = await Promise.race([opened.closed.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), ms))]);
  return result;
}

describe('/ws/loopback limits', () => {
  it('one socket sending 20,000 messages at once is answered with errors and closed with 1008, while /healthz and another session are served', async () => {
    const { url, port } = await start();
    const other = await WsTestClient.connect(url);
    const latencies: number[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const started = performance.now();
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(response.status).toBe(200);
        await response.text();
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    // Each message fails (no loopback is running): the kind whose unbounded chain of failures once held the event loop for seconds.
    // The first goes alone, so that its answer shows the socket's messages are handled before the flood is refused.
    const report = await flood(url, JSON.stringify({ id: 'onIceCandidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' } }), 20_000, undefined, true);
    other.send({ id: 'onIceCandidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
    const otherAnswer = await other.next();
    polling = false;
    await poll;

    expect(report.close).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    // The refusals stop once the socket is closed: the server did not queue or answer the backlog.
    expect(report.answers).toBeGreaterThanOrEqual(50);
    expect(report.answers).toBeLessThan(500);
    expect(report.sample.some((text) => /too many messages/.test(text))).toBe(true);
    expect(report.sample.some((text) => /no loopback is running/.test(text))).toBe(true);
    expect(otherAnswer).toEqual({ id: 'error', message: "no loopback is running; send 'start' first" });
    expect(latencies.length).toBeGreaterThan(0);
    await expect.poll(() => http?.loopbackSessionCount).toBe(1);
    await other.close();
    console.info(`/ws/loopback flood of 20,000 messages: /healthz answered ${latencies.length} times, slowest ${Math.max(...latencies).toFixed(1)} ms (first ${latencies[0]?.toFixed(1)} ms, then slowest ${Math.max(...latencies.slice(1)).toFixed(1)} ms)`);
  });

  it('sessions per address are capped: one more is told why and closed with 1013, another address still gets one, and a freed place can be taken', async () => {
    const { url } = await start({ maxSessionsPerAddress: 2 });
    const first = await open(url);
    const second = await open(url);
    const third = await open(url);

    const refused = await third.closed;
    expect(refused.code).toBe(1013);
    expect(refused.reason).toBe('too many loopback sessions');
    expect(refused.messages).toEqual([{ id: 'error', message: 'at most 2 loopback sessions per address; close one first' }]);
    expect(await staysOpen(second)).toBe(true);
    const elsewhere = await open(url, { localAddress: '127.0.0.2' });
    expect(await staysOpen(elsewhere)).toBe(true);
    expect(http?.loopbackSessionCount).toBe(3);

    first.ws.close();
    await first.closed;
    await expect.poll(() => http?.loopbackSessionCount).toBe(2);
    expect(await staysOpen(await open(url))).toBe(true);
  });

  it('sessions are capped in total, over all addresses', async () => {
    const { url } = await start({ maxSessions: 3, maxSessionsPerAddress: 10 });
    const opened = [await open(url), await open(url, { localAddress: '127.0.0.2' }), await open(url, { localAddress: '127.0.0.3' })];
    const fourth = await open(url, { localAddress: '127.0.0.4' });
    const refused = await fourth.closed;
    expect(refused.code).toBe(1013);
    expect(refused.messages).toEqual([{ id: 'error', message: 'the server runs its maximum of 3 loopback sessions; try again later' }]);
    for (const session of opened) expect(await staysOpen(session)).toBe(true);
    expect(http?.loopbackSessionCount).toBe(3);
  });

  it('40 sockets from a page of another site get 403 and no session; 40 without Origin from one address get the default 4', async () => {
    const { url } = await start();
    const foreign = await Promise.allSettled(Array.from({ length: 40 }, () => open(url, { origin: 'https://evil.example' })));
    expect(foreign.every((result) => result.status === 'rejected' && /upgrade refused: 403/.test(String(result.reason)))).toBe(true);
    expect(http?.loopbackSessionCount).toBe(0);

    const anonymous = await Promise.all(Array.from({ length: 40 }, () => open(url)));
    const open4 = await Promise.all(anonymous.map((session) => staysOpen(session, 300)));
    expect(open4.filter(Boolean)).toHaveLength(4);
    expect(http?.loopbackSessionCount).toBe(4);
    const closes = await Promise.all(anonymous.filter((_, i) => !open4[i]).map((session) => session.closed));
    expect(closes.every((close) => close.code === 1013)).toBe(true);
  });

  it('the same origin, no Origin and an allowed origin are let in', async () => {
    const { url, port } = await start({ allowedOrigins: ['https://app.example.com'] });
    expect(await staysOpen(await open(url, { origin: `http://127.0.0.1:${port}` }))).toBe(true);
    expect(await staysOpen(await open(url))).toBe(true);
    expect(await staysOpen(await open(url, { origin: 'https://app.example.com' }))).toBe(true);
    await expect(open(url, { origin: 'https://app.example.com.evil.example' })).rejects.toThrow(/403/);
  });
});
