import type { ServerSignalPayload, SubscribedTrack, UserId, VideoQuality } from '@roundtable/protocol';
import { sendersByKind, type CallMediaContext, type StatsSource } from './CallMedia.js';
import { LinkRecovery } from './LinkRecovery.js';
import { PeerLink } from './PeerLink.js';
import type { SendEncodingLike, StatsLike, TrackLike } from './platform.js';

export interface BundledMediaOptions {
  /** Report "connected" when our sending connection connects (rooms), not only when media comes in. Default false. */
  connectedOnUplink?: boolean;
  /** Publish camera video as SIMULCAST_ENCODINGS. Default false. */
  simulcast?: boolean;
}

/**
 * The simulcast layers of our video, lowest first (the server takes them in this order):
 * a quarter, half and the full size of the camera (simulcastEncodings picks those that
 * suit its size).
 */
export const SIMULCAST_ENCODINGS: readonly SendEncodingLike[] = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/**
 * The layers for a camera `height` pixels high: three from 540 up, two (half and full)
 * from 270, none below (one stream). Chromium sends no more layers than the size allows
 * (three from 960x540, two from 480x270), and when it sends fewer it drops the highest
 * ones: asking for three at 480p would leave the full size out.
 */
export function simulcastEncodings(height: number | undefined): SendEncodingLike[] {
  const h = height ?? 720;
  const layers = h >= 540 ? SIMULCAST_ENCODINGS : h >= 270 ? SIMULCAST_ENCODINGS.slice(1) : [];
  return layers.map((e) => ({ ...e }));
}

/** connectionState keys of the two links (for the session's `connection` event). */
const SEND = ':send';
const RECEIVE = ':receive';

/**
 * A call or room through the media server in the bundled words: ONE sending connection
 * carrying all our tracks (`publish`, answered by `publishAnswer`) and ONE receiving
 * connection the server offers on (`subscribeOffer`, one m-line per track of the
 * others, plus the audio mix in hybrid calls; we answer with `subscribeAnswer`),
 * whatever the number of participants. The offer says whose track each mid carries.
 * The server is ICE-lite: its candidates are in its SDP, ours are not sent.
 */
export class BundledMedia {
  private send: PeerLink | undefined;
  private recv: PeerLink | undefined;
  /** Whose media each mid of the receiving connection carries. */
  private readonly tracks = new Map<string, SubscribedTrack>();
  /** The SSRC the server sends on each mid (from its offer): stats entries name one or the other. */
  private readonly ssrcs = new Map<string, number>();
  /** The track each mid delivered (werift announces every sending m-line again at each offer). */
  private readonly delivered = new Map<string, TrackLike>();
  private connected = false;
  private closed = false;
  /** Retries of each link once it lost its path (see LinkRecovery). */
  private readonly sendRecovery: LinkRecovery;
  private readonly recvRecovery: LinkRecovery;
  /** What we asked of each participant's video (setVideoQuality). */
  private readonly qualities = new Map<UserId, VideoQuality>();
  /** The latest publishLayers per m-line while one is being applied (setLayers). */
  private readonly layerWishes = new Map<string, Record<string, boolean>>();
  /** The server's ICE ufrags of sending connections we replaced: a late publishAnswer with one is for a connection that is gone. */
  private readonly retiredSendUfrags = new Set<string>();

  constructor(
    private readonly ctx: CallMediaContext,
    private readonly options: BundledMediaOptions = {},
  ) {
    const report = (change: Parameters<NonNullable<CallMediaContext['onRecovery']>>[0]): void => {
      if (!this.closed) this.ctx.onRecovery?.(change);
    };
    this.sendRecovery = new LinkRecovery('sending', { attempt: (n) => this.attemptSend(n), report }, ctx.recovery);
    this.recvRecovery = new LinkRecovery('receiving', { attempt: () => this.attemptReceive(), report }, ctx.recovery);
  }

  /** Publishes our tracks (once; again on a new connection with `renew`, see attemptSend). */
  async publish(renew = false): Promise<void> {
    if (this.send || this.closed) return;
    const link = await this.createLink(SEND);
    this.send = link;
    for (const slot of this.ctx.outgoing()) {
      const encodings = this.options.simulcast === true && slot.kind === 'video' && slot.track ? simulcastEncodings(slot.track.getSettings?.().height) : [];
      link.pc.addTransceiver(slot.track ?? slot.kind, { direction: 'sendonly', ...(encodings.length > 1 ? { sendEncodings: encodings } : {}) });
    }
    this.ctx.onSenders(sendersByKind(link.pc));
    const sdpOffer = await link.createOffer();
    // Not awaited: see SfuMedia.negotiate (the answer comes as publishAnswer).
    if (!this.closed) void this.ctx.signal({ type: 'publish', sdpOffer, ...(renew ? { renew: true } : {}) });
  }

  async handle(payload: ServerSignalPayload): Promise<void> {
    if (this.closed) return;
    switch (payload.type) {
      case 'publishAnswer': {
        // For a sending connection replaced since (an answer that crossed our new publish).
        const ufrag = iceUfrag(payload.sdpAnswer);
        if (ufrag !== undefined && this.retiredSendUfrags.has(ufrag)) break;
        await this.send?.setRemote('answer', payload.sdpAnswer);
        // The server takes our requests once we published: those made before go now.
        for (const [participant, quality] of this.qualities) this.sendQuality(participant, quality);
        break;
      }
      case 'subscribeOffer':
        await this.subscribe(payload.sdpOffer, payload.tracks);
        break;
      default:
        this.handleNow(payload);
        break;
    }
  }

  /**
   * Who came and who left: at once, not in the signal queue (where an answer may wait on
   * a busy connection). True when the payload was one of those.
   */
  handleNow(payload: ServerSignalPayload): boolean {
    if (this.closed) return false;
    switch (payload.type) {
      case 'newParticipantArrived':
        // Their tracks come in the next subscribeOffer.
        this.ctx.onParticipantJoined(payload.name);
        return true;
      case 'participantLeft':
        this.ctx.onParticipantLeft(payload.name);
        return true;
      case 'activeSpeaker':
        this.ctx.onActiveSpeaker?.(payload.speaker, payload.levels);
        return true;
      case 'publishLayers':
        this.setLayers(payload.mid, payload.active);
        return true;
      default:
        return false;
    }
  }

  /**
   * What we ask of `participant`'s video: a level or the size of the tile we show it in.
   * The server forwards the simulcast layer that fits (and asks the publisher to pause
   * those nobody takes). Sent now if we published, else once we did.
   */
  setVideoQuality(participant: UserId, quality: VideoQuality): void {
    const before = this.qualities.get(participant);
    this.qualities.set(participant, quality);
    if (before !== undefined && JSON.stringify(before) === JSON.stringify(quality)) return;
    if (this.send?.pc.remoteDescription) this.sendQuality(participant, quality);
  }

  private sendQuality(participant: UserId, quality: VideoQuality): void {
    if (this.closed) return;
    // A participant the server does not know (gone meanwhile) is no reason to fail the call.
    this.ctx.signal({ type: 'subscribeQuality', participant, quality }).catch(() => undefined);
  }

  /**
   * The server says which simulcast layers of our video on `mid` someone takes: the others
   * are paused. One setParameters at a time per m-line, the latest wish last: two at once
   * read the same parameters, and the second is refused (or undoes the first), which could
   * leave a layer the server waits for paused.
   */
  private setLayers(mid: string, active: Record<string, boolean>): void {
    const busy = this.layerWishes.has(mid);
    this.layerWishes.set(mid, active);
    if (!busy) void this.applyLayers(mid);
  }

  private async applyLayers(mid: string): Promise<void> {
    for (let wish = this.layerWishes.get(mid); wish !== undefined && !this.closed; wish = this.layerWishes.get(mid)) {
      try {
        await this.writeLayers(mid, wish);
      } catch (error) {
        this.ctx.onError(error);
      }
      if (this.layerWishes.get(mid) === wish) this.layerWishes.delete(mid);
    }
    this.layerWishes.delete(mid);
  }

  private async writeLayers(mid: string, active: Record<string, boolean>): Promise<void> {
    const pc = this.send?.pc;
    const sender = pc?.getTransceivers().find((t) => (t as { mid?: string | null }).mid === mid)?.sender;
    if (!sender?.getParameters || !sender.setParameters) return;
    const parameters = sender.getParameters() as { encodings?: SendEncodingLike[] };
    let changed = false;
    for (const encoding of parameters.encodings ?? []) {
      const wanted = encoding.rid !== undefined ? active[encoding.rid] : undefined;
      if (wanted !== undefined && encoding.active !== wanted) {
        encoding.active = wanted;
        changed = true;
      }
    }
    if (changed) await (sender.setParameters as (p: unknown) => unknown).call(sender, parameters);
  }

  /** After giving up (the `recovery` event said 'failed'): tries the failed links again. */
  retry(): void {
    this.sendRecovery.retry();
    this.recvRecovery.retry();
  }

  /**
   * Restarts ICE on the sending connection (a publish with new credentials). The
   * receiving connection is offered by the server as ICE-lite, so it cannot be restarted
   * from here: the server is asked for it anew (`subscribeRestart`), and its offer on a
   * fresh transport (other ICE credentials) is answered on a new connection.
   */
  async restartIce(force = false): Promise<void> {
    if (!force) {
      // A link that lost its path is brought back by its recovery (with back-off).
      if (this.send?.pathLost) this.sendRecovery.lost();
      if (this.recv?.pathLost) this.recvRecovery.lost();
      return;
    }
    const send = this.send;
    if (send && !send.isClosed && send.pc.remoteDescription && (force || send.pathLost)) {
      const sdpOffer = await send.createRestartOffer();
      if (this.closed || send.isClosed) return;
      await this.ctx.signal({ type: 'publish', sdpOffer });
    }
    const recv = this.recv;
    if (recv && !recv.isClosed && recv.pc.remoteDescription && (force || recv.pathLost || recv.pc.connectionState === 'failed')) {
      if (this.closed) return;
      await this.ctx.signal({ type: 'subscribeRestart' });
    }
  }

  /** The sending connection counts for us; the receiving one for each participant, by the mids that carry their media. */
  statsSources(): StatsSource[] {
    const sources: StatsSource[] = [];
    if (this.send) sources.push({ participant: this.ctx.me, pc: this.send.pc });
    const recv = this.recv;
    if (recv) {
      const people = new Set([...this.tracks.values()].map((t) => t.participant).filter((p): p is UserId => p !== null));
      for (const participant of people) {
        const mids = new Set([...this.tracks.values()].filter((t) => t.participant === participant).map((t) => t.mid));
        const ssrcs = new Set([...mids].map((mid) => this.ssrcs.get(mid)));
        const theirs = (s: StatsLike): boolean => (s.mid !== undefined && mids.has(s.mid)) || (s.ssrc !== undefined && ssrcs.has(s.ssrc));
        sources.push({ participant, pc: recv.pc, include: (s: StatsLike) => s.type !== 'inbound-rtp' || theirs(s) });
      }
    }
    return sources;
  }

  close(): void {
    this.closed = true;
    this.sendRecovery.close();
    this.recvRecovery.close();
    this.send?.close();
    this.recv?.close();
  }

  private async subscribe(sdpOffer: string, tracks: SubscribedTrack[]): Promise<void> {
    // Known before the offer is applied: its tracks arrive while it is.
    for (const t of tracks) this.tracks.set(t.mid, t);
    this.ssrcs.clear();
    for (const [mid, ssrc] of ssrcsByMid(sdpOffer)) this.ssrcs.set(mid, ssrc);
    for (const mid of [...this.tracks.keys()]) {
      if (tracks.some((t) => t.mid === mid)) continue;
      this.tracks.delete(mid);
      this.delivered.delete(mid);
    }
    // Other ICE credentials: the server made a fresh receiving transport (everyone had left): a new connection.
    const current = this.recv?.pc.remoteDescription?.sdp;
    if (this.recv && current && iceUfrag(current) !== iceUfrag(sdpOffer)) {
      this.recv.close();
      this.ctx.onLinkState?.(RECEIVE, 'closed');
      this.recv = undefined;
    }
    this.recv ??= await this.createLink(RECEIVE);
    const sdpAnswer = await this.recv.answer(sdpOffer);
    // Not awaited: the next offer comes after the server took this answer anyway.
    if (!this.closed) void this.ctx.signal({ type: 'subscribeAnswer', sdpAnswer });
  }

  /**
   * Attempt `n` to bring the sending connection back: first an ICE restart (a publish
   * with new credentials), then a new connection, published with `renew`: the server
   * takes it on a new sending transport.
   */
  private async attemptSend(n: number): Promise<void> {
    const send = this.send;
    if (this.closed) return;
    if (n === 1 && send && !send.isClosed && send.pc.remoteDescription) {
      const sdpOffer = await send.createRestartOffer();
      if (this.closed || send !== this.send) return;
      void this.ctx.signal({ type: 'publish', sdpOffer });
      return;
    }
    if (send) {
      const ufrag = iceUfrag(send.pc.remoteDescription?.sdp ?? '');
      if (ufrag !== undefined) this.retiredSendUfrags.add(ufrag);
      send.close();
      this.ctx.onLinkState?.(SEND, 'closed');
      this.send = undefined;
    }
    await this.publish(true);
  }

  /** The receiving connection is offered by the ICE-lite server: it makes a fresh transport (subscribeRestart) and offers it. */
  private async attemptReceive(): Promise<void> {
    if (this.closed || !this.recv) return;
    void this.ctx.signal({ type: 'subscribeRestart' });
  }

  private async createLink(name: string): Promise<PeerLink> {
    const pc = await this.ctx.createPeer();
    const link = new PeerLink(pc, {
      // ICE-lite server: it learns our address from our checks.
      onCandidate: () => undefined,
      onTrack: (track, mid) => {
        const t = mid === null ? undefined : this.tracks.get(mid);
        if (!t || mid === null || this.delivered.get(mid) === track) return;
        this.delivered.set(mid, track);
        if (t.participant === null) this.ctx.onMixedAudio?.(track);
        else this.ctx.onTrack(t.participant, track);
      },
      onConnectionState: (state) => {
        this.ctx.onLinkState?.(name, state);
        if (state === 'connected') (name === SEND ? this.sendRecovery : this.recvRecovery).connected();
        if (state === 'failed') this.ctx.onError(new Error(`the ${name === SEND ? 'sending' : 'receiving'} connection failed`));
        if (state !== 'connected' || this.connected || (name === SEND && !this.options.connectedOnUplink)) return;
        this.connected = true;
        this.ctx.onConnected();
      },
      onPathLost: () => (name === SEND ? this.sendRecovery : this.recvRecovery).lost(),
    });
    if (this.closed) link.close();
    return link;
  }
}

/** The first a=ice-ufrag of an SDP. */
function iceUfrag(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}

/** The first a=ssrc of each m-line, by its a=mid. */
function ssrcsByMid(sdp: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
    const ssrc = /^a=ssrc:(\d+)/m.exec(section)?.[1];
    if (mid !== undefined && ssrc !== undefined) out.set(mid, Number(ssrc));
  }
  return out;
}
