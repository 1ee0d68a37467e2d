/**
 * The call or room this tab is in, kept in sessionStorage (per tab) so that a reloaded
 * page can offer to take it up again: a call through the media server with
 * `client.rejoinCall()` (the server keeps a dropped participant 15 s), a room by joining
 * it again. Cleared when the call ends here.
 *
 * A room that the server ended with `mediaError` (its media worker died, see
 * docs/faults.md) is offered the same way, at once: joining again lands on a running worker.
 */
import type { EndReason } from '@roundtable/protocol';
import type { CallKind } from './CallSession.js';

export interface StoredCall {
  kind: CallKind;
  callId: string | null;
  room: string | null;
  conversationId: string | null;
  muted: boolean;
  cameraOff: boolean;
  /** When it was last written (ms). */
  at: number;
  /** Why it is offered: a reload (absent), or the server ended the room on a media failure. */
  after?: 'mediaError';
}

const KEY = 'roundtable.activeCall';
/** Older than this, the server has let the call go (its grace for a dropped device is 15 s; rooms have none, but a stale offer is noise). */
export const REJOIN_WINDOW_MS = 5 * 60_000;

export function storeCall(call: Omit<StoredCall, 'at'>): void {
  try {
    globalThis.sessionStorage?.setItem(KEY, JSON.stringify({ ...call, at: Date.now() }));
  } catch {
    // storage disabled: no rejoin after a reload
  }
}

export function storedCall(): StoredCall | null {
  try {
    const raw = globalThis.sessionStorage?.getItem(KEY);
    if (!raw) return null;
    const call = JSON.parse(raw) as StoredCall;
    return Date.now() - call.at < REJOIN_WINDOW_MS ? call : null;
  } catch {
    return null;
  }
}

export function forgetCall(): void {
  try {
    globalThis.sessionStorage?.removeItem(KEY);
  } catch {
    // nothing stored
  }
}

/**
 * What to offer when a session ended here (null: nothing). Only a room ended by the
 * server's media failure: a call ended that way is over for everyone (the server ended it),
 * and every other end was wanted or is explained by its notice.
 */
export function rejoinAfterEnd(ended: { kind: CallKind; room: string | null; reason: EndReason; muted: boolean; cameraOff: boolean }): StoredCall | null {
  if (ended.kind !== 'room' || !ended.room || ended.reason !== 'mediaError') return null;
  return { kind: 'room', callId: null, room: ended.room, conversationId: null, muted: ended.muted, cameraOff: ended.cameraOff, at: Date.now(), after: 'mediaError' };
}
