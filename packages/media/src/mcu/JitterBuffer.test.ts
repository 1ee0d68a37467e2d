import { describe, expect, it } from 'vitest';
import { JitterBuffer } from './JitterBuffer.js';

describe('JitterBuffer', () => {
  it('holds startDepth packets before playout, then hands them out in sequence order', () => {
    const jb = new JitterBuffer<string>({ startDepth: 2 });
    jb.push(11, 'b');
    expect(jb.pop()).toBeUndefined();
    jb.push(10, 'a');
    jb.push(12, 'c');

    expect([jb.pop(), jb.pop(), jb.pop(), jb.pop()]).toEqual(['a', 'b', 'c', undefined]);
  });

  it('skips a missing packet once later ones wait, counting it lost; late and duplicate packets are dropped', () => {
    const jb = new JitterBuffer<string>({ startDepth: 1 });
    jb.push(65535, 'a');
    jb.push(1, 'c');
    jb.push(1, 'dup');

    expect(jb.pop()).toBe('a');
    expect(jb.pop()).toBe('c');
    expect(jb.lost).toBe(1);
    jb.push(0, 'late');
    expect(jb.late).toBe(1);
    expect(jb.pop()).toBeUndefined();
  });

  it('drops the oldest packets beyond maxDepth, and starts over after a jump in numbering', () => {
    const jb = new JitterBuffer<number>({ startDepth: 1, maxDepth: 3 });
    for (let s = 0; s < 6; s++) jb.push(s, s);
    expect(jb.size).toBe(3);
    expect(jb.pop()).toBe(3);

    jb.push(30000, 30000);
    expect(jb.pop()).toBe(30000);
  });
});
