import type { CallId, CallMedia, CallRecord, ConversationId, EndReason, Topology, UserId } from '@roundtable/protocol';
import type { MediaRoom } from '../media/MediaServer.js';
import type { DeviceLink } from '../net/Router.js';
import { PeerStates } from './PeerStates.js';

export type CallPhase = 'ringing' | 'active' | 'ended';

/** One call: who was invited, who is in, on which device, and its media room. */
export class Call {
  phase: CallPhase = 'ringing';
  /** Users still being rung (invited, not yet answered or declined). */
  readonly ringing = new Set<UserId>();
  /** Users in the call, with the device they use for it. */
  readonly participants = new Map<UserId, DeviceLink>();
  /** Everyone who was ever in the call (for the record). */
  readonly everJoined = new Set<UserId>();
  answeredAt: number | null = null;
  endedAt: number | null = null;
  endReason: EndReason = 'unknown';
  room: MediaRoom | undefined;
  /** Set while the call's media is being re-created on another media node. */
  moving: Promise<void> | undefined = undefined;
  /**
   * Participants whose device was away when the call's media moved (an adopted call's
   * users of the node that died): told `call.moved` when they signal again from a device.
   */
  readonly unmoved = new Set<UserId>();
  /** sfu: audio and video forwarded; hybrid: video forwarded, audio mixed by the server. */
  media: CallMedia = 'sfu';
  ringTimer: NodeJS.Timeout | undefined;
  /** Devices that dropped, with the timer that takes their user out of the call. */
  readonly dropTimers = new Map<UserId, NodeJS.Timeout>();
  /** What each participant announced of their mute, camera and hand (`call.state`). */
  readonly peerStates = new PeerStates();

  constructor(
    readonly id: CallId,
    readonly conversationId: ConversationId | null,
    readonly initiator: UserId,
    public audioOnly: boolean,
    readonly topology: Topology,
    /** A group call (group conversation): more than two people may take part. */
    readonly group: boolean,
    readonly startedAt: number,
  ) {}

  get usesMedia(): boolean {
    return this.topology !== 'p2p';
  }

  /** Invited users who have not left: the ones that count toward the cap. */
  get headcount(): number {
    return this.participants.size + this.ringing.size;
  }

  record(): CallRecord {
    const endedAt = this.endedAt ?? Date.now();
    return {
      callId: this.id,
      initiator: this.initiator,
      audioOnly: this.audioOnly,
      topology: this.topology,
      participants: [...this.everJoined],
      startedAt: this.startedAt,
      answeredAt: this.answeredAt,
      endedAt,
      duration: this.answeredAt === null ? 0 : Math.round((endedAt - this.answeredAt) / 1000),
      endReason: this.endReason,
      missed: this.answeredAt === null,
    };
  }
}
