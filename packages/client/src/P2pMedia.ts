import type { ServerSignalPayload, SignalPayload, UserId } from '@roundtable/protocol';
import type { CallMedia, CallMediaContext } from './CallMedia.js';
import { PeerLink } from './PeerLink.js';

/**
 * A 1:1 call browser to browser: the caller offers once the callee answered; offer,
 * answer and candidates are relayed by the server as call.signal.
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
    for (const track of this.ctx.localTracks()) link.pc.addTrack(track);
    const sdp = await link.createOffer();
    await this.ctx.signal({ type: 'offer', sdp });
  }

  async handle(from: UserId | null, payload: ServerSignalPayload): Promise<void> {
    if (this.closed) return;
    if (from) this.remote ??= from;
    switch (payload.type) {
      case 'offer': {
        const link = this.link ?? (await this.createLink());
        // Tracks added after the offer is applied take its transceivers (sendrecv), as browsers do.
        const sdp = await link.answer(payload.sdp, () => {
          for (const track of this.ctx.localTracks()) link.pc.addTrack(track);
        });
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

  close(): void {
    this.closed = true;
    this.link?.close();
  }

  private async createLink(): Promise<PeerLink> {
    const pc = await this.ctx.createPeer();
    const link = new PeerLink(pc, {
      onCandidate: (c) => void this.ctx.signal({ type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }),
      onTrack: (track) => {
        if (this.remote) this.ctx.onTrack(this.remote, track);
      },
      onConnectionState: (state) => {
        if (state === 'connected' && !this.connected) {
          this.connected = true;
          this.ctx.onConnected();
        } else if (state === 'failed') {
          this.ctx.onError(new Error('the peer connection failed'));
        }
      },
    });
    if (this.closed) link.close();
    this.link = link;
    return link;
  }
}
