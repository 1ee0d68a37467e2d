/**
 * The limits of /ws against a hostile client: a bounded queue per socket, a rate per
 * address over all its sockets, a flood that is refused and closed while others are
 * served, and the Origin allow-list.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { flood } from '../testing/flooder.js';
import { TestClient, type WireResponse } from '../testing/TestClient.js';
import { TestServer, type TestServerOptions } from '../testing/TestServer.js';
import type { HandlerTable } from './Handlers.js';

type Refusal = WireResponse & { ok: false };
const isRefusal = (frame: unknown, code: string): frame is Refusal => (frame as WireResponse).ok === false && (frame as Refusal).error.code === code;

describe('/ws limits', () => {
  let server: TestServer | undefined;
  const start = async (options: TestServerOptions = {}) => (server = await TestServer.start(options));
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('requests beyond maxQueuedRequests while one runs are answered RATE_LIMITED, and those queued still run in order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    const blocking: HandlerTable = {
      'room.join': async (request) => {
        if (request.room === 'block') await gate;
        order.push(request.room);
        return {};
      },
    };
    const s = await start({ modules: () => [blocking], server: { maxQueuedRequests: 4, ratePerSecond: 1000, rateBurst: 1000, closeAfterRefused: 1000 } });
    const alice = await s.signIn('alice');
    const ids = Array.from({ length: 20 }, () => alice.takeId());
    ids.forEach((id, i) => alice.sendRaw(JSON.stringify({ id, type: 'room.join', room: i === 0 ? 'block' : `r${i}` })));

    // One runs, four wait: the other fifteen are refused at once, while the first is still blocked.
    const refused = await Promise.all(ids.slice(5).map((id) => alice.waitForFrame((f) => (f as WireResponse).id === id)));
    expect(refused.every((f) => isRefusal(f, 'RATE_LIMITED') && /at most 4 while one runs/.test(f.error.message))).toBe(true);
    expect(order).toEqual([]);

    release();
    const answered = await Promise.all(ids.slice(0, 5).map((id) => alice.waitForFrame((f) => (f as WireResponse).id === id)));
    expect(answered.every((f) => (f as WireResponse).ok)).toBe(true);
    expect(order).toEqual(['block', 'r1', 'r2', 'r3', 'r4']);
    expect(alice.isOpen).toBe(true);
  });

  it("one address's sockets share its rate: two sockets over it together are refused, though each is under its own", async () => {
    const s = await start({ server: { ratePerSecond: 1000, rateBurst: 1000, addressRatePerSecond: 1, addressBurst: 10, closeAfterRefused: 1000 } });
    const first = await s.connect();
    const second = await s.connect();
    const ids = [first, second].map((client) => Array.from({ length: 10 }, () => client.takeId()));
    for (const id of ids[0]!) first.sendRaw(JSON.stringify({ id, type: 'contacts.list' }));
    for (const id of ids[1]!) second.sendRaw(JSON.stringify({ id, type: 'contacts.list' }));
    const frames = [
      ...(await Promise.all(ids[0]!.map((id) => first.waitForFrame((f) => (f as WireResponse).id === id)))),
      ...(await Promise.all(ids[1]!.map((id) => second.waitForFrame((f) => (f as WireResponse).id === id)))),
    ];
    const overAddress = frames.filter((f) => isRefusal(f, 'RATE_LIMITED') && /from this address/.test(f.error.message));
    // Ten tokens for the address: the first socket's ten requests (answered UNAUTHENTICATED) used them all.
    expect(overAddress.length).toBeGreaterThanOrEqual(9);
    expect(frames.filter((f) => isRefusal(f, 'UNAUTHENTICATED')).length).toBeLessThanOrEqual(11);
  });

  it('an anonymous socket sending 20,000 requests at once is refused and closed with 1008, while a signed-in user is served throughout', async () => {
    const s = await start();
    const bob = await s.signIn('bob');
    const before = s.server.connectionCount;

    // Bob asks again and again while another process floods; his round trips are printed for the record.
    const roundTrips: number[] = [];
    let asking = true;
    const bobAsks = (async () => {
      while (asking) {
        const started = performance.now();
        expect(await bob.request('contacts.list')).toEqual([]);
        roundTrips.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const report = await flood(s.url, '{"id":1,"type":"contacts.list"}', 20_000);
    asking = false;
    await bobAsks;

    expect(report.close).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    // At most the burst (100) was handled (what still waited when the socket closed is dropped unanswered); the
    // refusals end soon after closeAfterRefused (100) in a row, and the 19,000-odd frames behind them got nothing.
    expect(report.answers).toBeGreaterThanOrEqual(100);
    expect(report.answers).toBeLessThan(500);
    expect(report.sample.some((text) => /RATE_LIMITED/.test(text))).toBe(true);
    expect(roundTrips.length).toBeGreaterThan(0);
    await expect.poll(() => s.server.connectionCount).toBe(before);
    expect(await bob.request('contacts.list')).toEqual([]);
    console.info(`/ws flood of 20,000 frames: another user's ${roundTrips.length} round trips during it, slowest ${Math.max(...roundTrips).toFixed(1)} ms`);
  });

  describe('Origin', () => {
    const connectWithOrigin = (url: string, origin: string | undefined): Promise<{ opened: boolean; status?: number }> =>
      new Promise((resolve) => {
        const ws = new WebSocket(url, origin === undefined ? {} : { origin });
        ws.once('open', () => {
          ws.close();
          resolve({ opened: true });
        });
        ws.once('unexpected-response', (_request, response) => {
          resolve({ opened: false, ...(response.statusCode === undefined ? {} : { status: response.statusCode }) });
          ws.terminate();
        });
        ws.once('error', () => resolve({ opened: false }));
      });

    it('a page of another site is refused with 403; the same origin and clients without an Origin are let in', async () => {
      const s = await start();
      const { port } = new URL(s.url);
      expect(await connectWithOrigin(s.url, 'https://evil.example')).toEqual({ opened: false, status: 403 });
      expect(await connectWithOrigin(s.url, 'null')).toEqual({ opened: false, status: 403 });
      expect(await connectWithOrigin(s.url, `http://127.0.0.1:${port}`)).toEqual({ opened: true });
      expect(await connectWithOrigin(s.url, undefined)).toEqual({ opened: true });
      expect(s.server.connectionCount).toBeLessThanOrEqual(2);
    });

    it('origins in allowedOrigins are let in, others still refused', async () => {
      const s = await start({ server: { allowedOrigins: ['https://app.example.com'] } });
      expect(await connectWithOrigin(s.url, 'https://app.example.com')).toEqual({ opened: true });
      expect(await connectWithOrigin(s.url, 'https://evil.example')).toEqual({ opened: false, status: 403 });
      // A client with an allowed origin works end to end.
      const client = await TestClient.connect(s.url);
      expect(await client.send('contacts.list')).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      await client.close();
    });
  });
});
