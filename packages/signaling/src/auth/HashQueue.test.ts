import { describe, expect, it } from 'vitest';
import { HashQueue } from './HashQueue.js';

/** A task that finishes when told to, recording that it started. */
function gate(started: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    task: async () => {
      started.push(name);
      await done;
      return name;
    },
    finish: () => finish(),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('HashQueue', () => {
  it('runs at most `concurrency` tasks; a full queue is refused with OVERLOADED at once, running nothing', async () => {
    const queue = new HashQueue({ concurrency: 1, maxQueued: 1, perSource: 5 });
    const started: string[] = [];
    const a = gate(started, 'a');
    const b = gate(started, 'b');
    const pa = queue.run('x', a.task);
    const pb = queue.run('y', b.task);
    await tick();
    expect(started).toEqual(['a']);
    expect({ active: queue.active, queued: queue.queued }).toEqual({ active: 1, queued: 1 });
    await expect(queue.run('z', async () => started.push('c'))).rejects.toMatchObject({ code: 'OVERLOADED', retryAfterMs: 1000 });
    a.finish();
    expect(await pa).toBe('a');
    await tick();
    expect(started).toEqual(['a', 'b']);
    b.finish();
    expect(await pb).toBe('b');
    expect({ active: queue.active, queued: queue.queued }).toEqual({ active: 0, queued: 0 });
  });

  it('one source may hold only `perSource` places (TOO_MANY_ATTEMPTS); others still get theirs', async () => {
    const queue = new HashQueue({ concurrency: 1, maxQueued: 10, perSource: 2 });
    const started: string[] = [];
    const gates = [gate(started, 'f1'), gate(started, 'f2')];
    const running = gates.map((g) => queue.run('flood', g.task));
    await expect(queue.run('flood', async () => 'f3')).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
    const honest = queue.run('honest', async () => 'h');
    for (const g of gates) g.finish();
    expect(await Promise.all([...running, honest])).toEqual(['f1', 'f2', 'h']);
  });

  it('waiting tasks take turns by source: a long queue from one source delays another by one turn', async () => {
    const queue = new HashQueue({ concurrency: 1, maxQueued: 20, perSource: 20 });
    const order: string[] = [];
    const first = gate(order, 'flood0');
    const all = [queue.run('flood', first.task)];
    for (let i = 1; i < 6; i++) all.push(queue.run('flood', async () => (order.push(`flood${i}`), 'f')));
    all.push(queue.run('honest', async () => (order.push('honest'), 'h')));
    first.finish();
    await Promise.all(all);
    expect(order.indexOf('honest')).toBe(2);
  });
});
