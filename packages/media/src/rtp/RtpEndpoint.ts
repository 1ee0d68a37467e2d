import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes, randomUUID } from 'node:crypto';
import { isIPv6 } from 'node:net';
import {
  PictureLossIndication,
  RtcpPacketConverter,
  RtcpPayloadSpecificFeedback,
  RtpPacket,
  type RtcpPacket,
  type RtpHeader,
} from 'werift';
import { hostAddresses } from '../config.js';
import { MediaError } from '../core/errors.js';
import { MediaElement, type MediaElementEvents } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { MEDIA_KINDS, type CodecInfo, type MediaKind } from '../core/types.js';
import type { ConnectionState, Direction, KindStats } from '../core/endpointTypes.js';
import { InboundStream } from './InboundStream.js';
import { kindStats } from './kindStats.js';
import { OutboundStream, type RtpTransport } from './OutboundStream.js';
import { acceptAnswer, answerOffer, offerLines, parseRtpSdp, writeRtpSdp, type MediaLine, type NegotiatedMedia } from './rtpSdp.js';

/** SDES-SRTP keys, as Kurento's RtpEndpoint takes them. */
export interface SdesOptions {
  key?: string;
  keyBase64?: string;
  crypto?: 'AES_128_CM_HMAC_SHA1_32' | 'AES_128_CM_HMAC_SHA1_80' | 'AES_256_CM_HMAC_SHA1_32' | 'AES_256_CM_HMAC_SHA1_80';
}

export interface RtpEndpointOptions {
  /** What this endpoint does with media: 'sendrecv' (default), 'sendonly' or 'recvonly'. */
  direction?: Direction;
  /** Media kinds in the offer generateOffer() makes. Default both. */
  offerKinds?: MediaKind[];
  /** SDES-SRTP. Not supported yet: giving it throws MediaError INVALID_ARGUMENT. Default none. */
  crypto?: SdesOptions;
  /**
   * Answer as Kurento's RtpEndpoint does: an offer of which no section is usable (no
   * codec Roundtable forwards, SDES-SRTP, port 0) gets an answer that rejects every
   * section, and no media, instead of an error. Default false: NO_COMMON_CODEC.
   */
  rejectUnusableMedia?: boolean;
}

export interface RtpEndpointEvents extends MediaElementEvents {
  /** 'connecting' once negotiated, 'connected' when the first packet from the remote arrives. */
  connectionStateChange: [state: ConnectionState];
  /** An offer was answered (processOffer) or an answer applied (processAnswer). */
  negotiated: [];
}

export interface RtpEndpointStats {
  connectionState: ConnectionState;
  audio: KindStats;
  video: KindStats;
  /**
   * Datagrams dropped: neither RTP nor RTCP, an unknown payload type, or from an
   * address the remote description does not name.
   */
  invalidPackets: number;
}

type Remote = NonNullable<NegotiatedMedia['remote']>;

/** Ports tried when another process holds the one the allocator handed out. */
const BIND_ATTEMPTS = 5;

/**
 * Plain RTP over UDP, negotiated by SDP (Kurento's RtpEndpoint): for media servers,
 * gateways and tools that speak neither ICE nor DTLS. One UDP socket carries every
 * kind, RTP and RTCP. Media it receives enters the graph as InboundStreams; media from
 * its source goes out through one OutboundStream per kind.
 */
export class RtpEndpoint extends MediaElement<RtpEndpointEvents> {
  protected readonly forwardsInput = false;
  private readonly pipeline: MediaPipeline;
  private readonly options: RtpEndpointOptions;
  private readonly bindAddress: string;
  private readonly ssrcs: Record<MediaKind, number> = { audio: randomSsrc(), video: randomSsrc() };
  private readonly cname = randomUUID();
  private socket: Socket | undefined;
  private port: number | undefined;
  private busy = false;
  private offered: MediaLine[] | undefined;
  private localSdp: string | undefined;
  private remoteSdp: string | undefined;
  private readonly negotiated = new Map<MediaKind, NegotiatedMedia>();
  private readonly remoteAddresses = new Set<string>();
  private readonly inbound = new Map<number, InboundStream>();
  private readonly currentInbound = new Map<MediaKind, InboundStream>();
  private readonly outbound = new Map<MediaKind, OutboundStream>();
  private readonly keyframeRequestsSent = { audio: 0, video: 0 };
  private invalidPackets = 0;
  private rtcpTimer: NodeJS.Timeout | undefined;
  private connectionState: ConnectionState = 'new';

  constructor(pipeline: MediaPipeline, options: RtpEndpointOptions = {}) {
    if (options.crypto !== undefined) throw new MediaError('INVALID_ARGUMENT', 'SDES-SRTP is not supported by RtpEndpoint yet');
    super('RtpEndpoint', pipeline);
    this.pipeline = pipeline;
    this.options = options;
    this.bindAddress = hostAddresses(pipeline.config)[0]!;
  }

  get direction(): Direction {
    return this.options.direction ?? 'sendrecv';
  }

  getConnectionState(): ConnectionState {
    return this.connectionState;
  }

  /** Our description (offer or answer), once there is one. */
  getLocalSessionDescriptor(): string | undefined {
    return this.localSdp;
  }

  getRemoteSessionDescriptor(): string | undefined {
    return this.remoteSdp;
  }

  /** Answers the remote's offer. On any error nothing is changed and the endpoint stays usable. */
  async processOffer(offer: string): Promise<string> {
    this.assertCanNegotiate();
    const { lines, media } = answerOffer(parseRtpSdp(offer), this.direction, this.options.rejectUnusableMedia ?? false);
    if (media.length === 0) {
      // Nothing accepted: no socket, no media; the answer says so with port 0 everywhere.
      this.localSdp = this.describe(lines);
      this.remoteSdp = offer;
      this.emit('negotiated');
      return this.localSdp;
    }
    await this.openSocket();
    this.localSdp = this.describe(lines);
    this.remoteSdp = offer;
    this.start(media);
    this.emit('negotiated');
    return this.localSdp;
  }

  /**
   * Makes an offer, of `kinds` (default: option offerKinds, or both), for the remote
   * to answer with processAnswer().
   */
  async generateOffer(options: { kinds?: readonly MediaKind[] } = {}): Promise<string> {
    this.assertCanNegotiate();
    const kinds = options.kinds ?? this.options.offerKinds ?? MEDIA_KINDS;
    if (kinds.length === 0) throw new MediaError('INVALID_ARGUMENT', 'an offer needs audio or video');
    const lines = offerLines(kinds, this.direction);
    await this.openSocket();
    this.offered = lines;
    this.localSdp = this.describe(lines);
    return this.localSdp;
  }

  async processAnswer(answer: string): Promise<void> {
    this.assertOpen();
    if (!this.offered || this.remoteSdp !== undefined) {
      throw new MediaError('INVALID_STATE', 'processAnswer() needs an offer from generateOffer() first');
    }
    const media = acceptAnswer(this.offered, parseRtpSdp(answer), this.options.rejectUnusableMedia ?? false);
    this.remoteSdp = answer;
    // An answer that accepts nothing (allowed with rejectUnusableMedia) leaves no media to start.
    if (media.length > 0) this.start(media);
    this.emit('negotiated');
  }

  getStats(): RtpEndpointStats {
    const inbound = [...this.inbound.values()];
    return {
      connectionState: this.connectionState,
      audio: kindStats('audio', inbound, this.outbound.get('audio')?.stats, this.keyframeRequestsSent.audio),
      video: kindStats('video', inbound, this.outbound.get('video')?.stats, this.keyframeRequestsSent.video),
      invalidPackets: this.invalidPackets,
    };
  }

  /** The stream this endpoint currently receives for `kind`. */
  getInboundStream(kind: MediaKind): InboundStream | undefined {
    return this.currentInbound.get(kind);
  }

  getOutboundStream(kind: MediaKind): OutboundStream | undefined {
    return this.outbound.get(kind);
  }

  /** The UDP port this endpoint's socket is bound to, as [port, port], once negotiating. */
  get reservedPorts(): [number, number] | undefined {
    return this.port === undefined ? undefined : [this.port, this.port];
  }

  acceptRtp(stream: InboundStream, packet: RtpPacket, now: number): void {
    const out = this.outbound.get(stream.kind);
    if (!out || this.closed) return;
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
    if (this.rtcpTimer) clearInterval(this.rtcpTimer);
    this.rtcpTimer = undefined;
    for (const s of this.inbound.values()) s.close();
    for (const o of this.outbound.values()) o.detach();
    this.connectionState = 'closed';
    this.closeSocket();
  }

  // --- negotiation --------------------------------------------------------------

  private assertCanNegotiate(): void {
    this.assertOpen();
    if (this.busy || this.localSdp !== undefined) {
      throw new MediaError('INVALID_STATE', 'this endpoint has already negotiated; renegotiation is not supported');
    }
  }

  private describe(lines: MediaLine[]): string {
    return writeRtpSdp({
      address: this.pipeline.config.announcedAddress ?? this.bindAddress,
      port: this.port ?? 0,
      sessionId: `${Date.now()}`,
      cname: this.cname,
      ssrcs: this.ssrcs,
      lines,
    });
  }

  private start(media: NegotiatedMedia[]): void {
    for (const m of media) {
      this.negotiated.set(m.kind, m);
      if (!m.remote) continue;
      this.remoteAddresses.add(m.remote.address);
      if (m.send) this.outbound.set(m.kind, new OutboundStream(m.kind, this.ssrcs[m.kind], m.sendCodecs, this.transportTo(m.remote), () => []));
    }
    this.setConnectionState('connecting');
    this.rtcpTimer = setInterval(() => this.sendSenderReports(), this.pipeline.config.rtcpIntervalMs);
    this.rtcpTimer.unref();
  }

  /** Binds the socket on a port from the pipeline's range. */
  private async openSocket(): Promise<void> {
    this.busy = true;
    try {
      for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
        const port = this.pipeline.ports.reserve(1);
        const socket = createSocket({ type: isIPv6(this.bindAddress) ? 'udp6' : 'udp4' });
        try {
          await bind(socket, port, this.bindAddress);
        } catch (error) {
          closeQuietly(socket);
          this.pipeline.ports.release(port, 1);
          if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') continue; // held by another process
          throw new MediaError('NO_PORT_AVAILABLE', `cannot bind ${this.bindAddress}:${port}: ${(error as Error).message}`);
        }
        if (this.closed) {
          closeQuietly(socket);
          this.pipeline.ports.release(port, 1);
          throw new MediaError('OBJECT_CLOSED', `RtpEndpoint ${this.id} was closed during negotiation`);
        }
        this.socket = socket;
        this.port = port;
        socket.on('message', (data, from) => this.onDatagram(data, from));
        socket.on('error', (error) => console.error(`RtpEndpoint ${this.id} socket error`, error));
        return;
      }
      throw new MediaError('NO_PORT_AVAILABLE', `no free UDP port on ${this.bindAddress} after ${BIND_ATTEMPTS} attempts`);
    } finally {
      this.busy = false;
    }
  }

  private closeSocket(): void {
    if (this.socket) closeQuietly(this.socket);
    this.socket = undefined;
    if (this.port !== undefined) this.pipeline.ports.release(this.port, 1);
    this.port = undefined;
  }

  // --- receiving ------------------------------------------------------------------

  private onDatagram(data: Buffer, from: RemoteInfo): void {
    if (this.closed) return;
    const first = data[0];
    const second = data[1];
    if (!this.remoteAddresses.has(from.address) || first === undefined || second === undefined || first >> 6 !== 2) {
      this.invalidPackets++;
      return;
    }
    // RFC 5761: with RTP and RTCP on one port, RTCP has packet types 192-223 there.
    const handled = second >= 192 && second <= 223 ? this.onRtcp(data) : this.onRtp(data, from);
    if (!handled) this.invalidPackets++;
  }

  private onRtp(data: Buffer, from: RemoteInfo): boolean {
    if (data.length < 12) return false;
    let packet: RtpPacket;
    try {
      packet = RtpPacket.deSerialize(data);
    } catch {
      return false;
    }
    const h = packet.header;
    if (h.payloadOffset + h.paddingSize > data.length) return false;
    const match = this.receiveCodec(h.payloadType, from.port);
    if (!match) return false;
    this.setConnectionState('connected');
    if (!this.negotiated.get(match.kind)?.receive) return true;
    const now = performance.now();
    let stream = this.inbound.get(h.ssrc);
    if (stream && stream.kind !== match.kind) return false;
    if (!stream) {
      const ssrc = h.ssrc;
      const kind = match.kind;
      stream = new InboundStream(kind, ssrc, match.codec, () => this.sendKeyframeRequest(kind, ssrc), {
        retransmissionMs: this.pipeline.config.retransmissionMs,
        keyframeIntervalMs: this.pipeline.config.keyframeIntervalMs,
      });
      this.inbound.set(ssrc, stream);
    } else if (stream.codec.payloadType !== match.codec.payloadType) {
      stream.codec = match.codec;
    }
    this.currentInbound.set(match.kind, stream);
    if (!stream.receive(packet, now)) return true;
    this.lastIn[match.kind] = now;
    this.emitRtp(stream, packet, now);
    return true;
  }

  /** The kind and codec of a payload type; the source port decides when both kinds use it. */
  private receiveCodec(payloadType: number, fromPort: number): { kind: MediaKind; codec: CodecInfo } | undefined {
    const matches: { kind: MediaKind; codec: CodecInfo }[] = [];
    for (const m of this.negotiated.values()) {
      const codec = m.receiveCodecs.find((c) => c.payloadType === payloadType);
      if (codec) matches.push({ kind: m.kind, codec });
    }
    if (matches.length <= 1) return matches[0];
    return matches.find((x) => this.negotiated.get(x.kind)?.remote?.rtpPort === fromPort);
  }

  private onRtcp(data: Buffer): boolean {
    if (!isRtcpCompound(data)) return false;
    let packets: RtcpPacket[];
    try {
      packets = RtcpPacketConverter.deSerialize(data);
    } catch {
      return false;
    }
    this.setConnectionState('connected');
    for (const packet of packets) this.routeRtcp(packet);
    return true;
  }

  /** Hands RTCP about one of our streams to its OutboundStream. */
  private routeRtcp(packet: RtcpPacket): void {
    switch (packet.type) {
      case 200:
      case 201:
        // Each OutboundStream picks the report blocks about its own SSRC.
        for (const out of this.outbound.values()) out.handleRtcp(packet);
        break;
      case 205:
        this.outboundBySsrc(packet.feedback.mediaSourceSsrc)?.handleRtcp(packet);
        break;
      case 206: {
        const fb = packet.feedback;
        const targets = 'fir' in fb ? fb.fir.map((e) => e.ssrc) : 'ssrcFeedbacks' in fb ? fb.ssrcFeedbacks : [fb.mediaSsrc];
        for (const ssrc of new Set(targets)) this.outboundBySsrc(ssrc)?.handleRtcp(packet);
        break;
      }
      default:
        break;
    }
  }

  private outboundBySsrc(ssrc: number): OutboundStream | undefined {
    for (const out of this.outbound.values()) if (out.ssrc === ssrc) return out;
    return undefined;
  }

  private setConnectionState(state: ConnectionState): void {
    if (this.connectionState === state || this.connectionState === 'connected') return;
    this.connectionState = state;
    this.emit('connectionStateChange', state);
  }

  // --- sending --------------------------------------------------------------------

  private transportTo(remote: Remote): RtpTransport {
    return {
      sendRtp: (payload: Buffer, header: RtpHeader) => this.send(new RtpPacket(header, payload).serialize(), remote.address, remote.rtpPort),
      sendRtcp: (packets: RtcpPacket[]) => this.send(Buffer.concat(packets.map((p) => p.serialize())), remote.address, remote.rtcpPort),
    };
  }

  private send(data: Buffer, address: string, port: number): void {
    if (this.closed || !this.socket) return;
    // A failed send (unreachable remote) is not the sender's problem: RTP is lossy anyway.
    this.socket.send(data, port, address, () => undefined);
  }

  private sendKeyframeRequest(kind: MediaKind, mediaSsrc: number): void {
    const remote = this.negotiated.get(kind)?.remote;
    if (!remote) return;
    this.keyframeRequestsSent[kind]++;
    const pli = new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: this.ssrcs[kind], mediaSsrc }) });
    this.send(pli.serialize(), remote.address, remote.rtcpPort);
  }

  private sendSenderReports(): void {
    if (this.closed) return;
    for (const out of this.outbound.values()) out.sendSenderReport();
  }
}

/** True when `data` is a sequence of whole RTCP packets of version 2. */
function isRtcpCompound(data: Buffer): boolean {
  let pos = 0;
  while (pos + 4 <= data.length) {
    if (data[pos]! >> 6 !== 2) return false;
    pos += (data.readUInt16BE(pos + 2) + 1) * 4;
  }
  return pos === data.length;
}

function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // Already closed: nothing left to release.
  }
}

function randomSsrc(): number {
  return randomBytes(4).readUInt32BE(0) || 1;
}
