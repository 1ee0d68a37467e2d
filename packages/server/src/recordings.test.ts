import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './startServer.js';

const logger = pino({ level: 'silent' });
// Media ports of this file (recording work's range).
const MEDIA_PORTS: [number, number] = [55600, 55619];

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('GET /recordings/<id> on the product server', () => {
  it('is answered by the recordings (not the static files): unknown ids are 404, other paths still reach the pages', async () => {
    const server: RunningServer = await startServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      kurento: false,
      media: { iceAddresses: ['127.0.0.1'], portRange: MEDIA_PORTS },
      signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000 },
    });
    cleanup.push(() => server.close());
    const unknown = await fetch(`${server.url}recordings/0b9f2c1e-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe('no such recording');
    expect((await fetch(`${server.url}healthz`)).status).toBe(200);
  });
});
