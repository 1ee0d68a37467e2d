import { isIPv4 } from 'node:net';
import type { RtpPacket, RTCDataChannel, RTCPeerConnection } from 'werift';
import type { KindStats } from '../core/endpointTypes.js';
import { MediaError } from '../core/errors.js';
import type { MediaKind } from '../core/types.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import type { OutboundStream } from '../rtp/OutboundStream.js';
import type { CarriedDataChannel, DataChannelOptions } from './DataChannels.js';
import { applyDtlsPreferences } from './dtlsPreferences.js';
import { errorMessage, type CarrierHost, type EndpointCarrier } from './EndpointCarrier.js';
import { EndpointMedia } from './EndpointMedia.js';
import { EndpointSockets } from './EndpointSockets.js';
import type { FastPathStats } from './FastPath.js';
import { useUdpMux } from './iceMux.js';
import { createPeerConnection, disableImplicitStun } from './peerConnection.js';
import { startRestartedChecks } from './renegotiation.js';
import { followRenomination } from './renomination.js';
import { announceCandidate } from './sdp.js';
import type { IceCandidateInit } from './types.js';

/**
 * A WebRtcEndpoint carried by a werift RTCPeerConnection (werift's ICE and DTLS, with
 * Roundtable's sockets, EndpointSockets, and media, EndpointMedia). Its steps are
 * asynchronous (werift's descriptions).
 */
export class WeriftCarrier implements EndpointCarrier {
  readonly kind = 'werift';
  private readonly media: EndpointMedia;
  /** Let go (discarded, or the transport released): its states are no longer the endpoint's. */
  private closed = false;
  /** A re-offer is being answered. */
  private renegotiating = false;
  private iceConnectedOnce = false;
  private restarts = 0;

  private constructor(
    private readonly pc: RTCPeerConnection,
    private readonly sockets: EndpointSockets,
    private readonly host: CarrierHost,
  ) {
    this.media = new EndpointMedia({
      config: host.config,
      isClosed: () => host.isClosed(),
      canSend: () => host.carrier() === this && host.dtlsState() === 'connected',
      received: (kind, stream, packet, now) => host.received(kind, stream, packet, now),
      maxVideoRecvBandwidth: () => host.maxVideoRecvBandwidth(),
    });
    const channels = host.dataChannels;
    if (channels) pc.onDataChannel.subscribe((channel) => channels.track(carried(channel)));
    pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate) return;
      host.candidates.local({
        candidate: announceCandidate(candidate.candidate, host.announcedAddress()),
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
      });
    });
    pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') host.candidates.localComplete();
    });
    pc.iceConnectionStateChange.subscribe((state) => {
      // werift reports 'completed' when local gathering ends, before any check: that
      // is not a connection.
      if (state === 'completed' && !this.iceConnectedOnce) return;
      if (state === 'connected') this.iceConnectedOnce = true;
      if (state === 'connected' || state === 'completed') this.noteSelectedPair();
      host.iceStateChange(state);
    });
    pc.connectionStateChange.subscribe((state) => {
      if (this.closed) return;
      host.connectionStateChange(state);
      // The peer is gone (consent expired, RFC 7675): give the sockets back.
      if (state === 'failed') host.releaseTransport();
    });
  }

  /**
   * The peer connection of the host's endpoint, on its sockets. INVALID_STATE when
   * another negotiation made the endpoint's carrier meanwhile.
   */
  static async open(host: CarrierHost): Promise<WeriftCarrier> {
    const sockets = new EndpointSockets(host.engine.sockets, host.config, host.ports, host.localAddresses, () => host.isClosed());
    await sockets.open();
    host.assertOpen();
    if (host.carrier()) {
      sockets.release();
      throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated');
    }
    const iceServers = host.iceServers();
    const configured = host.config.iceAddresses ?? [];
    const pc = createPeerConnection({
      iceServers,
      portRange: sockets.reserveFor(iceServers),
      localAddresses: [...host.localAddresses],
      bindAddress: configured.length === 1 && isIPv4(configured[0]!) ? configured[0] : undefined,
      acceptsAddress: (address) => host.candidates.acceptsAddress(address),
    });
    const muxes = sockets.muxes;
    if (muxes) {
      try {
        useUdpMux(pc, muxes, (agent) => sockets.addAgent(agent));
      } catch (error) {
        void pc.close().catch(() => undefined);
        sockets.release();
        throw error;
      }
    }
    return new WeriftCarrier(pc, sockets, host);
  }

  get localDescription(): string | undefined {
    return this.pc.localDescription?.sdp;
  }

  /** As given (its candidates included, which the agent only gets once gathering starts). */
  get remoteDescription(): string | undefined {
    return this.pc.remoteDescription ? (this.host.candidates.lastRemoteSdp ?? this.pc.remoteDescription.sdp) : undefined;
  }

  get appliedRemoteDescription(): string {
    return this.pc.remoteDescription?.sdp ?? '';
  }

  get negotiating(): boolean {
    return this.renegotiating || this.pc.signalingState !== 'stable';
  }

  get awaitsAnswer(): boolean {
    return this.pc.signalingState === 'have-local-offer';
  }

  get takesCandidates(): boolean {
    return Boolean(this.pc.remoteDescription);
  }

  get iceRestarts(): number {
    return this.restarts;
  }

  async answerOffer(offer: string): Promise<void> {
    const pc = this.pc;
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: this.host.candidates.remoteSdpForAgent(offer) });
      this.setDirections();
      applyDtlsPreferences(pc, true);
      const answer = await pc.createAnswer();
      disableImplicitStun(pc, this.host.iceServers());
      followRenomination(pc);
      await pc.setLocalDescription(answer);
    } catch (error) {
      this.host.discard(this);
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer offer: ${errorMessage(error)}`);
    }
    this.assertOpenOrClose();
  }

  async answerReoffer(offer: string, restart: boolean): Promise<void> {
    const pc = this.pc;
    this.renegotiating = true;
    try {
      if (restart) {
        // werift restarts the ICE agent when the remote credentials change: a fresh
        // 'connected' (and gathering) will follow for the new generation.
        this.iceConnectedOnce = false;
        this.host.candidates.restartLocal();
        this.restarts++;
      }
      await pc.setRemoteDescription({ type: 'offer', sdp: this.host.candidates.remoteSdpForAgent(offer) });
      this.setDirections();
      applyDtlsPreferences(pc, true);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
    } catch (error) {
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer the new offer: ${errorMessage(error)}`);
    } finally {
      this.renegotiating = false;
    }
    this.host.assertOpen();
  }

  async makeOffer(kinds: readonly MediaKind[]): Promise<void> {
    const pc = this.pc;
    try {
      for (const kind of kinds) pc.addTransceiver(kind, { direction: this.host.direction });
      // werift offers an application section only once it has an SCTP transport; make
      // one without opening a channel the peer would see.
      if (this.host.dataChannels) (pc as unknown as { createSctpTransport(): unknown }).createSctpTransport();
      applyDtlsPreferences(pc, false);
      const offer = await pc.createOffer();
      disableImplicitStun(pc, this.host.iceServers());
      followRenomination(pc);
      await pc.setLocalDescription(offer);
    } catch (error) {
      this.host.discard(this);
      throw new MediaError('INVALID_STATE', `cannot create offer: ${errorMessage(error)}`);
    }
    this.assertOpenOrClose();
  }

  async takeAnswer(answer: string): Promise<void> {
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp: this.host.candidates.remoteSdpForAgent(answer) });
    } catch (error) {
      throw new MediaError('INVALID_SDP', `cannot apply answer: ${errorMessage(error)}`);
    }
  }

  /** Binds the negotiated transceivers (media both ways), follows DTLS, starts RTCP. */
  negotiated(): void {
    this.media.bind(this.pc);
    const dtls = this.pc.dtlsTransports[0];
    dtls?.onStateChange.subscribe((state) => {
      this.media.onDtlsState(dtls, state, this.host.released());
      this.host.dtlsStateChange(state);
    });
    this.media.startRtcp(this.host.config.rtcpIntervalMs);
  }

  renegotiated(restart: boolean): void {
    if (restart) startRestartedChecks(this.pc);
  }

  async addCandidate(init: IceCandidateInit, sdpMLineIndex: number | undefined): Promise<void> {
    try {
      await this.pc.addIceCandidate({
        candidate: init.candidate,
        sdpMid: init.sdpMid ?? undefined,
        sdpMLineIndex,
      });
    } catch (error) {
      throw new MediaError('INVALID_CANDIDATE', `cannot add ICE candidate: ${errorMessage(error)}`);
    }
  }

  openDataChannel(label: string, options: DataChannelOptions): boolean {
    const channels = this.host.dataChannels;
    if (!channels || !this.pc.sctp) return false;
    channels.create(label, options, (name, valid) => carried(this.pc.createDataChannel(name, valid)));
    return true;
  }

  kindStats(kind: MediaKind): KindStats {
    return this.media.kindStats(kind);
  }

  get invalidPackets(): number {
    return this.media.invalidPackets;
  }

  fastPathStats(): FastPathStats | undefined {
    return this.media.getFastPathStats();
  }

  inboundStream(kind: MediaKind): InboundStream | undefined {
    return this.media.getInboundStream(kind);
  }

  outboundStream(kind: MediaKind): OutboundStream | undefined {
    return this.media.getOutboundStream(kind);
  }

  get sharedUdpPort(): number | undefined {
    return this.sockets.sharedUdpPort;
  }

  get reservedPorts(): [number, number] | undefined {
    return this.sockets.reservedPorts;
  }

  /**
   * Until DTLS is up nothing can be sent: the stream is left untouched, so that the
   * first packet that does go out starts cleanly (on a keyframe).
   */
  canForward(kind: MediaKind): boolean {
    return this.media.getOutboundStream(kind) !== undefined && this.host.dtlsState() === 'connected';
  }

  forward(stream: InboundStream, packet: RtpPacket, now: number): void {
    this.media.getOutboundStream(stream.kind)?.forward(stream, packet, now);
  }

  requestKeyframe(kind: MediaKind): void {
    this.media.requestKeyframe(kind);
  }

  sourceDisconnected(kind: MediaKind): void {
    this.media.getOutboundStream(kind)?.detach();
  }

  /** Every time, not once: what the media took up again since (a stream forwarding to a source) is let go too. */
  close(): void {
    this.closed = true;
    this.media.close();
    void this.pc.close().catch(() => undefined);
    this.sockets.release();
  }

  /** Our direction on the audio and video transceivers werift made of the offer. */
  private setDirections(): void {
    for (const t of this.pc.getTransceivers()) {
      if (t.kind === 'audio' || t.kind === 'video') t.setDirection(this.host.direction);
    }
  }

  /** The endpoint was closed while werift negotiated: the connection goes too. */
  private assertOpenOrClose(): void {
    if (this.host.isClosed()) {
      void this.pc.close().catch(() => undefined);
      throw new MediaError('OBJECT_CLOSED', `WebRtcEndpoint ${this.host.id} was closed during negotiation`);
    }
  }

  private noteSelectedPair(): void {
    const pair = this.pc.iceTransports[0]?.connection.nominated;
    if (!pair) return;
    const local = pair.protocol.localCandidate;
    const remote = pair.remoteCandidate;
    if (!local) return;
    const selected = {
      localCandidate: announceCandidate(`candidate:${local.toSdp()}`, this.host.announcedAddress()),
      remoteCandidate: `candidate:${remote.toSdp()}`,
    };
    const current = this.host.selectedPair();
    if (current?.localCandidate === selected.localCandidate && current.remoteCandidate === selected.remoteCandidate) return;
    this.host.candidatePairSelected(selected);
  }
}

/** A werift data channel as DataChannels sees it. */
function carried(channel: RTCDataChannel): CarriedDataChannel {
  return {
    get id() {
      return channel.id ?? undefined;
    },
    label: channel.label,
    get state() {
      return channel.readyState;
    },
    send: (data) => channel.send(data),
    close: () => channel.close(),
    watch: (listener) => {
      channel.stateChanged.subscribe((state) => listener.state(state));
      channel.onMessage.subscribe((data) => listener.message(data));
    },
  };
}
