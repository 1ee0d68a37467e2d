import { describe, expect, it } from 'vitest';
import { parseServerFrame } from './frames.js';

describe('parseServerFrame', () => {
  it.each([
    ['binary data', new Uint8Array([1, 2])],
    ['invalid JSON', '{"id": 1,'],
    ['an array', '[1,2]'],
    ['a response without an id', '{"ok": true, "result": {}}'],
    ['an error without a code', '{"id": 1, "ok": false, "error": {"message": "x"}}'],
    ['an unknown notification type', '{"type": "no.such.thing"}'],
    ['a call notification without callId', '{"type": "call.ended", "reason": "hangup"}'],
    ['a call.signal without a payload type', '{"type": "call.signal", "callId": "c", "payload": {}}'],
    ['a room.left without a userId', '{"type": "room.left", "room": "r"}'],
    ['a room.message without its text', '{"type": "room.message", "room": "r", "message": {"seq": 1, "senderId": "u"}}'],
  ])('drops %s', (_what, data) => {
    expect(parseServerFrame(data)).toBeUndefined();
  });

  it('reads responses, error responses and notifications', () => {
    expect(parseServerFrame('{"id": 3, "ok": true, "result": {"a": 1}}')).toEqual({ kind: 'response', id: 3, ok: true, result: { a: 1 } });
    expect(parseServerFrame('{"id": null, "ok": false, "error": {"code": "BAD_REQUEST", "message": "m"}}')).toEqual({ kind: 'response', id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'm' } });
    expect(parseServerFrame('{"id": 3, "ok": false, "error": {"code": "TOO_MANY_ATTEMPTS", "message": "m", "retryAfterMs": 30000}}')).toEqual({
      kind: 'response',
      id: 3,
      ok: false,
      error: { code: 'TOO_MANY_ATTEMPTS', message: 'm', retryAfterMs: 30000 },
    });
    // A retryAfterMs that is not a number is left out.
    expect(parseServerFrame('{"id": 3, "ok": false, "error": {"code": "OVERLOADED", "message": "m", "retryAfterMs": "soon"}}')).toEqual({ kind: 'response', id: 3, ok: false, error: { code: 'OVERLOADED', message: 'm' } });
    expect(parseServerFrame('{"type": "call.ended", "callId": "c", "reason": "hangup", "by": null, "sentAt": 1}')).toMatchObject({ kind: 'notification', notification: { type: 'call.ended', callId: 'c' } });
    expect(parseServerFrame('{"type": "room.participant", "room": "r", "userId": "u", "connection": "reconnecting"}')).toMatchObject({ kind: 'notification', notification: { type: 'room.participant', userId: 'u' } });
    expect(parseServerFrame('{"type": "room.message", "room": "r", "message": {"seq": 1, "senderId": "u", "text": "hi", "sentAt": 1}}')).toMatchObject({ kind: 'notification', notification: { type: 'room.message', message: { text: 'hi' } } });
  });
});
