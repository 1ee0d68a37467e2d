import type { ServerSignalPayload, SignalPayload, UserId, VideoQuality } from '@roundtable/protocol';
import { sendersByKind, type CallMedia, type CallMediaContext, type StatsSource } from './CallMedia.js';
import { BundledMedia } from './BundledMedia.js';
import { PeerLink } from './PeerLink.js';

/**
 * A call through the media server. When the server says it takes the bundled words
 * (existingParticipants with `bundled`, and `bundled` is not turned off here), media
 * goes over two connections (BundledMedia). Otherwise, in the Kurento group-call words:
 * one uplink (receiveVideoFrom with sender = me) and one receive-only downlink per other
 * participant; `name` in candidates and answers says which link they belong to.
 */
export class SfuMedia implements CallMedia {
  private readonly links = new Map<UserId, PeerLink>();
  private bundledMedia: BundledMedia | undefined;
  private readonly connected = new Set<UserId>();
  private closed = false;

  constructor(
    private readonly ctx: CallMediaContext,
    private readonly options: {
      /** Report "connected" when our own uplink connects (rooms: being in one alone is being in), not only when media comes in. Default false. */
      connectedOnUplink?: boolean;
      /** Hybrid media: the uplink's audio is sendrecv and brings back the server's mix of the others; downlinks carry video only. Default false. */
      hybrid?: boolean;
      /** Use the bundled words when the server takes them (two connections whatever the size). false: always the seed's words. Default true. */
      bundled?: boolean;
      /** On the bundled words, publish camera video as simulcast layers (BundledMedia). Default false. */
      simulcast?: boolean;
    } = {},
  ) {}

  /** Bundled words only: the seed's words have no simulcast. */
  setVideoQuality(participant: UserId, quality: VideoQuality): void {
    this.bundledMedia?.setVideoQuality(participant, quality);
  }

  async answered(): Promise<void> {
    // The server drives everything with existingParticipants / newParticipantArrived.
  }

  async handle(_from: UserId | null, payload: ServerSignalPayload): Promise<void> {
    if (this.closed) return;
    if (payload.type === 'existingParticipants' && payload.bundled && this.options.bundled !== false && this.links.size === 0) {
      this.bundledMedia ??= new BundledMedia(this.ctx, { connectedOnUplink: this.options.connectedOnUplink ?? false, simulcast: this.options.simulcast ?? false });
      for (const sender of payload.data) this.ctx.onParticipantJoined(sender);
      await this.bundledMedia.publish();
      return;
    }
    if (this.bundledMedia) {
      await this.bundledMedia.handle(payload);
      return;
    }
    switch (payload.type) {
      case 'existingParticipants':
        for (const sender of payload.data) this.ctx.onParticipantJoined(sender);
        await this.publish();
        for (const sender of payload.data) await this.receiveFrom(sender);
        break;
      case 'newParticipantArrived':
        // Someone we already receive arrived again (they rejoined with new media): a new downlink.
        this.dropLink(payload.name);
        this.ctx.onParticipantJoined(payload.name);
        await this.receiveFrom(payload.name);
        break;
      case 'participantLeft':
        this.dropLink(payload.name);
        this.ctx.onParticipantLeft(payload.name);
        break;
      case 'receiveVideoAnswer':
        await this.links.get(payload.name)?.setRemote('answer', payload.sdpAnswer);
        break;
      case 'iceCandidate':
        await this.links.get(payload.name)?.addCandidate(payload.candidate);
        break;
      default:
        break;
    }
  }

  handleNow(_from: UserId | null, payload: ServerSignalPayload): boolean {
    // The seed's words keep their order: a downlink is made for whoever arrives.
    return !this.closed && this.bundledMedia !== undefined && this.bundledMedia.handleNow(payload);
  }

  retry(): void {
    this.bundledMedia?.retry();
  }

  resumeSignal(): SignalPayload {
    // An empty candidate for our uplink: the media server ignores it.
    return { type: 'onIceCandidate', name: this.ctx.me, candidate: { candidate: '', sdpMid: null, sdpMLineIndex: null } };
  }

  /**
   * Restarts ICE on the links that lost their path (every link with `force`): a new
   * offer with fresh credentials for the same endpoint on the media server
   * (receiveVideoFrom again), answered by receiveVideoAnswer; DTLS and the media carry on.
   */
  async restartIce(force = false): Promise<void> {
    if (this.bundledMedia) return this.bundledMedia.restartIce(force);
    for (const [name, link] of [...this.links]) {
      if (this.closed) return;
      if (link.isClosed || !link.pc.remoteDescription || (!force && !link.pathLost)) continue;
      const sdpOffer = await link.createRestartOffer();
      if (this.closed || link.isClosed) return;
      await this.ctx.signal({ type: 'receiveVideoFrom', sender: name, sdpOffer });
    }
  }

  statsSources(): StatsSource[] {
    if (this.bundledMedia) return this.bundledMedia.statsSources();
    return [...this.links].map(([participant, link]) => ({ participant, pc: link.pc }));
  }

  close(): void {
    this.closed = true;
    this.bundledMedia?.close();
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }

  private dropLink(name: UserId): void {
    const link = this.links.get(name);
    if (!link) return;
    link.close();
    this.links.delete(name);
    this.connected.delete(name);
    this.ctx.onLinkState?.(name, 'closed');
  }

  private async publish(): Promise<void> {
    if (this.links.has(this.ctx.me)) return;
    const link = await this.createLink(this.ctx.me);
    for (const slot of this.ctx.outgoing()) link.pc.addTransceiver(slot.track ?? slot.kind, { direction: this.options.hybrid && slot.kind === 'audio' ? 'sendrecv' : 'sendonly' });
    this.ctx.onSenders(sendersByKind(link.pc));
    await this.negotiate(link, this.ctx.me);
  }

  private async receiveFrom(sender: UserId): Promise<void> {
    if (sender === this.ctx.me || this.links.has(sender)) return;
    const link = await this.createLink(sender);
    link.pc.addTransceiver('video', { direction: 'recvonly' });
    if (!this.options.hybrid) link.pc.addTransceiver('audio', { direction: 'recvonly' });
    await this.negotiate(link, sender);
  }

  private async createLink(name: UserId): Promise<PeerLink> {
    const pc = await this.ctx.createPeer();
    const link = new PeerLink(pc, {
      onCandidate: (candidate) => void this.ctx.signal({ type: 'onIceCandidate', name, candidate }),
      onTrack: (track) => {
        if (name !== this.ctx.me) this.ctx.onTrack(name, track);
        else if (this.options.hybrid && track.kind === 'audio') this.ctx.onMixedAudio?.(track);
      },
      onConnectionState: (state) => {
        this.ctx.onLinkState?.(name, state);
        if (state === 'failed') this.ctx.onError(new Error(`the link for ${name} failed`));
        // The call is connected when media comes in from someone, not when our uplink is up
        // (the caller's uplink connects while it is still ringing).
        if (state !== 'connected' || (name === this.ctx.me && !this.options.connectedOnUplink) || this.connected.has(name)) return;
        this.connected.add(name);
        if (this.connected.size === 1) this.ctx.onConnected();
      },
      onPathLost: () => this.ctx.onPathLost?.(),
    });
    this.links.set(name, link);
    if (this.closed) link.close();
    return link;
  }

  /**
   * Sends the link's offer without waiting for the server to acknowledge it: signals are
   * handled one at a time, and waiting here would hold back the answers and candidates of
   * the links already offered behind one server round trip per participant (in a call of
   * 4 on a busy server, seconds each). The socket keeps the order of what we send; a
   * failed request is reported as an 'error' by `signal` either way.
   */
  private async negotiate(link: PeerLink, sender: UserId): Promise<void> {
    const sdpOffer = await link.createOffer();
    if (this.closed) return;
    void this.ctx.signal({ type: 'receiveVideoFrom', sender, sdpOffer });
  }
}
