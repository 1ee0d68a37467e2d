import type { IceCandidateInit, ServerSignalPayload, SignalPayload, UserId } from '@roundtable/protocol';
import type { PeerConnectionLike, TrackLike } from './platform.js';

/** What a call's media layer gets from the call: no reference to the call or the client. */
export interface CallMediaContext {
  readonly me: UserId;
  /** Sends a call.signal payload; failures are reported through onError. */
  signal(payload: SignalPayload): Promise<void>;
  createPeer(): Promise<PeerConnectionLike>;
  localTracks(): TrackLike[];
  onTrack(participant: UserId, track: TrackLike): void;
  /** The media server says this participant is in (SFU: existingParticipants, newParticipantArrived). */
  onParticipantJoined(participant: UserId): void;
  onParticipantLeft(participant: UserId): void;
  /** Media flows with at least one other participant. */
  onConnected(): void;
  onError(error: unknown): void;
}

/** The media side of a call (P2P or through the SFU). */
export interface CallMedia {
  /** The call was answered (the caller learns it; the callee after accepting). */
  answered(): Promise<void>;
  handle(from: UserId | null, payload: ServerSignalPayload): Promise<void>;
  /** A signal that makes the server take the call on this socket after a reconnect, and changes nothing else. */
  resumeSignal(): SignalPayload;
  close(): void;
}

export type { IceCandidateInit };
