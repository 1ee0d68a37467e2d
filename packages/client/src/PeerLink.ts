import type { IceCandidateInit } from '@roundtable/protocol';
import type { PeerConnectionLike, TrackEventLike, TrackLike } from './platform.js';

export interface PeerLinkCallbacks {
  /** A local candidate to trickle to the other side. */
  onCandidate(candidate: IceCandidateInit): void;
  onTrack(track: TrackLike): void;
  onConnectionState(state: string): void;
}

/**
 * One RTCPeerConnection and the bookkeeping every link needs: trickled remote candidates
 * kept until the remote description is set (they often overtake it), and an idempotent close.
 */
export class PeerLink {
  private readonly early: IceCandidateInit[] = [];
  private closed = false;

  constructor(
    readonly pc: PeerConnectionLike,
    callbacks: PeerLinkCallbacks,
  ) {
    pc.onicecandidate = (event) => {
      const c = event.candidate;
      // A null candidate (end of gathering) is not sent: the server does not need it.
      if (!c || !c.candidate || this.closed) return;
      callbacks.onCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null });
    };
    const onTrack = (event: TrackEventLike): void => {
      if (!this.closed) callbacks.onTrack(event.track);
    };
    pc.ontrack = onTrack;
    pc.onconnectionstatechange = () => {
      if (!this.closed) callbacks.onConnectionState(pc.connectionState);
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async createOffer(options?: { iceRestart?: boolean }): Promise<string> {
    const offer = await this.pc.createOffer(options);
    await this.pc.setLocalDescription({ type: 'offer', sdp: offer.sdp ?? '' });
    return this.pc.localDescription?.sdp ?? offer.sdp ?? '';
  }

  /** Applies a remote offer and returns the local answer. */
  async answer(sdp: string, beforeAnswer?: () => void): Promise<string> {
    await this.setRemote('offer', sdp);
    beforeAnswer?.();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription({ type: 'answer', sdp: answer.sdp ?? '' });
    return this.pc.localDescription?.sdp ?? answer.sdp ?? '';
  }

  async setRemote(type: 'offer' | 'answer', sdp: string): Promise<void> {
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type, sdp });
    for (const c of this.early.splice(0)) await this.add(c);
  }

  /** Adds a remote candidate now, or once the remote description is set. An empty one (end of candidates) is ignored. */
  async addCandidate(candidate: IceCandidateInit): Promise<void> {
    if (this.closed || candidate.candidate === '') return;
    if (!this.pc.remoteDescription) {
      this.early.push(candidate);
      return;
    }
    await this.add(candidate);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    try {
      // werift returns a promise; a failure while closing is of no interest.
      const result: unknown = this.pc.close();
      if (result instanceof Promise) result.catch(() => undefined);
    } catch {
      // already closed
    }
  }

  private async add(c: IceCandidateInit): Promise<void> {
    // A candidate the stack cannot use (another address family, a late one) is not fatal.
    await this.pc.addIceCandidate({ candidate: c.candidate, ...(c.sdpMid != null ? { sdpMid: c.sdpMid } : {}), ...(c.sdpMLineIndex != null ? { sdpMLineIndex: c.sdpMLineIndex } : {}) }).catch(() => undefined);
  }
}
