import type { IceCandidateInit } from '@roundtable/protocol';
import type { PeerConnectionLike, TrackEventLike, TrackLike } from './platform.js';

export interface PeerLinkCallbacks {
  /** A local candidate to trickle to the other side. */
  onCandidate(candidate: IceCandidateInit): void;
  /** `mid`: the transceiver's, when the stack says it. */
  onTrack(track: TrackLike, mid: string | null): void;
  onConnectionState(state: string): void;
  /**
   * The link lost its path: 'failed', or 'disconnected' for longer than
   * DISCONNECTED_GRACE_MS (a browser often recovers from a short one by itself). The
   * owner restarts ICE. Not called once the link is closed.
   */
  onPathLost?(): void;
}

/** How long a link may stay 'disconnected' before it counts as having lost its path. */
export const DISCONNECTED_GRACE_MS = 2000;

/** The parts of werift's ICE transport that restartedChecks() touches (werift does not export them typed for us). */
interface WeriftIceTransportLike {
  state?: string;
  start?: () => Promise<void>;
  connection?: { nominated?: unknown; remoteUsername?: string };
}

/**
 * One RTCPeerConnection and the bookkeeping every link needs: trickled remote candidates
 * kept until the remote description is set (they often overtake it), and an idempotent close.
 */
export class PeerLink {
  private readonly early: IceCandidateInit[] = [];
  private closed = false;
  /** Our ICE-restart offer waits for its answer: remote candidates wait with it. */
  private restarting = false;
  private disconnectedTimer: ReturnType<typeof setTimeout> | undefined;

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
      if (!this.closed) callbacks.onTrack(event.track, event.transceiver?.mid ?? null);
    };
    pc.ontrack = onTrack;
    pc.onconnectionstatechange = () => {
      if (this.closed) return;
      const state = pc.connectionState;
      callbacks.onConnectionState(state);
      if (this.disconnectedTimer) clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = undefined;
      if (state === 'failed') callbacks.onPathLost?.();
      else if (state === 'disconnected') {
        this.disconnectedTimer = setTimeout(() => {
          this.disconnectedTimer = undefined;
          if (!this.closed && pc.connectionState === 'disconnected') callbacks.onPathLost?.();
        }, DISCONNECTED_GRACE_MS);
      }
    };
  }

  /** Whether the link lost its path (worth an ICE restart). */
  get pathLost(): boolean {
    const state = this.pc.connectionState;
    return state === 'failed' || state === 'disconnected';
  }

  /** An ICE-restart offer of ours is waiting for its answer. */
  get restartPending(): boolean {
    return this.restarting;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async createOffer(options?: { iceRestart?: boolean }): Promise<string> {
    const offer = await this.pc.createOffer(options);
    await this.pc.setLocalDescription({ type: 'offer', sdp: offer.sdp ?? '' });
    return this.pc.localDescription?.sdp ?? offer.sdp ?? '';
  }

  /**
   * Makes an offer with new ICE credentials (RFC 8445 9); the answer goes to setRemote().
   * Until it does, remote candidates wait here: they belong to the new generation and
   * would otherwise reach the stack before the credentials they go with.
   */
  async createRestartOffer(): Promise<string> {
    this.restarting = true;
    try {
      this.pc.restartIce?.();
      return await this.createOffer({ iceRestart: true });
    } catch (error) {
      this.restarting = false;
      throw error;
    }
  }

  /** Applies a remote offer and returns the local answer. */
  async answer(sdp: string, beforeAnswer?: () => void): Promise<string> {
    const restart = this.pc.remoteDescription != null && iceUfrag(this.pc.remoteDescription.sdp ?? '') !== iceUfrag(sdp);
    // Their offer wins over a restart offer of ours still waiting (glare: the stack rolls
    // ours back): candidates no longer wait for an answer that will not come.
    this.restarting = false;
    await this.setRemote('offer', sdp);
    beforeAnswer?.();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription({ type: 'answer', sdp: answer.sdp ?? '' });
    if (restart) this.restartedChecks();
    return this.pc.localDescription?.sdp ?? answer.sdp ?? '';
  }

  async setRemote(type: 'offer' | 'answer', sdp: string): Promise<void> {
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type, sdp });
    if (type === 'answer' && this.restarting) {
      this.restarting = false;
      this.restartedChecks();
    }
    for (const c of this.early.splice(0)) await this.add(c);
  }

  /** Adds a remote candidate now, or once the remote description is set. An empty one (end of candidates) is ignored. */
  async addCandidate(candidate: IceCandidateInit): Promise<void> {
    if (this.closed || candidate.candidate === '') return;
    if (!this.pc.remoteDescription || this.restarting) {
      this.early.push(candidate);
      return;
    }
    await this.add(candidate);
  }

  /**
   * werift (the Node stack; browsers do not need this) starts connectivity checks only
   * while DTLS is not up yet, so after an ICE restart its agent has new credentials, no
   * pair and runs no checks: the sender's packets go nowhere while the connection still
   * says 'connected'. Start the new generation's checks by hand; DTLS goes on over the
   * pair they select. A no-op on any other RTCPeerConnection.
   */
  private restartedChecks(): void {
    const transports: unknown = (this.pc as { iceTransports?: unknown }).iceTransports;
    if (!Array.isArray(transports)) return;
    for (const t of transports as WeriftIceTransportLike[]) {
      const c = t.connection;
      if (!c || c.nominated || !c.remoteUsername || typeof t.start !== 'function' || t.state === 'checking' || t.state === 'closed') continue;
      t.start().catch(() => undefined);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.disconnectedTimer) clearTimeout(this.disconnectedTimer);
    this.disconnectedTimer = undefined;
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

/** The first a=ice-ufrag of an SDP (one per bundle). */
function iceUfrag(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}
