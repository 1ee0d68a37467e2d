import { describe, expect, it } from 'vitest';
import { MediaError } from '@roundtable/media';
import { SignalingError } from '../../net/Handlers.js';
import { deserializeError, serializeError } from './rpc.js';

/** An error as the main thread sees it after it crossed the thread boundary (structured clone included). */
function across(error: unknown): SignalingError {
  return deserializeError(structuredClone(serializeError(error)));
}

describe('media worker RPC errors', () => {
  it('a SignalingError keeps its code and message', () => {
    const back = across(new SignalingError('NOT_FOUND', 'b is not in this room'));
    expect(back).toBeInstanceOf(SignalingError);
    expect(back).toMatchObject({ code: 'NOT_FOUND', message: 'b is not in this room' });
    expect(across(new SignalingError('INVALID_STATE', 'room x is closed')).code).toBe('INVALID_STATE');
  });

  it('an engine error becomes a MEDIA_ERROR that names its own code', () => {
    const back = across(new MediaError('NO_PORT_AVAILABLE', 'no 4 free consecutive UDP ports left'));
    expect(back).toMatchObject({ code: 'MEDIA_ERROR', message: 'NO_PORT_AVAILABLE: no 4 free consecutive UDP ports left' });
  });

  it('a plain error or a thrown value becomes a MEDIA_ERROR with its message', () => {
    expect(across(new TypeError('x is undefined'))).toMatchObject({ code: 'MEDIA_ERROR', message: 'x is undefined' });
    expect(across('just a string')).toMatchObject({ code: 'MEDIA_ERROR', message: 'just a string' });
  });

  it('a SignalingError-named error with a code outside the protocol is not trusted', () => {
    expect(deserializeError({ name: 'SignalingError', code: 'NOPE', message: 'm' })).toMatchObject({ code: 'MEDIA_ERROR', message: 'NOPE: m' });
  });
});
