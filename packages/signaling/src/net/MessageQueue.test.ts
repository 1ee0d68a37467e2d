import { describe, expect, it } from 'vitest';
import { MessageQueue } from './MessageQueue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('MessageQueue', () => {
  it('handles items one at a time, in the order pushed', async () => {
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    const done = deferred();
    const queue = new MessageQueue<number>({
      capacity: 10,
      handle: async (n) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, n % 2 === 0 ? 5 : 0));
        seen.push(n);
        running--;
        if (seen.length === 5) done.resolve();
      },
    });
    for (let n = 0; n < 5; n++) expect(queue.push(n)).toBe(true);
    await done.promise;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(1);
  });

  it('push() refuses beyond the capacity while one item runs, and takes items again once there is room', async () => {
    const gate = deferred();
    const seen: number[] = [];
    const queue = new MessageQueue<number>({
      capacity: 3,
      handle: async (n) => {
        if (n === 0) await gate.promise;
        seen.push(n);
      },
    });
    const accepted = Array.from({ length: 10 }, (_, n) => queue.push(n));
    // The first is running, three wait, six are refused.
    expect(accepted).toEqual([true, true, true, true, false, false, false, false, false, false]);
    expect(queue.length).toBe(3);
    gate.resolve();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(queue.push(99)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen.at(-1)).toBe(99);
  });

  it('a handler that throws is reported to onError and the next item runs', async () => {
    const errors: unknown[] = [];
    const seen: string[] = [];
    const done = deferred();
    const queue = new MessageQueue<string>({
      capacity: 4,
      handle: async (item) => {
        if (item === 'bad') throw new Error('boom');
        seen.push(item);
        if (item === 'last') done.resolve();
      },
      onError: (error) => errors.push(error),
    });
    queue.push('bad');
    queue.push('last');
    await done.promise;
    expect(seen).toEqual(['last']);
    expect(errors).toHaveLength(1);
  });

  it('gives the event loop a turn every yieldEvery items, so a timer set before a long run fires within it', async () => {
    const order: string[] = [];
    const done = deferred();
    const queue = new MessageQueue<number>({
      capacity: 100,
      yieldEvery: 10,
      handle: async (n) => {
        order.push(`item ${n}`);
        if (n === 99) done.resolve();
      },
    });
    setImmediate(() => order.push('event loop'));
    for (let n = 0; n < 100; n++) queue.push(n);
    await done.promise;
    const turn = order.indexOf('event loop');
    // Handlers resolve at once (microtasks only): without the yield, all 100 would run before the event loop's turn.
    expect(turn).toBeGreaterThan(0);
    expect(turn).toBeLessThanOrEqual(10);
  });

  it('close() drops what waits and refuses new items', async () => {
    const gate = deferred();
    const seen: number[] = [];
    const queue = new MessageQueue<number>({
      capacity: 5,
      handle: async (n) => {
        if (n === 0) await gate.promise;
        seen.push(n);
      },
    });
    queue.push(0);
    queue.push(1);
    queue.push(2);
    queue.close();
    expect(queue.length).toBe(0);
    expect(queue.push(3)).toBe(false);
    gate.resolve();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual([0]);
  });
});
