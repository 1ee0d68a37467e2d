import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeyframeRequester } from './KeyframeRequester.js';

const INTERVAL = 1000;
const open: KeyframeRequester[] = [];

/** A requester whose clock is the fake system clock, so timers and `now` agree. */
function requester(send: () => void, intervalMs = INTERVAL): KeyframeRequester {
  const r = new KeyframeRequester(send, intervalMs, () => Date.now());
  open.push(r);
  return r;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});
afterEach(() => {
  for (const r of open.splice(0)) r.close();
  vi.useRealTimers();
});

describe('KeyframeRequester', () => {
  it('sends the first request at once', () => {
    const send = vi.fn();
    const r = requester(send);

    r.request();

    expect(send).toHaveBeenCalledTimes(1);
    expect(r.requested).toBe(1);
    expect(r.sent).toBe(1);
  });

  it('many requests within the interval send one now and one more at the end of the interval', () => {
    const send = vi.fn();
    const r = requester(send);

    r.request();
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(10);
      r.request();
    }

    expect(send).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(INTERVAL - 200 - 1);
    expect(send).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(send).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(10 * INTERVAL);
    expect(send).toHaveBeenCalledTimes(2);
    expect(r.requested).toBe(21);
    expect(r.sent).toBe(2);
  });

  it('a single request within the interval is not dropped but delayed to the end of the interval', () => {
    const send = vi.fn();
    const r = requester(send);
    r.request();

    vi.advanceTimersByTime(400);
    r.request();
    vi.advanceTimersByTime(599);

    expect(send).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('a request after the interval has passed is sent at once', () => {
    const send = vi.fn();
    const r = requester(send);
    r.request();

    vi.advanceTimersByTime(INTERVAL);
    r.request();

    expect(send).toHaveBeenCalledTimes(2);
  });

  it('the interval restarts from the delayed request', () => {
    const send = vi.fn();
    const r = requester(send);
    r.request();
    vi.advanceTimersByTime(500);
    r.request();
    vi.advanceTimersByTime(500); // delayed request goes out at t=1000

    vi.advanceTimersByTime(100);
    r.request();

    expect(send).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(INTERVAL - 100);
    expect(send).toHaveBeenCalledTimes(3);
  });

  it('honours a custom interval', () => {
    const send = vi.fn();
    const r = requester(send, 250);
    r.request();

    r.request();
    vi.advanceTimersByTime(250);

    expect(send).toHaveBeenCalledTimes(2);
  });

  it('close() cancels a scheduled request', () => {
    const send = vi.fn();
    const r = requester(send);
    r.request();
    r.request();

    r.close();
    vi.advanceTimersByTime(10 * INTERVAL);

    expect(send).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('requests after close() are ignored', () => {
    const send = vi.fn();
    const r = requester(send);

    r.close();
    r.request();
    vi.advanceTimersByTime(10 * INTERVAL);

    expect(send).not.toHaveBeenCalled();
    expect(r.requested).toBe(0);
  });

  it('close() is idempotent', () => {
    const r = requester(vi.fn());

    r.close();

    expect(() => r.close()).not.toThrow();
  });
});
