import { randomBytes, randomUUID } from 'node:crypto';
import { ClosedError, MediaError, SdpError } from '../core/errors.js';
import type { MediaKind } from '../core/types.js';
import { TypedEmitter } from '../core/TypedEmitter.js';
import { UdpMux, type MuxAddress, type UdpMuxBinding, type UdpMuxes } from '../net/UdpMux.js';
import { NativeProducer, NativeTransport, type NativeProducerParameters } from '../native/NativeTransport.js';
import type { NativePacketCore } from '../native/PacketCore.js';
import { LayerController, type ControlledConsumer, type LayerControllerOptions } from './simulcast/LayerController.js';
import { layerForSize } from './simulcast/layerSelection.js';
import { offeredSimulcast, simulcastAnswerLines } from './simulcast/simulcastSdp.js';
import { BandwidthEstimator, type BandwidthEstimatorOptions, type BandwidthEstimatorStats } from '../bwe/BandwidthEstimator.js';
import { FeedbackReader, SendHistory, type SentPackets } from '../bwe/SendHistory.js';
import type { TransportCcFeedback } from '../bwe/transportCc.js';
import type { SrtpSession, SrtpStats } from '../srtp/index.js';
import { Consumer } from './Consumer.js';
import type { DataChannel, DataChannelParameters } from './DataChannel.js';
import { DtlsSession, type DtlsCertificate, type DtlsRole } from './DtlsSession.js';
import { IceChecks, readCandidate, type IceChecksOptions, type RemoteCandidate } from './IceChecks.js';
import { StreamRewriter } from '../rtp/StreamRewriter.js';
import { Producer, type LayerState, type ProducerParameters } from './Producer.js';
import { opusAnswerParameters, type OpusReceiveOptions } from './opus.js';
import { MAX_MESSAGE_SIZE, SCTP_PORT, SctpAssociation, type SctpAssociationStats } from './SctpAssociation.js';
import { readRtcp, writeNack, writePli, writeFir, writeRemb, writeRr } from './rtcp.js';
import { readExtension, readRtp, unwrapRtx, type RtpView } from './RtpView.js';
import { BINDING_REQUEST, BINDING_SUCCESS, fingerprintValid, integrityValid, readStun, StunAttr, writeStun, xorMappedAddress } from './stun.js';
import {
  attribute,
  directionOf,
  offeredSender,
  parseSdp,
  readDataSection,
  readMediaSection,
  receives,
  reverseDirection,
  sends,
  remoteIceParameters,
  transportCcExtensionId,
  remoteTransportParameters,
  VIDEO_FEEDBACK,
  writeDescription,
  type AcceptedSection,
  type Direction,
  type LocalTransportParameters,
  type NegotiatedCodec,
  type OfferedSender,
  type RemoteDataParameters,
  type RemoteIceParameters,
  type RemoteTransportParameters,
  type SetupRole,
  type WrittenSection,
} from './transportSdp.js';

export type TransportIceState = 'new' | 'connected' | 'failed' | 'closed';
export type TransportDtlsState = 'new' | 'connecting' | 'connected' | 'failed' | 'closed';

/**
 * One of a transport's local sockets: its binding on a shared UDP port (UdpMuxBinding),
 * or a TURN relay (RelaySocket). A pair is a peer address and one of these.
 */
export interface TransportSocket {
  /** Our side of pairs on it: the socket's address and port, or the relayed address. */
  readonly local: MuxAddress;
  /** The socket's index in the native packet core, when the core sends from it. */
  readonly nativeIndex: number | undefined;
  send(data: Buffer, to: MuxAddress): void;
  /** The peer at ip:port passed our check: what comes from there is ours. */
  learn(ip: string, port: number): void;
  /** Checks naming `ufrag` reach us on it. */
  addUfrag(ufrag: string, password: () => string | undefined): void;
  /** A remote candidate's address: a relay lets it send to us (a TURN permission). */
  permit?(ip: string): void;
  close(): void;
}

export interface WebRtcTransportOptions {
  /**
   * The shared UDP port, or the shared port of each of several ICE addresses, best first
   * (acquired by the caller, who also releases them; all on one packet path): a host
   * candidate on each, checks taken on any, and everything sent from the one of the pair
   * the peer selected.
   */
  mux: UdpMux | readonly UdpMux[];
  certificate: DtlsCertificate;
  /**
   * false: the transport's packets are done in JavaScript even on the native packet core's
   * sockets (a transport that may be relayed: the core cannot send through a TURN relay).
   * Default true.
   */
  nativeCore?: boolean;
  /** The address written into candidates (one candidate then, of the first port). Default: each mux's address. */
  announcedAddress?: string;
  /** No valid connectivity check for this long ends the pair (consent, RFC 7675). Default 30000 ms. */
  consentTimeoutMs?: number;
  /** Receiver and sender reports every this many ms (±25%). Default 1000. */
  rtcpIntervalMs?: number;
  /** REMB sent to senders: at most this many bits/s (the lowest consumer estimate below it wins). Default 2000000. */
  maxIncomingBitrate?: number;
  /** A lower cap on that REMB that may change while the transport runs (bits/s; undefined: none), read at each report. */
  incomingBitrateCap?: () => number | undefined;
  /**
   * ICE-lite (true) or full ICE (false). A full transport leaves a=ice-lite out of its
   * descriptions and, when it made the offer, checks the peer (controlling role). With a
   * peer that is itself lite, a transport checks it either way: two lite agents would
   * wait for each other. Default true.
   */
  iceLite?: boolean;
  /** Pace, retransmission, timeout and consent interval of those checks (IceChecksOptions' defaults). */
  iceChecks?: IceChecksOptions;
  /**
   * Both ways on one m-line per track (a Kurento WebRtcEndpoint): processOffer() answers
   * each m-line in the direction the peer asks (sendrecv: a producer and our SSRC beside
   * it), createOffer({ kinds }) offers sendrecv m-lines and processAnswer() takes what the
   * peer sends from the answer, and consume() puts a producer on the m-line of its kind
   * (replacing the one it carried). Default false: a sending or a receiving transport.
   */
  bidirectional?: boolean;
  /**
   * A bidirectional transport's own direction (a Kurento endpoint's): what it may do on
   * any m-line, whatever the peer asks. Default sendrecv.
   */
  direction?: 'sendrecv' | 'sendonly' | 'recvonly';
  /**
   * Data channels on a bidirectional transport (a Kurento endpoint's useDataChannels):
   * processOffer() accepts the peer's m=application line (else answered at port 0) and
   * createOffer() adds one; an SctpAssociation over the DTLS session carries the
   * channels (`datachannel` event, createDataChannel()). Default false.
   */
  dataChannels?: boolean;
  /**
   * What a sending transport asks of an Opus sender in its answer: in-band FEC, DTX
   * (see opus.ts). Default neither: the client's parameters are echoed, as Kurento Media
   * Server does (Roundtable's rooms ask for both).
   */
  opus?: OpusReceiveOptions;
  /**
   * Downlink bandwidth estimation of a receiving transport (see docs/adaptation.md): its
   * offers ask for transport-cc (the transport-wide sequence number extension and
   * `rtcp-fb transport-cc`), and where the receiver takes it, every packet sent is
   * stamped and the receiver's feedback drives a GCC-like estimate; a receiver that
   * sends only REMB gives its REMB. `false` turns it off (offers as before). Default
   * on, with BandwidthEstimatorOptions' defaults (start 600 kbit/s, 50 kbit/s to 10 Mbit/s).
   */
  bandwidthEstimation?: BandwidthEstimatorOptions | false;
  /**
   * How a receiving transport's downlink estimate moves its simulcast consumers' layers:
   * hysteresis and probing (see LayerControllerOptions; their defaults).
   */
  layerSelection?: LayerControllerOptions;
  /**
   * The peer addresses this transport answers checks from (a Kurento endpoint's filter of
   * the addresses the engine may reach: loopback only when its ICE addresses are). A check
   * from another address is dropped (`droppedStun`), so no pair forms there. Default: any.
   */
  acceptsRemoteAddress?: (ip: string) => boolean;
  /** Tests only: drop datagrams before they are handled, forwarded packets before they are sent. */
  testHooks?: TransportTestHooks;
}

export interface TransportTestHooks {
  /** `from`: the datagram's source address and port. */
  dropIncoming?(data: Buffer, from: MuxAddress): boolean;
  dropOutgoingRtp?(ssrc: number, seq: number): boolean;
}

export interface WebRtcTransportEvents extends Record<string, unknown[]> {
  icestatechange: [TransportIceState];
  dtlsstatechange: [TransportDtlsState];
  /**
   * Media follows the peer to another address: it nominated a pair there, or it moved
   * without nominating (checks, then media, from a checked address while the selected
   * one went quiet: see FOLLOW_QUIET_MS).
   */
  tuplechange: [MuxAddress];
  /** A client's offer brought a new track. */
  producer: [Producer];
  /** The peer opened a data channel (see the dataChannels option); it is open. */
  datachannel: [DataChannel];
  /**
   * The receiving transport's downlink estimate changed (bits/s): by 2 % or more, or at
   * all after a second without an event. What layer selection splits among consumers.
   */
  bandwidthEstimate: [number];
  close: [];
}

export interface WebRtcTransportStats {
  iceState: TransportIceState;
  dtlsState: TransportDtlsState;
  selectedTuple: MuxAddress | undefined;
  srtpProfile: number | undefined;
  bindingRequests: number;
  /** Datagrams dropped by reason. */
  droppedStun: number;
  droppedDtlsEarly: number;
  /** DTLS records refused: a plaintext alert or a malformed record after the handshake. */
  droppedDtls: number;
  /** A peer's retransmitted ClientHello not answered again (one HelloVerifyRequest per 2 s): not counted as dropped. */
  dtlsHelloRepeats: number;
  droppedSrtp: number;
  droppedUnknownSsrc: number;
  droppedOther: number;
  rtpIn: number;
  rtcpIn: number;
  rtpOut: number;
  rtcpOut: number;
  pairSwitches: number;
  /** Our own connectivity checks (controlling role), 0 while the peer checks us. */
  iceChecksSent: number;
  /** Transport-cc feedback packets read, and those refused as malformed. */
  transportCcFeedbacks: number;
  invalidTransportCc: number;
  /** The downlink estimate and its parts (a receiving transport with bandwidth estimation on). */
  bandwidthEstimate: BandwidthEstimatorStats | undefined;
  /** The layer selection of a receiving transport's simulcast consumers: probes it asked for and that reached their goal, steps up and down for bitrate. */
  layerSelection: { probes: number; probesReached: number; stepsUp: number; stepsDown: number; probeWaitMs: number };
}

type Mode = 'send' | 'recv' | 'both';

/** An m-line of a bidirectional transport: what it carries each way, and our stream on it. */
interface Line {
  mid: string;
  /** audio or video; another kind only for a line written at port 0. */
  kind: string;
  /** Our direction on it, as negotiated (or offered). */
  direction: Direction;
  /** The codec we send with (the payload type both sides agreed on); undefined on a line that never had one. */
  codec: NegotiatedCodec | undefined;
  rtxPayloadType: number | undefined;
  midExtensionId: number | undefined;
  /** Our stream on it: named in every description, continued across the consumers it carries. */
  ssrc: number;
  cname: string;
  streamId: string;
  trackId: string;
  rewriter: StreamRewriter<Producer>;
  consumer: Consumer | undefined;
  /** Written at port 0 (the peer rejected it, or nothing we forward). */
  closed?: { proto: string; formats: string[] };
  /** The data channels' m=application line, in use. */
  data?: boolean;
}

/** The codecs a bidirectional transport offers (the payload types a receiving transport's offer uses). */
const OFFERED_CODECS: Record<MediaKind, NegotiatedCodec> = {
  audio: { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: 'minptime=10;useinbandfec=1', rtcpFeedback: [] },
  video: { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [...VIDEO_FEEDBACK] },
};

interface Slot {
  mid: string;
  kind: MediaKind;
  consumer: Consumer | undefined;
  /** The codec of the last consumer it carried (the first slot stays offered with it, inactive). */
  codec?: NegotiatedCodec;
}

function newPassword(): string {
  return randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 24);
}

/**
 * A peer that switched its pair without nominating it again is followed once the
 * selected address has passed no check for this long while another address did. Longer
 * than the check interval on a stable pair (about 2.5 s in Chromium, up to 6 s for our
 * own IceChecks), so the checks a peer sends on its other pairs now and then do not move
 * the media.
 */
export const FOLLOW_QUIET_MS = 6500;
/** A receiving transport chooses its simulcast consumers' layers again this often (and at once on a change). */
export const LAYER_SELECTION_INTERVAL_MS = 500;
/** At most this many checked addresses are remembered (a peer has a handful of pairs). */
const CHECKED_TUPLES = 16;

const RING_SIZE = 1024;
const SLOT_BYTES = 1500 + 128;
/** A probe's padding-only packets: 255 padding bytes (the most RFC 3550 allows), about 290 on the wire. */
const PROBE_PADDING = 255;
const PROBE_PACKET_BYTES = 12 + 8 + PROBE_PADDING + 10;
/**
 * The probes the layer selection sends before a step up: at least this many packets (about
 * 17 kB), well over a shaper's burst allowance, which lets a train through at line rate (a
 * 30 ms train at 1 Mbit/s, 13 packets, passes a tbf bucket of 5 kB whole and reads as carried).
 */
const AUTO_PROBE_PACKETS = 60;
/** The id our offers give the transport-wide sequence number extension. */
export const TRANSPORT_CC_EXTENSION_ID = 3;

/**
 * A WebRTC transport of the media engine: one ICE-lite agent, one DTLS association,
 * one SRTP session and one selected 5-tuple on the shared UDP port (or on one of the
 * shared ports of several ICE addresses: the pair the peer selects), carrying any
 * number of producers (tracks the peer sends) and consumers (tracks it receives),
 * one m-line each, bundled. A sending transport takes the client's offer
 * (processOffer); a receiving transport makes the offer (createOffer) and takes the
 * answer (processAnswer). Received packets go from the socket through our SRTP to the
 * producer and its consumers, and out through our SRTP to the socket; nothing on that
 * path leaves our code.
 */
export class WebRtcTransport extends TypedEmitter<WebRtcTransportEvents> {
  readonly id = randomUUID();
  readonly producers = new Map<string, Producer>();
  readonly consumers = new Map<string, Consumer>();
  private ufragValue: string;
  private pwdValue = newPassword();
  /** Ufrags of earlier ICE generations (restartIce), held on the port until the transport closes. */
  private readonly oldUfrags: string[] = [];
  /** restartIce() was asked: the next description we write has new credentials. */
  private pendingRestart = false;
  /** Our checks stopped with the old generation: they start again with the peer's next description. */
  private restartChecks = false;
  private remoteIce: RemoteIceParameters | undefined;
  /** Our shared ports (one per ICE address), best first, and this transport's binding on each (same order). */
  private readonly muxes: readonly UdpMux[];
  /** The engine's sockets the muxes are of: the ufrag registry. */
  private readonly owner: UdpMuxes;
  private readonly muxBindings: readonly UdpMuxBinding[];
  /** Our sockets: the bindings on the shared ports, then any relays (addRelay). */
  private readonly bindings: TransportSocket[];
  private readonly certificate: DtlsCertificate;
  private readonly announced: string | undefined;
  private readonly consentTimeoutMs: number;
  private readonly rtcpIntervalMs: number;
  private readonly maxIncomingBitrate: number;
  private readonly incomingBitrateCap: (() => number | undefined) | undefined;
  private readonly opus: OpusReceiveOptions;
  private readonly hooks: TransportTestHooks;
  private readonly iceLite: boolean;
  private readonly iceChecksOptions: IceChecksOptions;
  /** Our checks toward the peer, when this transport is the controlling agent. */
  private checks: IceChecks | undefined;
  private readonly remoteCandidates: RemoteCandidate[] = [];
  /** This transport wrote the offer (createOffer) of the current negotiation. */
  private offerer = false;
  private readonly rtcpSsrc = randomBytes(4).readUInt32BE(0) || 1;
  private readonly sessionId = String(BigInt('0x' + randomBytes(6).toString('hex')));
  private sessionVersion = 0;
  private mode: Mode | undefined;
  private remote: RemoteTransportParameters | undefined;
  private dtls: DtlsSession | undefined;
  private srtp: SrtpSession | undefined;
  private profile: number | undefined;
  private selected: MuxAddress | undefined;
  /** The binding of our side of the selected pair: everything is sent from its socket. */
  private selectedBinding: TransportSocket;
  private nominated = false;
  private lastCheckAt = 0;
  /** When each pair (our socket, the peer's address) last passed a check (pairKey -> performance.now()). */
  private readonly checkedAt = new Map<string, number>();
  private ice: TransportIceState = 'new';
  private dtlsStateValue: TransportDtlsState = 'new';
  private closed = false;
  private readonly bySsrc = new Map<number, Producer>();
  private readonly byRtxSsrc = new Map<number, Producer>();
  private readonly consumersBySsrc = new Map<number, Consumer>();
  private readonly slots: Slot[] = [];
  /** Bidirectional transports: one per m-line, in order. */
  private readonly lines: Line[] = [];
  private readonly bidirectional: boolean;
  private readonly ownDirection: Direction;
  private readonly acceptsRemote: (ip: string) => boolean;
  /** A bidirectional transport's offer waits for its answer. */
  private awaitingAnswer = false;
  private nextMid = 0;
  private readonly dataChannels: boolean;
  /** The data channels' association, while an m=application line is negotiated (or offered). */
  private sctp: SctpAssociation | undefined;
  /** We run checks (the controlling ICE agent): the SCTP INIT is ours to send. */
  private controlling = false;
  private firSeq = 0;
  private consentTimer: NodeJS.Timeout | undefined;
  private selectionTimer: NodeJS.Timeout | undefined;
  /** Toward the peer, bits/s, set by hand (setAvailableBitrate; Infinity: unlimited): overrides the estimate. */
  private bitrateLimit: number | undefined;
  /** Layer selection over time: hysteresis and probing when the downlink estimate drives it. */
  private readonly layers: LayerController;
  private rtcpTimer: NodeJS.Timeout | undefined;
  private readonly ring: Buffer[] = [];
  private ringAt = 0;
  /**
   * The transport's place in the native packet core, when its mux is on the native path
   * (media.packetCore): SRTP in and out, routing to consumers, NACK answers and their
   * counters are there; this object keeps ICE, DTLS, the RTCP it makes and reads.
   */
  private readonly native: NativeTransport | undefined;
  private readonly counters = {
    bindingRequests: 0,
    droppedStun: 0,
    droppedDtlsEarly: 0,
    droppedDtls: 0,
    dtlsHelloRepeats: 0,
    droppedSrtp: 0,
    droppedUnknownSsrc: 0,
    droppedOther: 0,
    rtpIn: 0,
    rtcpIn: 0,
    rtpOut: 0,
    rtcpOut: 0,
    pairSwitches: 0,
    transportCcFeedbacks: 0,
    invalidTransportCc: 0,
  };
  private readonly bweOptions: BandwidthEstimatorOptions | undefined;
  /** The downlink estimate: made with the first consumer (a receiving transport), when bandwidthEstimation is on. */
  private estimator: BandwidthEstimator | undefined;
  /** Transport-wide sequence numbers and send times of what the TypeScript path sent. */
  private readonly sendHistory = new SendHistory();
  private feedbackReader: FeedbackReader | undefined;
  /** Consumers' SSRCs whose m-line took transport-cc, and the extension id there. */
  private readonly stamped = new Map<number, number>();
  private lastEstimate: { bitrate: number; at: number } | undefined;

  constructor(options: WebRtcTransportOptions) {
    super();
    this.muxes = options.mux instanceof UdpMux ? [options.mux] : [...options.mux];
    const first = this.muxes[0];
    if (!first) throw new MediaError('INVALID_ARGUMENT', 'a transport needs a shared UDP port');
    this.owner = first.owner;
    if (this.muxes.some((m) => m.owner !== first.owner)) throw new MediaError('INVALID_ARGUMENT', "a transport's shared ports must be of one engine");
    if (this.muxes.some((m) => m.packetPath !== first.packetPath || m.native?.core !== first.native?.core)) {
      throw new MediaError('INVALID_ARGUMENT', `a transport's shared ports must be on one packet path (${this.muxes.map((m) => `${m.address}:${m.port} ${m.packetPath}`).join(', ')})`);
    }
    this.certificate = options.certificate;
    this.announced = options.announcedAddress;
    this.consentTimeoutMs = options.consentTimeoutMs ?? 30_000;
    this.rtcpIntervalMs = options.rtcpIntervalMs ?? 1000;
    this.maxIncomingBitrate = options.maxIncomingBitrate ?? 2_000_000;
    this.incomingBitrateCap = options.incomingBitrateCap;
    this.opus = options.opus ?? {};
    this.hooks = options.testHooks ?? {};
    this.acceptsRemote = options.acceptsRemoteAddress ?? (() => true);
    this.iceLite = options.iceLite ?? true;
    this.iceChecksOptions = options.iceChecks ?? {};
    this.bidirectional = options.bidirectional ?? false;
    this.ownDirection = options.direction ?? 'sendrecv';
    this.dataChannels = (options.dataChannels ?? false) && this.bidirectional;
    this.bweOptions = options.bandwidthEstimation === false ? undefined : (options.bandwidthEstimation ?? {});
    this.layers = new LayerController(options.layerSelection);
    this.ufragValue = this.owner.claimUfrag();
    this.muxBindings = this.muxes.map((mux) => {
      const binding = mux.bind((data, from) => this.onDatagram(data, from, binding));
      binding.addUfrag(this.ufragValue, () => this.pwdValue);
      return binding;
    });
    this.bindings = [...this.muxBindings];
    this.selectedBinding = this.bindings[0]!;
    // In the core the transport is first on the first socket; the selected pair moves it (setTuple).
    const native = options.nativeCore === false ? undefined : first.native;
    this.native = native
      ? new NativeTransport(native.core, native.index, this.rtcpSsrc, {
          rtcp: (data) => this.onRtcp(data, data.length),
          unknownRtp: (data) => this.onUnknownRtp(data),
          outgoing: (data) => this.onOutgoing(data),
        })
      : undefined;
    // Test hooks see every packet: the core hands them up (test runs only).
    if (this.native && (this.hooks.dropIncoming || this.hooks.dropOutgoingRtp)) this.native.setHooked(true);
  }

  /** Our ICE username fragment (of the current generation). */
  get ufrag(): string {
    return this.ufragValue;
  }

  /** Our ICE password (of the current generation). */
  get pwd(): string {
    return this.pwdValue;
  }

  /**
   * An ICE restart (RFC 8445 §9): the next description this transport writes (its answer
   * to the peer's restarting offer, or its own offer) carries new ICE credentials, and
   * checks must use them from then on. DTLS, SRTP, the selected pair, producers and
   * consumers carry on; our own checks (controlling role) start again toward the peer's
   * new candidates.
   */
  restartIce(): void {
    this.assertOpen();
    this.pendingRestart = true;
  }

  /** Which packet path carries this transport's media. */
  get packetPath(): 'native' | 'typescript' {
    return this.native ? 'native' : 'typescript';
  }

  get iceState(): TransportIceState {
    return this.ice;
  }

  get dtlsState(): TransportDtlsState {
    return this.dtlsStateValue;
  }

  /** This side's DTLS role, once the remote description said it. */
  get dtlsRole(): DtlsRole | undefined {
    return this.dtls?.role;
  }

  /** An m=application line is negotiated (or offered): createDataChannel() can open channels. */
  get carriesDataChannels(): boolean {
    return this.sctp !== undefined;
  }

  /** The data channels' association, while an m=application line is negotiated. */
  get sctpStats(): SctpAssociationStats | undefined {
    return this.sctp?.getStats();
  }

  /**
   * Opens a data channel to the peer (its DATA_CHANNEL_OPEN goes out once the
   * association is up; 'open' follows the peer's ACK). INVALID_STATE without a
   * negotiated m=application line.
   */
  createDataChannel(parameters: DataChannelParameters): DataChannel {
    this.assertOpen();
    if (!this.sctp) throw new MediaError('INVALID_STATE', 'no data channel section is negotiated on this transport');
    return this.sctp.createDataChannel(parameters);
  }

  get selectedTuple(): MuxAddress | undefined {
    return this.selected;
  }

  /** Our side of the selected pair: the address and port of the shared socket it is on. */
  get selectedLocal(): MuxAddress | undefined {
    return this.selected ? this.selectedBinding.local : undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  getStats(): WebRtcTransportStats {
    const stats = {
      iceState: this.ice,
      dtlsState: this.dtlsStateValue,
      selectedTuple: this.selected,
      srtpProfile: this.profile,
      ...this.counters,
      iceChecksSent: this.checks?.checksSent ?? 0,
      bandwidthEstimate: this.estimator?.stats,
      layerSelection: this.layers.stats,
    };
    if (this.native) {
      const n = this.native.counters();
      stats.rtpIn += n.rtpIn;
      stats.rtcpIn += n.rtcpIn;
      stats.rtpOut += n.rtpOut;
      stats.rtcpOut += n.rtcpOut;
      stats.droppedSrtp += n.droppedSrtp;
      stats.droppedUnknownSsrc += n.droppedUnknownSsrc;
      stats.droppedOther += n.droppedOther;
    }
    return stats;
  }

  /**
   * The downlink estimate of a receiving transport, bits/s: from the receiver's
   * transport-cc feedback (or its REMB), the start value before any. Undefined on a
   * sending transport, or with bandwidthEstimation off. Changes are the
   * `bandwidthEstimate` event.
   */
  get availableBitrate(): number | undefined {
    return this.estimator?.bitrate;
  }

  /**
   * A bandwidth probe, for layer selection before it steps up: about 30 ms of
   * `targetBps` as padding-only packets (5-30 of 255 padding bytes) in a video
   * consumer's stream, back to back, each with its transport-wide number (the stream's
   * numbering continues after them; the receiver discards padding). When their feedback
   * is in, the rate they arrived at (a train spreads to the bottleneck's rate), up to
   * the target, becomes the estimate if it is higher and the delay did not grow
   * meanwhile. False when nothing can be probed now: no estimate, no video consumer
   * whose receiver took transport-cc and that sent something, a probe still waiting for
   * its feedback, nowhere to send.
   */
  probe(targetBps: number): boolean {
    this.assertOpen();
    return this.sendProbe(targetBps, 5);
  }

  /** A probe cluster of at least `minPackets` (at most 30 beyond that, 64 in all). */
  private sendProbe(targetBps: number, minPackets: number): boolean {
    const estimator = this.estimator;
    if (!estimator || estimator.probing || !(targetBps > 0) || !this.srtp || !this.selected) return false;
    const consumer = [...this.consumers.values()].find((c) => c.kind === 'video' && !c.isPaused && this.stamped.has(c.ssrc) && c.stats.packets > 0);
    if (!consumer) return false;
    const count = Math.min(64, Math.max(minPackets, Math.min(30, Math.ceil((targetBps * 0.03) / 8 / PROBE_PACKET_BYTES))));
    let first: number;
    let sent: number;
    if (consumer.native) {
      ({ first, sent } = consumer.native.sendPadding(count, PROBE_PADDING));
    } else {
      first = this.sendHistory.nextSequenceNumber;
      consumer.sendPadding(count, PROBE_PADDING);
      sent = (this.sendHistory.nextSequenceNumber - first) & 0xffff;
    }
    if (sent === 0) return false;
    estimator.onProbeSent(Array.from({ length: sent }, (_, i) => (first + i) & 0xffff), targetBps, performance.now());
    return true;
  }

  /** The SRTP counters, once DTLS made the keys: our contexts', and on the native path the core's (which protects and unprotects there). */
  getSrtpStats(): { profile: number; inbound: SrtpStats; outbound: SrtpStats } | undefined {
    const srtp = this.srtp;
    if (!srtp || this.profile === undefined) return undefined;
    const inbound = { ...srtp.inbound.stats };
    const outbound = { ...srtp.outbound.stats };
    if (this.native) {
      const n = this.native.counters();
      inbound.rtpUnprotected += n.rtpIn;
      inbound.rtcpUnprotected += n.rtcpIn;
      inbound.truncated += n.srtpTruncated;
      inbound.authFailures += n.srtpAuthFailures;
      inbound.replayed += n.srtpReplayed;
      // RTCP we make is handed to the core to protect and send (counters.rtcpOut), as are the core's own NACKs.
      outbound.rtpProtected += n.rtpOut;
      outbound.rtcpProtected += n.rtcpOut + this.counters.rtcpOut;
    }
    return { profile: this.profile, inbound, outbound };
  }

  // --- negotiation: sending transport ------------------------------------------------

  /**
   * Takes a client's offer on a sending transport and returns the answer: one producer
   * per m-line the client sends on (new mids make new producers, emitted as
   * 'producer'; m-lines it stopped sending on close theirs). SdpError for an offer
   * that cannot be used; then nothing changes.
   */
  processOffer(sdp: string): string {
    this.assertOpen();
    if (this.bidirectional) return this.processOfferBoth(sdp);
    if (this.mode === 'recv') throw new MediaError('INVALID_STATE', 'a receiving transport makes the offers; use createOffer()');
    const parsed = parseSdp(sdp);
    const remote = remoteTransportParameters(parsed);
    const sections: WrittenSection[] = [];
    const offered = new Map<string, (OfferedSender & { simulcast: ProducerParameters['simulcast'] }) | undefined>();
    for (const section of parsed.media) {
      const sender = offeredSender(section);
      const mid = sender?.mid ?? section.attributes.find((a) => a.startsWith('mid:'))?.slice(4) ?? String(sections.length);
      if (!sender) {
        sections.push({ mid, kind: section.kind, proto: section.proto, formats: section.formats, closed: true });
        continue;
      }
      const feedback = sender.kind === 'video' ? VIDEO_FEEDBACK.filter((f) => sender.codec.rtcpFeedback.includes(f)) : [];
      const codec = { ...sender.codec, rtcpFeedback: feedback };
      if (codec.mimeType.toLowerCase() === 'audio/opus' && (this.opus.fec || this.opus.dtx)) {
        const parameters = opusAnswerParameters(codec.parameters, this.opus);
        if (parameters !== undefined) codec.parameters = parameters;
      }
      const accepted: AcceptedSection = {
        mid: sender.mid,
        kind: sender.kind,
        codec,
        direction: 'recvonly',
      };
      if (sender.rtxPayloadType !== undefined) accepted.rtxPayloadType = sender.rtxPayloadType;
      if (sender.midExtensionId !== undefined) accepted.midExtensionId = sender.midExtensionId;
      if (sender.audioLevelExtensionId !== undefined) accepted.audioLevelExtensionId = sender.audioLevelExtensionId;
      // Simulcast: layers are told apart by their RID extension (and found by their mid first).
      const offeredLayers = sender.kind === 'video' ? offeredSimulcast(section) : undefined;
      let simulcast: ProducerParameters['simulcast'];
      if (offeredLayers && offeredLayers.ridExtensionId !== undefined && sender.midExtensionId !== undefined) {
        accepted.extraLines = simulcastAnswerLines(offeredLayers);
        simulcast = { rids: offeredLayers.layers.map((l) => l.rid), ridExtensionId: offeredLayers.ridExtensionId, repairedRidExtensionId: offeredLayers.repairedRidExtensionId };
      }
      // The native core forwards payloads as they are: RED would reach receivers as Opus.
      const red = this.opus.red && !this.native ? sender.redPayloadType : undefined;
      if (red !== undefined) accepted.redPayloadType = red;
      sections.push(accepted);
      offered.set(sender.mid, { ...sender, codec: accepted.codec, redPayloadType: red, simulcast });
    }
    if (parsed.media.length === 0) throw new SdpError('the offer has no media section');
    // Valid: apply.
    this.offerer = false;
    this.setRemote(remote, remoteIceParameters(parsed));
    this.mode = 'send';
    this.applyRestart();
    const answer = writeDescription(this.localParameters(remote.setup === 'passive' ? 'active' : 'passive'), this.sessionId, this.sessionVersion++, sections);
    for (const producer of [...this.producers.values()]) {
      const now = offered.get(producer.mid);
      const rids = producer.layers.map((l) => l.rid).join(';');
      if (!now || now.codec.payloadType !== producer.codec.payloadType || now.redPayloadType !== producer.redPayloadType || (now.simulcast?.rids.join(';') ?? '') !== rids) producer.close();
    }
    for (const sender of offered.values()) {
      if (!sender || [...this.producers.values()].some((p) => p.mid === sender.mid)) continue;
      this.addProducer(sender, sender.simulcast);
    }
    return answer;
  }

  /** A producer for what the peer sends on one m-line (emitted as 'producer'). */
  private addProducer(sender: OfferedSender, simulcast?: ProducerParameters['simulcast']): void {
    const producer = new Producer(
      {
        kind: sender.kind,
        mid: sender.mid,
        codec: sender.codec,
        ssrc: sender.ssrc,
        rtxSsrc: sender.rtxSsrc,
        rtxPayloadType: sender.rtxPayloadType,
        cname: sender.cname,
        audioLevelExtensionId: sender.audioLevelExtensionId,
        redPayloadType: sender.redPayloadType,
        simulcast,
      },
      this.producerLink,
    );
    // Simulcast on the native path: each layer is a stream of the core (SRTP, history, NACKs
    // there), tapped while the producer has consumers; layer selection is done in JavaScript.
    for (const layer of producer.layers) if (this.native) layer.native = this.native.addProducer(this.nativeProducerParameters(layer));
    if (this.native && producer.layers.length === 0) {
      producer.native = this.native.addProducer(this.nativeProducerParameters(producer));
      if (producer.carriesAudioLevels) producer.native.setAudioLevelExtension(producer.audioLevelExtensionId!);
    }
    this.producers.set(producer.id, producer);
    if (producer.ssrc !== undefined) this.bySsrc.set(producer.ssrc, producer);
    if (producer.rtxSsrc !== undefined) this.byRtxSsrc.set(producer.rtxSsrc, producer);
    this.midExtensionIds.set(producer.mid, sender.midExtensionId);
    this.emit('producer', producer);
  }

  private readonly midExtensionIds = new Map<string, number | undefined>();

  private nativeProducerParameters(producer: Producer): NativeProducerParameters {
    return {
      ssrc: producer.ssrc,
      rtxSsrc: producer.rtxSsrc,
      payloadType: producer.codec.payloadType,
      rtxPayloadType: producer.rtxPayloadType,
      clockRate: producer.codec.clockRate,
      mimeType: producer.codec.mimeType,
      video: producer.kind === 'video',
      nack: producer.codec.rtcpFeedback.includes('nack'),
    };
  }

  /**
   * A simulcast layer's first packet (its SSRC is not known yet): the RID extension says
   * which layer (the repaired RID, which layer an RTX stream repairs), whose SSRC is bound.
   */
  private bindLayer(producer: Producer, packet: RtpView, now: number): void {
    const ssrc = packet.header.ssrc;
    const rtx = packet.header.payloadType === producer.rtxPayloadType;
    const id = rtx ? producer.repairedRidExtensionId : producer.ridExtensionId;
    const rid = id === undefined ? undefined : readExtension(packet, id)?.toString('latin1');
    const layer = rid === undefined ? undefined : producer.layerByRid(rid);
    if (!layer) {
      this.counters.droppedUnknownSsrc++;
      return;
    }
    if (rtx) {
      if (layer.rtxSsrc === undefined) {
        layer.bindRtxSsrc(ssrc);
        this.byRtxSsrc.set(ssrc, layer);
        layer.native?.bindSsrc(ssrc, true);
      }
      return;
    }
    // Another SSRC for a layer that has one, or another codec: not ours to guess.
    if (packet.header.payloadType !== producer.codec.payloadType || layer.ssrc !== undefined) {
      this.counters.droppedUnknownSsrc++;
      return;
    }
    layer.bindSsrc(ssrc);
    this.bySsrc.set(ssrc, layer);
    layer.native?.bindSsrc(ssrc, false);
    this.receive(layer, packet, now, false);
  }

  // --- negotiation: receiving transport ----------------------------------------------

  /**
   * A copy of `producer` toward this transport's peer: a new m-line (or a recycled
   * one of a closed consumer) in the next createOffer(). Media flows once the peer
   * answered.
   */
  consume(producer: Producer, options: { paused?: boolean; streamId?: string } = {}): Consumer {
    this.assertOpen();
    if (this.bidirectional) return this.consumeBoth(producer, options);
    if (this.mode === 'send') throw new MediaError('INVALID_STATE', 'a sending transport carries producers; consume on a receiving transport');
    if (producer.isClosed) throw new ClosedError(`producer ${producer.id}`);
    this.mode = 'recv';
    this.startEstimation();
    const mid = String(this.nextMid++);
    // In the core: from the producer's own entry there, or (a producer of JavaScript: a
    // bridge's output, a TypeScript transport's) from the entry it feeds. A consumer here
    // on the TypeScript path is a JavaScript sink: a producer in the core is tapped for it.
    const native = this.native;
    const consumer = new Consumer(producer, mid, this.consumerLink, {
      ...options,
      native: native
        ? (c) =>
            native.addConsumer(this.nativeSourceFor(c, producer, native.core), {
              ssrc: c.ssrc,
              payloadType: c.codec.payloadType,
              clockRate: c.codec.clockRate,
              mimeType: c.codec.mimeType,
              video: c.kind === 'video',
              paused: c.isPaused,
            })
        : undefined,
    });
    // A closed m-line of the same kind is reused (with a new mid), as browsers expect; not
    // the first one, which stays the BUNDLE tag (see createOffer).
    const free = this.slots.find((s, i) => i > 0 && s.consumer === undefined && s.kind === producer.kind);
    if (free) {
      free.mid = mid;
      free.consumer = consumer;
      free.codec = consumer.codec;
    } else {
      this.slots.push({ mid, kind: producer.kind, consumer, codec: consumer.codec });
    }
    this.consumers.set(consumer.id, consumer);
    this.consumersBySsrc.set(consumer.ssrc, consumer);
    if (consumer.simulcast) this.chooseLayers();
    return consumer;
  }

  /**
   * The entry in the core a consumer there forwards from: a simulcast consumer's own (it
   * selects the layer in JavaScript and feeds it), else its producer's.
   */
  private nativeSourceFor(consumer: Consumer, producer: Producer, core: NativePacketCore): NativeProducer {
    if (producer.layers.length === 0) return producer.nativeSource(core);
    consumer.feed = NativeProducer.fed(core, { payloadType: consumer.codec.payloadType, clockRate: consumer.codec.clockRate, mimeType: consumer.codec.mimeType, video: true });
    return consumer.feed;
  }

  /**
   * The offer of a receiving transport: every consumer's m-line, closed ones at port 0 —
   * but for the first m-line, the BUNDLE tag: rejecting it would end the peer's bundled
   * transport (Chromium then drops every other m-line's media), so once its consumer is
   * gone it stays in the BUNDLE group, inactive, and is never reused.
   */
  createOffer(options: { kinds?: readonly MediaKind[] } = {}): string {
    this.assertOpen();
    if (this.bidirectional) return this.createOfferBoth(options.kinds);
    if (this.mode === 'send') throw new MediaError('INVALID_STATE', 'a sending transport takes the client\'s offer; use processOffer()');
    this.mode = 'recv';
    const sections: WrittenSection[] = this.slots.map((slot, index): WrittenSection => {
      const c = slot.consumer;
      if (!c && index === 0 && slot.codec) return { mid: slot.mid, kind: slot.kind, codec: slot.codec, direction: 'inactive' };
      if (!c) {
        const pt = slot.kind === 'audio' ? '111' : '96';
        return { mid: slot.mid, kind: slot.kind, proto: 'UDP/TLS/RTP/SAVPF', formats: [pt], closed: true };
      }
      const bwe = this.estimator !== undefined;
      return {
        mid: c.mid,
        kind: c.kind,
        codec: bwe ? { ...c.codec, rtcpFeedback: [...c.codec.rtcpFeedback, 'transport-cc'] } : c.codec,
        ...(bwe ? { transportCcExtensionId: TRANSPORT_CC_EXTENSION_ID } : {}),
        // Pausing is ours alone: the m-line stays sendonly, so resuming needs no new offer.
        direction: 'sendonly',
        sender: { ssrc: c.ssrc, cname: c.cname, streamId: c.streamId, trackId: c.trackId },
        ...(c.redPayloadType !== undefined ? { redPayloadType: c.redPayloadType } : {}),
      };
    });
    const setup: SetupRole = this.dtls ? (this.dtls.role === 'server' ? 'passive' : 'active') : 'actpass';
    this.offerer = true;
    this.applyRestart();
    return writeDescription(this.localParameters(setup), this.sessionId, this.sessionVersion++, sections);
  }

  /** The peer's answer to createOffer(). SdpError when it cannot be used (nothing changes). */
  processAnswer(sdp: string): void {
    this.assertOpen();
    if (this.bidirectional) return this.processAnswerBoth(sdp);
    if (this.mode !== 'recv') throw new MediaError('INVALID_STATE', 'processAnswer() answers createOffer() of a receiving transport');
    const parsed = parseSdp(sdp);
    const remote = remoteTransportParameters(parsed);
    if (remote.setup === 'actpass') throw new SdpError('an answer must say a=setup:active or passive');
    for (const section of parsed.media) {
      if (section.port !== 0 && directionOf(section) === 'sendonly') throw new SdpError('the answer sends on a receive-only m-line');
    }
    this.setRemote(remote, remoteIceParameters(parsed));
    // RED goes to the receivers whose answer kept it.
    for (const section of parsed.media) {
      const mid = attribute(section.attributes, 'mid');
      const consumer = this.slots.find((s) => s.mid === mid)?.consumer;
      if (consumer?.redPayloadType !== undefined) consumer.setRed(section.port !== 0 && section.formats.includes(String(consumer.redPayloadType)));
      // Transport-cc where the receiver kept the extension: those packets are stamped.
      if (consumer && this.estimator) {
        const id = transportCcExtensionId(section);
        if (id !== undefined) this.stamped.set(consumer.ssrc, id);
        else this.stamped.delete(consumer.ssrc);
        consumer.native?.setTransportCc(id ?? 0);
      }
    }
  }

  /** A receiving transport with bandwidth estimation on: the estimator, fed from the path that sends. */
  private startEstimation(): void {
    if (this.estimator || !this.bweOptions) return;
    this.estimator = new BandwidthEstimator(this.bweOptions);
    // Read for metrics per socket: on the first only, so a transport counts once.
    this.muxBindings[0]!.bandwidthEstimate = () => this.estimator?.bitrate;
    const sent: SentPackets = this.native ? this.native.sentPackets() : this.sendHistory;
    this.feedbackReader = new FeedbackReader(sent);
  }

  private onTransportCc(feedback: TransportCcFeedback | undefined, now: number): void {
    if (!feedback || !this.estimator || !this.feedbackReader) {
      this.counters.invalidTransportCc++;
      return;
    }
    this.counters.transportCcFeedbacks++;
    const bitrate = this.estimator.onPacketResults(this.feedbackReader.read(feedback), now, this.roundTripMs());
    // A receiver giving transport-cc feedback sends no REMB: our estimate stands in for it
    // (the REMB to publishers is the lowest of their consumers', as before).
    for (const consumer of this.consumers.values()) consumer.estimatedBitrate = bitrate;
    this.noteEstimate(now);
  }

  /** The lowest round trip our consumers' receiver reports gave, ms (100 before any). */
  private roundTripMs(): number {
    let rtt: number | undefined;
    for (const c of this.consumers.values()) {
      const r = c.roundTripTime;
      if (r !== undefined && (rtt === undefined || r < rtt)) rtt = r;
    }
    return rtt === undefined ? 100 : rtt * 1000;
  }

  private noteEstimate(now: number): void {
    const bitrate = Math.round(this.estimator!.bitrate);
    const last = this.lastEstimate;
    if (last && (bitrate === last.bitrate || (Math.abs(bitrate - last.bitrate) < 0.02 * last.bitrate && now - last.at < 1000))) return;
    this.lastEstimate = { bitrate, at: now };
    this.emit('bandwidthEstimate', bitrate);
    // The layers follow the estimate (between the periodic runs too).
    if (this.selectionTimer) this.chooseLayers();
  }

  // --- negotiation: bidirectional transport ---------------------------------------------

  /** processOffer() of a bidirectional transport: each m-line answered in the direction the peer asks. */
  private processOfferBoth(sdp: string): string {
    if (this.awaitingAnswer) throw new MediaError('INVALID_STATE', 'this transport made an offer: it takes an answer (processAnswer), not an offer');
    const parsed = parseSdp(sdp);
    const remote = remoteTransportParameters(parsed);
    if (parsed.media.length === 0) throw new SdpError('the offer has no media section');
    let dataMid: string | undefined;
    const planned = parsed.media.map((section, index) => {
      const mid = attribute(section.attributes, 'mid') ?? String(index);
      const existing = this.lines.find((l) => l.mid === mid);
      if (existing && existing.kind !== section.kind) throw new SdpError(`m-line ${mid} changed from ${existing.kind} to ${section.kind}`);
      // One m=application line carries the data channels (when this transport has them): the first usable one.
      const data = this.dataChannels && dataMid === undefined && section.kind === 'application' ? readDataSection(section) : undefined;
      if (data) dataMid = mid;
      const read = readMediaSection(section);
      if (!read) return { mid, section, read: undefined, data, direction: 'inactive' as Direction, peerSends: false };
      const feedback = read.kind === 'video' ? VIDEO_FEEDBACK.filter((f) => read.codec.rtcpFeedback.includes(f)) : [];
      const peerDirection = directionOf(section);
      const direction = this.limit(reverseDirection(peerDirection));
      return { mid, section, read: { ...read, codec: { ...read.codec, rtcpFeedback: feedback } }, direction, peerSends: sends(peerDirection) && receives(direction) };
    });
    // Valid: apply.
    this.setRemote(remote, remoteIceParameters(parsed));
    this.offerer = false;
    this.mode = 'both';
    this.applyRestart();
    for (const plan of planned) {
      const line = this.lineFor(plan.mid, plan.section.kind, plan.read?.codec);
      if (plan.data) {
        this.openDataLine(line, plan.data);
        continue;
      }
      if (!plan.read) {
        this.closeLine(line, plan.section.proto, plan.section.formats);
        continue;
      }
      this.openLine(line, plan.direction, plan.read.codec, plan.read.midExtensionId);
      line.rtxPayloadType = plan.peerSends ? plan.read.rtxPayloadType : undefined;
      this.syncProducer(plan.mid, plan.peerSends ? plan.read : undefined);
    }
    this.startSctp();
    return writeDescription(this.localParameters(remote.setup === 'passive' ? 'active' : 'passive'), this.sessionId, this.sessionVersion++, this.lineSections());
  }

  /** createOffer() of a bidirectional transport: sendrecv m-lines of `kinds` (default audio and video) the first time, the negotiated ones after. */
  private createOfferBoth(kinds: readonly MediaKind[] | undefined): string {
    if (this.awaitingAnswer) throw new MediaError('INVALID_STATE', 'an offer of this transport waits for its answer (processAnswer)');
    if (this.lines.length === 0) {
      const wanted = kinds ?? (['audio', 'video'] as const);
      if (wanted.length === 0 && !this.dataChannels) throw new MediaError('INVALID_ARGUMENT', 'an offer needs audio or video');
      for (const kind of wanted) {
        if (kind !== 'audio' && kind !== 'video') throw new MediaError('INVALID_ARGUMENT', `cannot offer '${String(kind)}'`);
      }
      for (const kind of wanted) this.openLine(this.lineFor(String(this.nextMid++), kind, OFFERED_CODECS[kind]), this.ownDirection, OFFERED_CODECS[kind], 1);
      if (this.dataChannels) this.openDataLine(this.lineFor(String(this.nextMid++), 'application', undefined), undefined);
    } else if (kinds) {
      throw new MediaError('INVALID_STATE', 'the m-lines of this transport are negotiated already');
    }
    for (const line of this.lines) if (!line.closed) line.direction = this.ownDirection;
    const setup: SetupRole = this.dtls ? (this.dtls.role === 'server' ? 'passive' : 'active') : 'actpass';
    this.offerer = true;
    this.awaitingAnswer = true;
    this.applyRestart();
    this.mode = 'both';
    return writeDescription(this.localParameters(setup), this.sessionId, this.sessionVersion++, this.lineSections());
  }

  /** processAnswer() of a bidirectional transport: what the peer sends becomes producers, what it receives our streams. */
  private processAnswerBoth(sdp: string): void {
    if (!this.awaitingAnswer) throw new MediaError('INVALID_STATE', 'processAnswer() needs an offer from createOffer() first');
    const parsed = parseSdp(sdp);
    const remote = remoteTransportParameters(parsed);
    if (remote.setup === 'actpass') throw new SdpError('an answer must say a=setup:active or passive');
    const planned = this.lines.map((line, index) => {
      const section = parsed.media.find((m) => attribute(m.attributes, 'mid') === line.mid) ?? parsed.media[index];
      if (!section) throw new SdpError(`the answer has no m-line for mid ${line.mid}`);
      if (section.kind !== line.kind) throw new SdpError(`the answer's m-line ${line.mid} is ${section.kind}, the offer's ${line.kind}`);
      const data = line.data ? readDataSection(section) : undefined;
      const read = line.closed || !line.codec ? undefined : readMediaSection(section);
      if (read && read.codec.payloadType !== line.codec!.payloadType) throw new SdpError(`the answer's m-line ${line.mid} uses payload type ${read.codec.payloadType}, not one offered`);
      const peerDirection = directionOf(section);
      const feedback = read?.kind === 'video' ? VIDEO_FEEDBACK.filter((f) => read.codec.rtcpFeedback.includes(f)) : [];
      return { line, section, data, read: read ? { ...read, codec: { ...read.codec, rtcpFeedback: feedback } } : undefined, peerDirection };
    });
    // Valid: apply.
    this.setRemote(remote, remoteIceParameters(parsed));
    this.awaitingAnswer = false;
    for (const { line, section, data, read, peerDirection } of planned) {
      if (data) {
        this.openDataLine(line, data);
        continue;
      }
      if (!read) {
        this.closeLine(line, section.proto, section.formats);
        continue;
      }
      const direction = this.limit(reverseDirection(peerDirection));
      this.openLine(line, direction, line.codec!, read.midExtensionId);
      this.syncProducer(line.mid, sends(peerDirection) && receives(direction) ? read : undefined);
    }
    this.startSctp();
  }

  /** consume() of a bidirectional transport: `producer` on the m-line of its kind, replacing what it carried (numbering continues). */
  private consumeBoth(producer: Producer, options: { paused?: boolean; streamId?: string }): Consumer {
    if (producer.isClosed) throw new ClosedError(`producer ${producer.id}`);
    const line = this.lines.find((l) => !l.closed && l.kind === producer.kind && sends(l.direction));
    if (!line || !line.codec) throw new MediaError('INVALID_STATE', `no negotiated m-line of this transport sends ${producer.kind} to its peer`);
    if (line.codec.mimeType.toLowerCase() !== producer.codec.mimeType.toLowerCase()) {
      throw new MediaError('INVALID_STATE', `the ${producer.kind} m-line carries ${line.codec.mimeType}, the producer sends ${producer.codec.mimeType}`);
    }
    const current = line.consumer;
    if (current && !current.isClosed && !current.native && !producer.native) {
      current.replaceProducer(producer);
      return current;
    }
    // On the core, the m-line's stream goes on where the closed consumer's stopped (as replaceProducer does here).
    const continued = current && !current.isClosed ? current.native?.counters() : undefined;
    current?.close();
    // As in consume(): in the core from the producer's own entry there or from the one a JavaScript producer (a
    // Kurento element's packets) feeds; on the TypeScript path a JavaScript sink (a producer in the core is tapped).
    const native = this.native;
    const clockRate = line.codec.clockRate;
    const consumer = new Consumer(producer, line.mid, this.consumerLink, {
      ...options,
      ssrc: line.ssrc,
      payloadType: line.codec.payloadType,
      rewriter: line.rewriter,
      native: native
        ? (c) =>
            native.addConsumer(producer.nativeSource(native.core), {
              ssrc: c.ssrc,
              payloadType: c.codec.payloadType,
              clockRate: c.codec.clockRate,
              mimeType: c.codec.mimeType,
              video: c.kind === 'video',
              paused: c.isPaused,
              initialSequenceNumber: continued?.lastSequenceNumber !== undefined ? (continued.lastSequenceNumber + 1) & 0xffff : undefined,
              initialTimestamp:
                continued?.lastTimestamp !== undefined ? (continued.lastTimestamp + Math.max(1, Math.round((continued.msSinceLast * clockRate) / 1000))) >>> 0 : undefined,
            })
        : undefined,
    });
    line.consumer = consumer;
    this.consumers.set(consumer.id, consumer);
    this.consumersBySsrc.set(consumer.ssrc, consumer);
    return consumer;
  }

  /** `direction` within what this transport may do (its `direction` option). */
  private limit(direction: Direction): Direction {
    const send = sends(direction) && sends(this.ownDirection);
    const receive = receives(direction) && receives(this.ownDirection);
    return send && receive ? 'sendrecv' : send ? 'sendonly' : receive ? 'recvonly' : 'inactive';
  }

  private lineFor(mid: string, kind: string, codec: NegotiatedCodec | undefined): Line {
    let line = this.lines.find((l) => l.mid === mid);
    if (!line) {
      line = {
        mid,
        kind,
        direction: 'inactive',
        codec,
        rtxPayloadType: undefined,
        midExtensionId: undefined,
        ssrc: randomBytes(4).readUInt32BE(0) || 1,
        cname: `rt-${this.id.slice(0, 8)}`,
        streamId: this.id,
        trackId: randomUUID(),
        rewriter: new StreamRewriter<Producer>(),
        consumer: undefined,
      };
      this.lines.push(line);
    }
    return line;
  }

  private openLine(line: Line, direction: Direction, codec: NegotiatedCodec, midExtensionId: number | undefined): void {
    line.closed = undefined;
    line.direction = direction;
    line.midExtensionId = midExtensionId;
    const consumer = line.consumer;
    // Our stream keeps its payload type; a consumer that can no longer send on the m-line goes.
    if (consumer && (!sends(direction) || consumer.codec.payloadType !== codec.payloadType)) consumer.close();
    line.codec = codec;
  }

  /**
   * The data channels' m=application line, offered (`remote` undefined) or accepted: the
   * association is made with the first, takes the peer's parameters, and starts once
   * DTLS is up (startSctp).
   */
  private openDataLine(line: Line, remote: RemoteDataParameters | undefined): void {
    line.closed = undefined;
    line.data = true;
    if (this.sctp) {
      if (remote) this.sctp.setRemote(remote);
      return;
    }
    const sctp = new SctpAssociation(remote ?? { port: SCTP_PORT, maxMessageSize: 0 }, (data) => (this.dtls ? this.dtls.sendData(data) : Promise.reject(new Error('no DTLS session'))));
    sctp.on('datachannel', (channel) => this.emit('datachannel', channel));
    this.sctp = sctp;
  }

  /** The association starts with DTLS connected and the peer's m=application line known. */
  private startSctp(): void {
    const dtls = this.dtls;
    if (!this.sctp || this.sctp.isStarted || this.awaitingAnswer || !dtls?.isConnected) return;
    this.sctp.start(dtls.role, this.controlling);
  }

  private closeLine(line: Line, proto: string, formats: string[]): void {
    if (line.data) {
      // Rejected or removed by the peer: the association and its channels end.
      line.data = undefined;
      this.sctp?.close();
      this.sctp = undefined;
    }
    line.closed = { proto, formats };
    line.direction = 'inactive';
    line.consumer?.close();
    this.syncProducer(line.mid, undefined);
  }

  /** The producer of m-line `mid`: kept while the peer sends the same codec there, made when it starts, closed when it stops. */
  private syncProducer(mid: string, sender: OfferedSender | undefined): void {
    const current = [...this.producers.values()].find((p) => p.mid === mid);
    if (current && (!sender || current.codec.payloadType !== sender.codec.payloadType)) current.close();
    else if (current) return;
    if (sender) this.addProducer(sender);
  }

  /** The m-lines of a bidirectional transport's description. */
  private lineSections(): WrittenSection[] {
    return this.lines.map((line): WrittenSection => {
      if (line.data) return { mid: line.mid, kind: 'application', sctpPort: SCTP_PORT, maxMessageSize: MAX_MESSAGE_SIZE };
      if (line.closed || !line.codec || (line.kind !== 'audio' && line.kind !== 'video')) {
        return { mid: line.mid, kind: line.kind, proto: line.closed?.proto ?? 'UDP/TLS/RTP/SAVPF', formats: line.closed?.formats ?? [], closed: true };
      }
      const section: AcceptedSection = { mid: line.mid, kind: line.kind, codec: line.codec, direction: line.direction };
      if (line.rtxPayloadType !== undefined) section.rtxPayloadType = line.rtxPayloadType;
      if (line.midExtensionId !== undefined) section.midExtensionId = line.midExtensionId;
      if (sends(line.direction)) section.sender = { ssrc: line.ssrc, cname: line.cname, streamId: line.streamId, trackId: line.trackId };
      return section;
    });
  }

  // --- lifecycle ------------------------------------------------------------------------

  /** Closes the transport, its producers and consumers, and its place on the port. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.consentTimer) clearInterval(this.consentTimer);
    if (this.selectionTimer) clearInterval(this.selectionTimer);
    if (this.rtcpTimer) clearTimeout(this.rtcpTimer);
    this.checks?.close();
    for (const producer of [...this.producers.values()]) producer.close();
    for (const consumer of [...this.consumers.values()]) consumer.close();
    // Before DTLS: its ABORT still goes out.
    this.sctp?.close();
    this.dtls?.close();
    this.native?.close();
    for (const binding of this.bindings) binding.close();
    this.owner.releaseUfrag(this.ufragValue);
    for (const ufrag of this.oldUfrags) this.owner.releaseUfrag(ufrag);
    this.setIce('closed');
    this.setDtls('closed');
    this.emit('close');
    this.removeAllListeners();
  }

  // --- remote description -------------------------------------------------------------

  /**
   * A remote candidate trickled by the peer ("candidate:..." as in SDP). Used by our
   * checks when this transport is the controlling agent; a lite transport that is
   * checked by its peer needs none. INVALID_CANDIDATE when it cannot be read.
   */
  addRemoteCandidate(candidate: string): void {
    this.assertOpen();
    if (typeof candidate !== 'string' || candidate === '') return;
    const parsed = readCandidate(candidate);
    if (!parsed) throw new MediaError('INVALID_CANDIDATE', `cannot use ICE candidate '${String(candidate).slice(0, 80)}' (UDP, component 1 only)`);
    this.remoteCandidates.push(parsed);
    for (const socket of this.bindings) socket.permit?.(parsed.ip);
    this.checks?.addCandidate(parsed);
  }

  /**
   * A TURN relay of ours (a relayed candidate, announced by the caller): checks and media
   * reach us through it, and we answer through it. Needs a transport made with
   * `nativeCore: false`. Closed with the transport.
   */
  addRelay(relay: TransportSocket & { receiver: ((data: Buffer, from: MuxAddress) => void) | undefined }): void {
    this.assertOpen();
    if (this.native) throw new MediaError('INVALID_STATE', 'a relayed transport needs its packets in JavaScript (nativeCore: false)');
    relay.addUfrag(this.ufragValue, () => this.pwdValue);
    relay.receiver = (data, from) => this.onDatagram(data, from, relay);
    this.bindings.push(relay);
    for (const candidate of [...(this.remoteIce?.candidates ?? []), ...this.remoteCandidates]) relay.permit?.(candidate.ip);
  }

  private setRemote(remote: RemoteTransportParameters, ice: RemoteIceParameters): void {
    const first = this.remote === undefined;
    this.remoteIce = ice;
    for (const candidate of ice.candidates) for (const socket of this.bindings) socket.permit?.(candidate.ip);
    if (!first && this.remote!.fingerprint.value.toUpperCase() !== remote.fingerprint.value.toUpperCase() && this.dtls) {
      throw new SdpError('the DTLS fingerprint changed; make a new transport');
    }
    this.remote = remote;
    if (first) {
      const role: DtlsRole = remote.setup === 'passive' ? 'client' : 'server';
      this.dtls = new DtlsSession(role, this.certificate, remote.fingerprint, (data) => this.sendRaw(data), {
        connected: (srtp, profile) => {
          // On the native path the core protects and unprotects from now on (it takes every profile we negotiate).
          if (this.native && !this.native.setKeys(srtp.keys)) return this.setDtls('failed');
          this.srtp = srtp;
          this.profile = profile;
          this.setDtls('connected');
          this.scheduleRtcp();
          this.requestKeyframes();
          this.startSctp();
        },
        failed: () => this.setDtls('failed'),
        data: (data) => {
          if (this.sctp) this.sctp.receive(data);
          else this.counters.droppedDtls++;
        },
      });
      if (role === 'client' && this.selected) this.startDtlsClient();
      // Someone must check: a lite peer never does, and a full peer we offered to waits
      // for the offerer (controlling) to nominate.
      if (ice.lite || (!this.iceLite && this.offerer)) this.startChecks(remote, ice);
    } else if (this.restartChecks) {
      this.restartChecks = false;
      this.startChecks(remote, ice);
    }
  }

  /** Applies a restartIce(): new credentials for the description being written. */
  private applyRestart(): void {
    if (!this.pendingRestart) return;
    this.pendingRestart = false;
    this.oldUfrags.push(this.ufragValue);
    this.ufragValue = this.owner.claimUfrag();
    this.pwdValue = newPassword();
    for (const binding of this.bindings) binding.addUfrag(this.ufragValue, () => this.pwdValue);
    if (!this.checks) return;
    this.checks.close();
    this.checks = undefined;
    this.remoteCandidates.length = 0;
    // Answering, the peer's restarting description is in already: check its new candidates now.
    if (this.remote && this.remoteIce && !this.offerer) this.startChecks(this.remote, this.remoteIce);
    else this.restartChecks = true;
  }

  private startChecks(remote: RemoteTransportParameters, ice: RemoteIceParameters): void {
    this.controlling = true;
    const checks = new IceChecks(this.ufrag, { ufrag: remote.ufrag, pwd: remote.pwd }, this.muxes.map((m) => m.address), this.iceCheckLink, this.iceChecksOptions);
    this.checks = checks;
    for (const candidate of [...ice.candidates, ...this.remoteCandidates]) checks.addCandidate(candidate);
    checks.start();
  }

  private readonly iceCheckLink = {
    send: (data: Buffer, to: MuxAddress, local: number): void => this.bindings[local]?.send(data, to),
    succeeded: (to: MuxAddress, local: number): void => {
      const binding = this.bindings[local];
      if (this.closed || !binding) return;
      // DTLS and SRTP from there are ours now (the mux routes a 5-tuple it learned).
      binding.learn(to[0], to[1]);
      this.checked(to, true, binding);
    },
    failed: (): void => {
      if (!this.closed && this.ice !== 'connected') this.setIce('failed');
    },
  };

  private localParameters(setup: SetupRole): LocalTransportParameters {
    return {
      iceLite: this.iceLite,
      ufrag: this.ufrag,
      pwd: this.pwd,
      fingerprint: this.certificate.fingerprint,
      candidates: this.hostCandidates(),
      setup,
    };
  }

  /**
   * Our host candidates: the address and port of each shared socket, best first; with an
   * announced address, that address and the first socket's port (the others' would be
   * the same candidate again: every socket is on the same port, or the first one stands
   * for the machine behind the announced address).
   */
  private hostCandidates(): Array<{ ip: string; port: number }> {
    if (this.announced !== undefined) return [{ ip: this.announced, port: this.muxes[0]!.port }];
    return this.muxes.map((m) => ({ ip: m.address, port: m.port }));
  }

  // --- receive ------------------------------------------------------------------------

  /** A datagram for us on one of our shared sockets (`binding`: ours on it). */
  private onDatagram(data: Buffer, from: MuxAddress, binding: TransportSocket): void {
    if (this.closed) return;
    if (this.hooks.dropIncoming?.(data, from)) return;
    const first = data[0]!;
    if (first < 4) this.onStun(data, from, binding);
    else if (first >= 20 && first <= 63) this.onDtls(data);
    else if (first >= 128 && first <= 191) this.onSrtp(data, from, binding);
    else this.counters.droppedOther++;
  }

  /** ICE-lite (RFC 8445 §2.5): answer checks, follow the nominated pair, note consent. */
  private onStun(data: Buffer, from: MuxAddress, binding: TransportSocket): void {
    const message = readStun(data);
    if (message && message.type !== BINDING_REQUEST && this.checks) {
      // An answer to our own checks (controlling role), verified there.
      if (this.checks.onResponse(message, data, from, this.bindings.indexOf(binding)) !== 'handled') this.counters.droppedStun++;
      return;
    }
    if (!message || message.type !== BINDING_REQUEST) {
      this.counters.droppedStun++;
      return;
    }
    if (message.fingerprintAt >= 0 && !fingerprintValid(data, message.fingerprintAt)) {
      this.counters.droppedStun++;
      return;
    }
    const [local, remote] = (message.username ?? '').split(':');
    if (local !== this.ufrag || (this.remote && remote !== this.remote.ufrag) || !this.acceptsRemote(from[0]) || !integrityValid(data, message.integrityAt, this.pwd)) {
      this.counters.droppedStun++;
      return;
    }
    this.counters.bindingRequests++;
    const response = writeStun(BINDING_SUCCESS, message.transactionId, [[StunAttr.XOR_MAPPED_ADDRESS, xorMappedAddress(from[0], from[1], message.transactionId)]], this.pwd);
    binding.send(response, from);
    this.checked(from, message.useCandidate, binding);
  }

  /** A verified check from the peer, or a verified answer to ours (on our socket of `binding`): consent, selection, DTLS. */
  private checked(from: MuxAddress, nominate: boolean, binding: TransportSocket): void {
    const now = performance.now();
    this.lastCheckAt = now;
    this.noteChecked(from, binding, now);
    if (nominate || !this.nominated) this.select(from, nominate, binding);
    else if (this.selectedQuiet(now)) this.select(from, true, binding);
    if (this.ice !== 'connected' && this.ice !== 'closed') {
      const back = this.ice === 'failed';
      this.setIce('connected');
      if (back) this.requestKeyframes();
      this.consentTimer ??= setInterval(() => this.checkConsent(), Math.min(1000, this.consentTimeoutMs / 2)).unref();
    }
    this.startDtlsClient();
  }

  /**
   * Before any nomination the latest checked pair is used (DTLS may start then); after,
   * only a nominated one moves it. A pair is the peer's address and our socket
   * (`binding`): the same address checked on another of ours is another pair.
   */
  private select(from: MuxAddress, nominate: boolean, binding: TransportSocket): void {
    const previous = this.selected;
    const wasNominated = this.nominated;
    if (nominate) this.nominated = true;
    if (previous && previous[0] === from[0] && previous[1] === from[1] && binding === this.selectedBinding) return;
    this.selected = from;
    this.selectedBinding = binding;
    this.native?.setTuple(from, binding.nativeIndex);
    if (previous && wasNominated) {
      this.counters.pairSwitches++;
      this.emit('tuplechange', from);
    }
  }

  /** The key of a pair in checkedAt: our socket (its binding's place) and the peer's address. */
  private pairKey(from: MuxAddress, binding: TransportSocket): string {
    return `${this.bindings.indexOf(binding)} ${from[0]}:${from[1]}`;
  }

  private noteChecked(from: MuxAddress, binding: TransportSocket, now: number): void {
    const key = this.pairKey(from, binding);
    this.checkedAt.delete(key);
    this.checkedAt.set(key, now);
    // Oldest first (insertion order): forget the ones the peer no longer checks.
    if (this.checkedAt.size > CHECKED_TUPLES) this.checkedAt.delete(this.checkedAt.keys().next().value!);
  }

  /** The selected pair passed no check for FOLLOW_QUIET_MS (a peer checks the pair it uses). */
  private selectedQuiet(now: number): boolean {
    const selected = this.selected;
    if (!selected) return true;
    return now - (this.checkedAt.get(this.pairKey(selected, this.selectedBinding)) ?? 0) > FOLLOW_QUIET_MS;
  }

  /**
   * Authenticated media from an address other than the selected one (the TypeScript
   * path; the native core authenticates after the hand-over): the peer moved its pair (a
   * browser does, from 127.0.0.1 to another host address, say). Followed when that
   * address passed a check more recently than the selected one, so a packet of the old
   * pair still in flight does not move it back.
   */
  private mayFollow(from: MuxAddress, binding: TransportSocket): void {
    const selected = this.selected;
    if (!selected || !this.nominated || (selected[0] === from[0] && selected[1] === from[1] && binding === this.selectedBinding)) return;
    const at = this.checkedAt.get(this.pairKey(from, binding));
    if (at === undefined || performance.now() - at > this.consentTimeoutMs) return;
    if (at > (this.checkedAt.get(this.pairKey(selected, this.selectedBinding)) ?? 0)) this.select(from, true, binding);
  }

  private checkConsent(): void {
    if (this.ice !== 'connected') return;
    if (performance.now() - this.lastCheckAt > this.consentTimeoutMs) {
      this.selected = undefined;
      this.native?.setTuple(undefined);
      this.nominated = false;
      this.setIce('failed');
    }
  }

  /**
   * The transport can send again (keys just made, or the pair came back): keyframe
   * requests of our producers' consumers made meanwhile went nowhere, and our consumers
   * wait for a keyframe.
   */
  private requestKeyframes(): void {
    for (const producer of this.producers.values()) if (producer.consumers.size > 0) producer.requestKeyframe();
    for (const consumer of this.consumers.values()) consumer.requestKeyframe();
  }

  private startDtlsClient(): void {
    if (this.dtls?.role === 'client' && this.selected && this.dtlsStateValue === 'new') {
      this.setDtls('connecting');
      this.dtls.start();
    }
  }

  private onDtls(data: Buffer): void {
    if (!this.dtls) {
      this.counters.droppedDtlsEarly++;
      return;
    }
    if (this.dtlsStateValue === 'new') this.setDtls('connecting');
    const result = this.dtls.receive(data);
    if (result === 'refused') this.counters.droppedDtls++;
    else if (result === 'repeat') this.counters.dtlsHelloRepeats++;
  }

  private onSrtp(data: Buffer, from: MuxAddress, binding: TransportSocket): void {
    const srtp = this.srtp;
    if (!srtp) {
      this.counters.droppedSrtp++;
      return;
    }
    if (this.native) {
      // From a 5-tuple other than the selected one, or past a test hook: the core's path
      // all the same. Not followed from here: the core authenticates the packet after this
      // (on this path a peer that moved is followed by its checks, see selectedQuiet).
      this.native.inject(data);
      return;
    }
    // RFC 5761: RTCP packet types 192-223 in the second byte.
    const second = data.length > 1 ? data[1]! : 0;
    if (second >= 192 && second <= 223) {
      const n = srtp.inbound.unprotectRtcp(data);
      if (n < 0) {
        this.counters.droppedSrtp++;
        return;
      }
      this.counters.rtcpIn++;
      this.mayFollow(from, binding);
      this.onRtcp(data, n);
      return;
    }
    const n = srtp.inbound.unprotectRtp(data);
    if (n < 0) {
      this.counters.droppedSrtp++;
      return;
    }
    this.mayFollow(from, binding);
    const packet = readRtp(data, n);
    if (!packet) {
      this.counters.droppedOther++;
      return;
    }
    this.counters.rtpIn++;
    this.onRtp(packet);
  }

  private onRtp(packet: RtpView): void {
    const now = performance.now();
    const ssrc = packet.header.ssrc;
    let producer = this.bySsrc.get(ssrc);
    if (producer) {
      this.receive(producer, packet, now, false);
      return;
    }
    producer = this.byRtxSsrc.get(ssrc);
    if (producer && packet.header.payloadType === producer.rtxPayloadType && producer.ssrc !== undefined) {
      const original = unwrapRtx(packet, producer.ssrc, producer.codec.payloadType);
      if (original) this.receive(producer, original, now, true);
      return;
    }
    producer = this.producerByMid(packet);
    if (!producer) {
      this.counters.droppedUnknownSsrc++;
      return;
    }
    if (producer.layers.length > 0) {
      this.bindLayer(producer, packet, now);
      return;
    }
    if (packet.header.payloadType === producer.rtxPayloadType) {
      if (producer.rtxSsrc === undefined) {
        this.byRtxSsrc.set(ssrc, producer);
        producer.native?.bindSsrc(ssrc, true);
      }
      return;
    }
    if (packet.header.payloadType !== producer.codec.payloadType) {
      this.counters.droppedUnknownSsrc++;
      return;
    }
    producer.bindSsrc(ssrc);
    this.bySsrc.set(ssrc, producer);
    producer.native?.bindSsrc(ssrc, false);
    this.receive(producer, packet, now, false);
  }

  /** A packet for `producer`: to it, or on the native path back to the core, which now knows its SSRC. */
  private receive(producer: Producer, packet: RtpView, now: number, retransmission: boolean): void {
    if (this.native) this.native.routeDecrypted(packet.data.subarray(0, packet.end));
    else producer.receive(packet, now, retransmission);
  }

  /** Native path: a decrypted packet whose SSRC the core does not know (the SDP did not name it). */
  private onUnknownRtp(data: Buffer): void {
    const packet = readRtp(data);
    if (!packet) {
      this.counters.droppedOther++;
      return;
    }
    this.onRtp(packet);
  }

  /** Native path, test hooks only: a protected packet the core would have sent. */
  private onOutgoing(data: Buffer): void {
    const to = this.selected;
    if (!to || this.closed || data.length < 12) return;
    if (this.hooks.dropOutgoingRtp?.(data.readUInt32BE(8), data.readUInt16BE(2))) return;
    this.counters.rtpOut++;
    this.selectedBinding.send(data, to);
  }

  /** An SSRC the SDP did not name: the producer whose mid the packet carries (RFC 8843 §9.2). */
  private producerByMid(packet: RtpView): Producer | undefined {
    for (const producer of this.producers.values()) {
      const id = this.midExtensionIds.get(producer.mid);
      if (id === undefined) continue;
      const mid = readExtension(packet, id);
      if (mid && mid.toString('latin1') === producer.mid && (producer.ssrc === undefined || packet.header.payloadType === producer.rtxPayloadType)) return producer;
    }
    return undefined;
  }

  private onRtcp(data: Buffer, length: number): void {
    const now = performance.now();
    for (const message of readRtcp(data, length)) {
      switch (message.type) {
        case 'sr':
          this.bySsrc.get(message.ssrc)?.onSenderReport(message.ntpSec, message.ntpFrac, now);
          for (const block of message.reports) this.consumersBySsrc.get(block.ssrc)?.onReport(block, now);
          break;
        case 'rr':
          for (const block of message.reports) this.consumersBySsrc.get(block.ssrc)?.onReport(block, now);
          break;
        case 'nack':
          this.consumersBySsrc.get(message.media)?.onNack(message.lost);
          break;
        case 'pli':
          this.consumersBySsrc.get(message.media)?.onKeyframeRequest(false);
          break;
        case 'fir':
          for (const ssrc of message.media) this.consumersBySsrc.get(ssrc)?.onKeyframeRequest(true);
          break;
        case 'remb': {
          let ours = false;
          for (const ssrc of message.ssrcs) {
            const consumer = this.consumersBySsrc.get(ssrc);
            if (consumer) {
              consumer.estimatedBitrate = message.bitrate;
              ours = true;
            }
          }
          // A receiver that gives no transport-cc feedback: its REMB is the estimate.
          if (ours && this.estimator && this.estimator.stats.source !== 'transport-cc') {
            this.estimator.onRemb(message.bitrate);
            this.noteEstimate(now);
          }
          break;
        }
        case 'transport-cc':
          this.onTransportCc(message.feedback, now);
          break;
        default:
          break;
      }
    }
  }

  // --- send -----------------------------------------------------------------------------

  private nextSlot(): Buffer {
    let buf = this.ring[this.ringAt];
    if (!buf) {
      buf = Buffer.allocUnsafe(SLOT_BYTES);
      this.ring[this.ringAt] = buf;
    }
    this.ringAt = (this.ringAt + 1) % RING_SIZE;
    return buf;
  }

  private sendRaw(data: Buffer): void {
    if (this.selected && !this.closed) this.selectedBinding.send(data, this.selected);
  }

  /** Writes a forwarded packet (no header extensions) into a send slot, protects and sends it. */
  private sendForwarded(packet: RtpView, payloadType: number, seq: number, timestamp: number, ssrc: number): void {
    const srtp = this.srtp;
    const to = this.selected;
    // On the native path consumers forward in the core; nothing comes here.
    if (!srtp || !to || this.closed || this.native) return;
    if (this.hooks.dropOutgoingRtp?.(ssrc, seq)) return;
    const src = packet.data;
    const cc = packet.csrcCount;
    const payloadLength = packet.end - packet.payloadOffset;
    // Transport-cc: one one-byte-header extension block (RFC 8285) with the transport-wide number.
    const twccId = this.stamped.get(ssrc);
    const extension = twccId === undefined ? 0 : 8;
    const length = 12 + cc * 4 + extension + payloadLength;
    if (length + srtp.outbound.rtpOverhead > SLOT_BYTES) return;
    const buf = this.nextSlot();
    buf[0] = 0x80 | (packet.padding ? 0x20 : 0) | (extension ? 0x10 : 0) | cc;
    buf[1] = (packet.header.marker ? 0x80 : 0) | (payloadType & 0x7f);
    buf.writeUInt16BE(seq & 0xffff, 2);
    buf.writeUInt32BE(timestamp >>> 0, 4);
    buf.writeUInt32BE(ssrc >>> 0, 8);
    if (cc > 0) src.copy(buf, 12, 12, 12 + cc * 4);
    const at = 12 + cc * 4;
    if (twccId !== undefined) {
      buf.writeUInt32BE(0xbede0001, at);
      buf[at + 4] = (twccId << 4) | 1;
      buf[at + 7] = 0;
    }
    src.copy(buf, at + extension, packet.payloadOffset, packet.end);
    if (twccId !== undefined) {
      // The wire size: header, payload and the SRTP tag.
      const twccSeq = this.sendHistory.next(performance.now(), length + srtp.outbound.rtpOverhead);
      buf.writeUInt16BE(twccSeq, at + 5);
    }
    const protectedLength = srtp.outbound.protectRtp(buf, length);
    this.counters.rtpOut++;
    this.selectedBinding.send(buf.subarray(0, protectedLength), to);
  }

  /**
   * Native path: a packet a simulcast consumer selected and rewrote here goes down to its
   * entry in the core (Consumer.feed), whose consumer there protects and sends it.
   */
  private feedNative(packet: RtpView, payloadType: number, seq: number, timestamp: number, ssrc: number): void {
    const feed = this.consumersBySsrc.get(ssrc)?.feed;
    if (!feed || this.closed) return;
    const cc = packet.csrcCount;
    const payloadLength = packet.end - packet.payloadOffset;
    const length = 12 + cc * 4 + payloadLength;
    if (length > SLOT_BYTES) return;
    const buf = this.nextSlot();
    buf[0] = 0x80 | (packet.padding ? 0x20 : 0) | cc;
    buf[1] = (packet.header.marker ? 0x80 : 0) | (payloadType & 0x7f);
    buf.writeUInt16BE(seq & 0xffff, 2);
    buf.writeUInt32BE(timestamp >>> 0, 4);
    buf.writeUInt32BE(ssrc >>> 0, 8);
    if (cc > 0) packet.data.copy(buf, 12, 12, 12 + cc * 4);
    packet.data.copy(buf, 12 + cc * 4, packet.payloadOffset, packet.end);
    feed.feed(buf.subarray(0, length));
  }

  // --- layer selection (receiving transport) -------------------------------------------

  /**
   * A bitrate toward this transport's peer set by hand, bits/s (Infinity: unlimited): the
   * layer selection of its simulcast consumers keeps within it, at once, instead of
   * following the downlink estimate. `undefined` (the default) gives the selection back
   * to the estimate (unlimited while there is none: bandwidth estimation off, no feedback
   * or REMB yet). INVALID_ARGUMENT for a rate that is not a positive number.
   */
  setAvailableBitrate(bps: number | undefined): void {
    this.assertOpen();
    if (bps !== undefined && (typeof bps !== 'number' || Number.isNaN(bps) || bps <= 0)) throw new MediaError('INVALID_ARGUMENT', 'the available bitrate must be a positive number of bits/s (Infinity: unlimited), or undefined (the estimate)');
    this.bitrateLimit = bps;
    this.chooseLayers();
  }

  /** The rate set with setAvailableBitrate (undefined: the estimate drives the layers). */
  get bitrateLimitValue(): number | undefined {
    return this.bitrateLimit;
  }

  /**
   * Chooses the target layer of each simulcast consumer (LayerController over
   * layerSelection.ts): at once when a request, the consumers or the bitrate set by hand
   * change, when the estimate moves, and every LAYER_SELECTION_INTERVAL_MS while there are
   * any (layers come and go, rates change, holds run out). Asks for a probe when the
   * controller wants one.
   */
  private chooseLayers(): void {
    if (this.closed) return;
    const now = performance.now();
    const chosen: Consumer[] = [];
    let fixed = 0;
    for (const consumer of this.consumers.values()) {
      if (consumer.isClosed || consumer.isPaused) continue;
      if (consumer.simulcast) chosen.push(consumer);
      // Audio and single-stream video first: what they carry is not ours to choose.
      else fixed += consumer.producer.sampleBitrate(now) ?? 0;
    }
    if (chosen.length === 0) {
      if (this.selectionTimer) clearInterval(this.selectionTimer);
      this.selectionTimer = undefined;
      return;
    }
    this.selectionTimer ??= setInterval(() => this.chooseLayers(), LAYER_SELECTION_INTERVAL_MS).unref();
    const states = new Map<Producer, LayerState[]>();
    const candidates: ControlledConsumer[] = chosen.map((consumer) => {
      let layers = states.get(consumer.producer);
      if (!layers) {
        layers = consumer.producer.layerStates(now);
        states.set(consumer.producer, layers);
      }
      const request = consumer.layerRequest;
      const common = { id: consumer.id, layers, current: consumer.currentLayer, target: consumer.targetLayer, speaker: consumer.isSpeaker };
      if (request === 'off') return { ...common, cap: -1, tileArea: 0 };
      const cap = Math.min(request.maxLayer ?? layers.length - 1, layerForSize(layers, request.maxWidth, request.maxHeight));
      return { ...common, cap, pinned: request.pinned, tileArea: (request.maxWidth ?? 10_000) * (request.maxHeight ?? 10_000) };
    });
    // The estimate once the receiver said something (transport-cc feedback or REMB); a rate set by hand wins.
    const estimate = this.estimator && this.estimator.stats.source !== 'none' ? this.estimator.bitrate : undefined;
    const total = this.bitrateLimit ?? estimate ?? Infinity;
    const decision = this.layers.update(now, { budget: total - fixed, estimated: this.bitrateLimit === undefined && estimate !== undefined, fixed, probing: this.estimator?.probing ?? false }, candidates);
    chosen.forEach((consumer, k) => {
      if (!consumer.isClosed) consumer.setTargetLayer(decision.targets[k]!);
    });
    if (decision.probe !== undefined && !this.sendProbe(decision.probe, AUTO_PROBE_PACKETS)) this.layers.probeRefused(now);
  }

  private sendRtcp(packets: readonly Buffer[]): void {
    const srtp = this.srtp;
    const to = this.selected;
    if (!srtp || !to || this.closed) return;
    const buf = this.nextSlot();
    let at = 0;
    for (const p of packets) {
      if (at + p.length + srtp.outbound.rtcpOverhead > SLOT_BYTES) break;
      at += p.copy(buf, at);
    }
    if (at < 8) return;
    if (this.native) {
      if (this.native.sendRtcp(buf.subarray(0, at))) this.counters.rtcpOut++;
      return;
    }
    const length = srtp.outbound.protectRtcp(buf, at);
    this.counters.rtcpOut++;
    this.selectedBinding.send(buf.subarray(0, length), to);
  }

  /** Reports every rtcpIntervalMs ±25%: RR (+ REMB) for what we receive, SR for what we send. */
  private scheduleRtcp(): void {
    if (this.rtcpTimer || this.closed) return;
    const delay = this.rtcpIntervalMs * (0.75 + Math.random() * 0.5);
    this.rtcpTimer = setTimeout(() => {
      this.rtcpTimer = undefined;
      this.sendReports();
      this.scheduleRtcp();
    }, delay).unref();
  }

  private sendReports(): void {
    const now = performance.now();
    const blocks = [];
    const remb: number[] = [];
    let bitrate = Math.min(this.maxIncomingBitrate, this.incomingBitrateCap?.() ?? Infinity);
    // A simulcast producer's layers are reported one by one.
    const streams = [...this.producers.values()].flatMap((p) => (p.layers.length > 0 ? p.layers : [p]));
    for (const producer of streams) {
      const block = producer.reportBlock(now);
      if (block) blocks.push(block);
      if (producer.kind === 'video' && producer.ssrc !== undefined && producer.codec.rtcpFeedback.includes('goog-remb')) {
        remb.push(producer.ssrc);
        // Not a simulcast layer's: each receiver takes the layer that suits it (a receiver's
        // REMB would otherwise hold every layer down to what the weakest one takes).
        const min = producer.parent ? undefined : producer.minConsumerBitrate();
        if (min !== undefined) bitrate = Math.min(bitrate, min);
      }
    }
    if (blocks.length > 0) {
      const packets = [writeRr(this.rtcpSsrc, blocks.slice(0, 31))];
      if (remb.length > 0) packets.push(writeRemb(this.rtcpSsrc, bitrate, remb));
      this.sendRtcp(packets);
    }
    const srs: Buffer[] = [];
    for (const consumer of this.consumers.values()) {
      const sr = consumer.senderReport(now);
      if (sr) srs.push(sr);
    }
    for (let i = 0; i < srs.length; i += 8) this.sendRtcp(srs.slice(i, i + 8));
  }

  // --- links for producers and consumers -----------------------------------------------

  private readonly producerLink = {
    sendNack: (ssrc: number, lost: number[]): void => {
      for (let i = 0; i < lost.length; i += 64) this.sendRtcp([writeNack(this.rtcpSsrc, ssrc, lost.slice(i, i + 64))]);
    },
    sendKeyframeRequest: (ssrc: number): void => {
      const producer = this.bySsrc.get(ssrc);
      const fb = producer?.codec.rtcpFeedback ?? [];
      if (!fb.includes('nack pli') && fb.includes('ccm fir')) this.sendRtcp([writeFir(this.rtcpSsrc, ssrc, this.firSeq++)]);
      else this.sendRtcp([writePli(this.rtcpSsrc, ssrc)]);
    },
    producerClosed: (producer: Producer): void => {
      producer.native?.remove();
      this.producers.delete(producer.id);
      if (producer.ssrc !== undefined && this.bySsrc.get(producer.ssrc) === producer) this.bySsrc.delete(producer.ssrc);
      for (const [ssrc, p] of this.byRtxSsrc) if (p === producer) this.byRtxSsrc.delete(ssrc);
      // A simulcast layer shares its producer's mid.
      if (!producer.parent) this.midExtensionIds.delete(producer.mid);
    },
  };

  private readonly consumerLink = {
    canSend: (): boolean => this.srtp !== undefined && this.selected !== undefined && !this.closed,
    sendRtp: (packet: RtpView, payloadType: number, seq: number, timestamp: number, ssrc: number): void => {
      if (this.native) this.feedNative(packet, payloadType, seq, timestamp, ssrc);
      else this.sendForwarded(packet, payloadType, seq, timestamp, ssrc);
    },
    layersRequested: (): void => this.chooseLayers(),
    consumerClosed: (consumer: Consumer): void => {
      consumer.native?.remove();
      consumer.feed?.remove();
      if (consumer.simulcast) queueMicrotask(() => this.chooseLayers());
      this.consumers.delete(consumer.id);
      this.consumersBySsrc.delete(consumer.ssrc);
      if (!this.bidirectional) this.stamped.delete(consumer.ssrc);
      const slot = this.slots.find((s) => s.consumer === consumer);
      if (slot) slot.consumer = undefined;
      const line = this.lines.find((l) => l.consumer === consumer);
      if (line) line.consumer = undefined;
    },
  };

  private setIce(state: TransportIceState): void {
    if (this.ice === state) return;
    this.ice = state;
    this.emit('icestatechange', state);
  }

  private setDtls(state: TransportDtlsState): void {
    if (this.dtlsStateValue === state) return;
    this.dtlsStateValue = state;
    this.emit('dtlsstatechange', state);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`transport ${this.id}`);
  }
}
