import { describe, expect, it } from 'vitest';
import { AttemptLimiter } from './AttemptLimiter.js';

const LIMITS = { maxFailures: 3, decayMs: 10_000, lockMs: 1000, maxLockMs: 4000 };

function setup() {
  let clock = 1_000_000;
  const limiter = new AttemptLimiter(LIMITS, () => clock);
  const fail = (key = 'k') => {
    limiter.begin(key);
    limiter.end(key, 'failure');
  };
  return { limiter, fail, advance: (ms: number) => (clock += ms) };
}

describe('AttemptLimiter', () => {
  it('locks a key after maxFailures failures, with the time left as retryAfterMs; other keys are free', () => {
    const { limiter, fail, advance } = setup();
    fail();
    fail();
    expect(limiter.refusal('k')).toBeUndefined();
    fail();
    expect(limiter.refusal('k')).toEqual({ retryAfterMs: 1000 });
    advance(400);
    expect(limiter.refusal('k')).toEqual({ retryAfterMs: 600 });
    expect(limiter.refusal('other')).toBeUndefined();
  });

  it('each failure after a lock-out doubles the next lock, up to maxLockMs', () => {
    const { limiter, fail, advance } = setup();
    for (let i = 0; i < 3; i++) fail();
    const locks: number[] = [];
    for (let i = 0; i < 4; i++) {
      const refusal = limiter.refusal('k')!;
      locks.push(refusal.retryAfterMs);
      advance(refusal.retryAfterMs);
      expect(limiter.refusal('k')).toBeUndefined();
      fail();
    }
    expect(locks).toEqual([1000, 2000, 4000, 4000]);
  });

  it('the count decays with quiet time (not while locked) and a decayed key is forgotten with its back-off', () => {
    const { limiter, fail, advance } = setup();
    for (let i = 0; i < 3; i++) fail();
    advance(1000); // the lock ends; the decay starts now
    fail(); // locked again, for 2 s
    advance(2000 + 2 * 10_000); // the lock, then two decay steps: 2 failures -> 0
    expect(limiter.refusal('k')).toBeUndefined();
    expect(limiter.size).toBe(0);
    for (let i = 0; i < 3; i++) fail();
    // Back to the first lock's length.
    expect(limiter.refusal('k')).toEqual({ retryAfterMs: 1000 });
  });

  it('attempts in progress count, so concurrent attempts cannot pass the limit; a success forgets the key', () => {
    const { limiter } = setup();
    limiter.begin('k');
    limiter.begin('k');
    limiter.begin('k');
    expect(limiter.refusal('k')?.retryAfterMs).toBeGreaterThan(0);
    limiter.end('k', 'none');
    expect(limiter.refusal('k')).toBeUndefined();
    limiter.end('k', 'failure');
    limiter.end('k', 'success');
    expect(limiter.size).toBe(0);
  });
});
