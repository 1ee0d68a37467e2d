import type { RtpPacket, RTCPeerConnection } from 'werift';
import { isIP, isIPv4 } from 'node:net';
import { endpointTransportOf, hostAddresses, singleUdpPort, type IceServerConfig } from '../config.js';
import { MediaError } from '../core/errors.js';
import { MediaElement } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { MEDIA_KINDS, type MediaKind } from '../core/types.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import type { OutboundStream } from '../rtp/OutboundStream.js';
import { CandidateExchange, negotiatedIndex } from './CandidateExchange.js';
import { DataChannels, type DataChannelOptions } from './DataChannels.js';
import { EndpointMedia } from './EndpointMedia.js';
import { EndpointTransport } from './EndpointTransport.js';
import { firstStunServer, hasTurnServer } from '../transport/serverReflexive.js';
import type { TransportDtlsState, TransportIceState } from '../transport/WebRtcTransport.js';
import { EndpointSockets } from './EndpointSockets.js';
import type { FastPathStats } from './FastPath.js';
import { createPeerConnection, disableImplicitStun } from './peerConnection.js';
import {
  announceCandidate,
  mapCandidateLines,
  rejectingAnswer,
  rejectsEverything,
  remoteCandidateFilter,
  validateRemoteSdp,
  validateSdpSyntax,
  withoutDataSections,
  withoutUnusableSections,
  withRejectedSections,
  type RejectedSection,
} from './sdp.js';
import { checkReoffer, startRestartedChecks } from './renegotiation.js';
import { applyDtlsPreferences } from './dtlsPreferences.js';
import { followRenomination } from './renomination.js';
import { useUdpMux } from './iceMux.js';
import type {
  ConnectionState,
  Direction,
  DtlsState,
  IceCandidateInit,
  IceState,
  SelectedCandidatePair,
  WebRtcEndpointEvents,
  WebRtcEndpointOptions,
  WebRtcEndpointStats,
} from './types.js';

export type {
  ConnectionState,
  Direction,
  DtlsState,
  EndpointStats,
  IceCandidateInit,
  IceState,
  KindStats,
  SelectedCandidatePair,
  WebRtcEndpointEvents,
  WebRtcEndpointOptions,
  WebRtcEndpointStats,
} from './types.js';
export { rembPacket } from './EndpointMedia.js';

/**
 * Kurento's WebRtcEndpoint: a WebRTC transport negotiated by SDP (offer from the peer or
 * from us), with trickle ICE both ways, over werift's ICE and DTLS. This class holds the
 * negotiation and the endpoint's state; trickle ICE is CandidateExchange, the sockets
 * EndpointSockets, the media and its RTCP EndpointMedia, data channels DataChannels.
 */
export class WebRtcEndpoint extends MediaElement<WebRtcEndpointEvents> {
  protected readonly forwardsInput = false;
  private readonly pipeline: MediaPipeline;
  private readonly options: WebRtcEndpointOptions;
  private selectedPair: SelectedCandidatePair | undefined;
  private readonly localAddresses: string[];
  private readonly bindAddress: string | undefined;
  private pc: RTCPeerConnection | undefined;
  private readonly sockets: EndpointSockets;
  private readonly candidates: CandidateExchange;
  private readonly media: EndpointMedia;
  /**
   * The engine's own transport, when config endpointTransport is 'own' and it can serve
   * this endpoint (EndpointTransport): then there is no werift peer connection (pc).
   */
  private own: EndpointTransport | undefined;
  /** The descriptions of the own transport's negotiation (remote '' while our offer waits). */
  private ownDescriptions: { local: string; remote: string } | undefined;
  private ownIce: TransportIceState = 'new';
  private ownCandidateAnnounced = false;
  /** The m-line our host candidate is announced on (the BUNDLE tag). */
  private ownCandidateMid: { mid: string; index: number } | undefined;
  /** Gathering generations of the own transport (a restart's server-reflexive candidate is not the previous one's). */
  private ownGeneration = 0;
  private transportReleased = false;
  private iceConnectedOnce = false;
  private negotiated = false;
  /** A subsequent offer is being answered. */
  private renegotiating = false;
  private iceRestarts = 0;
  private iceState: IceState = 'new';
  private dtlsState: DtlsState = 'new';
  private connectionState: ConnectionState = 'new';
  private rejectedSections: RejectedSection[] = [];
  /**
   * Negotiated without a transport (option rejectUnusableMedia): every section of the
   * offer, ours or the peer's, was rejected. The descriptions stay readable.
   */
  private withoutTransport: { local: string; remote: string } | undefined;
  private readonly dataChannels = new DataChannels({
    opened: (id) => this.emit('dataChannelOpen', id),
    closed: (id) => this.emit('dataChannelClose', id),
    message: (label, data) => this.forwardData(label, data),
  });
  /** Data is connected apart from the audio/video graph: one source per sink, as for media. */
  private dataSource: WebRtcEndpoint | undefined;
  private readonly dataSinks = new Set<WebRtcEndpoint>();

  constructor(pipeline: MediaPipeline, options: WebRtcEndpointOptions = {}) {
    super('WebRtcEndpoint', pipeline);
    this.pipeline = pipeline;
    this.options = { ...options };
    this.localAddresses = hostAddresses(pipeline.config);
    const configured = pipeline.config.iceAddresses ?? [];
    this.bindAddress = configured.length === 1 && isIPv4(configured[0]!) ? configured[0] : undefined;
    this.sockets = new EndpointSockets(pipeline.config, pipeline.ports, this.localAddresses, () => this.closed);
    this.candidates = new CandidateExchange(remoteCandidateFilter(this.localAddresses), {
      candidate: (candidate) => this.emit('iceCandidate', candidate),
      gatheringStarted: () => this.emit('iceGatheringStarted'),
      gatheringDone: () => this.emit('iceGatheringDone'),
    });
    this.media = new EndpointMedia({
      config: pipeline.config,
      isClosed: () => this.closed,
      canSend: () => this.pc !== undefined && this.dtlsState === 'connected',
      received: (kind, stream, packet, now) => {
        this.lastIn[kind] = now;
        this.emitRtp(stream, packet, now);
      },
      maxVideoRecvBandwidth: () => this.options.maxVideoRecvBandwidth,
    });
  }

  get direction(): Direction {
    return this.options.direction ?? 'sendrecv';
  }

  /** What carries this endpoint once it negotiates: the engine's own transport, or a werift peer connection (config endpointTransport). */
  get transportKind(): 'own' | 'werift' | undefined {
    return this.own ? 'own' : this.pc ? 'werift' : undefined;
  }

  getIceState(): IceState {
    return this.iceState;
  }

  /** True when this endpoint negotiates data channels (option useDataChannels). */
  get dataChannelsEnabled(): boolean {
    return this.options.useDataChannels ?? false;
  }

  getConnectionState(): ConnectionState {
    return this.connectionState;
  }

  getDtlsState(): DtlsState {
    return this.dtlsState;
  }

  /** The negotiated local description, once there is one. */
  getLocalSessionDescriptor(): string | undefined {
    if (this.withoutTransport) return this.withoutTransport.local;
    if (this.ownDescriptions) return this.publicSdp(this.ownDescriptions.local);
    const sdp = this.pc?.localDescription?.sdp;
    return sdp ? this.publicSdp(sdp) : undefined;
  }

  getRemoteSessionDescriptor(): string | undefined {
    if (this.withoutTransport) return this.withoutTransport.remote;
    if (this.ownDescriptions) return this.ownDescriptions.remote || undefined;
    // As given (its candidates included, which the agent only gets once gathering starts).
    return this.pc?.remoteDescription ? (this.candidates.lastRemoteSdp ?? this.pc.remoteDescription.sdp) : undefined;
  }

  /** True once an offer/answer exchange has started; transport settings are then fixed. */
  get negotiationStarted(): boolean {
    return this.pc !== undefined || this.own !== undefined || this.withoutTransport !== undefined;
  }

  /** Sets this endpoint's STUN/TURN servers; only before negotiation. */
  setIceServers(servers: IceServerConfig[]): void {
    this.assertConfigurable('ICE servers');
    this.options.iceServers = servers.map((s) => ({ ...s }));
  }

  getIceServers(): IceServerConfig[] {
    return this.iceServers().map((s) => ({ ...s }));
  }

  /** Sets the public address announced for this endpoint; only before negotiation. */
  setAnnouncedAddress(address: string | undefined): void {
    this.assertConfigurable('the announced address');
    if (address !== undefined && !isIP(address)) throw new MediaError('INVALID_ARGUMENT', `invalid announced address '${address}'`);
    this.options.announcedAddress = address;
  }

  getAnnouncedAddress(): string | undefined {
    return this.options.announcedAddress ?? this.pipeline.config.announcedAddress;
  }

  /** Caps the estimate passed back to the video source (kbit/s); 0 or undefined removes the cap. */
  setMaxVideoRecvBandwidth(kbps: number | undefined): void {
    if (kbps !== undefined && (!Number.isFinite(kbps) || kbps < 0)) {
      throw new MediaError('INVALID_ARGUMENT', 'maxVideoRecvBandwidth must be a non-negative number of kbit/s');
    }
    this.options.maxVideoRecvBandwidth = kbps || undefined;
  }

  getMaxVideoRecvBandwidth(): number | undefined {
    return this.options.maxVideoRecvBandwidth;
  }

  /** The candidate pair in use, once ICE has selected one. */
  getSelectedCandidatePair(): SelectedCandidatePair | undefined {
    return this.selectedPair ? { ...this.selectedPair } : undefined;
  }

  // --- negotiation ----------------------------------------------------------------

  /**
   * Answers the peer's offer. On any error nothing is changed and the endpoint stays
   * usable. A later offer from the same peer (same media sections, same DTLS
   * certificate) is answered too: with new ICE credentials it restarts ICE (see
   * processReoffer).
   */
  async processOffer(offer: string): Promise<string> {
    this.assertOpen();
    if (this.negotiated) return this.processReoffer(offer);
    if (this.pc || this.own) throw new MediaError('INVALID_STATE', 'this endpoint made an offer: it takes an answer (processAnswer), not an offer');
    const { sdp, rejected } = this.usableSections(offer);
    if (sdp === undefined) return this.rejectWholeOffer(offer, rejected);
    const own = await this.openOwnTransport(false);
    if (own) return this.answerOnOwnTransport(own, sdp, rejected);
    await this.openSockets();
    const pc = this.createPeerConnection();
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: this.candidates.remoteSdpForAgent(sdp) });
      for (const t of pc.getTransceivers()) {
        if (t.kind === 'audio' || t.kind === 'video') t.setDirection(this.direction);
      }
      applyDtlsPreferences(pc, true);
      const answer = await pc.createAnswer();
      disableImplicitStun(pc, this.iceServers());
      followRenomination(pc);
      await pc.setLocalDescription(answer);
    } catch (error) {
      this.discardPeerConnection(pc);
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer offer: ${errorMessage(error)}`);
    }
    this.assertOpenOrRelease(pc);
    this.rejectedSections = rejected;
    this.candidates.noteRemoteDescription(sdp);
    this.bindTransceivers(pc);
    await this.flushEarlyCandidates();
    this.emit('negotiated');
    return this.publicSdp(pc.localDescription!.sdp);
  }

  /** How many times the peer restarted ICE on this endpoint. */
  get iceRestartCount(): number {
    return this.iceRestarts;
  }

  /**
   * A subsequent offer on the negotiated transport. With a new ice-ufrag/ice-pwd it is an
   * ICE restart (RFC 8445 9): the answer carries new local credentials, candidates are
   * gathered again (emitted as 'iceCandidate' at once, gathering having been asked for
   * already) and checked against the peer's new ones. DTLS is not renegotiated (RFC
   * 8842: same fingerprint, same association), so the SRTP contexts, the fast path and
   * forwarding carry on; the fast path sends on whichever pair ICE selects. An offer
   * that changes the media sections or the certificate is refused (INVALID_SDP) and
   * changes nothing.
   */
  private async processReoffer(offer: string): Promise<string> {
    if (this.withoutTransport) throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated (every media section was rejected)');
    if (this.own) return this.reofferOnOwnTransport(this.own, offer);
    const pc = this.pc;
    if (!pc || this.transportReleased) throw new MediaError('INVALID_STATE', 'the transport of this endpoint is closed (ICE failed); negotiate a new endpoint');
    if (this.renegotiating || pc.signalingState !== 'stable') throw new MediaError('INVALID_STATE', 'a negotiation is already in progress on this endpoint');
    const { sdp, rejected } = this.usableSections(offer);
    if (sdp === undefined) throw new MediaError('INVALID_SDP', 'the new offer has no section this endpoint can use');
    const restart = checkReoffer(pc.remoteDescription?.sdp ?? '', sdp);
    this.renegotiating = true;
    try {
      if (restart) {
        // werift restarts the ICE agent when the remote credentials change: a fresh
        // 'connected' (and gathering) will follow for the new generation.
        this.iceConnectedOnce = false;
        this.candidates.restartLocal();
        this.iceRestarts++;
      }
      await pc.setRemoteDescription({ type: 'offer', sdp: this.candidates.remoteSdpForAgent(sdp) });
      for (const t of pc.getTransceivers()) {
        if (t.kind === 'audio' || t.kind === 'video') t.setDirection(this.direction);
      }
      applyDtlsPreferences(pc, true);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
    } catch (error) {
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer the new offer: ${errorMessage(error)}`);
    } finally {
      this.renegotiating = false;
    }
    this.assertOpen();
    this.rejectedSections = rejected;
    this.candidates.noteRemoteDescription(sdp);
    if (restart) startRestartedChecks(pc);
    await this.flushEarlyCandidates();
    return this.publicSdp(pc.localDescription!.sdp);
  }

  /**
   * The sections of `offer` to negotiate, and the ones to answer with port 0. Throws
   * SdpError when the offer is malformed (or, without option rejectUnusableMedia, when
   * it is not a WebRTC offer with a codec in common).
   */
  private usableSections(offer: string): { sdp: string | undefined; rejected: RejectedSection[] } {
    if (this.options.rejectUnusableMedia) {
      validateSdpSyntax(offer);
      return withoutUnusableSections(offer, this.dataChannelsEnabled);
    }
    validateRemoteSdp(offer);
    return this.dataChannelsEnabled ? { sdp: offer, rejected: [] } : withoutDataSections(offer);
  }

  /** Kurento's answer to an offer of which nothing is usable: every section rejected, no transport. */
  private rejectWholeOffer(offer: string, rejected: RejectedSection[]): string {
    const address = this.getAnnouncedAddress() ?? this.localAddresses[0] ?? '0.0.0.0';
    const answer = rejectingAnswer(rejected, `${Date.now()}`, address);
    this.withoutTransport = { local: answer, remote: offer };
    this.negotiated = true;
    this.emit('negotiated');
    return answer;
  }

  /**
   * Makes an offer for the peer to answer with processAnswer(), of `kinds` (default:
   * option offerKinds, or both).
   */
  async generateOffer(options: { kinds?: readonly MediaKind[] } = {}): Promise<string> {
    this.assertOpen();
    if (this.negotiated || this.pc || this.own) throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated');
    const kinds = options.kinds ?? this.options.offerKinds ?? MEDIA_KINDS;
    if (kinds.length === 0 && !this.dataChannelsEnabled) throw new MediaError('INVALID_ARGUMENT', 'an offer needs audio, video or data channels');
    const own = await this.openOwnTransport(true);
    if (own) {
      let offer: string;
      try {
        offer = own.transport.createOffer({ kinds });
      } catch (error) {
        this.discardOwnTransport();
        throw error instanceof MediaError ? error : new MediaError('INVALID_STATE', `cannot create offer: ${errorMessage(error)}`);
      }
      this.ownDescriptions = { local: offer, remote: '' };
      return this.publicSdp(offer);
    }
    await this.openSockets();
    const pc = this.createPeerConnection();
    try {
      for (const kind of kinds) pc.addTransceiver(kind, { direction: this.direction });
      // werift offers an application section only once it has an SCTP transport; make
      // one without opening a channel the peer would see.
      if (this.dataChannelsEnabled) (pc as unknown as { createSctpTransport(): unknown }).createSctpTransport();
      applyDtlsPreferences(pc, false);
      const offer = await pc.createOffer();
      disableImplicitStun(pc, this.iceServers());
      followRenomination(pc);
      await pc.setLocalDescription(offer);
    } catch (error) {
      this.discardPeerConnection(pc);
      throw new MediaError('INVALID_STATE', `cannot create offer: ${errorMessage(error)}`);
    }
    this.assertOpenOrRelease(pc);
    this.pc = pc;
    return this.publicSdp(pc.localDescription!.sdp);
  }

  async processAnswer(answer: string): Promise<void> {
    this.assertOpen();
    if (this.own) return this.answeredOnOwnTransport(this.own, answer);
    const pc = this.pc;
    if (!pc || this.negotiated || pc.signalingState !== 'have-local-offer') {
      throw new MediaError('INVALID_STATE', 'processAnswer() needs an offer from generateOffer() first');
    }
    if (this.options.rejectUnusableMedia) {
      validateSdpSyntax(answer);
      if (rejectsEverything(answer)) {
        // As Kurento takes such an answer: negotiated, without media; the transport is let go.
        this.withoutTransport = { local: this.publicSdp(pc.localDescription!.sdp), remote: answer };
        this.negotiated = true;
        this.discardPeerConnection(pc);
        this.emit('negotiated');
        return;
      }
    }
    validateRemoteSdp(answer);
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: this.candidates.remoteSdpForAgent(answer) });
    } catch (error) {
      throw new MediaError('INVALID_SDP', `cannot apply answer: ${errorMessage(error)}`);
    }
    this.candidates.noteRemoteDescription(answer);
    this.bindTransceivers(pc);
    await this.flushEarlyCandidates();
    this.emit('negotiated');
  }

  // --- trickle ICE ----------------------------------------------------------------

  /** Starts emitting local candidates as 'iceCandidate' events (Kurento semantics). */
  async gatherCandidates(): Promise<void> {
    this.assertOpen();
    if (!this.candidates.start()) return;
    if (this.pc?.remoteDescription || (this.own && this.negotiated)) await this.flushEarlyCandidates();
  }

  /** Adds a remote candidate. An empty candidate string ends the remote candidates. */
  async addIceCandidate(init: IceCandidateInit): Promise<void> {
    this.assertOpen();
    if (!this.candidates.accepts(init)) return;
    if (this.own) return this.addCandidateOnOwnTransport(this.own, init);
    const pc = this.pc;
    if (!pc || !pc.remoteDescription || !this.candidates.gathering) {
      // Trickled candidates often overtake the offer; and as in Kurento, ICE starts
      // only once gatherCandidates() is called. Keep them until then.
      this.candidates.hold(init);
      return;
    }
    if (this.transportReleased) return;
    if (!this.candidates.ofCurrentGeneration(init)) return;
    const sdpMLineIndex = negotiatedIndex(init, this.rejectedSections);
    if (sdpMLineIndex === null) return;
    try {
      await pc.addIceCandidate({
        candidate: init.candidate,
        sdpMid: init.sdpMid ?? undefined,
        sdpMLineIndex,
      });
    } catch (error) {
      throw new MediaError('INVALID_CANDIDATE', `cannot add ICE candidate: ${errorMessage(error)}`);
    }
  }

  private async flushEarlyCandidates(): Promise<void> {
    if (!this.candidates.gathering) return;
    for (const c of this.candidates.takeHeld()) {
      await this.addIceCandidate(c).catch(() => undefined);
    }
  }

  // --- data channels ----------------------------------------------------------------

  /**
   * Opens a data channel to the peer; 'dataChannelOpen' reports its id once the peer
   * accepts it. Needs data channels negotiated (option useDataChannels).
   */
  createDataChannel(label = '', options: DataChannelOptions = {}): void {
    this.assertOpen();
    if (!this.dataChannelsEnabled) throw new MediaError('INVALID_STATE', 'this endpoint was created without useDataChannels');
    const pc = this.pc;
    if (!pc?.sctp) throw new MediaError('INVALID_STATE', 'no data channel transport: negotiate an SDP with an application section first');
    this.dataChannels.create(pc, label, options);
  }

  /** Closes the open data channel `channelId`; an unknown id is INVALID_ARGUMENT. */
  closeDataChannel(channelId: number): void {
    this.assertOpen();
    this.dataChannels.close(channelId);
  }

  /**
   * Sends what this endpoint's peer sends on its data channels to `sink`'s peer, on the
   * channel with the same label (or the sink's first open channel). A sink takes data
   * from one source: connecting another replaces it.
   */
  connectData(sink: WebRtcEndpoint): void {
    this.assertOpen();
    if (sink.closed) throw new MediaError('OBJECT_CLOSED', `sink ${sink.id} is closed`);
    if (!this.dataChannelsEnabled || !sink.dataChannelsEnabled) {
      throw new MediaError('INVALID_ARGUMENT', 'data connects only endpoints created with useDataChannels');
    }
    sink.dataSource?.dataSinks.delete(sink);
    sink.dataSource = this;
    this.dataSinks.add(sink);
  }

  disconnectData(sink: WebRtcEndpoint): void {
    if (sink.dataSource !== this) return;
    sink.dataSource = undefined;
    this.dataSinks.delete(sink);
  }

  /** The endpoints this one sends data to. */
  getDataSinks(): WebRtcEndpoint[] {
    return [...this.dataSinks];
  }

  getDataSource(): WebRtcEndpoint | undefined {
    return this.dataSource;
  }

  private forwardData(label: string, data: string | Buffer): void {
    for (const sink of this.dataSinks) sink.dataChannels.send(label, data);
  }

  // --- statistics and media ---------------------------------------------------------

  getStats(): WebRtcEndpointStats {
    return {
      iceState: this.iceState,
      dtlsState: this.dtlsState,
      connectionState: this.connectionState,
      audio: this.own ? this.own.kindStats('audio') : this.media.kindStats('audio'),
      video: this.own ? this.own.kindStats('video') : this.media.kindStats('video'),
      remoteCandidatesIgnored: this.candidates.remoteCandidatesIgnored,
      invalidPackets: this.own ? ownInvalidPackets(this.own) : this.media.invalidPackets,
      data: this.dataChannels.getStats(),
    };
  }

  /**
   * Counters of Roundtable's own RTP/RTCP path (datagrams in and out, SRTP drops),
   * while it carries this endpoint's media; undefined before DTLS is up, with config
   * fastPath false, or once the transport closed.
   */
  getFastPathStats(): FastPathStats | undefined {
    if (this.own) {
      // The own transport is Roundtable's path from socket to socket: its counters.
      const srtp = this.transportReleased ? undefined : this.own.transport.getSrtpStats();
      if (!srtp) return undefined;
      const t = this.own.transport.getStats();
      return { rtpIn: t.rtpIn, rtcpIn: t.rtcpIn, rtpOut: t.rtpOut, rtcpOut: t.rtcpOut, ...srtp };
    }
    return this.media.getFastPathStats();
  }

  /** The stream this endpoint currently receives for `kind`. */
  getInboundStream(kind: MediaKind): InboundStream | undefined {
    if (this.own) return this.own.inboundStream(kind);
    return this.media.getInboundStream(kind);
  }

  getOutboundStream(kind: MediaKind): OutboundStream | undefined {
    return this.media.getOutboundStream(kind);
  }

  /** Single-port mode: the shared UDP port this endpoint's ICE is on, while it holds it. */
  get sharedUdpPort(): number | undefined {
    if (this.own) return this.transportReleased ? undefined : this.own.port;
    return this.sockets.sharedUdpPort;
  }

  /** UDP ports reserved for this endpoint's ICE sockets, if any (port-range mode, or a TURN client's). */
  get reservedPorts(): [number, number] | undefined {
    return this.sockets.reservedPorts;
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.own) {
      if (this.closed || this.transportReleased) return;
      this.lastIn[stream.kind] = now;
      this.own.acceptRtp(stream, packet, now);
      this.lastOut[stream.kind] = now;
      return;
    }
    const out = this.media.getOutboundStream(stream.kind);
    // Until DTLS is up nothing can be sent: leave the stream untouched, so that the
    // first packet that does go out starts cleanly (on a keyframe).
    if (!out || this.closed || this.dtlsState !== 'connected') return;
    this.lastIn[stream.kind] = now;
    out.forward(stream, packet, now);
    this.lastOut[stream.kind] = now;
  }

  override requestKeyframe(kind: MediaKind): void {
    if (this.own) this.own.requestKeyframe(kind);
    else this.media.requestKeyframe(kind);
  }

  protected override onSourceDisconnected(kind: MediaKind): void {
    this.own?.sourceDisconnected(kind);
    this.media.getOutboundStream(kind)?.detach();
  }

  protected onClose(): void {
    this.disconnectAll();
    this.dataSource?.disconnectData(this);
    for (const sink of [...this.dataSinks]) this.disconnectData(sink);
    this.dataChannels.closeAll();
    this.releaseTransport();
  }

  // --- the engine's own transport (config endpointTransport 'own') ---------------------

  /** The own transport for this endpoint, when the config asks for it and it can serve it; undefined: werift. */
  private async openOwnTransport(offering: boolean): Promise<EndpointTransport | undefined> {
    const config = this.pipeline.config;
    const port = singleUdpPort(config);
    // Not built on it yet: several ICE addresses, TURN (relayed candidates), port-range mode, data channels.
    if (endpointTransportOf(config) !== 'own' || port === undefined || this.dataChannelsEnabled || this.localAddresses.length !== 1 || hasTurnServer(this.iceServers())) return undefined;
    const own = await EndpointTransport.open(config, this.localAddresses[0]!, port, { announcedAddress: this.getAnnouncedAddress(), direction: this.direction, offering, acceptsRemoteAddress: (ip) => this.candidates.acceptsAddress(ip) }, {
      received: (kind, stream, packet, now) => {
        this.lastIn[kind] = now;
        this.emitRtp(stream, packet, now);
      },
      requestSourceKeyframe: (kind) => this.requestInputKeyframe(kind),
      iceState: (state) => this.onOwnIceState(state),
      dtlsState: (state) => this.onOwnDtlsState(state),
      tuple: (address, port) => this.onOwnTuple(address, port),
    });
    if (this.closed || this.pc || this.own) {
      own.close();
      this.assertOpen();
      throw new MediaError('INVALID_STATE', 'a negotiation is already in progress on this endpoint');
    }
    this.own = own;
    return own;
  }

  private discardOwnTransport(): void {
    this.own?.close();
    this.own = undefined;
    this.ownDescriptions = undefined;
  }

  private async answerOnOwnTransport(own: EndpointTransport, sdp: string, rejected: RejectedSection[]): Promise<string> {
    let answer: string;
    try {
      answer = own.transport.processOffer(this.candidates.remoteSdpForAgent(sdp));
    } catch (error) {
      this.discardOwnTransport();
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer offer: ${errorMessage(error)}`);
    }
    this.rejectedSections = rejected;
    this.candidates.noteRemoteDescription(sdp);
    this.ownDescriptions = { local: answer, remote: sdp };
    this.negotiatedOnOwnTransport(own);
    await this.flushEarlyCandidates();
    this.emit('negotiated');
    return this.publicSdp(answer);
  }

  private async reofferOnOwnTransport(own: EndpointTransport, offer: string): Promise<string> {
    if (this.transportReleased) throw new MediaError('INVALID_STATE', 'the transport of this endpoint is closed (ICE failed); negotiate a new endpoint');
    if (this.renegotiating || !this.ownDescriptions?.remote) throw new MediaError('INVALID_STATE', 'a negotiation is already in progress on this endpoint');
    const { sdp, rejected } = this.usableSections(offer);
    if (sdp === undefined) throw new MediaError('INVALID_SDP', 'the new offer has no section this endpoint can use');
    const restart = checkReoffer(this.ownDescriptions.remote, sdp);
    // An ICE restart: our answer carries new credentials (applied only once the offer is taken), and a new host candidate follows.
    if (restart) own.transport.restartIce();
    let answer: string;
    try {
      answer = own.transport.processOffer(this.candidates.remoteSdpForAgent(sdp));
    } catch (error) {
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer the new offer: ${errorMessage(error)}`);
    }
    if (restart) {
      this.iceRestarts++;
      this.candidates.restartLocal();
      this.candidates.local({ candidate: own.hostCandidate(this.getAnnouncedAddress()), sdpMid: this.ownCandidateMid?.mid ?? '0', sdpMLineIndex: this.ownCandidateMid?.index ?? 0 });
      this.gatherOwnReflexive(own);
    }
    this.rejectedSections = rejected;
    this.candidates.noteRemoteDescription(sdp);
    this.ownDescriptions = { local: answer, remote: sdp };
    own.negotiated();
    await this.flushEarlyCandidates();
    return this.publicSdp(answer);
  }

  private async answeredOnOwnTransport(own: EndpointTransport, answer: string): Promise<void> {
    const descriptions = this.ownDescriptions;
    if (!descriptions || this.negotiated || descriptions.remote !== '') {
      throw new MediaError('INVALID_STATE', 'processAnswer() needs an offer from generateOffer() first');
    }
    if (this.options.rejectUnusableMedia) {
      validateSdpSyntax(answer);
      if (rejectsEverything(answer)) {
        this.withoutTransport = { local: this.publicSdp(descriptions.local), remote: answer };
        this.negotiated = true;
        this.discardOwnTransport();
        this.emit('negotiated');
        return;
      }
    }
    validateRemoteSdp(answer);
    try {
      own.transport.processAnswer(this.candidates.remoteSdpForAgent(answer));
    } catch (error) {
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot apply answer: ${errorMessage(error)}`);
    }
    descriptions.remote = answer;
    this.candidates.noteRemoteDescription(answer);
    this.negotiatedOnOwnTransport(own);
    await this.flushEarlyCandidates();
    this.emit('negotiated');
  }

  /** The first negotiation is done: media may go out, the host candidate is held for gatherCandidates(), checks are awaited. */
  private negotiatedOnOwnTransport(own: EndpointTransport): void {
    this.negotiated = true;
    own.negotiated();
    if (!this.ownCandidateAnnounced && this.ownDescriptions) {
      this.ownCandidateAnnounced = true;
      const local = this.publicSdp(this.ownDescriptions.local);
      const mids = [...local.matchAll(/^a=mid:(\S+)/gm)].map((m) => m[1]!);
      const bundled = /^a=group:BUNDLE (\S+)/m.exec(local)?.[1] ?? mids[0] ?? '0';
      this.ownCandidateMid = { mid: bundled, index: Math.max(0, mids.indexOf(bundled)) };
      this.candidates.local({ candidate: own.hostCandidate(this.getAnnouncedAddress()), sdpMid: bundled, sdpMLineIndex: this.ownCandidateMid.index });
      this.gatherOwnReflexive(own);
    }
    if (this.ownIce === 'new') this.setIceState('checking');
    this.setConnectionState('connecting');
  }

  /**
   * After the host candidate: the server-reflexive one of the shared port when a STUN
   * server is configured (asked through the shared socket), then the end of gathering
   * of this generation; at once without one.
   */
  private gatherOwnReflexive(own: EndpointTransport): void {
    const server = firstStunServer(this.iceServers());
    if (!server) {
      this.candidates.localComplete();
      return;
    }
    const generation = ++this.ownGeneration;
    void own.serverReflexiveCandidate(server).then(
      (candidate) => {
        if (this.own !== own || this.closed || generation !== this.ownGeneration) return;
        if (candidate) this.candidates.local({ candidate, sdpMid: this.ownCandidateMid?.mid ?? '0', sdpMLineIndex: this.ownCandidateMid?.index ?? 0 });
        this.candidates.localComplete();
      },
      () => undefined,
    );
  }

  private async addCandidateOnOwnTransport(own: EndpointTransport, init: IceCandidateInit): Promise<void> {
    if (!this.negotiated || !this.candidates.gathering) {
      // As on werift: held until the description is in and gatherCandidates() was called.
      this.candidates.hold(init);
      return;
    }
    if (this.transportReleased || !this.candidates.ofCurrentGeneration(init)) return;
    if (negotiatedIndex(init, this.rejectedSections) === null) return;
    try {
      own.transport.addRemoteCandidate(init.candidate);
    } catch {
      // Well-formed (accepts() checked) but not one the transport checks (TCP, another component): not needed.
    }
  }

  private onOwnIceState(state: TransportIceState): void {
    this.ownIce = state;
    if (state === 'closed' || this.transportReleased) return;
    this.setIceState(state === 'connected' ? 'connected' : state);
    this.updateOwnConnectionState();
  }

  private onOwnDtlsState(state: TransportDtlsState): void {
    if (this.transportReleased) return;
    this.dtlsState = state;
    this.emit('dtlsStateChange', state);
    if (state === 'connected') {
      this.requestKeyframe('video');
      this.getSourceConnections('video')[0]?.source.requestKeyframe('video');
    }
    this.updateOwnConnectionState();
  }

  private updateOwnConnectionState(): void {
    if (this.ownIce === 'failed' || this.dtlsState === 'failed') {
      this.setConnectionState('failed');
      // The peer is gone (consent expired, RFC 7675): give the port back, as on werift.
      this.releaseTransport();
    } else if (this.ownIce === 'connected' && this.dtlsState === 'connected') {
      this.setConnectionState('connected');
    }
  }

  private onOwnTuple(address: string, port: number): void {
    const own = this.own;
    if (!own) return;
    const selected: SelectedCandidatePair = {
      localCandidate: own.hostCandidate(this.getAnnouncedAddress()),
      remoteCandidate: `candidate:1 1 udp 2130706431 ${address} ${port} typ prflx`,
    };
    if (this.selectedPair?.remoteCandidate === selected.remoteCandidate) return;
    this.selectedPair = selected;
    this.emit('candidatePairSelected', selected);
  }

  private setIceState(state: IceState): void {
    if (this.iceState === state) return;
    this.iceState = state;
    this.emit('iceStateChange', state);
  }

  private setConnectionState(state: ConnectionState): void {
    if (this.connectionState === state || this.transportReleased) return;
    this.connectionState = state;
    this.emit('connectionStateChange', state);
  }

  // --- the peer connection ------------------------------------------------------------

  private iceServers(): IceServerConfig[] {
    return this.options.iceServers ?? this.pipeline.config.iceServers;
  }

  private async openSockets(): Promise<void> {
    await this.sockets.open();
    this.assertOpen();
  }

  private createPeerConnection(): RTCPeerConnection {
    if (this.pc) throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated');
    const iceServers = this.iceServers();
    const pc = createPeerConnection({
      iceServers,
      portRange: this.sockets.reserveFor(iceServers),
      localAddresses: this.localAddresses,
      bindAddress: this.bindAddress,
      acceptsAddress: (address) => this.candidates.acceptsAddress(address),
    });
    const muxes = this.sockets.muxes;
    if (muxes) {
      try {
        useUdpMux(pc, muxes, (agent) => this.sockets.addAgent(agent));
      } catch (error) {
        void pc.close().catch(() => undefined);
        this.sockets.release();
        throw error;
      }
    }
    this.pc = pc;
    if (this.dataChannelsEnabled) this.dataChannels.attach(pc);
    pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate) return;
      this.candidates.local({
        candidate: announceCandidate(candidate.candidate, this.getAnnouncedAddress()),
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
      });
    });
    pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') this.candidates.localComplete();
    });
    pc.iceConnectionStateChange.subscribe((state) => {
      // werift reports 'completed' when local gathering ends, before any check: that
      // is not a connection.
      if (state === 'completed' && !this.iceConnectedOnce) return;
      if (state === 'connected') this.iceConnectedOnce = true;
      if (state === 'connected' || state === 'completed') this.noteSelectedPair(pc);
      this.iceState = state;
      this.emit('iceStateChange', state);
    });
    pc.connectionStateChange.subscribe((state) => {
      if (this.pc !== pc || this.transportReleased) return;
      this.connectionState = state;
      this.emit('connectionStateChange', state);
      // The peer is gone (consent expired, RFC 7675): give the sockets back.
      if (state === 'failed') this.releaseTransport();
    });
    return pc;
  }

  private bindTransceivers(pc: RTCPeerConnection): void {
    this.negotiated = true;
    this.media.bind(pc);
    const dtls = pc.dtlsTransports[0];
    dtls?.onStateChange.subscribe((state) => {
      this.media.onDtlsState(dtls, state, this.transportReleased);
      this.dtlsState = state;
      this.emit('dtlsStateChange', state);
      if (state === 'connected') {
        // Our own source may be waited for by sinks, and our sink side can now send:
        // ask both directions for a keyframe.
        this.requestKeyframe('video');
        this.getSourceConnections('video')[0]?.source.requestKeyframe('video');
      }
    });
    this.media.startRtcp(this.pipeline.config.rtcpIntervalMs);
  }

  private noteSelectedPair(pc: RTCPeerConnection): void {
    const pair = pc.iceTransports[0]?.connection.nominated;
    if (!pair) return;
    const local = pair.protocol.localCandidate;
    const remote = pair.remoteCandidate;
    if (!local) return;
    const selected: SelectedCandidatePair = {
      localCandidate: announceCandidate(`candidate:${local.toSdp()}`, this.getAnnouncedAddress()),
      remoteCandidate: `candidate:${remote.toSdp()}`,
    };
    if (this.selectedPair?.localCandidate === selected.localCandidate && this.selectedPair.remoteCandidate === selected.remoteCandidate) return;
    this.selectedPair = selected;
    this.emit('candidatePairSelected', selected);
  }

  private assertConfigurable(what: string): void {
    this.assertOpen();
    if (this.pc || this.own) throw new MediaError('INVALID_STATE', `${what} can only be set before negotiation`);
  }

  private discardPeerConnection(pc: RTCPeerConnection): void {
    if (this.pc === pc) this.pc = undefined;
    void pc.close().catch(() => undefined);
    this.sockets.release();
    this.candidates.discardLocal();
  }

  private assertOpenOrRelease(pc: RTCPeerConnection): void {
    if (this.closed) {
      void pc.close().catch(() => undefined);
      throw new MediaError('OBJECT_CLOSED', `WebRtcEndpoint ${this.id} was closed during negotiation`);
    }
  }

  private publicSdp(sdp: string): string {
    const announced = this.getAnnouncedAddress();
    const gathering = this.candidates.gathering;
    // Candidates reach the peer through gatherCandidates() and 'iceCandidate' events
    // (Kurento's trickle model), not inside the SDP before gathering was asked for.
    let mapped = mapCandidateLines(sdp, (line) => (gathering ? announceCandidate(line, announced) : null));
    if (!gathering) mapped = mapped.replace(/^a=end-of-candidates\r?\n/gm, '');
    if (announced) mapped = mapped.replace(/^c=IN IP4 \S+/gm, `c=IN IP4 ${announced}`);
    return withRejectedSections(mapped, this.rejectedSections);
  }

  private releaseTransport(): void {
    this.transportReleased = true;
    this.own?.close();
    this.media.close();
    const pc = this.pc;
    if (pc) void pc.close().catch(() => undefined);
    this.sockets.release();
  }
}

/** What the werift path counts as invalid, on the own transport: garbage, malformed DTLS records, (S)RTP failing authentication. */
function ownInvalidPackets(own: EndpointTransport): number {
  const s = own.transport.getStats();
  return s.droppedDtls + s.droppedSrtp + s.droppedOther;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
