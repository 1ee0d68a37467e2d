import { describe, expect, it } from 'vitest';
import { MessageError } from './errors.js';
import { parseClientMessage } from './loopbackProtocol.js';

function rejection(text: string): MessageError {
  try {
    parseClientMessage(text);
  } catch (error) {
    if (error instanceof MessageError) return error;
    throw error;
  }
  throw new Error('parseClientMessage() did not throw');
}

describe('parseClientMessage()', () => {
  it('accepts the three client messages', () => {
    expect(parseClientMessage('{"id":"start","sdpOffer":"v=0\\r\\n"}')).toEqual({ id: 'start', sdpOffer: 'v=0\r\n' });
    expect(parseClientMessage('{"id":"stop"}')).toEqual({ id: 'stop' });
    const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abcd' };
    expect(parseClientMessage(JSON.stringify({ id: 'onIceCandidate', candidate }))).toEqual({ id: 'onIceCandidate', candidate });
  });

  it('accepts a candidate whose sdpMid and sdpMLineIndex are null or absent', () => {
    expect(parseClientMessage('{"id":"onIceCandidate","candidate":{"candidate":"x","sdpMid":null,"sdpMLineIndex":null}}')).toMatchObject({ id: 'onIceCandidate' });
    expect(parseClientMessage('{"id":"onIceCandidate","candidate":{"candidate":"x"}}')).toMatchObject({ id: 'onIceCandidate' });
  });

  it('drops fields it does not know', () => {
    expect(parseClientMessage('{"id":"stop","extra":1}')).toEqual({ id: 'stop' });
  });

  it.each([
    ['not JSON', '{"id":', /not valid JSON/],
    ['a JSON array', '[1,2]', /must be a JSON object/],
    ['JSON null', 'null', /must be a JSON object/],
    ['a JSON string', '"start"', /must be a JSON object/],
    ['an object without id', '{"sdpOffer":"v=0"}', /no string 'id'/],
    ['a numeric id', '{"id":1}', /no string 'id'/],
    ['an unknown id', '{"id":"explode"}', /unknown message id 'explode'/],
    ['an inherited property name as id', '{"id":"toString"}', /unknown message id 'toString'/],
    ['start without sdpOffer', '{"id":"start"}', /invalid 'start' message: sdpOffer/],
    ['start with an empty sdpOffer', '{"id":"start","sdpOffer":""}', /invalid 'start' message: sdpOffer/],
    ['start with a numeric sdpOffer', '{"id":"start","sdpOffer":42}', /invalid 'start' message: sdpOffer/],
    ['onIceCandidate without candidate', '{"id":"onIceCandidate"}', /invalid 'onIceCandidate' message: candidate/],
    ['onIceCandidate with a string candidate', '{"id":"onIceCandidate","candidate":"candidate:1"}', /invalid 'onIceCandidate' message: candidate/],
    ['a negative sdpMLineIndex', '{"id":"onIceCandidate","candidate":{"candidate":"x","sdpMLineIndex":-1}}', /candidate\.sdpMLineIndex/],
  ])('rejects %s with a MessageError', (_what, text, reason) => {
    const error = rejection(text);

    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.message).toMatch(reason);
  });
});
