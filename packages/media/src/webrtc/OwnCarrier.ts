import type { RtpPacket } from 'werift';
import { endpointTransportOf } from '../config.js';
import type { KindStats } from '../core/endpointTypes.js';
import { MediaError } from '../core/errors.js';
import type { MediaKind } from '../core/types.js';
import type { MuxAddress } from '../net/UdpMux.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import type { OutboundStream } from '../rtp/OutboundStream.js';
import { firstStunServer } from '../transport/serverReflexive.js';
import type { DataChannel } from '../transport/DataChannel.js';
import { turnServersOf } from '../transport/TurnClient.js';
import type { TransportDtlsState, TransportIceState } from '../transport/WebRtcTransport.js';
import type { CarriedDataChannel, DataChannelOptions } from './DataChannels.js';
import { errorMessage, type CarrierHost, type CarrierStep, type EndpointCarrier } from './EndpointCarrier.js';
import { EndpointMux } from './EndpointMux.js';
import { EndpointTransport } from './EndpointTransport.js';
import type { FastPathStats } from './FastPath.js';
import type { ConnectionState, IceCandidateInit, IceState } from './types.js';

/**
 * A WebRtcEndpoint carried by the engine's own transport (config endpointTransport
 * 'own'): one EndpointTransport, no werift peer connection. Its steps are synchronous.
 * Once negotiated it announces its host candidates, one per ICE address (on the m-line
 * of the BUNDLE tag) and, with a STUN server, a server-reflexive one; the endpoint's
 * connection state is made of the transport's ICE and DTLS states.
 */
export class OwnCarrier implements EndpointCarrier {
  readonly kind = 'own';
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
    if (channels) own.transport.on('datachannel', (channel) => channels.track(carried(channel)));
  }

  /**
   * The own transport for the host's endpoint, when the config asks for it and it can
   * serve the endpoint; undefined: werift. INVALID_STATE when another negotiation made
   * the endpoint's carrier meanwhile.
   */
  static async open(host: CarrierHost, offering: boolean): Promise<OwnCarrier | undefined> {
    const config = host.config;
    if (endpointTransportOf(config) !== 'own') return undefined;
    // The transport's states reach the carrier once it is made (none come before: nothing is negotiated yet).
    const made: { carrier?: OwnCarrier } = {};
    const sockets = await EndpointMux.acquireEach(host.engine.sockets, config, host.ports, host.localAddresses, `WebRtcEndpoint ${host.id}`);
    const own = await EndpointTransport.open(config, sockets, { certificate: host.engine.certificate(), announcedAddress: host.announcedAddress(), direction: host.direction, offering, acceptsRemoteAddress: (ip) => host.candidates.acceptsAddress(ip), relayed: turnServersOf(host.iceServers()).length > 0, dataChannels: host.dataChannels !== undefined }, {
      received: (kind, stream, packet, now) => host.received(kind, stream, packet, now),
      requestSourceKeyframe: (kind) => host.requestSourceKeyframe(kind),
      sourceIsEndpoint: (kind) => host.sourceIsEndpoint(kind),
      iceState: (state) => made.carrier?.onIceState(state),
      dtlsState: (state) => made.carrier?.onDtlsState(state),
      tuple: (address, port, local) => made.carrier?.onTuple(address, port, local),
    });
    const carrier = new OwnCarrier(own, host);
    made.carrier = carrier;
    if (host.isClosed() || host.carrier()) {
      carrier.close();
      host.assertOpen();
      throw new MediaError('INVALID_STATE', 'a negotiation is already in progress on this endpoint');
    }
    return carrier;
  }

  get localDescription(): string | undefined {
    return this.descriptions?.local;
  }

  get remoteDescription(): string | undefined {
    return this.descriptions?.remote || undefined;
  }

  get appliedRemoteDescription(): string {
    return this.descriptions?.remote ?? '';
  }

  get negotiating(): boolean {
    return !this.descriptions?.remote;
  }

  get awaitsAnswer(): boolean {
    return this.descriptions?.remote === '';
  }

  get takesCandidates(): boolean {
    return this.isNegotiated;
  }

  get iceRestarts(): number {
    return this.restarts;
  }

  answerOffer(offer: string): CarrierStep {
    let answer: string;
    try {
      answer = this.own.transport.processOffer(this.host.candidates.remoteSdpForAgent(offer));
    } catch (error) {
      this.host.discard(this);
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot answer offer: ${errorMessage(error)}`);
    }
    this.descriptions = { local: answer, remote: offer };
    return undefined;
  }

  answerReoffer(offer: string, restart: boolean): CarrierStep {
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
    return undefined;
  }

  makeOffer(kinds: readonly MediaKind[]): CarrierStep {
    let offer: string;
    try {
      offer = this.own.transport.createOffer({ kinds });
    } catch (error) {
      this.host.discard(this);
      throw error instanceof MediaError ? error : new MediaError('INVALID_STATE', `cannot create offer: ${errorMessage(error)}`);
    }
    this.descriptions = { local: offer, remote: '' };
    return undefined;
  }

  takeAnswer(answer: string): CarrierStep {
    try {
      this.own.transport.processAnswer(this.host.candidates.remoteSdpForAgent(answer));
    } catch (error) {
      throw error instanceof MediaError ? error : new MediaError('INVALID_SDP', `cannot apply answer: ${errorMessage(error)}`);
    }
    this.descriptions!.remote = answer;
    return undefined;
  }

  /** Media may go out, the host candidates are held for gatherCandidates(), checks are awaited. */
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

  renegotiated(): void {
    this.own.negotiated();
  }

  addCandidate(init: IceCandidateInit): CarrierStep {
    try {
      this.own.transport.addRemoteCandidate(init.candidate);
    } catch {
      // Well-formed (accepts() checked) but not one the transport checks (TCP, another component): not needed.
    }
    return undefined;
  }

  openDataChannel(label: string, options: DataChannelOptions): boolean {
    const channels = this.host.dataChannels;
    const transport = this.own.transport;
    if (!channels || this.host.released() || !transport.carriesDataChannels) return false;
    channels.create(label, options, (name, valid) => carried(transport.createDataChannel({ label: name, ...valid })));
    return true;
  }

  kindStats(kind: MediaKind): KindStats {
    return this.own.kindStats(kind);
  }

  /**
   * What the werift path counts as invalid, on the own transport: garbage, malformed DTLS
   * records, (S)RTP failing authentication; in port-range mode also what the endpoint's
   * own socket dropped before the transport (from strangers), as werift's socket counts it.
   */
  get invalidPackets(): number {
    const s = this.own.transport.getStats();
    return s.droppedDtls + s.droppedSrtp + s.droppedOther + this.own.socketDrops;
  }

  /** The own transport is Roundtable's path from socket to socket: its counters. */
  fastPathStats(): FastPathStats | undefined {
    const srtp = this.host.released() ? undefined : this.own.transport.getSrtpStats();
    if (!srtp) return undefined;
    const t = this.own.transport.getStats();
    return { rtpIn: t.rtpIn, rtcpIn: t.rtcpIn, rtpOut: t.rtpOut, rtcpOut: t.rtcpOut, ...srtp };
  }

  inboundStream(kind: MediaKind): InboundStream | undefined {
    return this.own.inboundStream(kind);
  }

  /** None: the transport's consumers send to the peer. */
  outboundStream(): OutboundStream | undefined {
    return undefined;
  }

  get sharedUdpPort(): number | undefined {
    return this.own.sharedPort;
  }

  /** Port-range mode: the endpoint's one port (RTP and RTCP muxed, media BUNDLEd), while held. */
  get reservedPorts(): [number, number] | undefined {
    const port = this.own.reservedPort;
    return port === undefined ? undefined : [port, port];
  }

  canForward(): boolean {
    return !this.host.released();
  }

  forward(stream: InboundStream, packet: RtpPacket, now: number): void {
    this.own.acceptRtp(stream, packet, now);
  }

  requestKeyframe(kind: MediaKind): void {
    this.own.requestKeyframe(kind);
  }

  sourceDisconnected(kind: MediaKind): void {
    this.own.sourceDisconnected(kind);
  }

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
      // The peer is gone (consent expired, RFC 7675): give the port back, as on werift.
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

/** A channel of the transport's SctpAssociation as DataChannels sees it. */
function carried(channel: DataChannel): CarriedDataChannel {
  return {
    get id() {
      return channel.id;
    },
    label: channel.label,
    get state() {
      return channel.state;
    },
    send: (data) => channel.send(data),
    close: () => channel.close(),
    watch: (listener) => {
      channel.on('open', () => listener.state('open'));
      channel.on('closing', () => listener.state('closing'));
      channel.on('close', () => listener.state('closed'));
      channel.on('message', (data) => listener.message(data));
    },
  };
}
