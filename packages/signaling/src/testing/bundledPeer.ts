import { FakePublisher, createWeriftPeer } from '@roundtable/media/testing';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';
import type { MediaRoom, RoomTrack } from '../media/MediaServer.js';

/**
 * Plays a client of the bundled words against a MediaRoom, with no signaling server
 * between them: one sending connection (a FakePublisher tagged `tag`, published with
 * room.publish) and one receiving connection that answers the room's offers
 * (room.onOffer, room.subscribeAnswer). Received packets are kept by sender, from the
 * mid of the track they came on (null: the room's audio mix).
 */
export class BundledPeer {
  readonly videoFrom = new Map<string | null, RtpPacket[]>();
  readonly audioFrom = new Map<string | null, RtpPacket[]>();
  /** Replaced by republish(). */
  publisher: FakePublisher;
  /** Every offer's tracks, in order. */
  readonly offers: RoomTrack[][] = [];
  private send: WeriftPeerConnection | undefined;
  private recv: WeriftPeerConnection | undefined;
  private readonly tracks = new Map<string, RoomTrack>();
  /** Offers are answered one at a time, in order. */
  private answering: Promise<void> = Promise.resolve();
  private closed = false;
  /** Receiving connections replaced (the room made a fresh receiving transport). */
  receivingConnections = 0;
  /** Offers that could not be answered (why), for a failing test's message. */
  readonly answerErrors: string[] = [];

  constructor(
    private readonly room: MediaRoom,
    readonly me: string,
    private readonly stunUrl: string,
    tag: number,
  ) {
    this.publisher = new FakePublisher(tag);
    room.onOffer((offer) => {
      if (offer.participant !== me) return;
      this.answering = this.answering
        .then(() => this.answer(offer.sdp, offer.tracks))
        .catch((error: unknown) => void this.answerErrors.push(error instanceof Error ? error.message : String(error)));
    });
  }

  /** Publishes audio and video on the sending connection. */
  async publish(renew = false): Promise<void> {
    const pc = createWeriftPeer(this.stunUrl);
    this.send = pc;
    this.publisher.attach(pc, 'sendonly');
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await this.room.publish(this.me, pc.localDescription!.sdp, { renew });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    this.publisher.start(20);
  }

  /**
   * Publishes again from a new sending connection (`renew`: other ICE credentials and
   * port), as a client does when its sending connection failed; its packets carry `tag`.
   */
  async republish(tag: number): Promise<void> {
    this.publisher.stop();
    await this.send?.close();
    this.publisher = new FakePublisher(tag);
    await this.publish(true);
  }

  /** The answer our receiving connection gave last (a test replays it late). */
  get lastAnswer(): string | undefined {
    return this.recv?.localDescription?.sdp;
  }

  videoCount(sender: string | null): number {
    return this.videoFrom.get(sender)?.length ?? 0;
  }

  audioCount(sender: string | null): number {
    return this.audioFrom.get(sender)?.length ?? 0;
  }

  /** What a failing test prints: both connections' states, the offers and answers, what arrived from whom. */
  state(): Record<string, unknown> {
    const pc = (c: WeriftPeerConnection | undefined) => (c ? { connection: c.connectionState, ice: c.iceConnectionState, signaling: c.signalingState } : undefined);
    const counts = (m: Map<string | null, RtpPacket[]>) => Object.fromEntries([...m].map(([k, v]) => [String(k), v.length]));
    return {
      me: this.me,
      send: pc(this.send),
      recv: pc(this.recv),
      offers: this.offers.map((tracks) => tracks.map((t) => `${t.participant}:${t.kind}`).join(',')),
      answerErrors: this.answerErrors,
      receivingConnections: this.receivingConnections,
      video: counts(this.videoFrom),
      audio: counts(this.audioFrom),
      pliReceived: this.publisher.pliReceived,
    };
  }

  /** Peer connections made: two at most. */
  get peerConnections(): number {
    return (this.send ? 1 : 0) + (this.recv ? 1 : 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.publisher.stop();
    await this.send?.close();
    await this.recv?.close();
  }

  private async answer(sdp: string, tracks: RoomTrack[]): Promise<void> {
    if (this.closed) return;
    this.offers.push(tracks);
    for (const t of tracks) this.tracks.set(t.mid, t);
    const ufrag = (sdp: string | undefined): string | undefined => (sdp ? /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] : undefined);
    // Other ICE credentials: the room made a fresh receiving transport; answer on a new connection.
    if (this.recv?.remoteDescription && ufrag(this.recv.remoteDescription.sdp) !== ufrag(sdp)) {
      await this.recv.close();
      this.recv = undefined;
      this.receivingConnections++;
    }
    if (!this.recv) {
      const pc = createWeriftPeer(this.stunUrl);
      this.recv = pc;
      const seen = new WeakSet<object>();
      pc.onTrack.subscribe((track) => {
        // werift announces every sending m-line again at each offer.
        if (seen.has(track)) return;
        seen.add(track);
        const mid = pc.getTransceivers().find((t) => t.receiver.tracks.includes(track))?.mid ?? undefined;
        const owner = mid === undefined ? undefined : this.tracks.get(mid);
        if (!owner) return;
        const into = track.kind === 'video' ? this.videoFrom : this.audioFrom;
        if (!into.has(owner.participant)) into.set(owner.participant, []);
        track.onReceiveRtp.subscribe((p) => into.get(owner.participant)!.push(p));
      });
    }
    await this.recv.setRemoteDescription({ type: 'offer', sdp });
    await this.recv.setLocalDescription(await this.recv.createAnswer());
    await this.room.subscribeAnswer(this.me, this.recv.localDescription!.sdp);
  }
}
