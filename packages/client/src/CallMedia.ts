import type { IceCandidateInit, ServerSignalPayload, SignalPayload, UserId, VideoQuality } from '@roundtable/protocol';
import type { RecoveryChange, RecoveryOptions } from './LinkRecovery.js';
import type { PeerConnectionLike, SenderLike, StatsLike, TrackLike } from './platform.js';

export type MediaKind = 'audio' | 'video';

/**
 * What this device offers to send, per kind. Both kinds always get a slot (a transceiver),
 * even with no track (muted, camera off, voice call, no device): the local controls then
 * swap tracks in with replaceTrack, never renegotiating.
 */
export interface OutgoingSlot {
  kind: MediaKind;
  track: TrackLike | null;
}

/** A peer connection whose stats count for a participant (`participant` = you: your SFU uplink). */
export interface StatsSource {
  participant: UserId;
  pc: PeerConnectionLike;
  /** Which stats entries count for `participant` (a receiving connection shared by everyone). Default: all. */
  include?: (entry: StatsLike) => boolean;
}

/** What a call's media layer gets from the call: no reference to the call or the client. */
export interface CallMediaContext {
  readonly me: UserId;
  /** Sends a call.signal payload; failures are reported through onError. */
  signal(payload: SignalPayload): Promise<void>;
  createPeer(): Promise<PeerConnectionLike>;
  /** What to send now (read when the sending link is made). */
  outgoing(): OutgoingSlot[];
  /** The senders of the sending link, by kind, once made (again after a re-join). */
  onSenders(senders: Map<MediaKind, SenderLike>): void;
  onTrack(participant: UserId, track: TrackLike): void;
  /** Hybrid calls: the server's mix of the other participants' audio arrived (on the uplink). */
  onMixedAudio?(track: TrackLike): void;
  /** The media server says who speaks (bundled calls and rooms): the dominant speaker and everyone's level (0-1) by user id. */
  onActiveSpeaker?(speaker: UserId | null, levels: Record<string, number>): void;
  /** The media server says this participant is in (SFU: existingParticipants, newParticipantArrived). */
  onParticipantJoined(participant: UserId): void;
  onParticipantLeft(participant: UserId): void;
  /** Media flows with at least one other participant. */
  onConnected(): void;
  onError(error: unknown): void;
  /** A link lost its path ('failed', or 'disconnected' for a while): the session restarts ICE where needed. */
  onPathLost?(): void;
  /** A link's connectionState changed (`link`: the participant it carries, or 'peer' / 'loopback'); 'closed' when the link is dropped. */
  onLinkState?(link: string, state: string): void;
  /** How lost links are retried (bundled media). Default: RecoveryOptions' defaults. */
  recovery?: RecoveryOptions | undefined;
  /** A step of a lost link's recovery (bundled media). */
  onRecovery?(change: RecoveryChange): void;
}

/** The media side of a call (P2P, through the SFU, or loopback). */
export interface CallMedia {
  /** The call was answered (the caller learns it; the callee after accepting). */
  answered(): Promise<void>;
  handle(from: UserId | null, payload: ServerSignalPayload): Promise<void>;
  /** Handles a payload at once, outside the signal queue, when it needs no peer connection work (who came, who left). True when it did. */
  handleNow?(from: UserId | null, payload: ServerSignalPayload): boolean;
  /** After a lost link's recovery gave up: tries again. */
  retry?(): void;
  /** A signal that makes the server take the call on this socket after a reconnect, and changes nothing else. */
  resumeSignal(): SignalPayload;
  /** Restarts ICE on links that lost their path (all links with `force`), where this media can. */
  restartIce(force?: boolean): Promise<void>;
  /** The peer connections to read stats from. */
  statsSources(): StatsSource[];
  /** What we ask of `participant`'s video (the tile size we show it at): the server forwards the simulcast layer that fits (bundled media only). */
  setVideoQuality?(participant: UserId, quality: VideoQuality): void;
  close(): void;
}

/** The senders of a link's transceivers, by the kind their receiver carries. */
export function sendersByKind(pc: PeerConnectionLike): Map<MediaKind, SenderLike> {
  const senders = new Map<MediaKind, SenderLike>();
  for (const t of pc.getTransceivers()) {
    const kind = t.kind ?? t.receiver.track?.kind;
    if ((kind === 'audio' || kind === 'video') && !senders.has(kind)) senders.set(kind, t.sender);
  }
  return senders;
}

export type { IceCandidateInit };
