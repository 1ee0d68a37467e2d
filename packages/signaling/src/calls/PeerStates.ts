import { DEFAULT_PEER_STATE, type PeerState, type UserId } from '@roundtable/protocol';

/** The participants' mute / camera / hand state in one call or room, as they announced it. */
export class PeerStates {
  private readonly states = new Map<UserId, PeerState>();

  get(user: UserId): PeerState {
    return { ...(this.states.get(user) ?? DEFAULT_PEER_STATE) };
  }

  /** Applies the fields given (the others keep their value); returns the new state. */
  apply(user: UserId, change: Partial<PeerState>): PeerState {
    const next = this.get(user);
    if (change.audioMuted !== undefined) next.audioMuted = change.audioMuted;
    if (change.cameraOff !== undefined) next.cameraOff = change.cameraOff;
    if (change.screenSharing !== undefined) next.screenSharing = change.screenSharing;
    if (change.handRaised !== undefined) next.handRaised = change.handRaised;
    if (change.speaking !== undefined) next.speaking = change.speaking;
    this.states.set(user, next);
    return { ...next };
  }

  /** The user's device dropped: they do not speak any more. Returns the new state when that changed it. */
  silence(user: UserId): PeerState | null {
    if (this.states.get(user)?.speaking !== true) return null;
    return this.apply(user, { speaking: false });
  }

  /** The user left: they start afresh if they come back. */
  forget(user: UserId): void {
    this.states.delete(user);
  }

  /** Every state announced, to save (a call or room adopted by another node takes them back with `apply`). */
  entries(): Array<[UserId, PeerState]> {
    return [...this.states].map(([u, s]) => [u, { ...s }]);
  }

  /** Those whose state is not all false (a joiner is told these), except `except`. */
  announced(except: UserId): Array<[UserId, PeerState]> {
    return [...this.states].filter(([u, s]) => u !== except && (s.audioMuted || s.cameraOff || s.screenSharing || s.handRaised || s.speaking === true)).map(([u, s]) => [u, { ...s }]);
  }
}
