import { describe, expect, it } from 'vitest';
import { rejoinAfterEnd } from './rejoin.js';

describe('rejoinAfterEnd', () => {
  it('offers a room that the server ended on a media failure, with the same mute and camera choices', () => {
    const offer = rejoinAfterEnd({ kind: 'room', room: 'standup', reason: 'mediaError', muted: true, cameraOff: false });
    expect(offer).toMatchObject({ kind: 'room', room: 'standup', callId: null, muted: true, cameraOff: false, after: 'mediaError' });
  });

  it('offers nothing for any other end, nor for a call (the server ended it for everyone)', () => {
    expect(rejoinAfterEnd({ kind: 'room', room: 'standup', reason: 'hangup', muted: false, cameraOff: false })).toBeNull();
    expect(rejoinAfterEnd({ kind: 'room', room: 'standup', reason: 'signalError', muted: false, cameraOff: false })).toBeNull();
    expect(rejoinAfterEnd({ kind: 'group', room: null, reason: 'mediaError', muted: false, cameraOff: false })).toBeNull();
    expect(rejoinAfterEnd({ kind: 'direct', room: null, reason: 'mediaError', muted: false, cameraOff: false })).toBeNull();
  });
});
