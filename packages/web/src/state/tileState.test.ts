import type { Participant } from '@roundtable/client';
import type { UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { tileState } from './tileState.js';

const base: Participant = { id: 'bob' as UserId, state: 'joined', tracks: [], reconnecting: false, audioMuted: false, cameraOff: false, screenSharing: false, handRaised: false };

describe('tileState', () => {
  it("shows a joined participant's dropped device as reconnecting on their tile, and its return", () => {
    expect(tileState({ ...base, reconnecting: true })).toMatchObject({ state: 'joined', reconnecting: true });
    expect(tileState(base)).toMatchObject({ state: 'joined', reconnecting: false });
  });

  it('carries what they announced, and a ringing participant is never reconnecting', () => {
    expect(tileState({ ...base, audioMuted: true, cameraOff: true, handRaised: true })).toEqual({ state: 'joined', audioMuted: true, cameraOff: true, screenSharing: false, handRaised: true, reconnecting: false, announcesSpeaking: false });
    expect(tileState({ ...base, speaking: true })).toMatchObject({ announcesSpeaking: true });
    expect(tileState({ ...base, state: 'ringing', reconnecting: true })).toMatchObject({ state: 'ringing', reconnecting: false });
  });
});
