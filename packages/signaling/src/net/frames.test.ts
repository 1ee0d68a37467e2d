import { describe, expect, it } from 'vitest';
import { decodeFrame, peekId, REQUEST_TYPES, validateRequest } from './frames.js';

function envelope(frame: unknown) {
  const decoded = decodeFrame(JSON.stringify(frame));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.envelope;
}

describe('frames', () => {
  it('REQUEST_TYPES lists every request of the protocol', () => {
    expect(REQUEST_TYPES.has('login')).toBe(true);
    expect(REQUEST_TYPES.has('messages.send')).toBe(true);
    expect(REQUEST_TYPES.has('call.start')).toBe(true);
  });

  it('decodeFrame() names what is wrong with frames that are not requests', () => {
    expect(decodeFrame('{nope')).toEqual({ ok: false, error: { id: null, message: expect.stringMatching(/not valid JSON/) } });
    expect(decodeFrame('[1,2]')).toEqual({ ok: false, error: { id: null, message: expect.stringMatching(/JSON object/) } });
    expect(decodeFrame('"hello"')).toEqual({ ok: false, error: { id: null, message: expect.stringMatching(/JSON object/) } });
    expect(decodeFrame('{"type":"login"}')).toEqual({ ok: false, error: { id: null, message: 'id must be a non-negative integer' } });
    expect(decodeFrame('{"id":-1,"type":"login"}').ok).toBe(false);
    expect(decodeFrame('{"id":1.5,"type":"login"}').ok).toBe(false);
    expect(decodeFrame('{"id":7}')).toEqual({ ok: false, error: { id: 7, message: expect.stringMatching(/type must be a string/) } });
    expect(decodeFrame('{"id":7,"type":"teleport"}')).toEqual({ ok: false, error: { id: 7, message: "unknown request type 'teleport'" } });
  });

  it('validateRequest() accepts a valid request and returns it parsed', () => {
    const result = validateRequest(envelope({ id: 3, type: 'messages.history', conversationId: 'c1', limit: 10 }));
    expect(result).toEqual({ ok: true, request: { id: 3, type: 'messages.history', conversationId: 'c1', limit: 10 } });
  });

  it('validateRequest() lists the bad fields with their paths', () => {
    const result = validateRequest(envelope({ id: 4, type: 'messages.send', text: 5 }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.id).toBe(4);
    expect(result.error.message).toMatch(/^invalid 'messages.send' request: /);
    expect(result.error.message).toMatch(/conversationId: /);
    expect(result.error.message).toMatch(/text: /);
  });

  it('peekId() finds the id of any frame that has one', () => {
    expect(peekId('{"id":9,"type":"whatever"}')).toBe(9);
    expect(peekId('{"id":9}')).toBe(9);
    expect(peekId('garbage')).toBeNull();
  });
});
