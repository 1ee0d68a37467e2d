import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Readiness } from './Readiness.js';
import { startServer, type RunningServer, type StartServerOptions } from './startServer.js';


const logger = pino({ level: 'silent' });
// Free of every other test's media ports (tests run in parallel processes).
const FOUR_PORTS: [number, number] = [44450, 44453];
const MEDIA_PORTS: [number, number] = [44460, 44499];

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function start(options: StartServerOptions): Promise<RunningServer> {
  const server = await startServer({ host: '127.0.0.1', port: 0, logger, ...options });
  cleanup.push(() => server.close());
  return server;
}

async function readyz(server: RunningServer): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}readyz`);
  expect(response.headers.get('content-type')).toBe('application/json');
  return { status: response.status, body: await response.json() };
}

describe('GET /readyz', () => {
  it('role all: 200 when the engine, the database and the media server are ready', async () => {
    const server = await start({ media: { iceAddresses: ['127.0.0.1'], portRange: MEDIA_PORTS }, signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000 } });

    expect(await readyz(server)).toEqual({ status: 200, body: { status: 'ready', checks: { engine: 'ok', database: 'ok', media: 'ok' } } });
  });

  it('role media: 503 naming the engine while too few media ports are free for one more endpoint, 200 once they are', async () => {
    // One ICE address: an endpoint takes 1 + 3 ports, all four of this range.
    const server = await start({ role: 'media', media: { iceAddresses: ['127.0.0.1'], portRange: FOUR_PORTS }, kurento: { host: '127.0.0.1', port: 0 } });
    const ports = server.engine.ports(...FOUR_PORTS);
    const taken = ports.reserve(1);

    const busy = await readyz(server);
    ports.release(taken, 1);

    expect(busy).toEqual({ status: 503, body: { status: 'not ready', checks: { engine: '3 UDP media ports free in 44450-44453; a WebRTC endpoint takes 4' } } });
    expect(await readyz(server)).toEqual({ status: 200, body: { status: 'ready', checks: { engine: 'ok' } } });
    // The process is up all along.
    expect((await fetch(`${server.url}healthz`)).status).toBe(200);
  });

  it('role signaling: 503 naming the media server when the media-role process has gone', async () => {
    const media = await start({ role: 'media', media: { iceAddresses: ['127.0.0.1'], portRange: MEDIA_PORTS }, kurento: { host: '127.0.0.1', port: 0 } });
    const signaling = await start({ role: 'signaling', signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000, mediaUrl: media.kurentoUrl! } });
    expect(await readyz(signaling)).toEqual({ status: 200, body: { status: 'ready', checks: { database: 'ok', media: 'ok' } } });

    await media.close();

    let answer = await readyz(signaling);
    for (let tries = 0; answer.status === 200 && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 20));
      answer = await readyz(signaling);
    }
    expect(answer).toEqual({ status: 503, body: { status: 'not ready', checks: { database: 'ok', media: `the media server at ${media.kurentoUrl} is not connected` } } });
  });
});

describe('Readiness', () => {
  it('report() names a check that throws, one that does not answer in time, and a shutdown', async () => {
    const readiness = new Readiness({ checkTimeoutMs: 50 });
    readiness.add('fine', async () => undefined);
    readiness.add('broken', () => Promise.reject(new Error('disk on fire')));
    readiness.add('stuck', () => new Promise<undefined>(() => undefined));
    readiness.markShuttingDown();

    expect(await readiness.report()).toEqual({ ready: false, checks: { fine: 'ok', broken: 'disk on fire', stuck: 'no answer within 50 ms', server: 'shutting down' } });
  });

  it('add() refuses a name used twice', () => {
    const readiness = new Readiness();
    readiness.add('database', async () => undefined);

    expect(() => readiness.add('database', async () => undefined)).toThrow(/exists already/);
  });
});
