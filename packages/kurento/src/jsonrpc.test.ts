import { describe, expect, it } from 'vitest';
import { JsonStreamSplitter, requestIdOf } from './jsonrpc.js';

function drain(splitter: JsonStreamSplitter): string[] {
  const out: string[] = [];
  for (let text = splitter.next(); text !== undefined; text = splitter.next()) out.push(text);
  return out;
}

describe('JsonStreamSplitter', () => {
  it('hands out each complete value once, whatever the chunks', () => {
    const s = new JsonStreamSplitter();
    s.push('{"a":1}  {"b":"}{\\"');
    expect(drain(s)).toEqual(['{"a":1}']);
    s.push('"}[1,[2]]\n{"c"');
    expect(drain(s)).toEqual(['{"b":"}{\\""}', '[1,[2]]']);
    s.push(':{}}');
    expect(drain(s)).toEqual(['{"c":{}}']);
    expect(s.pending).toBe(0);
  });

  it('returns one value per call, so the caller can stop and go on later', () => {
    const s = new JsonStreamSplitter();
    s.push('{}'.repeat(5));
    expect(s.next()).toBe('{}');
    expect(s.pending).toBe(8);
    expect(drain(s)).toHaveLength(4);
  });

  it('hands out text that is not JSON on its own, to be answered a parse error', () => {
    const s = new JsonStreamSplitter();
    s.push('hello {"a":1} world');
    expect(drain(s)).toEqual(['hello ', '{"a":1}', 'world']);
  });

  it('an unfinished value beyond its bound is handed out (to fail parsing) instead of growing', () => {
    const s = new JsonStreamSplitter(16);
    s.push('{"a":"0123456789');
    expect(drain(s)).toEqual([]);
    s.push('0123456789');
    expect(drain(s)).toEqual(['{"a":"01234567890123456789']);
    expect(s.pending).toBe(0);
    s.push('{"b":2}');
    expect(drain(s)).toEqual(['{"b":2}']);
  });
});

describe('requestIdOf', () => {
  it('finds the id of a request, or null', () => {
    expect(requestIdOf('{"jsonrpc":"2.0","id":7,"method":"x"}')).toBe(7);
    expect(requestIdOf('{"id":"a"}')).toBe('a');
    expect(requestIdOf('{"id":{}}')).toBeNull();
    expect(requestIdOf('{nope')).toBeNull();
    expect(requestIdOf(`{"id":1,"pad":"${'x'.repeat(70_000)}"}`)).toBeNull();
  });
});
