import type { ServerSignalPayload, SignalPayload, UserId } from '@roundtable/protocol';
import { sendersByKind, type CallMedia, type CallMediaContext, type StatsSource } from './CallMedia.js';
import { PeerLink } from './PeerLink.js';

/**
 * The loopback self-test: one send-receive peer connection whose uplink the media server
 * sends straight back, so the remote tracks are your own media after a trip through it.
 */
export class LoopbackMedia implements CallMedia {
  private link: PeerLink | undefined;
  private closed = false;
  private connected = false;

  constructor(private readonly ctx: CallMediaContext) {}

  /** Starts at once: there is nobody to wait for. */
  async answered(): Promise<void> {
    if (this.link || this.closed) return;
    const me = this.ctx.me;
    const pc = await this.ctx.createPeer();
    const link = new PeerLink(pc, {
      onCandidate: (candidate) => void this.ctx.signal({ type: 'onIceCandidate', name: me, candidate }),
      onTrack: (track) => this.ctx.onTrack(me, track),
      onConnectionState: (state) => {
        this.ctx.onLinkState?.('loopback', state);
        if (state === 'connected' && !this.connected) {
          this.connected = true;
          this.ctx.onConnected();
        } else if (state === 'failed') {
          this.ctx.onError(new Error('the loopback link failed'));
        }
      },
    });
    this.link = link;
    if (this.closed) {
      link.close();
      return;
    }
    for (const slot of this.ctx.outgoing()) pc.addTransceiver(slot.track ?? slot.kind, { direction: 'sendrecv' });
    this.ctx.onSenders(sendersByKind(pc));
    const sdpOffer = await link.createOffer();
    if (!this.closed) await this.ctx.signal({ type: 'receiveVideoFrom', sender: me, sdpOffer });
  }

  async handle(_from: UserId | null, payload: ServerSignalPayload): Promise<void> {
    if (this.closed || !this.link) return;
    if (payload.type === 'receiveVideoAnswer' && payload.name === this.ctx.me) await this.link.setRemote('answer', payload.sdpAnswer);
    else if (payload.type === 'iceCandidate' && payload.name === this.ctx.me) await this.link.addCandidate(payload.candidate);
  }

  resumeSignal(): SignalPayload {
    return { type: 'onIceCandidate', name: this.ctx.me, candidate: { candidate: '', sdpMid: null, sdpMLineIndex: null } };
  }

  async restartIce(_force = false): Promise<void> {
    // One offer per endpoint on the media server: nothing to restart (see SfuMedia).
    if (this.link?.pc.connectionState === 'failed') this.ctx.onError(new Error('the loopback link failed; ICE restart through the media server is not supported yet'));
  }

  statsSources(): StatsSource[] {
    return this.link ? [{ participant: this.ctx.me, pc: this.link.pc }] : [];
  }

  close(): void {
    this.closed = true;
    this.link?.close();
  }
}
