/**
 * The call or room this tab is in, kept in sessionStorage (per tab) so that a reloaded
 * page can offer to take it up again: a call through the media server with
 * `client.rejoinCall()` (the server keeps a dropped participant 15 s), a room by joining
 * it again. Cleared when the call ends here.
 */
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
