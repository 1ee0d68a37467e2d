import { describe, expect, it } from 'vitest';
import { AddressLimiter } from './AddressLimiter.js';

describe('AddressLimiter', () => {
  it('gives each address its own bucket: one over its rate does not limit another', () => {
    let now = 0;
    const limiter = new AddressLimiter({ ratePerSecond: 10, burst: 3, now: () => now });
    expect([1, 2, 3, 4].map(() => limiter.take('10.0.0.1'))).toEqual([true, true, true, false]);
    expect(limiter.take('10.0.0.2')).toBe(true);
    now += 100; // one token back
    expect(limiter.take('10.0.0.1')).toBe(true);
    expect(limiter.take('10.0.0.1')).toBe(false);
  });

  it('stays at maxAddresses: refilled (idle) buckets are forgotten first, else the oldest', () => {
    let now = 0;
    const limiter = new AddressLimiter({ ratePerSecond: 1, burst: 2, maxAddresses: 3, now: () => now });
    for (let i = 0; i < 3; i++) limiter.take(`a${i}`);
    now += 5000; // all three full again
    limiter.take('b');
    expect(limiter.size).toBe(1);
    for (let i = 0; i < 10; i++) limiter.take(`c${i}`);
    expect(limiter.size).toBeLessThanOrEqual(3);
  });
});
