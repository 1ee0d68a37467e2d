import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { loadConfig } from './config.js';
import { startServer } from './startServer.js';

const logger = pino({ level: 'silent' });
// Media ports of this file (the quotas work's range).
const MEDIA_PORTS: [number, number] = [64300, 64319];

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Answer {
  ok: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; retryAfterMs?: number };
}

async function socket(url: string) {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  cleanup.push(() => ws.close());
  let nextId = 1;
  const waiting = new Map<number, (answer: Answer) => void>();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Answer & { id?: number };
    if (typeof frame.id === 'number') waiting.get(frame.id)?.(frame);
  });
  return (body: object): Promise<Answer> => {
    const id = nextId++;
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, ...body }));
    });
  };
}

describe('limits.* settings on the product server', () => {
  it('ROUNDTABLE_* limits reach the signaling server: failed logins, rooms per user and sockets per account', async () => {
    const config = loadConfig({ env: { ROUNDTABLE_LOGIN_FAILURES_PER_ACCOUNT: '1', ROUNDTABLE_ROOMS_PER_USER: '1', ROUNDTABLE_SOCKETS_PER_USER: '1' } });
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      kurento: false,
      mediaWorkers: 0,
      webDir: false,
      media: { iceAddresses: ['127.0.0.1'], portRange: MEDIA_PORTS },
      signaling: { ...config.signaling, dbPath: ':memory:' },
    });
    cleanup.push(() => server.close());
    const url = `${server.url.replace(/^http/, 'ws')}ws`;

    const first = await socket(url);
    const registered = await first({ type: 'register', username: 'alice', password: 'password-alice' });
    expect(registered.ok).toBe(true);
    const token = registered.result!['token'] as string;
    expect(await first({ type: 'hello', token })).toMatchObject({ ok: true });
    expect(await first({ type: 'room.join', room: 'one' })).toMatchObject({ ok: true });
    expect(await first({ type: 'room.join', room: 'two' })).toMatchObject({ ok: false, error: { code: 'QUOTA_EXCEEDED' } });

    const second = await socket(url);
    expect(await second({ type: 'hello', token })).toMatchObject({ ok: false, error: { code: 'QUOTA_EXCEEDED' } });
    expect(await second({ type: 'login', username: 'alice', password: 'wrong-password' })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    const refused = await second({ type: 'login', username: 'alice', password: 'password-alice' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'TOO_MANY_ATTEMPTS' } });
    expect(refused.error!.retryAfterMs).toBeGreaterThan(0);
  });
});
