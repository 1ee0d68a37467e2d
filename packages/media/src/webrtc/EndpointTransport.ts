import { RtpHeader, RtpPacket } from 'werift';
import type { MediaConfig } from '../config.js';
import type { KindStats } from '../core/endpointTypes.js';
import { MediaError } from '../core/errors.js';
import type { MediaKind } from '../core/types.js';
import type { MuxAddress } from '../net/UdpMux.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { Consumer, type ConsumerLink } from '../transport/Consumer.js';
import type { DtlsCertificate } from '../transport/DtlsSession.js';
import { Producer, type ProducerLink } from '../transport/Producer.js';
import { RelaySocket } from '../transport/RelaySocket.js';
import { payloadOf, readRtp, type RtpView } from '../transport/RtpView.js';
import { serverReflexiveAddress, type StunServerAddress } from '../transport/serverReflexive.js';
import { hostCandidatePriority, type NegotiatedCodec } from '../transport/transportSdp.js';
import type { TurnServerAddress } from '../transport/TurnClient.js';
import { WebRtcTransport, type TransportDtlsState, type TransportIceState } from '../transport/WebRtcTransport.js';
import type { EndpointMux } from './EndpointMux.js';
import type { Direction } from './types.js';

/** What an EndpointTransport tells its WebRtcEndpoint. */
export interface EndpointTransportHost {
  /** A packet of the peer's `kind` media, into the element graph. */
  received(kind: MediaKind, stream: InboundStream, packet: RtpPacket, now: number): void;
  /** The endpoint's source of `kind` is asked for a keyframe (the peer asked us for one). */
  requestSourceKeyframe(kind: MediaKind): void;
  /**
   * The endpoint's source of `kind` is a WebRtcEndpoint connected to it directly: only
   * then may its producer be consumed as is. Through a hub port or a pass-through the
   * graph decides what flows (a hub's removeSource() stops it), so its packets are taken.
   */
  sourceIsEndpoint(kind: MediaKind): boolean;
  /** The cap on the REMB sent to the peer for its video, kbit/s (Kurento's maxVideoRecvBandwidth; undefined: none). */
  maxVideoRecvBandwidth(): number | undefined;
  iceState(state: TransportIceState): void;
  dtlsState(state: TransportDtlsState): void;
  /** The pair media flows on, first selected or moved by the peer: the peer's address and port, and ours. */
  tuple(address: string, port: number, local: MuxAddress): void;
}

/** The graph stream a transport producer is emitted as, per producer: a sink endpoint on a transport consumes the producer itself. */
const producerOfStream = new WeakMap<InboundStream, Producer>();

/** A relayed candidate's priority (RFC 8445 §5.1.2.1): type preference 0, local preference 65535, component 1. */
const RELAYED_PRIORITY = (0 << 24) + (65535 << 8) + (256 - 1);


interface Emitted {
  consumer: Consumer;
  stream: InboundStream;
}

interface Input {
  /** The graph stream that feeds it. */
  stream: InboundStream;
  /** The producer the transport consumes: the source endpoint's own (direct), or one made of the stream's packets. */
  producer: Producer;
  /** Made here from the stream's packets (closed when the input changes). */
  made: boolean;
}

/**
 * A Kurento WebRtcEndpoint's media on the engine's own transport: one bidirectional
 * WebRtcTransport on the shared UDP port of each ICE address, or in port-range mode on a
 * port of its own on each (a host candidate on each; media on the pair the peer selects;
 * ICE-lite toward browsers, checks of its own toward lite peers, DTLS through werift's
 * DTLS package as a library, our SRTP and RTCP). Its producers (what the peer sends) go into the element graph through a consumer each;
 * what the graph sends to the endpoint goes out through the transport's consumer of the
 * m-line's kind: the source endpoint's producer itself when the source is an endpoint
 * on its own transport too (connect() is then a consumer of that producer, as between
 * transports), else a producer made of the element's packets.
 */
export class EndpointTransport {
  private readonly emitted = new Map<string, Emitted>();
  private readonly inputs = new Map<MediaKind, Input>();
  private readonly keyframeRequestsSent = { audio: 0, video: 0 };
  private reflexive: Promise<MuxAddress | undefined> | undefined;
  private relay: Promise<RelaySocket | undefined> | undefined;
  /** The relay once the transport has it. */
  private relayed: RelaySocket | undefined;
  private closed = false;

  private constructor(
    readonly transport: WebRtcTransport,
    /** Its socket on each ICE address, in their order (the first: the server-reflexive candidate's). */
    private readonly sockets: readonly EndpointMux[],
    private readonly config: MediaConfig,
    private readonly host: EndpointTransportHost,
  ) {
    transport.on('producer', (producer) => this.emitProducer(producer));
    transport.on('icestatechange', (state) => {
      if (state === 'connected') this.noteTuple();
      host.iceState(state);
    });
    transport.on('dtlsstatechange', (state) => host.dtlsState(state));
    transport.on('tuplechange', () => this.noteTuple());
  }

  /**
   * The transport of one endpoint on `sockets`, one per ICE address (on the TypeScript
   * packet path or the native core, as the sockets are), which it takes over: released
   * when the transport closes, or here when it cannot be made.
   */
  static async open(config: MediaConfig, sockets: readonly EndpointMux[], options: { certificate: Promise<DtlsCertificate>; announcedAddress: string | undefined; direction: Direction; offering: boolean; acceptsRemoteAddress: (ip: string) => boolean; relayed: boolean; dataChannels: boolean }, host: EndpointTransportHost): Promise<EndpointTransport> {
    try {
      const transport = new WebRtcTransport({
        mux: sockets.map((s) => s.mux),
        certificate: await options.certificate,
        bidirectional: true,
        direction: options.direction,
        dataChannels: options.dataChannels,
        // Offering, the endpoint runs full ICE and checks its peer (the controlling agent): an answerer need not take the
        // controlling role toward a lite offerer (werift does not).
        iceLite: !options.offering,
        announcedAddress: options.announcedAddress,
        acceptsRemoteAddress: options.acceptsRemoteAddress,
        rtcpIntervalMs: config.rtcpIntervalMs,
        // Kurento's maxVideoRecvBandwidth (kbit/s; 0 or unset: none) caps the REMB the peer's video gets.
        incomingBitrateCap: () => {
          const kbps = host.maxVideoRecvBandwidth();
          return kbps ? kbps * 1000 : undefined;
        },
        // A relayed pair is served in JavaScript: the native core sends only from its own sockets.
        nativeCore: !options.relayed,
      });
      return new EndpointTransport(transport, sockets, config, host);
    } catch (error) {
      for (const socket of sockets) socket.release();
      throw error;
    }
  }

  /** Single-port mode: the shared port of the first ICE address, while held. */
  get sharedPort(): number | undefined {
    return this.sockets[0]!.sharedPort;
  }

  /** Port-range mode: the endpoint's own port on the first ICE address, while held. */
  get reservedPort(): number | undefined {
    return this.sockets[0]!.reservedPort;
  }

  /** Port-range mode: datagrams the endpoint's own sockets dropped before the transport saw them (strangers, malformed); 0 on the shared port. */
  get socketDrops(): number {
    return this.sockets.reduce((sum, s) => sum + s.socketDrops, 0);
  }

  /**
   * The host candidates, as trickled, best first: one per ICE address on its socket's
   * port (the order of the addresses is the order of preference, RFC 8445 §5.1.2.1);
   * with an announced address, that address with the first socket's port, once.
   */
  hostCandidates(announced: string | undefined): string[] {
    const muxes = this.sockets.map((s) => s.mux);
    return (announced === undefined ? muxes : muxes.slice(0, 1)).map((mux, i) => this.hostCandidate(i, announced ?? mux.address, mux.port));
  }

  /** Our side of the pair `local` (a socket's address and port, or the relayed address), as announced. */
  localCandidate(local: MuxAddress, announced: string | undefined): string {
    const relay = this.relayed;
    if (relay && relay.local[0] === local[0] && relay.local[1] === local[1]) return this.relayCandidate(relay);
    const i = Math.max(0, this.sockets.findIndex((s) => s.mux.address === local[0] && s.mux.port === local[1]));
    return this.hostCandidate(announced === undefined ? i : 0, announced ?? local[0], local[1]);
  }

  private hostCandidate(index: number, address: string, port: number): string {
    return `candidate:${index + 1} 1 udp ${hostCandidatePriority(index)} ${address} ${port} typ host generation 0 ufrag ${this.transport.ufrag}`;
  }

  /**
   * The server-reflexive candidate of the first ICE address's port (RFC 8445 §5.1.1.2):
   * the address `server` sees the port at, asked once per endpoint (the mapping is the
   * socket's, ICE restarts keep it); undefined when the server does not answer in time.
   */
  async serverReflexiveCandidate(server: StunServerAddress): Promise<string | undefined> {
    const mux = this.sockets[0]!.mux;
    this.reflexive ??= serverReflexiveAddress(mux, server);
    const mapped = await this.reflexive;
    if (!mapped || this.closed) return undefined;
    // Its foundation follows the host candidates' (another type, RFC 8445 §5.1.1.3).
    return `candidate:${this.sockets.length + 1} 1 udp 1694498815 ${mapped[0]} ${mapped[1]} typ srflx raddr ${mux.address} rport ${mux.port} generation 0 ufrag ${this.transport.ufrag}`;
  }

  /**
   * The relayed candidate (RFC 8445 §5.1.1.2): an allocation on `server` from a socket of
   * the endpoint's own on the first ICE address, made once per endpoint (ICE restarts
   * keep it) and added to the transport; undefined when the server refuses or does not
   * answer, or the transport was not made for relaying (`relayed`).
   */
  async relayedCandidate(server: TurnServerAddress): Promise<string | undefined> {
    const local = this.sockets[0]!.mux.address;
    this.relay ??= RelaySocket.open(server, local).then((relay) => {
      if (typeof relay === 'string') return undefined;
      try {
        if (this.closed) throw new MediaError('OBJECT_CLOSED', 'the endpoint closed');
        this.transport.addRelay(relay);
        this.relayed = relay;
        return relay;
      } catch {
        relay.close();
        return undefined;
      }
    });
    const relay = await this.relay;
    if (!relay || relay.isClosed || this.closed) return undefined;
    return this.relayCandidate(relay);
  }

  private relayCandidate(relay: RelaySocket): string {
    const base = relay.mapped ?? relay.local;
    return `candidate:${this.sockets.length + 2} 1 udp ${RELAYED_PRIORITY} ${relay.local[0]} ${relay.local[1]} typ relay raddr ${base[0]} rport ${base[1]} generation 0 ufrag ${this.transport.ufrag}`;
  }

  /** Negotiation changed the m-lines: what the graph sends goes on them now. */
  negotiated(): void {
    for (const kind of ['audio', 'video'] as const) {
      const input = this.inputs.get(kind);
      if (input) this.consume(kind, input.producer);
    }
  }

  // --- the graph into the transport (the endpoint as a sink) --------------------------

  /** A packet from the endpoint's source of `stream.kind`: to the peer through the transport. */
  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    if (this.closed) return;
    const kind = stream.kind;
    let input = this.inputs.get(kind);
    if (!input || input.stream !== stream) {
      input = this.input(stream);
      if (!input) return;
    }
    if (!input.made || input.producer.isClosed) return;
    const view = readRtp(packet.serialize());
    if (view) input.producer.receive(view, now, false);
  }

  /** The endpoint's source of `kind` went: nothing more is sent on that m-line until another comes. */
  sourceDisconnected(kind: MediaKind): void {
    const input = this.inputs.get(kind);
    if (!input) return;
    this.inputs.delete(kind);
    const consumer = [...this.transport.consumers.values()].find((c) => c.kind === kind);
    if (consumer && !consumer.isClosed && !consumer.isPaused) consumer.pause();
    if (input.made) input.producer.close();
  }

  // --- the transport into the graph (the endpoint as a source) ------------------------

  /** A sink asked for a keyframe of what the endpoint emits: the peer is asked. */
  requestKeyframe(kind: MediaKind): void {
    for (const e of this.emitted.values()) {
      if (e.consumer.kind !== kind) continue;
      this.keyframeRequestsSent[kind]++;
      e.consumer.requestKeyframe();
    }
  }

  /** The graph stream of the peer's `kind` media, once it sent some. */
  /** The SSRC of what the transport sends the peer for `kind` (its consumer on that m-line), if it sends any. */
  outboundSsrc(kind: MediaKind): number | undefined {
    for (const consumer of this.transport.consumers.values()) if (consumer.kind === kind && !consumer.isClosed) return consumer.ssrc;
    return undefined;
  }

  inboundStream(kind: MediaKind): InboundStream | undefined {
    for (const e of this.emitted.values()) {
      if (e.stream.kind !== kind || e.consumer.isClosed) continue;
      // Sinks on their own transport ask the producer itself, not this stream: its count of requests is the source's.
      const requests = e.consumer.producer.stats.keyframeRequests;
      if (requests > e.stream.keyframes.requested) e.stream.keyframes.requested = requests;
      return e.stream;
    }
    return undefined;
  }

  kindStats(kind: MediaKind): KindStats {
    const stats: KindStats = {
      packetsReceived: 0,
      bytesReceived: 0,
      packetsLost: 0,
      packetsSent: 0,
      bytesSent: 0,
      nacksReceived: 0,
      retransmitted: 0,
      plisReceived: 0,
      firsReceived: 0,
      keyframeRequestsSent: this.keyframeRequestsSent[kind],
      roundTripTime: undefined,
      fractionLostReported: undefined,
      codecMismatches: 0,
    };
    for (const producer of this.transport.producers.values()) {
      if (producer.kind !== kind) continue;
      const p = producer.stats;
      stats.packetsReceived += p.packets;
      stats.bytesReceived += p.bytes;
      stats.packetsLost += p.lost;
    }
    for (const consumer of this.transport.consumers.values()) {
      if (consumer.kind !== kind) continue;
      const c = consumer.stats;
      stats.packetsSent += c.packets;
      stats.bytesSent += c.bytes;
      stats.nacksReceived += c.nacksReceived;
      stats.retransmitted += c.retransmitted;
      stats.plisReceived += c.plisReceived;
      stats.firsReceived += c.firsReceived;
      stats.roundTripTime ??= c.roundTripTime;
      stats.fractionLostReported ??= c.fractionLost;
    }
    return stats;
  }

  /** Closes the transport (its producers and consumers) and gives the port back. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const input of this.inputs.values()) if (input.made) input.producer.close();
    this.inputs.clear();
    for (const e of this.emitted.values()) {
      e.consumer.close();
      e.stream.close();
    }
    this.emitted.clear();
    this.transport.close();
    for (const socket of this.sockets) socket.release();
  }

  private emitProducer(producer: Producer): void {
    const kind = producer.kind;
    const link: ConsumerLink = {
      canSend: () => !this.closed,
      sendRtp: (packet, payloadType, seq, timestamp, ssrc) => this.emitPacket(producer.id, packet, payloadType, seq, timestamp, ssrc),
      consumerClosed: () => {
        const e = this.emitted.get(producer.id);
        if (!e) return;
        this.emitted.delete(producer.id);
        e.stream.close();
      },
    };
    const consumer = new Consumer(producer, `graph-${kind}`, link);
    const stream = new InboundStream(kind, consumer.ssrc, consumer.codec, () => consumer.requestKeyframe(), {
      retransmissionMs: this.config.retransmissionMs,
      keyframeIntervalMs: this.config.keyframeIntervalMs,
    });
    producerOfStream.set(stream, producer);
    this.emitted.set(producer.id, { consumer, stream });
  }

  private emitPacket(id: string, packet: RtpView, payloadType: number, seq: number, timestamp: number, ssrc: number): void {
    const e = this.emitted.get(id);
    if (!e || this.closed) return;
    const now = performance.now();
    const header = new RtpHeader({ payloadType, sequenceNumber: seq, timestamp, ssrc, marker: packet.header.marker });
    const rtp = new RtpPacket(header, Buffer.from(payloadOf(packet)));
    if (!e.stream.receive(rtp, now)) return;
    this.host.received(e.stream.kind, e.stream, rtp, now);
  }

  /** A new graph stream for `stream.kind`: consume its source's producer, or one made of its packets. */
  private input(stream: InboundStream): Input | undefined {
    const kind = stream.kind;
    const previous = this.inputs.get(kind);
    const direct = this.host.sourceIsEndpoint(kind) ? producerOfStream.get(stream) : undefined;
    let input: Input;
    if (direct && !direct.isClosed) {
      input = { stream, producer: direct, made: false };
    } else {
      const codec: NegotiatedCodec = { ...stream.codec, rtcpFeedback: kind === 'video' ? ['nack', 'nack pli'] : [] };
      const link: ProducerLink = {
        // Packets lost between the source element and this endpoint are not asked for again: they are in this process.
        sendNack: () => undefined,
        sendKeyframeRequest: () => this.host.requestSourceKeyframe(kind),
        producerClosed: () => undefined,
      };
      const producer = new Producer({ kind, mid: `graph-${kind}`, codec, ssrc: stream.ssrc, rtxSsrc: undefined, rtxPayloadType: undefined, cname: undefined }, link);
      input = { stream, producer, made: true };
    }
    this.inputs.set(kind, input);
    this.consume(kind, input.producer);
    if (previous?.made) previous.producer.close();
    return input;
  }

  /** `producer` on the m-line of `kind`, when one sends to the peer (else at the next negotiation). */
  private consume(kind: MediaKind, producer: Producer): void {
    if (producer.isClosed || this.transport.isClosed) return;
    const sending = [...this.transport.consumers.values()].find((c) => c.kind === kind);
    if (sending && !sending.isClosed && sending.producer === producer) {
      // Already on it (a re-offer kept the m-line): on the native core a new consumer would start its numbering again.
      if (sending.isPaused) sending.resume();
      return;
    }
    try {
      const consumer = this.transport.consume(producer);
      if (consumer.isPaused) consumer.resume();
    } catch {
      // No m-line sends this kind yet (not negotiated), or its codec differs: nothing goes out.
      if (sending && !sending.isClosed && !sending.isPaused) sending.pause();
    }
  }

  private noteTuple(): void {
    const tuple = this.transport.selectedTuple;
    const local = this.transport.selectedLocal;
    if (tuple && local) this.host.tuple(tuple[0], tuple[1], local);
  }
}
