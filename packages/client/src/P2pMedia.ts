import type { ServerSignalPayload, SignalPayload, UserId } from '@roundtable/protocol';
import { sendersByKind, type CallMedia, type CallMediaContext, type StatsSource } from './CallMedia.js';
import { PeerLink } from './PeerLink.js';

/**
 * A 1:1 call browser to browser: the caller offers once the callee answered; offer,
 * answer and candidates are relayed by the server as call.signal. Either side may later
 * send a new offer to restart ICE (after a network change); the other answers it.
 */
export class P2pMedia implements CallMedia {
  private link: PeerLink | undefined;
  private closed = false;
  private connected = false;
  private remote: UserId | undefined;

  constructor(
    private readonly ctx: CallMediaContext,
    /** This side makes the offer (the caller). */
    private readonly offerer: boolean,
    remote?: UserId,
  ) {
    this.remote = remote;
  }

  async answered(): Promise<void> {
    if (!this.offerer || this.link || this.closed) return;
    const link = await this.createLink();
    for (const slot of this.ctx.outgoing()) link.pc.addTransceiver(slot.track ?? slot.kind, { direction: 'sendrecv' });
    this.ctx.onSenders(sendersByKind(link.pc));
    const sdp = await link.createOffer();
    await this.ctx.signal({ type: 'offer', sdp });
  }

  async handle(from: UserId | null, payload: ServerSignalPayload): Promise<void> {
    if (this.closed) return;
    if (from) this.remote ??= from;
    switch (payload.type) {
      case 'offer': {
        const first = !this.link;
        const link = this.link ?? (await this.createLink());
        // A later offer is a renegotiation (ICE restart): the transceivers are already ours.
        const sdp = await link.answer(payload.sdp, first ? () => this.takeTransceivers(link) : undefined);
        await this.ctx.signal({ type: 'answer', sdp });
        break;
      }
      case 'answer':
        await this.link?.setRemote('answer', payload.sdp);
        break;
      case 'candidate':
        // Candidates can only follow the offer, which creates the link; an early one waits in it.
        if (this.link) await this.link.addCandidate({ candidate: payload.candidate, sdpMid: payload.sdpMid ?? null, sdpMLineIndex: payload.sdpMLineIndex ?? null });
        break;
      default:
        break;
    }
  }

  resumeSignal(): SignalPayload {
    // An empty candidate means "end of candidates" and the other side ignores it.
    return { type: 'candidate', candidate: '', sdpMid: null, sdpMLineIndex: null };
  }

  /** Sends a new offer with fresh ICE credentials when the link lost its path, or always with `force` (once the first negotiation is done). */
  async restartIce(force = false): Promise<void> {
    const link = this.link;
    if (!link || this.closed || !link.pc.remoteDescription) return;
    if (!force && !this.needsIceRestart) return;
    const sdp = await link.createRestartOffer();
    await this.ctx.signal({ type: 'offer', sdp });
  }

  /** Whether the link lost its path (worth an ICE restart). */
  get needsIceRestart(): boolean {
    return this.link?.pathLost ?? false;
  }

  statsSources(): StatsSource[] {
    return this.link && this.remote ? [{ participant: this.remote, pc: this.link.pc }] : [];
  }

  close(): void {
    this.closed = true;
    this.link?.close();
  }

  /** The callee: tracks added after the offer is applied take its transceivers (sendrecv), as browsers do; empty slots are made sendrecv too. */
  private takeTransceivers(link: PeerLink): void {
    const slots = this.ctx.outgoing();
    for (const slot of slots) if (slot.track) link.pc.addTrack(slot.track);
    const senders = sendersByKind(link.pc);
    for (const t of link.pc.getTransceivers()) {
      const kind = t.kind ?? t.receiver.track?.kind;
      if (slots.some((s) => s.kind === kind && !s.track) && t.direction === 'recvonly') t.direction = 'sendrecv';
    }
    this.ctx.onSenders(senders);
  }

  private async createLink(): Promise<PeerLink> {
    const pc = await this.ctx.createPeer();
    const link = new PeerLink(pc, {
      onCandidate: (c) => void this.ctx.signal({ type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }),
      onTrack: (track) => {
        if (this.remote) this.ctx.onTrack(this.remote, track);
      },
      onConnectionState: (state) => {
        this.ctx.onLinkState?.('peer', state);
        if (state === 'connected' && !this.connected) {
          this.connected = true;
          this.ctx.onConnected();
        } else if (state === 'failed') {
          this.ctx.onError(new Error('the peer connection failed'));
        }
      },
      // One side restarts, or both would offer at once: the caller. The callee restarts
      // only after its own reconnect (restartIce from the session).
      onPathLost: () => {
        if (this.offerer) this.ctx.onPathLost?.();
      },
    });
    if (this.closed) link.close();
    this.link = link;
    return link;
  }
}
