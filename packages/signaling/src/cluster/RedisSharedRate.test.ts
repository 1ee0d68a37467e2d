import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { AddressLimiter } from '../net/AddressLimiter.js';
import { RedisServer, hasRedisServer } from '../testing/redisServer.js';
import { RedisSharedRate } from './RedisSharedRate.js';

// A real redis-server; no media.
const tools = hasRedisServer();
let redis: RedisServer;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  if (tools) redis = await RedisServer.start();
});
afterEach(() => {
  for (const thing of open.splice(0)) thing.close();
});
afterAll(async () => {
  await redis?.close();
});

describe.skipIf(!tools)('RedisSharedRate', () => {
  it('an address whose messages are spread over two nodes is held to one rate over both: refused on each once their sum passes it, until the window ends', async () => {
    let clock = 6_000_000;
    const now = (): number => clock;
    const node = (): { limiter: AddressLimiter; rate: RedisSharedRate } => {
      const connection = new Redis(redis.url);
      open.push({ close: () => connection.disconnect() });
      // 10/s with a burst of 30: 40 messages in a 1-second window over all nodes.
      const rate = new RedisSharedRate(connection, 'shared:', 10, 30, silentLogger, 1000, now);
      open.push(rate);
      return { limiter: new AddressLimiter({ ratePerSecond: 10, burst: 30, now, shared: rate }), rate };
    };
    const [a, b] = [node(), node()];
    const take = (n: { limiter: AddressLimiter }, count: number): boolean[] => Array.from({ length: count }, () => n.limiter.take('10.0.0.1'));

    // Each node alone would let 30 through; 25 on each is 50 in all.
    expect(take(a, 25).every(Boolean)).toBe(true);
    expect(take(b, 25).every(Boolean)).toBe(true);
    await a.rate.flush();
    await b.rate.flush();
    expect(take(b, 1)).toEqual([false]);
    // Node a learns of the sum at its next flush.
    expect(take(a, 1)).toEqual([true]);
    await a.rate.flush();
    expect(take(a, 1)).toEqual([false]);
    // Another address is not affected.
    expect(a.limiter.take('10.0.0.2')).toBe(true);

    // The next window: both nodes let the address through again.
    clock += 1000;
    expect([a.limiter.take('10.0.0.1'), b.limiter.take('10.0.0.1')]).toEqual([true, true]);
  });
});
