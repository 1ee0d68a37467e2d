import {
  ReceiverEstimatedMaxBitrate,
  RtcpPayloadSpecificFeedback,
  RTCPeerConnection,
  RTP_EXTENSION_URI,
  serializeAbsSendTime,
  serializeSdesMid,
  useAbsSendTime,
  useFIR,
  useH264,
  useNACK,
  useOPUS,
  usePLI,
  useREMB,
  useSdesMid,
  useVP8,
  type Extension,
  type MediaStreamTrack,
  type RtcpPacket,
  type RtpHeader,
  type RtpPacket,
  type RTCDtlsTransport,
  type RTCRtpTransceiver,
} from 'werift';
import { isIP, isIPv4 } from 'node:net';
import { hostAddresses, singleUdpPort, type IceServerConfig } from '../config.js';
import { UdpMux } from '../net/UdpMux.js';
import { MediaError } from '../core/errors.js';
import { MediaElement, type MediaElementEvents } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { MEDIA_KINDS, type CodecInfo, type MediaKind } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { kindStats } from '../rtp/kindStats.js';
import { OutboundStream, type RtpTransport } from '../rtp/OutboundStream.js';
import { DataChannels, type DataChannelOptions, type DataChannelStats } from './DataChannels.js';
import { FastPath, type ExtensionLayout, type FastPathStats } from './FastPath.js';
import {
  announceCandidate,
  mapCandidateLines,
  parseCandidate,
  remoteCandidateFilter,
  rejectingAnswer,
  rejectsEverything,
  validateRemoteSdp,
  validateSdpSyntax,
  withoutDataSections,
  withoutUnusableSections,
  withRejectedSections,
  type ParsedCandidate,
  type RejectedSection,
} from './sdp.js';
import { candidateUfrag, checkReoffer, sessionShape, startRestartedChecks } from './renegotiation.js';
import { applyDtlsPreferences } from './dtlsPreferences.js';
import { followRenomination } from './renomination.js';
import { useUdpMux, type MuxedIceAgent } from './iceMux.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly';
export type IceState = 'new' | 'checking' | 'connected' | 'completed' | 'disconnected' | 'failed' | 'closed';
export type DtlsState = 'new' | 'connecting' | 'connected' | 'closed' | 'failed';
export type ConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface WebRtcEndpointOptions {
  /** What this endpoint does with media: 'sendrecv' (default), 'sendonly' or 'recvonly'. */
  direction?: Direction;
  /** Media kinds negotiated when this endpoint makes the offer. Default both. */
  offerKinds?: MediaKind[];
  /** STUN/TURN servers for this endpoint only. Default: the pipeline's. */
  iceServers?: IceServerConfig[];
  /** Public address announced for this endpoint only. Default: the pipeline's. */
  announcedAddress?: string;
  /**
   * Cap on the bandwidth estimate sent back to this endpoint's video source, kbit/s.
   * Default: none (the lowest estimate of the current sinks is passed on as is).
   */
  maxVideoRecvBandwidth?: number;
  /**
   * Negotiate WebRTC data channels (SCTP): accept the offer's application section, and
   * include one in generateOffer(). Default false: the application section is answered
   * with port 0 (rejected).
   */
  useDataChannels?: boolean;
  /**
   * Answer as Kurento's WebRtcEndpoint does: the offer's sections this endpoint cannot
   * use (plain RTP/AVP without ICE credentials or DTLS fingerprint, no codec Roundtable
   * forwards, other media) are answered with port 0, and an offer of which nothing is
   * usable gets an answer that rejects every section (no transport, no media) instead
   * of an error. Default false: such offers fail with INVALID_SDP / NO_COMMON_CODEC.
   */
  rejectUnusableMedia?: boolean;
}

/** The ICE candidate pair in use. */
export interface SelectedCandidatePair {
  localCandidate: string;
  remoteCandidate: string;
}

export interface WebRtcEndpointEvents extends MediaElementEvents {
  /** A local candidate, emitted once gatherCandidates() has been called. */
  iceCandidate: [candidate: IceCandidateInit];
  iceGatheringDone: [];
  /** gatherCandidates() was called: candidates are on their way. */
  iceGatheringStarted: [];
  /** ICE selected (or changed) the candidate pair media flows on. */
  candidatePairSelected: [pair: SelectedCandidatePair];
  iceStateChange: [state: IceState];
  dtlsStateChange: [state: DtlsState];
  connectionStateChange: [state: ConnectionState];
  /** The first offer was answered (processOffer) or the answer to ours applied (processAnswer). */
  negotiated: [];
  /** A data channel opened by either side is open. */
  dataChannelOpen: [channelId: number];
  /** A data channel that was open is closing or closed. */
  dataChannelClose: [channelId: number];
}

export interface KindStats {
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  packetsSent: number;
  bytesSent: number;
  nacksReceived: number;
  retransmitted: number;
  plisReceived: number;
  firsReceived: number;
  keyframeRequestsSent: number;
  roundTripTime: number | undefined;
  fractionLostReported: number | undefined;
  codecMismatches: number;
}

export interface EndpointStats {
  iceState: IceState;
  dtlsState: DtlsState;
  connectionState: ConnectionState;
  audio: KindStats;
  video: KindStats;
  /** Remote candidates ignored (unreachable from the configured addresses). */
  remoteCandidatesIgnored: number;
  /** Datagrams dropped on the media port: garbage, or (S)RTP failing authentication. */
  invalidPackets: number;
}

export interface WebRtcEndpointStats extends EndpointStats {
  /** Data channels: messages received from the peer and sent to it. */
  data: DataChannelStats;
}

const CODECS = {
  audio: [useOPUS()],
  video: [
    useVP8({ rtcpFeedback: [useNACK(), usePLI(), useFIR(), useREMB()] }),
    useH264({ rtcpFeedback: [useNACK(), usePLI(), useFIR(), useREMB()] }),
  ],
};
const HEADER_EXTENSIONS = {
  audio: [useSdesMid()],
  video: [useSdesMid(), useAbsSendTime()],
};

/**
 * A WebRTC transport negotiated by SDP (offer from the peer or from us), with trickle
 * ICE both ways, over werift's ICE and DTLS. Media it receives enters the graph as
 * InboundStreams; media from its source goes out through one OutboundStream per kind.
 */
export class WebRtcEndpoint extends MediaElement<WebRtcEndpointEvents> {
  protected readonly forwardsInput = false;
  private readonly pipeline: MediaPipeline;
  private readonly options: WebRtcEndpointOptions;
  private selectedPair: SelectedCandidatePair | undefined;
  private readonly localAddresses: string[];
  private readonly bindAddress: string | undefined;
  private readonly acceptRemote: (candidate: ParsedCandidate) => boolean;
  private pc: RTCPeerConnection | undefined;
  private portBlock: { start: number; count: number } | undefined;
  /** Single-port mode: the shared sockets (one per ICE address) this endpoint holds, and its agents on them. */
  private muxes: Map<string, UdpMux> | undefined;
  private readonly muxedAgents: MuxedIceAgent[] = [];
  private readonly transceivers = new Map<MediaKind, RTCRtpTransceiver>();
  private readonly inbound = new Map<number, InboundStream>();
  private readonly currentInbound = new Map<MediaKind, InboundStream>();
  private readonly outbound = new Map<MediaKind, OutboundStream>();
  private readonly pendingCandidates: IceCandidateInit[] = [];
  private readonly earlyRemoteCandidates: IceCandidateInit[] = [];
  private transportReleased = false;
  private gathering = false;
  private gatheringDone = false;
  private gatheringAnnounced = false;
  private iceConnectedOnce = false;
  private negotiated = false;
  /** A subsequent offer is being answered. */
  private renegotiating = false;
  /** The peer's current ICE ufrag, and the ones it used before (their candidates are stale). */
  private remoteUfrag: string | undefined;
  private readonly oldRemoteUfrags = new Set<string>();
  private iceRestarts = 0;
  private remoteCandidatesIgnored = 0;
  private invalidPackets = 0;
  private keyframeRequestsSent = { audio: 0, video: 0 };
  private rtcpTimer: NodeJS.Timeout | undefined;
  /** Roundtable's own RTP/RTCP path, once DTLS is up (config fastPath). */
  private fastPath: FastPath | undefined;
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
    this.acceptRemote = remoteCandidateFilter(this.localAddresses);
    const configured = pipeline.config.iceAddresses ?? [];
    this.bindAddress = configured.length === 1 && isIPv4(configured[0]!) ? configured[0] : undefined;
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
    const sdp = this.pc?.localDescription?.sdp;
    return sdp ? this.publicSdp(sdp) : undefined;
  }

  getRemoteSessionDescriptor(): string | undefined {
    if (this.withoutTransport) return this.withoutTransport.remote;
    return this.pc?.remoteDescription?.sdp;
  }

  /** True once an offer/answer exchange has started; transport settings are then fixed. */
  get negotiationStarted(): boolean {
    return this.pc !== undefined || this.withoutTransport !== undefined;
  }

  /** Sets this endpoint's STUN/TURN servers; only before negotiation. */
  setIceServers(servers: IceServerConfig[]): void {
    this.assertConfigurable('ICE servers');
    this.options.iceServers = servers.map((s) => ({ ...s }));
  }

  getIceServers(): IceServerConfig[] {
    return (this.options.iceServers ?? this.pipeline.config.iceServers).map((s) => ({ ...s }));
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

  /**
   * Answers the peer's offer. On any error nothing is changed and the endpoint stays
   * usable. A later offer from the same peer (same media sections, same DTLS
   * certificate) is answered too: with new ICE credentials it restarts ICE (see
   * processReoffer).
   */
  async processOffer(offer: string): Promise<string> {
    this.assertOpen();
    if (this.negotiated) return this.processReoffer(offer);
    if (this.pc) throw new MediaError('INVALID_STATE', 'this endpoint made an offer: it takes an answer (processAnswer), not an offer');
    const { sdp, rejected } = this.usableSections(offer);
    if (sdp === undefined) return this.rejectWholeOffer(offer, rejected);
    await this.openMuxes();
    const pc = this.createPeerConnection();
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: this.filterRemoteSdp(sdp) });
      for (const t of pc.getTransceivers()) {
        if (t.kind === 'audio' || t.kind === 'video') t.setDirection(this.direction);
      }
      applyDtlsPreferences(pc, true);
      const answer = await pc.createAnswer();
      this.disableImplicitStun(pc);
      followRenomination(pc);
      await pc.setLocalDescription(answer);
    } catch (error) {
      this.discardPeerConnection(pc);
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer offer: ${errorMessage(error)}`);
    }
    this.assertOpenOrRelease(pc);
    this.rejectedSections = rejected;
    this.noteRemoteUfrag(sdp);
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
        this.gatheringDone = false;
        this.iceRestarts++;
      }
      await pc.setRemoteDescription({ type: 'offer', sdp: this.filterRemoteSdp(sdp) });
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
    this.noteRemoteUfrag(sdp);
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
    if (this.negotiated || this.pc) throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated');
    const kinds = options.kinds ?? this.options.offerKinds ?? MEDIA_KINDS;
    if (kinds.length === 0 && !this.dataChannelsEnabled) throw new MediaError('INVALID_ARGUMENT', 'an offer needs audio, video or data channels');
    await this.openMuxes();
    const pc = this.createPeerConnection();
    try {
      for (const kind of kinds) pc.addTransceiver(kind, { direction: this.direction });
      // werift offers an application section only once it has an SCTP transport; make
      // one without opening a channel the peer would see.
      if (this.dataChannelsEnabled) (pc as unknown as { createSctpTransport(): unknown }).createSctpTransport();
      applyDtlsPreferences(pc, false);
      const offer = await pc.createOffer();
      this.disableImplicitStun(pc);
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
      await pc.setRemoteDescription({ type: 'answer', sdp: this.filterRemoteSdp(answer) });
    } catch (error) {
      throw new MediaError('INVALID_SDP', `cannot apply answer: ${errorMessage(error)}`);
    }
    this.noteRemoteUfrag(answer);
    this.bindTransceivers(pc);
    await this.flushEarlyCandidates();
    this.emit('negotiated');
  }

  /** Starts emitting local candidates as 'iceCandidate' events (Kurento semantics). */
  async gatherCandidates(): Promise<void> {
    this.assertOpen();
    if (this.gathering) return;
    this.gathering = true;
    for (const c of this.pendingCandidates.splice(0)) this.emitCandidate(c);
    if (this.gatheringDone) this.finishGathering();
    if (this.pc?.remoteDescription) await this.flushEarlyCandidates();
  }

  /** Adds a remote candidate. An empty candidate string ends the remote candidates. */
  async addIceCandidate(init: IceCandidateInit): Promise<void> {
    this.assertOpen();
    if (!init || typeof init.candidate !== 'string') {
      throw new MediaError('INVALID_CANDIDATE', 'candidate must be an object with a candidate string');
    }
    if (init.candidate === '') return;
    const parsed = parseCandidate(init.candidate);
    if (!parsed) throw new MediaError('INVALID_CANDIDATE', `malformed ICE candidate '${init.candidate.slice(0, 80)}'`);
    if (!this.acceptRemote(parsed)) {
      this.remoteCandidatesIgnored++;
      return;
    }
    const pc = this.pc;
    if (!pc || !pc.remoteDescription || !this.gathering) {
      // Trickled candidates often overtake the offer; and as in Kurento, ICE starts
      // only once gatherCandidates() is called. Keep them until then.
      this.earlyRemoteCandidates.push(init);
      return;
    }
    if (this.transportReleased) return;
    const ufrag = candidateUfrag(init.candidate);
    if (ufrag !== undefined && ufrag !== this.remoteUfrag) {
      // A candidate of a generation the peer left behind is of no use; one of a new
      // generation overtook its offer (an ICE restart): keep it until the offer is in.
      if (!this.oldRemoteUfrags.has(ufrag)) this.earlyRemoteCandidates.push(init);
      return;
    }
    const sdpMLineIndex = this.negotiatedIndex(init);
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

  /**
   * The index, among the sections negotiated, of the section a remote candidate names
   * by its index in the peer's offer (rejected sections are not negotiated); null when
   * it names a rejected section.
   */
  private negotiatedIndex(init: IceCandidateInit): number | undefined | null {
    const rejected = this.rejectedSections;
    if (init.sdpMid != null && rejected.some((r) => r.mid === init.sdpMid)) return null;
    const index = init.sdpMLineIndex ?? undefined;
    if (index === undefined || rejected.length === 0) return index;
    if (rejected.some((r) => r.index === index)) return init.sdpMid != null ? undefined : null;
    return index - rejected.filter((r) => r.index < index).length;
  }

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

  getStats(): WebRtcEndpointStats {
    const kind = (k: MediaKind): KindStats => kindStats(k, this.inbound.values(), this.outbound.get(k)?.stats, this.keyframeRequestsSent[k]);
    return {
      iceState: this.iceState,
      dtlsState: this.dtlsState,
      connectionState: this.connectionState,
      audio: kind('audio'),
      video: kind('video'),
      remoteCandidatesIgnored: this.remoteCandidatesIgnored,
      invalidPackets: this.invalidPackets,
      data: this.dataChannels.getStats(),
    };
  }

  /**
   * Counters of Roundtable's own RTP/RTCP path (datagrams in and out, SRTP drops),
   * while it carries this endpoint's media; undefined before DTLS is up, with config
   * fastPath false, or once the transport closed.
   */
  getFastPathStats(): FastPathStats | undefined {
    return this.fastPath?.getStats();
  }

  /** The stream this endpoint currently receives for `kind`. */
  getInboundStream(kind: MediaKind): InboundStream | undefined {
    return this.currentInbound.get(kind);
  }

  getOutboundStream(kind: MediaKind): OutboundStream | undefined {
    return this.outbound.get(kind);
  }

  /** Single-port mode: the shared UDP port this endpoint's ICE is on, while it holds it. */
  get sharedUdpPort(): number | undefined {
    for (const mux of this.muxes?.values() ?? []) return mux.port;
    return undefined;
  }

  /** UDP ports reserved for this endpoint's ICE sockets, if any (port-range mode, or a TURN client's). */
  get reservedPorts(): [number, number] | undefined {
    return this.portBlock ? [this.portBlock.start, this.portBlock.start + this.portBlock.count - 1] : undefined;
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    const out = this.outbound.get(stream.kind);
    // Until DTLS is up nothing can be sent: leave the stream untouched, so that the
    // first packet that does go out starts cleanly (on a keyframe).
    if (!out || this.closed || this.dtlsState !== 'connected') return;
    this.lastIn[stream.kind] = now;
    out.forward(stream, packet, now);
    this.lastOut[stream.kind] = now;
  }

  override requestKeyframe(kind: MediaKind): void {
    this.currentInbound.get(kind)?.requestKeyframe();
  }

  protected override onSourceDisconnected(kind: MediaKind): void {
    this.outbound.get(kind)?.detach();
  }

  protected onClose(): void {
    this.disconnectAll();
    this.dataSource?.disconnectData(this);
    for (const sink of [...this.dataSinks]) this.disconnectData(sink);
    this.dataChannels.closeAll();
    this.releaseTransport();
  }

  // --- internals ---------------------------------------------------------------

  private createPeerConnection(): RTCPeerConnection {
    if (this.pc) throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated');
    const iceServers = this.options.iceServers ?? this.pipeline.config.iceServers;
    const muxes = this.muxes;
    // Port-range mode: one port per host address, plus slack (werift probes the block in
    // order and skips ports another process holds). Single-port mode: host candidates
    // are on the shared port; only a TURN client still needs a socket of its own.
    const needsPorts = !muxes || iceServers.some((s) => [s.urls].flat().some((u) => u.startsWith('turn')));
    if (needsPorts) {
      const count = muxes ? 2 : this.localAddresses.length + 3;
      const start = this.pipeline.ports.reserve(count);
      this.portBlock = { start, count };
    }
    const block = this.portBlock;
    const pc = new RTCPeerConnection({
      codecs: CODECS,
      headerExtensions: HEADER_EXTENSIONS,
      iceServers: iceServers.map((s) => ({ ...s })),
      icePortRange: block ? [block.start, block.start + block.count] : undefined,
      iceUseIpv4: false,
      iceUseIpv6: false,
      iceAdditionalHostAddresses: this.localAddresses,
      // With one configured IPv4 address, bind to it rather than to the wildcard, so
      // the media socket is reachable on that address only.
      iceInterfaceAddresses: this.bindAddress ? { udp4: this.bindAddress } : undefined,
      bundlePolicy: 'max-bundle',
      // Never answer or probe addresses outside what the remote filter accepts
      // (peer-reflexive checks from other local interfaces, for one).
      iceFilterStunResponse: (_message, addr) => this.acceptRemoteAddress(addr[0]),
      iceFilterCandidatePair: (pair) => this.acceptRemoteAddress(pair.remoteCandidate.host),
    });
    if (muxes) {
      try {
        useUdpMux(pc, muxes, (agent) => this.muxedAgents.push(agent));
      } catch (error) {
        void pc.close().catch(() => undefined);
        this.releasePorts();
        throw error;
      }
    }
    this.pc = pc;
    if (this.dataChannelsEnabled) this.dataChannels.attach(pc);
    pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate) return;
      const init: IceCandidateInit = {
        candidate: announceCandidate(candidate.candidate, this.getAnnouncedAddress()),
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
      };
      if (this.gathering) this.emitCandidate(init);
      else this.pendingCandidates.push(init);
    });
    pc.iceGatheringStateChange.subscribe((state) => {
      if (state !== 'complete' || this.gatheringDone) return;
      this.gatheringDone = true;
      if (this.gathering) this.finishGathering();
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

  /**
   * werift asks a public STUN server for a reflexive candidate whenever none is
   * configured; the media server must not contact anything its operator did not name.
   */
  private disableImplicitStun(pc: RTCPeerConnection): void {
    const servers = this.options.iceServers ?? this.pipeline.config.iceServers;
    const hasStun = servers.some((s) => [s.urls].flat().some((u) => u.startsWith('stun:')));
    if (hasStun) return;
    for (const transport of pc.iceTransports) {
      (transport.connection as { stunServer?: unknown }).stunServer = undefined;
    }
  }

  private noteRemoteUfrag(sdp: string): void {
    const ufrag = sessionShape(sdp).ufrag;
    if (this.remoteUfrag !== undefined && this.remoteUfrag !== ufrag) this.oldRemoteUfrags.add(this.remoteUfrag);
    this.remoteUfrag = ufrag;
  }

  private async flushEarlyCandidates(): Promise<void> {
    if (!this.gathering) return;
    for (const c of this.earlyRemoteCandidates.splice(0)) {
      await this.addIceCandidate(c).catch(() => undefined);
    }
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
    if (this.pc) throw new MediaError('INVALID_STATE', `${what} can only be set before negotiation`);
  }

  /** Kurento's order: the first candidate, then the GATHERING state, ... then done. */
  private emitCandidate(candidate: IceCandidateInit): void {
    this.emit('iceCandidate', candidate);
    this.announceGathering();
  }

  private finishGathering(): void {
    this.announceGathering();
    this.emit('iceGatheringDone');
  }

  private announceGathering(): void {
    if (this.gatheringAnnounced) return;
    this.gatheringAnnounced = true;
    this.emit('iceGatheringStarted');
  }

  private acceptRemoteAddress(address: string): boolean {
    return this.acceptRemote({ foundation: '', component: 1, protocol: 'udp', priority: 0, address, port: 0, type: 'prflx' });
  }

  private discardPeerConnection(pc: RTCPeerConnection): void {
    if (this.pc === pc) this.pc = undefined;
    void pc.close().catch(() => undefined);
    this.releasePorts();
    this.pendingCandidates.length = 0;
    this.gatheringDone = false;
  }

  private assertOpenOrRelease(pc: RTCPeerConnection): void {
    if (this.closed) {
      void pc.close().catch(() => undefined);
      throw new MediaError('OBJECT_CLOSED', `WebRtcEndpoint ${this.id} was closed during negotiation`);
    }
  }

  private filterRemoteSdp(sdp: string): string {
    return mapCandidateLines(sdp, (line) => {
      const parsed = parseCandidate(line);
      if (parsed && this.acceptRemote(parsed)) return line;
      this.remoteCandidatesIgnored++;
      return null;
    });
  }

  private publicSdp(sdp: string): string {
    const announced = this.getAnnouncedAddress();
    // Candidates reach the peer through gatherCandidates() and 'iceCandidate' events
    // (Kurento's trickle model), not inside the SDP before gathering was asked for.
    let mapped = mapCandidateLines(sdp, (line) => (this.gathering ? announceCandidate(line, announced) : null));
    if (!this.gathering) mapped = mapped.replace(/^a=end-of-candidates\r?\n/gm, '');
    if (announced) mapped = mapped.replace(/^c=IN IP4 \S+/gm, `c=IN IP4 ${announced}`);
    return withRejectedSections(mapped, this.rejectedSections);
  }

  private forwardData(label: string, data: string | Buffer): void {
    for (const sink of this.dataSinks) sink.dataChannels.send(label, data);
  }

  private bindTransceivers(pc: RTCPeerConnection): void {
    this.negotiated = true;
    for (const t of pc.getTransceivers()) {
      const kind = t.kind;
      if ((kind !== 'audio' && kind !== 'video') || this.transceivers.has(kind)) continue;
      this.transceivers.set(kind, t);
      const dir = t.currentDirection ?? t.direction;
      if (dir === 'sendrecv' || dir === 'recvonly') {
        // werift announces remote tracks during setRemoteDescription: take the ones
        // already there, and any that come later.
        const bound = new Set<MediaStreamTrack>();
        const bind = (track: MediaStreamTrack): void => {
          if (bound.has(track)) return;
          bound.add(track);
          track.onReceiveRtp.subscribe((packet) => this.onRemoteRtp(kind, t, packet));
        };
        for (const track of t.receiver.tracks) bind(track);
        t.onTrack.subscribe(bind);
      }
      if (dir === 'sendrecv' || dir === 'sendonly') {
        const out = new OutboundStream(kind, t.sender.ssrc, t.codecs.map(toCodecInfo), this.transportFor(t), this.extensionWriter(t));
        this.outbound.set(kind, out);
        t.sender.onRtcp.subscribe((packet) => out.handleRtcp(packet));
      }
    }
    const dtls = pc.dtlsTransports[0];
    if (dtls) {
      this.countInvalidDatagrams(dtls);
      // werift routes FIR by the wrong SSRC field: pick it up here by its FCI entries.
      dtls.onRtcp.subscribe((packet) => {
        if (packet.type !== 206 || packet.feedback.count !== 4 || !('fir' in packet.feedback)) return;
        for (const entry of packet.feedback.fir) {
          for (const out of this.outbound.values()) if (out.ssrc === entry.ssrc) out.handleRtcp(packet);
        }
      });
      dtls.onStateChange.subscribe((state) => {
        if (state === 'connected' && this.pipeline.config.fastPath && !this.fastPath && !this.transportReleased) {
          // Before anything below sends RTCP: from here on one SRTCP context sends it all.
          this.fastPath = FastPath.start(dtls, { invalid: () => this.invalidPackets++ });
        } else if (state !== 'connected') {
          this.fastPath?.close();
          this.fastPath = undefined;
        }
        this.dtlsState = state;
        this.emit('dtlsStateChange', state);
        if (state === 'connected') {
          // Our own source may be waited for by sinks, and our sink side can now send:
          // ask both directions for a keyframe.
          this.requestKeyframe('video');
          this.getSourceConnections('video')[0]?.source.requestKeyframe('video');
        }
      });
    }
    this.rtcpTimer = setInterval(() => this.sendPeriodicRtcp(), this.pipeline.config.rtcpIntervalMs);
    this.rtcpTimer.unref();
  }

  /**
   * Anything on the media port that is neither STUN, DTLS nor (S)RTP, and (S)RTP that
   * fails authentication, is dropped by werift; count it so operators can see it.
   */
  private countInvalidDatagrams(dtls: RTCDtlsTransport): void {
    let wrapped: object | undefined;
    const wrap = (session: { decrypt: (buf: Buffer) => Buffer }): void => {
      const decrypt = session.decrypt;
      session.decrypt = (buf: Buffer): Buffer => {
        try {
          return decrypt(buf);
        } catch (error) {
          this.invalidPackets++;
          throw error;
        }
      };
    };
    dtls.iceTransport.connection.onData.subscribe((data: Buffer) => {
      const first = data[0];
      const dtlsRange = first !== undefined && first >= 20 && first <= 63;
      const rtpRange = first !== undefined && first >= 128 && first <= 191;
      if (!dtlsRange && !rtpRange) {
        this.invalidPackets++;
        return;
      }
      if (rtpRange && (data.length < 12 || !dtls.srtpStarted)) {
        this.invalidPackets++;
        return;
      }
      if (dtls.srtpStarted && wrapped !== dtls.srtp) {
        wrapped = dtls.srtp;
        wrap(dtls.srtp);
        wrap(dtls.srtcp);
      }
    });
  }

  private transportFor(t: RTCRtpTransceiver): RtpTransport {
    const layout = this.extensionLayout(t);
    return {
      forwardRtp: (packet, payloadType, seq, timestamp, ssrc) =>
        this.fastPath?.forwardRtp(packet, payloadType, seq, timestamp, ssrc, layout) ?? false,
      sendRtp: (payload: Buffer, header: RtpHeader) => {
        const dtls = t.sender.dtlsTransport;
        if (dtls?.state !== 'connected') return;
        dtls.sendRtp(payload, header).catch(() => undefined);
      },
      sendRtcp: (packets: RtcpPacket[]) => {
        const dtls = t.sender.dtlsTransport;
        if (dtls?.state !== 'connected') return;
        dtls.sendRtcp(packets).catch(() => undefined);
      },
    };
  }

  private extensionLayout(t: RTCRtpTransceiver): ExtensionLayout {
    const mid = t.headerExtensions.find((e) => e.uri === RTP_EXTENSION_URI.sdesMid);
    const abs = t.headerExtensions.find((e) => e.uri === RTP_EXTENSION_URI.absSendTime);
    const midValue = t.mid;
    const layout: ExtensionLayout = {};
    // One-byte extension elements (RFC 8285) hold ids 1-14 and 1-16 bytes.
    if (mid && midValue && mid.id >= 1 && mid.id <= 14 && midValue.length >= 1 && midValue.length <= 16) {
      layout.midId = mid.id;
      layout.mid = Buffer.from(midValue, 'utf8');
    }
    if (abs && abs.id >= 1 && abs.id <= 14) layout.absSendTimeId = abs.id;
    return layout;
  }

  private extensionWriter(t: RTCRtpTransceiver): () => Extension[] {
    const mid = t.headerExtensions.find((e) => e.uri === RTP_EXTENSION_URI.sdesMid);
    const abs = t.headerExtensions.find((e) => e.uri === RTP_EXTENSION_URI.absSendTime);
    const midValue = t.mid;
    const midPayload = mid && midValue ? serializeSdesMid(midValue) : undefined;
    return () => {
      const list: Extension[] = [];
      if (mid && midPayload) list.push({ id: mid.id, payload: midPayload });
      if (abs) list.push({ id: abs.id, payload: serializeAbsSendTime(ntpTimeNow()) });
      return list;
    };
  }

  private onRemoteRtp(kind: MediaKind, t: RTCRtpTransceiver, packet: RtpPacket): void {
    if (this.closed) return;
    const now = performance.now();
    const ssrc = packet.header.ssrc;
    let stream = this.inbound.get(ssrc);
    const codec = t.codecs.find((c) => c.payloadType === packet.header.payloadType);
    if (!codec) return;
    if (!stream) {
      stream = new InboundStream(kind, ssrc, toCodecInfo(codec), () => this.sendKeyframeRequest(t, kind, ssrc), {
        retransmissionMs: this.pipeline.config.retransmissionMs,
        keyframeIntervalMs: this.pipeline.config.keyframeIntervalMs,
      });
      this.inbound.set(ssrc, stream);
    } else if (stream.codec.payloadType !== codec.payloadType) {
      stream.codec = toCodecInfo(codec);
    }
    this.currentInbound.set(kind, stream);
    if (!stream.receive(packet, now)) return;
    this.lastIn[kind] = now;
    this.emitRtp(stream, packet, now);
  }

  private sendKeyframeRequest(t: RTCRtpTransceiver, kind: MediaKind, ssrc: number): void {
    if (!this.pc || this.dtlsState !== 'connected') return;
    this.keyframeRequestsSent[kind]++;
    // PLI: every WebRTC receiver answers it; FIR from sinks is folded into it too.
    t.receiver.sendRtcpPLI(ssrc).catch(() => undefined);
  }

  private sendPeriodicRtcp(): void {
    if (this.closed || this.dtlsState !== 'connected') return;
    for (const out of this.outbound.values()) out.sendSenderReport();
    // Pass the lowest estimate of the sinks' receivers back to the source peer.
    for (const [kind, stream] of this.currentInbound) {
      if (kind !== 'video') continue;
      const cap = this.options.maxVideoRecvBandwidth ? this.options.maxVideoRecvBandwidth * 1000 : undefined;
      const fromSinks = stream.minSubscriberBitrate();
      const bitrate = fromSinks === undefined ? cap : cap === undefined ? fromSinks : Math.min(fromSinks, cap);
      const t = this.transceivers.get(kind);
      if (bitrate === undefined || !t) continue;
      t.receiver.dtlsTransport.sendRtcp([rembPacket(t.receiver.rtcpSsrc, stream.ssrc, bitrate)]).catch(() => undefined);
    }
  }

  private releaseTransport(): void {
    this.transportReleased = true;
    this.fastPath?.close();
    this.fastPath = undefined;
    if (this.rtcpTimer) clearInterval(this.rtcpTimer);
    this.rtcpTimer = undefined;
    for (const s of this.inbound.values()) s.close();
    for (const o of this.outbound.values()) o.detach();
    const pc = this.pc;
    if (pc) void pc.close().catch(() => undefined);
    this.releasePorts();
  }

  private releasePorts(): void {
    if (this.portBlock) this.pipeline.ports.release(this.portBlock.start, this.portBlock.count);
    this.portBlock = undefined;
    for (const agent of this.muxedAgents.splice(0)) agent.close();
    const muxes = this.muxes;
    this.muxes = undefined;
    for (const mux of muxes?.values() ?? []) mux.release();
  }

  /**
   * Single-port mode: joins (or binds, for the first endpoint of the process) the shared
   * socket of every ICE address. A port that cannot be bound fails the negotiation here
   * with an error naming it.
   */
  private async openMuxes(): Promise<void> {
    const port = singleUdpPort(this.pipeline.config);
    if (port === undefined || this.muxes) return;
    const muxes = new Map<string, UdpMux>();
    try {
      for (const address of this.localAddresses) muxes.set(address, await UdpMux.acquire(address, port, undefined, this.pipeline.config.packetCore));
    } catch (error) {
      for (const mux of muxes.values()) mux.release();
      throw error;
    }
    if (this.closed || this.muxes) {
      for (const mux of muxes.values()) mux.release();
      this.assertOpen();
      return;
    }
    this.muxes = muxes;
    for (const mux of muxes.values()) this.pipeline.ports.exclude(mux.port);
  }
}

function toCodecInfo(c: { mimeType: string; payloadType: number; clockRate: number; channels?: number; parameters?: string }): CodecInfo {
  return { mimeType: c.mimeType, payloadType: c.payloadType, clockRate: c.clockRate, channels: c.channels, parameters: c.parameters };
}

export function rembPacket(senderSsrc: number, mediaSsrc: number, bitrate: number): RtcpPayloadSpecificFeedback {
  let mantissa = Math.max(0, Math.floor(bitrate));
  let exp = 0;
  while (mantissa >= 1 << 18) {
    mantissa >>>= 1;
    exp++;
  }
  return new RtcpPayloadSpecificFeedback({
    feedback: new ReceiverEstimatedMaxBitrate({
      senderSsrc,
      mediaSsrc: 0,
      ssrcNum: 1,
      brExp: exp,
      brMantissa: mantissa,
      bitrate: BigInt(mantissa) << BigInt(exp),
      ssrcFeedbacks: [mediaSsrc],
    }),
  });
}

const NTP_EPOCH_OFFSET = 2208988800;
function ntpTimeNow(): bigint {
  const ms = Date.now();
  return (BigInt(Math.floor(ms / 1000) + NTP_EPOCH_OFFSET) << 32n) | BigInt(Math.floor(((ms % 1000) / 1000) * 2 ** 32));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
