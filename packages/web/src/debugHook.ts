/**
 * `window.__roundtable`: a read-only view for tests and support. `state()` is the app's
 * snapshot (signed-in user, call phase, participants, notices); `stats()` reads
 * getStats() of the call's peer connections, per participant.
 */
import { app } from './state/AppState.js';
import type { CallStats } from './state/stats.js';

export interface RoundtableDebugHook {
  state(): Record<string, unknown>;
  stats(): Promise<CallStats | null>;
}

declare global {
  interface Window {
    __roundtable?: RoundtableDebugHook;
  }
}

export function installDebugHook(): void {
  window.__roundtable = {
    state: () => JSON.parse(JSON.stringify(app.snapshot())) as Record<string, unknown>,
    stats: async () => (app.state.call ? app.state.call.stats() : null),
  };
}
