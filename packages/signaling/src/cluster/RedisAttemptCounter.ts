import type { Redis } from 'ioredis';
import { LocalAttemptCounter, type AttemptCounter } from '../auth/AttemptCounter.js';
import type { AttemptLimits, Refusal } from '../auth/AttemptLimiter.js';
import type { Logger } from '../logger.js';

// AttemptLimiter's rules on a hash per key: f failures (decaying one per decayMs of quiet),
// p attempts in progress, l lock-outs in a row, u locked until, t when f was brought up to
// date. ARGV: op, now, maxFailures, decayMs, lockMs, maxLockMs, outcome. Returns the ms to
// wait (refusal, begin) or -1 (none).
const ATTEMPTS = `
local op, now = ARGV[1], tonumber(ARGV[2])
local max, decay, lockMs, maxLock = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local v = redis.call('HMGET', KEYS[1], 'f', 'p', 'l', 'u', 't')
local f, p, l, u, t = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0, tonumber(v[5]) or now
if now > t then
  local steps = math.floor((now - t) / decay)
  if steps > 0 then
    f = math.max(0, f - steps)
    t = t + steps * decay
    if f == 0 then l = 0 end
  end
end
local function fail()
  f = f + 1
  t = math.max(t, now)
  if f >= max then
    local lock = math.min(maxLock, lockMs * 2 ^ l)
    l = l + 1
    u = now + lock
    t = u
    f = max - 1
  end
end
local function refusal()
  if u > now then return u - now end
  if f + p >= max then
    if p > 0 then return 1000 end
    return decay
  end
  return -1
end
local result = -1
if op == 'refusal' then
  result = refusal()
elseif op == 'begin' then
  result = refusal()
  if result < 0 then p = p + 1 end
elseif op == 'end' then
  p = math.max(0, p - 1)
  if ARGV[7] == 'success' then
    redis.call('DEL', KEYS[1])
    return -1
  elseif ARGV[7] == 'failure' then
    fail()
  end
elseif op == 'record' then
  fail()
end
if f == 0 and p == 0 and u <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'f', f, 'p', p, 'l', l, 'u', u, 't', t)
  -- Kept while it can matter: the longest lock plus a full decay (an attempt in progress lost with its node goes with it).
  redis.call('PEXPIRE', KEYS[1], math.max(u - now, 0) + maxLock + max * decay)
end
return result`;

/**
 * Login and registration counts in Redis, shared by every signaling node (the rules of
 * AttemptLimiter, in one script per step, so concurrent attempts on several nodes cannot
 * all pass one check). While Redis does not answer, the counts of this process take over
 * (a node cut off from Redis still limits; the limit is per node until Redis is back).
 */
export class RedisAttemptCounter implements AttemptCounter {
  private readonly fallback: LocalAttemptCounter;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: AttemptLimits,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    this.fallback = new LocalAttemptCounter(limits, now);
  }

  async tryBegin(key: string): Promise<Refusal | undefined> {
    return this.run('begin', key, () => this.fallback.tryBegin(key));
  }

  async end(key: string, outcome: 'failure' | 'success' | 'none'): Promise<void> {
    await this.run('end', key, async () => void (await this.fallback.end(key, outcome)), outcome);
  }

  async refusal(key: string): Promise<Refusal | undefined> {
    return this.run('refusal', key, () => this.fallback.refusal(key));
  }

  async record(key: string): Promise<void> {
    await this.run('record', key, async () => void (await this.fallback.record(key)));
  }

  private async run(op: string, key: string, local: () => Promise<Refusal | undefined | void>, outcome = ''): Promise<Refusal | undefined> {
    const l = this.limits;
    try {
      const wait = (await this.redis.eval(ATTEMPTS, 1, `${this.prefix}${key}`, op, this.now(), l.maxFailures, l.decayMs, l.lockMs, l.maxLockMs, outcome)) as number;
      return wait >= 0 ? { retryAfterMs: wait } : undefined;
    } catch (error) {
      this.log.warn({ event: 'attemptCountFallback', op, err: error }, 'Redis did not count a login attempt: counted in this process');
      return (await local()) ?? undefined;
    }
  }
}
