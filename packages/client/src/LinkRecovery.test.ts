import { afterEach, describe, expect, it, vi } from 'vitest';
import { LinkRecovery, type RecoveryChange } from './LinkRecovery.js';

afterEach(() => vi.useRealTimers());

function recovery(options: ConstructorParameters<typeof LinkRecovery>[2], attempt: (n: number) => Promise<void> = async () => undefined): { r: LinkRecovery; steps: RecoveryChange[]; attempts: number[] } {
  const steps: RecoveryChange[] = [];
  const attempts: number[] = [];
  const r = new LinkRecovery(
    'receiving',
    {
      attempt: (n) => {
        attempts.push(n);
        return attempt(n);
      },
      report: (c) => steps.push(c),
    },
    options,
  );
  return { r, steps, attempts };
}

describe('LinkRecovery', () => {
  it('attempts at once, then after waits that double up to maxBackoffMs, and gives up after maxAttempts until retry()', async () => {
    vi.useFakeTimers();
    const { r, steps, attempts } = recovery({ attemptTimeoutMs: 1000, backoffMs: 100, maxBackoffMs: 300, maxAttempts: 4 });
    r.lost();
    r.lost();
    expect(attempts).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1000 + 100 + 1000 + 200 + 1000 + 300 + 1000);
    expect(steps.map((s) => [s.state, s.attempt, s.delayMs])).toEqual([
      ['retrying', 1, 0],
      ['retrying', 2, 100],
      ['retrying', 3, 200],
      ['retrying', 4, 300],
      ['failed', 4, 0],
    ]);
    expect(r.failed).toBe(true);
    r.lost();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(attempts).toEqual([1, 2, 3, 4]);

    r.retry();
    expect(r.failed).toBe(false);
    expect(steps.at(-1)).toMatchObject({ state: 'retrying', attempt: 1, delayMs: 0 });
    r.connected();
    expect(steps.at(-1)).toMatchObject({ state: 'recovered', attempt: 1 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(attempts).toEqual([1, 2, 3, 4, 1]);
  });

  it('an attempt that fails at once goes to the next wait without waiting out its time; connected() ends the attempts; close() stops them', async () => {
    vi.useFakeTimers();
    const { r, steps, attempts } = recovery({ attemptTimeoutMs: 5000, backoffMs: 100, maxAttempts: 5 }, async (n) => {
      if (n === 1) throw new Error('no connection to restart');
    });
    r.lost();
    await vi.advanceTimersByTimeAsync(100);
    expect(attempts).toEqual([1, 2]);
    r.connected();
    expect(r.active).toBe(false);
    expect(steps.map((s) => s.state)).toEqual(['retrying', 'retrying', 'recovered']);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(attempts).toEqual([1, 2]);

    r.lost();
    r.close();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(attempts).toEqual([1, 2, 1]);
    expect(steps.at(-1)).toMatchObject({ state: 'retrying', attempt: 1 });
  });
});
