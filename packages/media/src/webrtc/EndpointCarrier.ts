import type { RtpPacket } from 'werift';
import type { IceServerConfig, MediaConfig } from '../config.js';
import type { KindStats } from '../core/endpointTypes.js';
import type { Engine } from '../core/Engine.js';
import type { PortAllocator } from '../core/PortAllocator.js';
import type { MediaKind } from '../core/types.js';
import type { InboundStream } from '../rtp/InboundStream.js';
import type { OutboundStream } from '../rtp/OutboundStream.js';
import type { CandidateExchange } from './CandidateExchange.js';
import type { DataChannelOptions, DataChannels } from './DataChannels.js';
import type { FastPathStats } from './FastPath.js';
import type { ConnectionState, Direction, DtlsState, IceCandidateInit, IceState, SelectedCandidatePair } from './types.js';

/**
 * A carrier's negotiation step: undefined when it is done on return (the own transport's
 * steps are synchronous, and the endpoint then goes on without yielding, so that nothing
 * a caller does in between, a gatherCandidates() right after processAnswer() for one,
 * comes before the events that follow the step), or the promise of it (werift's).
 */
export type CarrierStep = Promise<void> | undefined;

/**
 * What carries a WebRtcEndpoint once it negotiates: the engine's own transport
 * (OwnCarrier) or a werift peer connection (WeriftCarrier). The endpoint holds Kurento's
 * API, states, events and SDP rules, and calls these in the order Kurento's events need;
 * a carrier applies descriptions and candidates, and reports its ICE and DTLS states
 * through its CarrierHost. One carrier per negotiation attempt: a first offer or answer
 * that fails discards it (CarrierHost.discard), and the next attempt opens another.
 */
export interface EndpointCarrier {
  readonly kind: 'own' | 'werift';
  /** Our description (as the carrier has it: publicSdp() makes it Kurento's), once there is one. */
  readonly localDescription: string | undefined;
  /** The peer's description as given, once applied. */
  readonly remoteDescription: string | undefined;
  /** The peer's description as the carrier took it: what a re-offer is checked against. */
  readonly appliedRemoteDescription: string;
  /** An exchange is under way on it: our offer waits for its answer, or a re-offer is being answered. */
  readonly negotiating: boolean;
  /** Our offer waits for the peer's answer (processAnswer). */
  readonly awaitsAnswer: boolean;
  /** Remote candidates can be given to it (the peer's description is in). */
  readonly takesCandidates: boolean;
  /** How many times the peer restarted ICE on it. */
  readonly iceRestarts: number;

  /**
   * Answers the peer's first offer (its usable sections). On error it was discarded
   * (CarrierHost.discard), unless the endpoint was closed meanwhile (OBJECT_CLOSED).
   */
  answerOffer(offer: string): CarrierStep;
  /** Answers a later offer on the negotiated transport, restarting ICE when `restart`. */
  answerReoffer(offer: string, restart: boolean): CarrierStep;
  /** Makes our offer of `kinds`. On error as answerOffer(). */
  makeOffer(kinds: readonly MediaKind[]): CarrierStep;
  /** Applies the peer's answer to our offer. */
  takeAnswer(answer: string): CarrierStep;
  /** The first negotiation is done (the endpoint noted the remote description): media, candidates and checks start. */
  negotiated(): void;
  /** A re-offer's answer is done (the endpoint noted the remote description). */
  renegotiated(restart: boolean): void;
  /** A remote candidate, at `sdpMLineIndex` among the negotiated sections. */
  addCandidate(init: IceCandidateInit, sdpMLineIndex: number | undefined): CarrierStep;
  /** Opens a data channel; false when there is no data channel transport. */
  openDataChannel(label: string, options: DataChannelOptions): boolean;

  kindStats(kind: MediaKind): KindStats;
  /** Datagrams dropped on the media port (see EndpointStats.invalidPackets). */
  readonly invalidPackets: number;
  fastPathStats(): FastPathStats | undefined;
  inboundStream(kind: MediaKind): InboundStream | undefined;
  outboundStream(kind: MediaKind): OutboundStream | undefined;
  /** Single-port mode: the shared UDP port, while it is held. */
  readonly sharedUdpPort: number | undefined;
  /** UDP ports reserved for its own sockets, first and last, if any. */
  readonly reservedPorts: [number, number] | undefined;

  /** True when a packet of `kind` from the endpoint's source can go to the peer now. */
  canForward(kind: MediaKind): boolean;
  /** A packet from the endpoint's source, to the peer. */
  forward(stream: InboundStream, packet: RtpPacket, now: number): void;
  /** Asks the peer for a keyframe of what it sends of `kind`. */
  requestKeyframe(kind: MediaKind): void;
  /** The endpoint's source of `kind` went. */
  sourceDisconnected(kind: MediaKind): void;
  /** Lets the transport go: sockets, ports, timers. Idempotent. */
  close(): void;
}

/** What a carrier reads of its WebRtcEndpoint and tells it. */
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
  /** The cap on the estimate passed back to the video source, kbit/s (undefined: none). */
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

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
