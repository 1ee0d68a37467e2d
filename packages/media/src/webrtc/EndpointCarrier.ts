import type { RtpPacket } from 'werift';
import type { IceServerConfig, MediaConfig } from '../config.js';
import type { KindStats } from '../core/endpointTypes.js';
import { MediaError } from '../core/errors.js';
import type { Engine } from '../core/Engine.js';
import type { PortAllocator } from '../core/PortAllocator.js';
import type { MediaKind } from '../core/types.js';
import type { MuxAddress } from '../net/UdpMux.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import { firstStunServer } from '../transport/serverReflexive.js';
import { turnServersOf } from '../transport/TurnClient.js';
import type { TransportDtlsState, TransportIceState } from '../transport/WebRtcTransport.js';
import type { CandidateExchange } from './CandidateExchange.js';
import type { DataChannelOptions, DataChannels } from './DataChannels.js';
import { EndpointMux } from './EndpointMux.js';
import { EndpointTransport } from './EndpointTransport.js';
import type { ConnectionState, Direction, DtlsState, FastPathStats, IceCandidateInit, IceState, SelectedCandidatePair } from './types.js';

/** What an EndpointCarrier reads of its WebRtcEndpoint and tells it. */
export interface CarrierHost {
  /** The endpoint's id (for errors). */
  readonly id: string;
  readonly config: MediaConfig;
  /** The engine of the endpoint's pipeline: its sockets and certificate. */
  readonly engine: Engine;
  readonly ports: PortAllocator;
  /** The ICE addresses (host candidates). */
  readonly localAddresses: readonly string[];
  readonly direction: Direction;
  readonly candidates: CandidateExchange;
  /** The endpoint's data channels, when it negotiates them (option useDataChannels). */
  readonly dataChannels: DataChannels | undefined;
  iceServers(): IceServerConfig[];
  announcedAddress(): string | undefined;
  /** The cap on the REMB sent to the peer for its video, kbit/s (undefined: none). */
  maxVideoRecvBandwidth(): number | undefined;
  /** `sdp` as the peer is given it (Kurento's trickle model, the rejected sections). */
  publicSdp(sdp: string): string;
  /** The carrier the endpoint negotiates on now. */
  carrier(): EndpointCarrier | undefined;
  isClosed(): boolean;
  /** OBJECT_CLOSED once the endpoint is closed. */
  assertOpen(): void;
  /** The transport was let go (ICE failed, or the endpoint closed). */
  released(): boolean;
  iceState(): IceState;
  dtlsState(): DtlsState;
  connectionState(): ConnectionState;
  selectedPair(): SelectedCandidatePair | undefined;

  /** A first offer or answer failed: the endpoint lets `carrier` go and stays usable. */
  discard(carrier: EndpointCarrier): void;
  iceStateChange(state: IceState): void;
  dtlsStateChange(state: DtlsState): void;
  connectionStateChange(state: ConnectionState): void;
  candidatePairSelected(pair: SelectedCandidatePair): void;
  /** The peer is gone (consent expired, RFC 7675): the transport is let go. */
  releaseTransport(): void;
  /** A packet of the peer's `kind` media, into the element graph. */
  received(kind: MediaKind, stream: InboundStream, packet: RtpPacket, now: number): void;
  /** The endpoint's source of `kind` is asked for a keyframe (the peer asked us for one). */
  requestSourceKeyframe(kind: MediaKind): void;
  /** The endpoint's source of `kind` is a WebRtcEndpoint connected to it directly (not through a hub port or a pass-through). */
  sourceIsEndpoint(kind: MediaKind): boolean;
}

/**
 * What carries a WebRtcEndpoint once it negotiates: one EndpointTransport (the engine's
 * own WebRtcTransport). The endpoint holds Kurento's API, states, events and SDP rules,
 * and calls these in the order Kurento's events need; the carrier applies descriptions
 * and candidates, and reports its ICE and DTLS states through its CarrierHost. Its
 * negotiation steps are synchronous, so the endpoint goes on without yielding: nothing
 * a caller does in between (a gatherCandidates() right after processAnswer(), say)
 * comes before the events that follow the step. One carrier per negotiation attempt: a
 * first offer or answer that fails discards it (CarrierHost.discard), and the next
 * attempt opens another.
 *
 * Once negotiated it announces its host candidates, one per ICE address (on the m-line
 * of the BUNDLE tag) and, with a STUN or TURN server, a server-reflexive and a relayed
 * one; the endpoint's connection state is made of the transport's ICE and DTLS states.
 */
export class EndpointCarrier {
  /** The descriptions of the negotiation (remote '' while our offer waits). */
  private descriptions: { local: string; remote: string } | undefined;
  private ice: TransportIceState = 'new';
  private isNegotiated = false;
  /** The m-line our candidates are announced on (the BUNDLE tag). */
  private candidateMid = { mid: '0', index: 0 };
  /** Gathering generations (a restart's server-reflexive candidate is not the previous one's). */
  private generation = 0;
  private restarts = 0;

  private constructor(
    private readonly own: EndpointTransport,
    private readonly host: CarrierHost,
  ) {
    const channels = host.dataChannels;
    if (channels) own.transport.on('datachannel', (channel) => channels.track(channel));
  }

  /**
   * The transport of the host's endpoint, on its sockets. INVALID_STATE when another
   * negotiation made the endpoint's carrier meanwhile.
   */
  static async open(host: CarrierHost, offering: boolean): Promise<EndpointCarrier> {
    const config = host.config;
    // The transport's states reach the carrier once it is made (none come before: nothing is negotiated yet).
    const made: { carrier?: EndpointCarrier } = {};
    const sockets = await EndpointMux.acquireEach(host.engine.sockets, config, host.ports, host.localAddresses, `WebRtcEndpoint ${host.id}`);
    const own = await EndpointTransport.open(config, sockets, { certificate: host.engine.certificate(), announcedAddress: host.announcedAddress(), direction: host.direction, offering, acceptsRemoteAddress: (ip) => host.candidates.acceptsAddress(ip), relayed: turnServersOf(host.iceServers()).length > 0, dataChannels: host.dataChannels !== undefined }, {
      received: (kind, stream, packet, now) => host.received(kind, stream, packet, now),
      requestSourceKeyframe: (kind) => host.requestSourceKeyframe(kind),
      sourceIsEndpoint: (kind) => host.sourceIsEndpoint(kind),
      maxVideoRecvBandwidth: () => host.maxVideoRecvBandwidth(),
      iceState: (state) => made.carrier?.onIceState(state),
      dtlsState: (state) => made.carrier?.onDtlsState(state),
      tuple: (address, port, local) => made.carrier?.onTuple(address, port, local),
    });
    const carrier = new EndpointCarrier(own, host);
    made.carrier = carrier;
    if (host.isClosed() || host.carrier()) {
      carrier.close();
      host.assertOpen();
      throw new MediaError('INVALID_STATE', 'a negotiation is already in progress on this endpoint');
    }
    return carrier;
  }

  /** Our description (as the transport wrote it: publicSdp() makes it Kurento's), once there is one. */
  get localDescription(): string | undefined {
    return this.descriptions?.local;
  }

  /** The peer's description as given, once applied. */
  get remoteDescription(): string | undefined {
    return this.descriptions?.remote || undefined;
  }

  /** The peer's description, '' while our offer waits: what a re-offer is checked against. */
  get appliedRemoteDescription(): string {
    return this.descriptions?.remote ?? '';
  }

  /** An exchange is under way on it: our offer waits for its answer, or a re-offer is being answered. */
  get negotiating(): boolean {
    return !this.descriptions?.remote;
  }

  /** Our offer waits for the peer's answer (processAnswer). */
  get awaitsAnswer(): boolean {
    return this.descriptions?.remote === '';
  }

  /** Remote candidates can be given to it (the peer's description is in). */
  get takesCandidates(): boolean {
    return this.isNegotiated;
  }

  /** How many times the peer restarted ICE on it. */
  get iceRestarts(): number {
    return this.restarts;
  }

  /** Answers the peer's first offer (its usable sections). On error it was discarded (CarrierHost.discard). */
  answerOffer(offer: string): void {
    let answer: string;
    try {
      answer = this.own.transport.processOffer(this.host.candidates.remoteSdpForAgent(offer));
    } catch (error) {
      this.host.discard(this);
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer offer: ${errorMessage(error)}`);
    }
    this.descriptions = { local: answer, remote: offer };
  }

  /** Answers a later offer on the negotiated transport, restarting ICE when `restart`. */
  answerReoffer(offer: string, restart: boolean): void {
    // An ICE restart: our answer carries new credentials (applied only once the offer is taken), and new host candidates follow.
    if (restart) this.own.transport.restartIce();
    let answer: string;
    try {
      answer = this.own.transport.processOffer(this.host.candidates.remoteSdpForAgent(offer));
    } catch (error) {
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer the new offer: ${errorMessage(error)}`);
    }
    if (restart) {
      this.restarts++;
      this.host.candidates.restartLocal();
      this.announceHostCandidates();
      this.gatherReflexive();
    }
    this.descriptions = { local: answer, remote: offer };
  }

  /** Makes our offer of `kinds`. On error as answerOffer(). */
  makeOffer(kinds: readonly MediaKind[]): void {
    let offer: string;
    try {
      offer = this.own.transport.createOffer({ kinds });
    } catch (error) {
      this.host.discard(this);
      throw error instanceof MediaError ? error : new MediaError('INVALID_STATE', `cannot create offer: ${errorMessage(error)}`);
    }
    this.descriptions = { local: offer, remote: '' };
  }

  /** Applies the peer's answer to our offer. */
  takeAnswer(answer: string): void {
    try {
      this.own.transport.processAnswer(this.host.candidates.remoteSdpForAgent(answer));
    } catch (error) {
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot apply answer: ${errorMessage(error)}`);
    }
    this.descriptions!.remote = answer;
  }

  /**
   * The first negotiation is done (the endpoint noted the remote description): media may
   * go out, the host candidates are held for gatherCandidates(), checks are awaited.
   */
  negotiated(): void {
    this.isNegotiated = true;
    this.own.negotiated();
    const local = this.host.publicSdp(this.descriptions!.local);
    const mids = [...local.matchAll(/^a=mid:(\S+)/gm)].map((m) => m[1]!);
    const bundled = /^a=group:BUNDLE (\S+)/m.exec(local)?.[1] ?? mids[0] ?? '0';
    this.candidateMid = { mid: bundled, index: Math.max(0, mids.indexOf(bundled)) };
    this.announceHostCandidates();
    this.gatherReflexive();
    if (this.ice === 'new') this.setIceState('checking');
    this.setConnectionState('connecting');
  }

  /** A re-offer's answer is done (the endpoint noted the remote description). */
  renegotiated(): void {
    this.own.negotiated();
  }

  /** A remote candidate (the transport checks the peer's candidates of every m-line: BUNDLE). */
  addCandidate(init: IceCandidateInit): void {
    try {
      this.own.transport.addRemoteCandidate(init.candidate);
    } catch {
      // Well-formed (accepts() checked) but not one the transport checks (TCP, another component): not needed.
    }
  }

  /** Opens a data channel; false when there is no data channel transport. */
  openDataChannel(label: string, options: DataChannelOptions): boolean {
    const channels = this.host.dataChannels;
    const transport = this.own.transport;
    if (!channels || this.host.released() || !transport.carriesDataChannels) return false;
    channels.create(label, options, (name, valid) => transport.createDataChannel({ label: name, ...valid }));
    return true;
  }

  kindStats(kind: MediaKind): KindStats {
    return this.own.kindStats(kind);
  }

  /**
   * Datagrams dropped on the media port (EndpointStats.invalidPackets): garbage, malformed
   * DTLS records, (S)RTP failing authentication; in port-range mode also what the
   * endpoint's own socket dropped before the transport (from strangers).
   */
  get invalidPackets(): number {
    const s = this.own.transport.getStats();
    return s.droppedDtls + s.droppedSrtp + s.droppedOther + this.own.socketDrops;
  }

  /** The transport's counters of Roundtable's path from socket to socket; undefined before DTLS is up and once let go. */
  fastPathStats(): FastPathStats | undefined {
    const srtp = this.host.released() ? undefined : this.own.transport.getSrtpStats();
    if (!srtp) return undefined;
    const t = this.own.transport.getStats();
    return { rtpIn: t.rtpIn, rtcpIn: t.rtcpIn, rtpOut: t.rtpOut, rtcpOut: t.rtcpOut, ...srtp };
  }

  inboundStream(kind: MediaKind): InboundStream | undefined {
    return this.own.inboundStream(kind);
  }

  outboundSsrc(kind: MediaKind): number | undefined {
    return this.own.outboundSsrc(kind);
  }

  get sharedUdpPort(): number | undefined {
    return this.own.sharedPort;
  }

  /** Port-range mode: the endpoint's one port (RTP and RTCP muxed, media BUNDLEd), while held. */
  get reservedPorts(): [number, number] | undefined {
    const port = this.own.reservedPort;
    return port === undefined ? undefined : [port, port];
  }

  /** True when a packet from the endpoint's source can go to the peer now. */
  canForward(): boolean {
    return !this.host.released();
  }

  /** A packet from the endpoint's source, to the peer. */
  forward(stream: InboundStream, packet: RtpPacket, now: number): void {
    this.own.acceptRtp(stream, packet, now);
  }

  /** Asks the peer for a keyframe of what it sends of `kind`. */
  requestKeyframe(kind: MediaKind): void {
    this.own.requestKeyframe(kind);
  }

  /** The endpoint's source of `kind` went. */
  sourceDisconnected(kind: MediaKind): void {
    this.own.sourceDisconnected(kind);
  }

  /** Lets the transport go: sockets, ports, timers. Idempotent. */
  close(): void {
    this.own.close();
  }

  private announceHostCandidates(): void {
    for (const candidate of this.own.hostCandidates(this.host.announcedAddress())) this.host.candidates.local({ candidate, sdpMid: this.candidateMid.mid, sdpMLineIndex: this.candidateMid.index });
  }

  /**
   * After the host candidates: the server-reflexive one of the first address's port when
   * a STUN server is configured (asked through its socket) and the relayed one when a
   * TURN server is (`turn:` over UDP: an allocation of the endpoint's own), then the end
   * of gathering of this generation; at once without either.
   */
  private gatherReflexive(): void {
    const servers = this.host.iceServers();
    const stun = firstStunServer(servers);
    const turn = turnServersOf(servers)[0];
    if (!stun && !turn) {
      this.host.candidates.localComplete();
      return;
    }
    const generation = ++this.generation;
    const current = (): boolean => this.host.carrier() === this && !this.host.isClosed() && generation === this.generation;
    const announce = (candidate: string | undefined): void => {
      if (candidate && current()) this.host.candidates.local({ candidate, sdpMid: this.candidateMid.mid, sdpMLineIndex: this.candidateMid.index });
    };
    void Promise.all([stun && this.own.serverReflexiveCandidate(stun).then(announce), turn && this.own.relayedCandidate(turn).then(announce)]).then(
      () => {
        if (current()) this.host.candidates.localComplete();
      },
      () => undefined,
    );
  }

  private onIceState(state: TransportIceState): void {
    this.ice = state;
    if (state === 'closed' || this.host.released()) return;
    this.setIceState(state === 'connected' ? 'connected' : state);
    this.updateConnectionState();
  }

  private onDtlsState(state: TransportDtlsState): void {
    if (this.host.released()) return;
    this.host.dtlsStateChange(state);
    this.updateConnectionState();
  }

  private updateConnectionState(): void {
    const dtls = this.host.dtlsState();
    if (this.ice === 'failed' || dtls === 'failed') {
      this.setConnectionState('failed');
      // The peer is gone (consent expired, RFC 7675): give the port back.
      this.host.releaseTransport();
    } else if (this.ice === 'connected' && dtls === 'connected') {
      this.setConnectionState('connected');
    }
  }

  private onTuple(address: string, port: number, local: MuxAddress): void {
    if (this.host.carrier() !== this) return;
    const selected = {
      localCandidate: this.own.localCandidate(local, this.host.announcedAddress()),
      remoteCandidate: `candidate:1 1 udp 2130706431 ${address} ${port} typ prflx`,
    };
    const previous = this.host.selectedPair();
    if (previous?.remoteCandidate === selected.remoteCandidate && previous.localCandidate === selected.localCandidate) return;
    this.host.candidatePairSelected(selected);
  }

  private setIceState(state: IceState): void {
    if (this.host.iceState() !== state) this.host.iceStateChange(state);
  }

  private setConnectionState(state: ConnectionState): void {
    if (this.host.connectionState() !== state && !this.host.released()) this.host.connectionStateChange(state);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
