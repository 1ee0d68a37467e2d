import type { ServerSignalPayload, SignalPayload, UserId } from '@roundtable/protocol';
import type { CallMedia, CallMediaContext } from './CallMedia.js';
import { ParticipantList, type Participant } from './Participant.js';
import type { LocalMedia, PeerConnectionLike, TrackLike } from './platform.js';
import { TypedEmitter, type ListenerErrorReporter } from './TypedEmitter.js';

/** The events every call and room emits (a call screen listens to these). */
export type MediaSessionEvents = {
  /** Someone is now in (answered, or was there when we joined). */
  participantJoined: { participant: UserId };
  /** Someone who was in left (hung up, or dropped for good). */
  participantLeft: { participant: UserId };
  /** Any change of `participants` (ringing, joined, left, a new track): re-read the list. */
  participantsChanged: { participants: Participant[] };
  /** A remote track arrived (one per kind and participant; in a loopback call the participant is you). */
  track: { participant: UserId; track: TrackLike };
  /** A media or signaling step failed; the session goes on unless it also ends. */
  error: { error: unknown };
};

/** What a session needs from the client: callbacks, not a reference to it. */
export interface MediaSessionContext {
  readonly me: UserId;
  createPeer(): Promise<PeerConnectionLike>;
  reportError: ListenerErrorReporter;
}

/**
 * What calls and rooms share: the other participants, this device's local media, the
 * media layer (P2P, SFU or loopback) and the signals it exchanges, handled one at a time.
 */
export abstract class MediaSession<Events extends MediaSessionEvents> extends TypedEmitter<Events> {
  protected localMedia: LocalMedia | undefined;
  protected media: CallMedia | undefined;
  protected readonly people: ParticipantList;
  /** Signals are handled one at a time, in arrival order (each may await the peer connection). */
  private signalQueue: Promise<void> = Promise.resolve();

  protected constructor(
    protected readonly session: MediaSessionContext,
    localMedia: LocalMedia | undefined,
  ) {
    super(session.reportError);
    this.localMedia = localMedia;
    this.people = new ParticipantList(session.me, {
      joined: (participant) => this.fire('participantJoined', { participant }),
      left: (participant) => this.fire('participantLeft', { participant }),
      changed: () => this.fire('participantsChanged', { participants: this.people.list() }),
    });
  }

  /** The other participants (never you), in the order they became known. */
  get participants(): Participant[] {
    return this.people.list();
  }

  /** Whether the session is over (hung up, left, ended by the server). */
  abstract get ended(): boolean;

  /** The tracks this device sends now (audio only when the session is audio-only). */
  protected abstract localTracks(): TrackLike[];

  /** Sends a signal payload to the server for this session. */
  protected abstract sendSignal(payload: SignalPayload): Promise<void>;

  /** Media became connected with at least one other participant (or with the server, for loopback). */
  protected abstract onMediaConnected(): void;

  /** Emits one of the shared events (the subclass's event map includes them). */
  protected fire<K extends keyof MediaSessionEvents>(event: K, payload: MediaSessionEvents[K]): void {
    (this.emit as unknown as (event: K, payload: MediaSessionEvents[K]) => void).call(this, event, payload);
  }

  protected mediaContext(): CallMediaContext {
    return {
      me: this.session.me,
      signal: (payload) => this.sendSignal(payload),
      createPeer: () => this.session.createPeer(),
      localTracks: () => this.localTracks(),
      onTrack: (participant, track) => {
        this.people.track(participant, track);
        this.fire('track', { participant, track });
      },
      onParticipantJoined: (participant) => this.people.joined(participant),
      onParticipantLeft: (participant) => this.people.left(participant),
      onConnected: () => this.onMediaConnected(),
      onError: (error) => this.fire('error', { error }),
    };
  }

  /** Queues a signal for the media layer. */
  protected handleSignal(from: UserId | null, payload: ServerSignalPayload): void {
    this.runMedia((media) => media.handle(from, payload));
  }

  protected runMedia(step: (media: CallMedia) => Promise<void>): void {
    const media = this.media;
    if (!media) return;
    this.signalQueue = this.signalQueue.then(() => step(media)).catch((error: unknown) => this.fire('error', { error }));
  }

  protected closeMedia(): void {
    this.media?.close();
  }
}
