import { describe, expect, it } from 'vitest';
import { opusAnswerParameters } from './opus.js';

describe('Opus answer parameters', () => {
  it('asks for FEC and DTX beside the client\'s own parameters', () => {
    expect(opusAnswerParameters('minptime=10;useinbandfec=1', { fec: true, dtx: true })).toBe('minptime=10;useinbandfec=1;usedtx=1');
    expect(opusAnswerParameters('minptime=10; useinbandfec=0', { fec: true })).toBe('minptime=10;useinbandfec=1');
    expect(opusAnswerParameters(undefined, { dtx: true })).toBe('usedtx=1');
  });

  it('echoes the client\'s parameters when asked for nothing', () => {
    expect(opusAnswerParameters('minptime=10;useinbandfec=1', {})).toBe('minptime=10;useinbandfec=1');
    expect(opusAnswerParameters(undefined, {})).toBeUndefined();
  });
});
