import { FakePublisher, createWeriftPeer } from '@roundtable/media/testing';
import type { IceCandidateInit, ServerSignalPayload, SignalPayload, UserId } from '@roundtable/protocol';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';
import type { MediaRoom } from '../media/MediaServer.js';

/** How an SFU participant reaches the server: call.signal or room.signal underneath. */
export interface SignalChannel {
  send(payload: SignalPayload): Promise<unknown>;
}

/**
 * Plays a browser in an SFU call or room, as the seed's group-call client does: one
 * uplink (a FakePublisher tagged with `tag`) and one receive-only link per other
 * participant, negotiated with receiveVideoFrom and trickled with onIceCandidate.
 */
export class SfuPeer {
  /** Video packets received, by sender. */
  readonly videoFrom = new Map<string, RtpPacket[]>();
  readonly audioFrom = new Map<string, RtpPacket[]>();
  readonly peers = new Map<string, WeriftPeerConnection>();
  readonly publisher: FakePublisher;
  private readonly pendingCandidates = new Map<string, IceCandidateInit[]>();
  private closed = false;

  constructor(
    readonly me: UserId,
    private readonly channel: SignalChannel,
    stunUrl: string,
    tag: number,
    /** Loopback: the uplink also receives what it sends. */
    private readonly loopback = false,
    /** Milliseconds between published packet pairs (video + audio). Default 20. */
    private readonly publishIntervalMs = 20,
    /** Makes each of this participant's peer connections (e.g. relay-only ones). Default: `createWeriftPeer(stunUrl)`. */
    private readonly createPeer: () => WeriftPeerConnection = () => createWeriftPeer(stunUrl),
  ) {
    this.publisher = new FakePublisher(tag);
  }

  /** Feeds one signal message from the server. */
  async handle(payload: ServerSignalPayload): Promise<void> {
    if (this.closed) return;
    switch (payload.type) {
      case 'existingParticipants':
        await this.publish();
        for (const sender of payload.data) await this.receiveFrom(sender);
        break;
      case 'newParticipantArrived':
        await this.receiveFrom(payload.name);
        break;
      case 'participantLeft':
        await this.peers.get(payload.name)?.close();
        this.peers.delete(payload.name);
        break;
      case 'receiveVideoAnswer': {
        const pc = this.peers.get(payload.name);
        if (!pc) return;
        await pc.setRemoteDescription({ type: 'answer', sdp: payload.sdpAnswer });
        for (const c of this.pendingCandidates.get(payload.name) ?? []) await this.addCandidate(pc, c);
        this.pendingCandidates.delete(payload.name);
        break;
      }
      case 'iceCandidate': {
        const pc = this.peers.get(payload.name);
        if (pc?.remoteDescription) await this.addCandidate(pc, payload.candidate);
        else this.pendingCandidates.set(payload.name, [...(this.pendingCandidates.get(payload.name) ?? []), payload.candidate]);
        break;
      }
      default:
        break;
    }
  }

  /** Sends the uplink (receiveVideoFrom with sender = self). */
  async publish(): Promise<void> {
    if (this.peers.has(this.me)) return;
    const pc = this.createPeer();
    this.publisher.attach(pc, this.loopback ? 'sendrecv' : 'sendonly');
    if (this.loopback) this.collect(pc, this.me);
    await this.negotiate(pc, this.me);
    this.publisher.start(this.publishIntervalMs);
  }

  async receiveFrom(sender: string): Promise<void> {
    if (sender === this.me || this.peers.has(sender)) return;
    const pc = this.createPeer();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    this.collect(pc, sender);
    await this.negotiate(pc, sender);
  }

  videoCount(sender: string): number {
    return this.videoFrom.get(sender)?.length ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.publisher.stop();
    for (const pc of this.peers.values()) await pc.close();
    this.peers.clear();
  }

  private collect(pc: WeriftPeerConnection, sender: string): void {
    this.videoFrom.set(sender, []);
    this.audioFrom.set(sender, []);
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((p) => (track.kind === 'video' ? this.videoFrom : this.audioFrom).get(sender)?.push(p));
    });
  }

  private async negotiate(pc: WeriftPeerConnection, sender: string): Promise<void> {
    this.peers.set(sender, pc);
    pc.onIceCandidate.subscribe((c) => {
      if (c && !this.closed) {
        void this.channel
          .send({ type: 'onIceCandidate', name: sender as UserId, candidate: { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } })
          .catch(() => undefined);
      }
    });
    await pc.setLocalDescription(await pc.createOffer());
    await this.channel.send({ type: 'receiveVideoFrom', sender: sender as UserId, sdpOffer: pc.localDescription!.sdp });
  }

  private async addCandidate(pc: WeriftPeerConnection, c: IceCandidateInit): Promise<void> {
    await pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }).catch(() => undefined);
  }
}

/**
 * An SfuPeer wired straight to a MediaRoom, with no signaling server between them:
 * its receiveVideoFrom and onIceCandidate go to the room, and the room's candidates
 * for `name` come back to it. `loopback` (the room sends the uplink back to it too)
 * and `publishIntervalMs` as for SfuPeer.
 */
export function roomPeer(room: MediaRoom, name: string, stunUrl: string, tag: number, options: { loopback?: boolean; publishIntervalMs?: number } = {}): SfuPeer {
  const peer: SfuPeer = new SfuPeer(
    name as UserId,
    {
      send: async (p: SignalPayload) => {
        if (p.type === 'receiveVideoFrom') {
          const sdpAnswer = await room.receiveVideoFrom(name, p.sender, p.sdpOffer, { loopback: options.loopback ?? false });
          await peer.handle({ type: 'receiveVideoAnswer', name: p.sender, sdpAnswer });
        } else if (p.type === 'onIceCandidate') {
          await room.addIceCandidate(name, p.name, p.candidate);
        }
      },
    },
    stunUrl,
    tag,
    options.loopback,
    options.publishIntervalMs,
  );
  room.onCandidate((c) => {
    if (c.participant === name) void peer.handle({ type: 'iceCandidate', name: c.sender as UserId, candidate: c.candidate });
  });
  return peer;
}
