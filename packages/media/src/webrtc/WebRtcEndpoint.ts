import type { RtpPacket } from 'werift';
import { isIP } from 'node:net';
import { hostAddresses, type IceServerConfig } from '../config.js';
import type { KindStats } from '../core/endpointTypes.js';
import { MediaError } from '../core/errors.js';
import { MediaElement } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { MEDIA_KINDS, type MediaKind } from '../core/types.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import { kindStats } from '../rtp/kindStats.js';
import type { OutboundStream } from '../rtp/OutboundStream.js';
import { CandidateExchange, negotiatedIndex } from './CandidateExchange.js';
import { DataChannels, type DataChannelOptions } from './DataChannels.js';
import { EndpointCarrier, type CarrierHost } from './EndpointCarrier.js';
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
import { checkReoffer } from './renegotiation.js';
import type {
  ConnectionState,
  Direction,
  DtlsState,
  FastPathStats,
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

/**
 * Kurento's WebRtcEndpoint: a WebRTC transport negotiated by SDP (offer from the peer or
 * from us), with trickle ICE both ways. This class holds the negotiation (Kurento's API,
 * states, events and SDP rules) and the endpoint's state; what carries it once it
 * negotiates is its EndpointCarrier, on the engine's own transport (EndpointTransport).
 * Trickle ICE is CandidateExchange, data channels DataChannels.
 */
export class WebRtcEndpoint extends MediaElement<WebRtcEndpointEvents> {
  protected readonly forwardsInput = false;
  private readonly pipeline: MediaPipeline;
  private readonly options: WebRtcEndpointOptions;
  private selectedPair: SelectedCandidatePair | undefined;
  private readonly localAddresses: string[];
  private readonly candidates: CandidateExchange;
  /** What carries this endpoint once a negotiation started. */
  private carrier: EndpointCarrier | undefined;
  private readonly carrierHost: CarrierHost;
  private transportReleased = false;
  private negotiated = false;
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
    this.candidates = new CandidateExchange(remoteCandidateFilter(this.localAddresses), {
      candidate: (candidate) => this.emit('iceCandidate', candidate),
      gatheringStarted: () => this.emit('iceGatheringStarted'),
      gatheringDone: () => this.emit('iceGatheringDone'),
    });
    this.carrierHost = {
      id: this.id,
      config: pipeline.config,
      engine: pipeline.engine,
      ports: pipeline.ports,
      localAddresses: this.localAddresses,
      direction: this.direction,
      candidates: this.candidates,
      dataChannels: this.dataChannelsEnabled ? this.dataChannels : undefined,
      iceServers: () => this.iceServers(),
      maxVideoRecvBandwidth: () => this.options.maxVideoRecvBandwidth,
      announcedAddress: () => this.getAnnouncedAddress(),
      publicSdp: (sdp) => this.publicSdp(sdp),
      carrier: () => this.carrier,
      isClosed: () => this.closed,
      assertOpen: () => this.assertOpen(),
      released: () => this.transportReleased,
      iceState: () => this.iceState,
      dtlsState: () => this.dtlsState,
      connectionState: () => this.connectionState,
      selectedPair: () => this.selectedPair,
      discard: (carrier) => this.discardCarrier(carrier),
      iceStateChange: (state) => {
        this.iceState = state;
        this.emit('iceStateChange', state);
      },
      dtlsStateChange: (state) => {
        this.dtlsState = state;
        this.emit('dtlsStateChange', state);
        if (state === 'connected') {
          // Our own source may be waited for by sinks, and our sink side can now send:
          // ask both directions for a keyframe.
          this.requestKeyframe('video');
          this.getSourceConnections('video')[0]?.source.requestKeyframe('video');
        }
      },
      connectionStateChange: (state) => {
        this.connectionState = state;
        this.emit('connectionStateChange', state);
      },
      candidatePairSelected: (pair) => {
        this.selectedPair = pair;
        this.emit('candidatePairSelected', pair);
      },
      releaseTransport: () => this.releaseTransport(),
      received: (kind, stream, packet, now) => {
        this.lastIn[kind] = now;
        this.emitRtp(stream, packet, now);
      },
      requestSourceKeyframe: (kind) => this.requestInputKeyframe(kind),
      sourceIsEndpoint: (kind) => this.getSourceConnections(kind)[0]?.source instanceof WebRtcEndpoint,
    };
  }

  get direction(): Direction {
    return this.options.direction ?? 'sendrecv';
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
    const sdp = this.carrier?.localDescription;
    return sdp ? this.publicSdp(sdp) : undefined;
  }

  getRemoteSessionDescriptor(): string | undefined {
    if (this.withoutTransport) return this.withoutTransport.remote;
    return this.carrier?.remoteDescription;
  }

  /** True once an offer/answer exchange has started; transport settings are then fixed. */
  get negotiationStarted(): boolean {
    return this.carrier !== undefined || this.withoutTransport !== undefined;
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
    if (this.carrier) throw new MediaError('INVALID_STATE', 'this endpoint made an offer: it takes an answer (processAnswer), not an offer');
    const { sdp, rejected } = this.usableSections(offer);
    if (sdp === undefined) return this.rejectWholeOffer(offer, rejected);
    const carrier = await this.openCarrier(false);
    // The carrier's steps are synchronous: nothing comes between a step and what follows it.
    carrier.answerOffer(sdp);
    this.rejectedSections = rejected;
    this.candidates.noteRemoteDescription(sdp);
    this.negotiated = true;
    carrier.negotiated();
    await this.flushEarlyCandidates();
    this.emit('negotiated');
    return this.publicSdp(carrier.localDescription!);
  }

  /** How many times the peer restarted ICE on this endpoint. */
  get iceRestartCount(): number {
    return this.carrier?.iceRestarts ?? 0;
  }

  /**
   * A subsequent offer on the negotiated transport. With a new ice-ufrag/ice-pwd it is an
   * ICE restart (RFC 8445 9): the answer carries new local credentials, candidates are
   * gathered again (emitted as 'iceCandidate' at once, gathering having been asked for
   * already) and checked against the peer's new ones. DTLS is not renegotiated (RFC
   * 8842: same fingerprint, same association), so the SRTP contexts and forwarding carry
   * on, on whichever pair ICE selects. An offer that changes the media sections or the
   * certificate is refused (INVALID_SDP) and changes nothing.
   */
  private async processReoffer(offer: string): Promise<string> {
    if (this.withoutTransport) throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated (every media section was rejected)');
    const carrier = this.carrier;
    if (!carrier || this.transportReleased) throw new MediaError('INVALID_STATE', 'the transport of this endpoint is closed (ICE failed); negotiate a new endpoint');
    if (carrier.negotiating) throw new MediaError('INVALID_STATE', 'a negotiation is already in progress on this endpoint');
    const { sdp, rejected } = this.usableSections(offer);
    if (sdp === undefined) throw new MediaError('INVALID_SDP', 'the new offer has no section this endpoint can use');
    const restart = checkReoffer(carrier.appliedRemoteDescription, sdp);
    carrier.answerReoffer(sdp, restart);
    this.rejectedSections = rejected;
    this.candidates.noteRemoteDescription(sdp);
    carrier.renegotiated();
    await this.flushEarlyCandidates();
    return this.publicSdp(carrier.localDescription!);
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
    if (this.negotiated || this.carrier) throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated');
    const kinds = options.kinds ?? this.options.offerKinds ?? MEDIA_KINDS;
    if (kinds.length === 0 && !this.dataChannelsEnabled) throw new MediaError('INVALID_ARGUMENT', 'an offer needs audio, video or data channels');
    const carrier = await this.openCarrier(true);
    carrier.makeOffer(kinds);
    return this.publicSdp(carrier.localDescription!);
  }

  async processAnswer(answer: string): Promise<void> {
    this.assertOpen();
    const carrier = this.carrier;
    if (!carrier || this.negotiated || !carrier.awaitsAnswer) {
      throw new MediaError('INVALID_STATE', 'processAnswer() needs an offer from generateOffer() first');
    }
    if (this.options.rejectUnusableMedia) {
      validateSdpSyntax(answer);
      if (rejectsEverything(answer)) {
        // As Kurento takes such an answer: negotiated, without media; the transport is let go.
        this.withoutTransport = { local: this.publicSdp(carrier.localDescription!), remote: answer };
        this.negotiated = true;
        this.discardCarrier(carrier);
        this.emit('negotiated');
        return;
      }
    }
    validateRemoteSdp(answer);
    carrier.takeAnswer(answer);
    this.candidates.noteRemoteDescription(answer);
    this.negotiated = true;
    carrier.negotiated();
    await this.flushEarlyCandidates();
    this.emit('negotiated');
  }

  // --- trickle ICE ----------------------------------------------------------------

  /** Starts emitting local candidates as 'iceCandidate' events (Kurento semantics). */
  async gatherCandidates(): Promise<void> {
    this.assertOpen();
    if (!this.candidates.start()) return;
    if (this.carrier?.takesCandidates) await this.flushEarlyCandidates();
  }

  /** Adds a remote candidate. An empty candidate string ends the remote candidates. */
  async addIceCandidate(init: IceCandidateInit): Promise<void> {
    this.assertOpen();
    if (!this.candidates.accepts(init)) return;
    const carrier = this.carrier;
    if (!carrier?.takesCandidates || !this.candidates.gathering) {
      // Trickled candidates often overtake the offer; and as in Kurento, ICE starts
      // only once gatherCandidates() is called. Keep them until then.
      this.candidates.hold(init);
      return;
    }
    if (this.transportReleased || !this.candidates.ofCurrentGeneration(init)) return;
    // A candidate of a rejected section is not one the transport checks.
    if (negotiatedIndex(init, this.rejectedSections) === null) return;
    carrier.addCandidate(init);
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
    if (!this.carrier?.openDataChannel(label, options)) throw new MediaError('INVALID_STATE', 'no data channel transport: negotiate an SDP with an application section first');
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
      audio: this.kindStats('audio'),
      video: this.kindStats('video'),
      remoteCandidatesIgnored: this.candidates.remoteCandidatesIgnored,
      invalidPackets: this.carrier?.invalidPackets ?? 0,
      data: this.dataChannels.getStats(),
    };
  }

  /**
   * Counters of the endpoint's RTP/RTCP path (datagrams in and out, SRTP drops);
   * undefined before DTLS is up, or once the transport closed.
   */
  getFastPathStats(): FastPathStats | undefined {
    return this.carrier?.fastPathStats();
  }

  /** The stream this endpoint currently receives for `kind`. */
  getInboundStream(kind: MediaKind): InboundStream | undefined {
    return this.carrier?.inboundStream(kind);
  }

  /** None: the transport's consumers send to the peer (an RtpEndpoint has OutboundStreams). */
  getOutboundStream(_kind: MediaKind): OutboundStream | undefined {
    return undefined;
  }

  /** The SSRC of what this endpoint sends its peer for `kind`, if it sends any. */
  getOutboundSsrc(kind: MediaKind): number | undefined {
    return this.carrier?.outboundSsrc(kind);
  }

  /** Single-port mode: the shared UDP port this endpoint's ICE is on, while it holds it. */
  get sharedUdpPort(): number | undefined {
    return this.carrier?.sharedUdpPort;
  }

  /** UDP ports reserved for this endpoint's ICE sockets, if any (port-range mode, or a TURN client's). */
  get reservedPorts(): [number, number] | undefined {
    return this.carrier?.reservedPorts;
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    const carrier = this.carrier;
    if (!carrier || this.closed || !carrier.canForward()) return;
    this.lastIn[stream.kind] = now;
    carrier.forward(stream, packet, now);
    this.lastOut[stream.kind] = now;
  }

  override requestKeyframe(kind: MediaKind): void {
    this.carrier?.requestKeyframe(kind);
  }

  protected override onSourceDisconnected(kind: MediaKind): void {
    this.carrier?.sourceDisconnected(kind);
  }

  protected onClose(): void {
    this.disconnectAll();
    this.dataSource?.disconnectData(this);
    for (const sink of [...this.dataSinks]) this.disconnectData(sink);
    this.dataChannels.closeAll();
    this.releaseTransport();
  }

  // --- the carrier --------------------------------------------------------------------

  /** The carrier of a first negotiation. */
  private async openCarrier(offering: boolean): Promise<EndpointCarrier> {
    const carrier = await EndpointCarrier.open(this.carrierHost, offering);
    this.carrier = carrier;
    return carrier;
  }

  /** A first offer or answer that did not go through, or an answer that rejected everything: the carrier is let go. */
  private discardCarrier(carrier: EndpointCarrier): void {
    carrier.close();
    if (this.carrier === carrier) this.carrier = undefined;
    this.candidates.discardLocal();
  }

  private releaseTransport(): void {
    this.transportReleased = true;
    this.carrier?.close();
  }

  private kindStats(kind: MediaKind): KindStats {
    return this.carrier?.kindStats(kind) ?? kindStats(kind, [], undefined, 0);
  }

  private iceServers(): IceServerConfig[] {
    return this.options.iceServers ?? this.pipeline.config.iceServers;
  }

  private assertConfigurable(what: string): void {
    this.assertOpen();
    if (this.carrier) throw new MediaError('INVALID_STATE', `${what} can only be set before negotiation`);
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
}
