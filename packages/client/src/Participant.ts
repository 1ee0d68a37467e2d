import { DEFAULT_PEER_STATE, type PeerState, type UserId } from '@roundtable/protocol';
import type { TrackLike } from './platform.js';

/**
 * Where another person stands in a call or room:
 * - `ringing`: invited, not answered yet (group and 1:1 calls);
 * - `joined`: in the call (answered, or already there when we joined);
 * - `left`: hung up, declined, was busy, or never answered before the ring timeout.
 */
export type ParticipantState = 'ringing' | 'joined' | 'left';

/**
 * A snapshot of one other participant (this device's user is never in the list), with
 * what they announced (`call.state` / `room.state`): `audioMuted`, `cameraOff` (no video
 * goes out: show their avatar, not the last frame), `screenSharing` (fit it, do not crop) and `handRaised`; all false until they say otherwise;
 * `speaking` where they announce it (`setSpeaking`: calls with mixed audio).
 */
export interface Participant extends Readonly<PeerState> {
  readonly id: UserId;
  readonly state: ParticipantState;
  /** Their remote tracks received so far (at most one per kind). */
  readonly tracks: readonly TrackLike[];
  /** Joined, but their device dropped: the server gives them a grace period to come back (calls). */
  readonly reconnecting: boolean;
}

export interface ParticipantListCallbacks {
  joined(id: UserId): void;
  left(id: UserId, dropped: boolean): void;
  /** A joined participant's device dropped (`reconnecting` true) or came back. */
  connection(id: UserId, reconnecting: boolean): void;
  changed(): void;
}

/** The other participants of a call or room, with the transitions the events report. */
export class ParticipantList {
  private readonly entries = new Map<UserId, { state: ParticipantState; tracks: Map<string, TrackLike>; reconnecting?: boolean }>();
  /** Announced states, kept apart: one may arrive before its participant is listed (a joiner is told them first). */
  private readonly announced = new Map<UserId, PeerState>();

  constructor(
    private readonly me: UserId,
    private readonly callbacks: ParticipantListCallbacks,
  ) {}

  list(): Participant[] {
    return [...this.entries].map(([id, e]) => ({ id, state: e.state, tracks: [...e.tracks.values()], reconnecting: e.reconnecting === true, ...(this.announced.get(id) ?? DEFAULT_PEER_STATE) }));
  }

  get(id: UserId): Participant | undefined {
    const e = this.entries.get(id);
    return e ? { id, state: e.state, tracks: [...e.tracks.values()], reconnecting: e.reconnecting === true, ...(this.announced.get(id) ?? DEFAULT_PEER_STATE) } : undefined;
  }

  /** Someone announced their mute / camera / hand state. */
  peerState(id: UserId, state: PeerState): void {
    if (id === this.me) return;
    this.announced.set(id, { audioMuted: state.audioMuted, cameraOff: state.cameraOff, screenSharing: state.screenSharing ?? false, handRaised: state.handRaised, ...(state.speaking ? { speaking: true } : {}) });
    if (this.entries.has(id)) this.callbacks.changed();
  }

  /** Ids of those in `state`. */
  ids(state: ParticipantState): UserId[] {
    return [...this.entries].filter(([, e]) => e.state === state).map(([id]) => id);
  }

  /** Someone is being rung; a joined participant stays joined. */
  ringing(id: UserId): void {
    if (id === this.me) return;
    const e = this.entries.get(id);
    if (e?.state === 'joined' || e?.state === 'ringing') return;
    this.entries.set(id, { state: 'ringing', tracks: new Map() });
    this.callbacks.changed();
  }

  joined(id: UserId): void {
    if (id === this.me) return;
    const e = this.entries.get(id);
    if (e?.state === 'joined') return;
    this.entries.set(id, { state: 'joined', tracks: new Map() });
    this.callbacks.joined(id);
    this.callbacks.changed();
  }

  /** `dropped`: their device went and did not come back in time (they did not hang up). */
  left(id: UserId, dropped = false): void {
    if (id === this.me) return;
    const e = this.entries.get(id);
    if (!e || e.state === 'left') return;
    const wasIn = e.state === 'joined';
    this.entries.set(id, { state: 'left', tracks: new Map() });
    // Back later, they start afresh (the server forgot their state too).
    this.announced.delete(id);
    if (wasIn) this.callbacks.left(id, dropped);
    this.callbacks.changed();
  }

  /** A joined participant's device dropped (`reconnecting`) or came back. */
  connection(id: UserId, reconnecting: boolean): void {
    const e = this.entries.get(id);
    if (!e || e.state !== 'joined' || (e.reconnecting === true) === reconnecting) return;
    e.reconnecting = reconnecting;
    this.callbacks.connection(id, reconnecting);
    this.callbacks.changed();
  }

  /** A remote track arrived: its sender is in (a track proves it), and the track is kept for late readers. */
  track(id: UserId, track: TrackLike): void {
    if (id !== this.me) this.joined(id);
    const e = this.entries.get(id);
    if (!e) return;
    e.tracks.set(track.kind, track);
    this.callbacks.changed();
  }
}
