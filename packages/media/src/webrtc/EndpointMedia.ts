import {
  ReceiverEstimatedMaxBitrate,
  RtcpPayloadSpecificFeedback,
  RTP_EXTENSION_URI,
  serializeAbsSendTime,
  serializeSdesMid,
  type Extension,
  type MediaStreamTrack,
  type RtcpPacket,
  type RtpHeader,
  type RtpPacket,
  type RTCDtlsTransport,
  type RTCPeerConnection,
  type RTCRtpTransceiver,
} from 'werift';
import type { MediaConfig } from '../config.js';
import type { KindStats } from '../core/endpointTypes.js';
import type { MediaKind } from '../core/types.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { kindStats } from '../rtp/kindStats.js';
import { OutboundStream, type RtpTransport } from '../rtp/OutboundStream.js';
import { FastPath, type ExtensionLayout, type FastPathStats } from './FastPath.js';
import { toCodecInfo } from './peerConnection.js';
import type { DtlsState } from './types.js';

/** What EndpointMedia needs of its endpoint. */
export interface EndpointMediaHost {
  readonly config: MediaConfig;
  isClosed(): boolean;
  /** DTLS is up on the endpoint's connection: RTCP and keyframe requests can go out. */
  canSend(): boolean;
  /** A packet from the peer its stream accepted: into the media graph. */
  received(kind: MediaKind, stream: InboundStream, packet: RtpPacket, now: number): void;
  /** The cap on the estimate passed back to the video source, kbit/s (undefined: none). */
  maxVideoRecvBandwidth(): number | undefined;
}

/**
 * The media of one WebRtcEndpoint's peer connection: what the peer sends enters as
 * InboundStreams (one per SSRC), what the endpoint's sources send leaves through one
 * OutboundStream per kind; keyframe requests and REMB go back to the peer, sender
 * reports every rtcpIntervalMs; Roundtable's own RTP/RTCP path (FastPath) once DTLS is
 * up (config fastPath).
 */
export class EndpointMedia {
  private readonly transceivers = new Map<MediaKind, RTCRtpTransceiver>();
  private readonly inbound = new Map<number, InboundStream>();
  private readonly currentInbound = new Map<MediaKind, InboundStream>();
  private readonly outbound = new Map<MediaKind, OutboundStream>();
  private readonly keyframeRequestsSent = { audio: 0, video: 0 };
  private invalid = 0;
  private rtcpTimer: NodeJS.Timeout | undefined;
  private fastPath: FastPath | undefined;

  constructor(private readonly host: EndpointMediaHost) {}

  /** Datagrams dropped on the media port: garbage, or (S)RTP failing authentication. */
  get invalidPackets(): number {
    return this.invalid;
  }

  /** Takes the negotiated transceivers of `pc`: receivers into the graph, senders from it. */
  bind(pc: RTCPeerConnection): void {
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
        const out = new OutboundStream(kind, t.sender.ssrc, t.codecs.map(toCodecInfo), this.transportFor(t), extensionWriter(t));
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
    }
  }

  /** DTLS of the connection changed state: the fast path starts when it is up (and the transport not released), ends when it is not. */
  onDtlsState(dtls: RTCDtlsTransport, state: DtlsState, released: boolean): void {
    if (state === 'connected' && this.host.config.fastPath && !this.fastPath && !released) {
      // Before anything sends RTCP: from here on one SRTCP context sends it all.
      this.fastPath = FastPath.start(dtls, { invalid: () => this.invalid++ });
    } else if (state !== 'connected') {
      this.fastPath?.close();
      this.fastPath = undefined;
    }
  }

  /** Sender reports and REMB every `intervalMs`. */
  startRtcp(intervalMs: number): void {
    this.rtcpTimer = setInterval(() => this.sendPeriodicRtcp(), intervalMs);
    this.rtcpTimer.unref();
  }

  getInboundStream(kind: MediaKind): InboundStream | undefined {
    return this.currentInbound.get(kind);
  }

  getOutboundStream(kind: MediaKind): OutboundStream | undefined {
    return this.outbound.get(kind);
  }

  /** Asks the peer for a keyframe of what it sends of `kind`. */
  requestKeyframe(kind: MediaKind): void {
    this.currentInbound.get(kind)?.requestKeyframe();
  }

  kindStats(kind: MediaKind): KindStats {
    return kindStats(kind, this.inbound.values(), this.outbound.get(kind)?.stats, this.keyframeRequestsSent[kind]);
  }

  getFastPathStats(): FastPathStats | undefined {
    return this.fastPath?.getStats();
  }

  /** The transport is let go: no more timers, streams or fast path. */
  close(): void {
    this.fastPath?.close();
    this.fastPath = undefined;
    if (this.rtcpTimer) clearInterval(this.rtcpTimer);
    this.rtcpTimer = undefined;
    for (const s of this.inbound.values()) s.close();
    for (const o of this.outbound.values()) o.detach();
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
          this.invalid++;
          throw error;
        }
      };
    };
    dtls.iceTransport.connection.onData.subscribe((data: Buffer) => {
      const first = data[0];
      const dtlsRange = first !== undefined && first >= 20 && first <= 63;
      const rtpRange = first !== undefined && first >= 128 && first <= 191;
      if (!dtlsRange && !rtpRange) {
        this.invalid++;
        return;
      }
      if (rtpRange && (data.length < 12 || !dtls.srtpStarted)) {
        this.invalid++;
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
    const layout = extensionLayout(t);
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

  private onRemoteRtp(kind: MediaKind, t: RTCRtpTransceiver, packet: RtpPacket): void {
    if (this.host.isClosed()) return;
    const now = performance.now();
    const ssrc = packet.header.ssrc;
    let stream = this.inbound.get(ssrc);
    const codec = t.codecs.find((c) => c.payloadType === packet.header.payloadType);
    if (!codec) return;
    if (!stream) {
      stream = new InboundStream(kind, ssrc, toCodecInfo(codec), () => this.sendKeyframeRequest(t, kind, ssrc), {
        retransmissionMs: this.host.config.retransmissionMs,
        keyframeIntervalMs: this.host.config.keyframeIntervalMs,
      });
      this.inbound.set(ssrc, stream);
    } else if (stream.codec.payloadType !== codec.payloadType) {
      stream.codec = toCodecInfo(codec);
    }
    this.currentInbound.set(kind, stream);
    if (!stream.receive(packet, now)) return;
    this.host.received(kind, stream, packet, now);
  }

  private sendKeyframeRequest(t: RTCRtpTransceiver, kind: MediaKind, ssrc: number): void {
    if (!this.host.canSend()) return;
    this.keyframeRequestsSent[kind]++;
    // PLI: every WebRTC receiver answers it; FIR from sinks is folded into it too.
    t.receiver.sendRtcpPLI(ssrc).catch(() => undefined);
  }

  private sendPeriodicRtcp(): void {
    if (this.host.isClosed() || !this.host.canSend()) return;
    for (const out of this.outbound.values()) out.sendSenderReport();
    // Pass the lowest estimate of the sinks' receivers back to the source peer.
    for (const [kind, stream] of this.currentInbound) {
      if (kind !== 'video') continue;
      const kbps = this.host.maxVideoRecvBandwidth();
      const cap = kbps ? kbps * 1000 : undefined;
      const fromSinks = stream.minSubscriberBitrate();
      const bitrate = fromSinks === undefined ? cap : cap === undefined ? fromSinks : Math.min(fromSinks, cap);
      const t = this.transceivers.get(kind);
      if (bitrate === undefined || !t) continue;
      t.receiver.dtlsTransport.sendRtcp([rembPacket(t.receiver.rtcpSsrc, stream.ssrc, bitrate)]).catch(() => undefined);
    }
  }
}

function extensionLayout(t: RTCRtpTransceiver): ExtensionLayout {
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

function extensionWriter(t: RTCRtpTransceiver): () => Extension[] {
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
