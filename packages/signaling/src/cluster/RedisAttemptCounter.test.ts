import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalAttemptCounter, type AttemptCounter } from '../auth/AttemptCounter.js';
import { AuthService } from '../auth/AuthService.js';
import { silentLogger } from '../logger.js';
import { SqliteStore } from '../store/SqliteStore.js';
import { RedisServer, hasRedisServer } from '../testing/redisServer.js';
import { RedisAttemptCounter } from './RedisAttemptCounter.js';

// A real redis-server; no media.
const tools = hasRedisServer();
const FAST = { N: 1024, r: 8, p: 1 };
const ACCOUNT = { maxFailures: 3, decayMs: 60_000, lockMs: 30_000, maxLockMs: 120_000 };
const ADDRESS = { maxFailures: 5, decayMs: 60_000, lockMs: 30_000, maxLockMs: 120_000 };
let redis: RedisServer;
const connections: Redis[] = [];
let run = 0;

beforeAll(async () => {
  if (tools) redis = await RedisServer.start();
});
afterEach(() => {
  for (const c of connections.splice(0)) c.disconnect();
});
afterAll(async () => {
  await redis?.close();
});

function connect(): Redis {
  const c = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  c.on('error', () => undefined);
  connections.push(c);
  return c;
}

describe.skipIf(!tools)('RedisAttemptCounter', () => {
  it('two signaling nodes share the login limits: failures on both lock the account on both, and registrations per address are counted over both', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    let clock = 1_000_000;
    const prefix = `t${++run}:`;
    const node = (): AuthService => {
      const c = connect();
      return new AuthService({
        store,
        scrypt: FAST,
        now: () => clock,
        limits: { account: ACCOUNT, address: ADDRESS, registrationsPerHour: 3 },
        attemptCounters: (name, limits, now) => new RedisAttemptCounter(c, `${prefix}${name}:`, limits, now, silentLogger),
      });
    };
    const [a, b] = [node(), node()];
    await a.register({ username: 'alice', password: 'password-1', address: '10.0.0.99' });
    await b.register({ username: 'bob', password: 'password-2', address: '10.0.0.99' });
    await a.register({ username: 'carol', password: 'password-3', address: '10.0.0.99' });
    // The fourth registration from the address within the hour, on the other node.
    await expect(b.register({ username: 'dave', password: 'password-4', address: '10.0.0.99' })).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });

    await expect(a.login({ username: 'alice', password: 'wrong-password', address: '10.0.0.1' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(b.login({ username: 'alice', password: 'wrong-password', address: '10.0.0.2' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(a.login({ username: 'alice', password: 'wrong-password', address: '10.0.0.3' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(b.login({ username: 'alice', password: 'password-1', address: '10.0.0.4' })).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS', retryAfterMs: 30_000 });
    await expect(a.login({ username: 'bob', password: 'password-2', address: '10.0.0.4' })).resolves.toMatchObject({ user: { username: 'bob' } });
    clock += 30_000;
    await expect(b.login({ username: 'alice', password: 'password-1', address: '10.0.0.4' })).resolves.toMatchObject({ user: { username: 'alice' } });
    store.close();
  });

  it('gives the same answers as the counter in one process, step by step (lock-outs, back-off, decay, attempts in progress)', async () => {
    let clock = 5_000_000;
    const now = (): number => clock;
    const local = new LocalAttemptCounter(ACCOUNT, now);
    const shared = new RedisAttemptCounter(connect(), `t${++run}:`, ACCOUNT, now, silentLogger);
    const steps: Array<(c: AttemptCounter) => Promise<unknown>> = [];
    const fail = (c: AttemptCounter) => c.tryBegin('k').then(async (r) => (r ? r : c.end('k', 'failure')));
    for (let i = 0; i < 4; i++) steps.push(fail);
    steps.push((c) => c.refusal('k'));
    steps.push(async () => (clock += 30_000));
    steps.push(fail, fail, (c) => c.refusal('k'));
    steps.push(async () => (clock += 60_000));
    steps.push((c) => c.tryBegin('k'), (c) => c.tryBegin('k'), (c) => c.refusal('k'), (c) => c.end('k', 'none'), (c) => c.end('k', 'success'), (c) => c.refusal('k'));
    steps.push((c) => c.record('k'), (c) => c.record('k'), async () => (clock += 125_000), (c) => c.refusal('k'), fail, (c) => c.refusal('k'));
    const answers: Array<[unknown, unknown]> = [];
    for (const step of steps) {
      const before = clock;
      const l = await step(local);
      clock = before;
      answers.push([l, await step(shared)]);
    }
    for (const [l, s] of answers) expect(s).toEqual(typeof l === 'number' ? l : l ?? undefined);
    expect(answers.filter(([l]) => l && typeof l === 'object').length).toBeGreaterThan(3);
  });

  it('while Redis does not answer, the attempts are counted in this process (still limited)', async () => {
    const c = connect();
    const counter = new RedisAttemptCounter(c, `t${++run}:`, ACCOUNT, () => 1_000, silentLogger);
    c.disconnect();
    for (let i = 0; i < 3; i++) {
      expect(await counter.tryBegin('k')).toBeUndefined();
      await counter.end('k', 'failure');
    }
    expect(await counter.tryBegin('k')).toEqual({ retryAfterMs: 30_000 });
  });
});
