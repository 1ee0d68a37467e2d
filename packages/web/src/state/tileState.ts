/**
 * What a call screen tile shows of an SDK participant, besides their media (kept apart
 * from CallSession, which needs a browser, so that it is tested under Node).
 */
import type { Participant } from '@roundtable/client';
import type { Tile } from './CallSession.js';

export function tileState(p: Participant): Pick<Tile, 'state' | 'audioMuted' | 'cameraOff' | 'screenSharing' | 'handRaised' | 'reconnecting' | 'announcesSpeaking'> {
  const joined = p.state !== 'ringing';
  return { state: joined ? 'joined' : 'ringing', audioMuted: p.audioMuted, cameraOff: p.cameraOff, screenSharing: p.screenSharing, handRaised: p.handRaised, reconnecting: joined && p.reconnecting, announcesSpeaking: joined && p.speaking === true };
}
