import { linearLevel, type AudioLevelReading } from '../transport/audioLevel.js';
import { randomInt } from 'node:crypto';
import type { MuxAddress } from '../net/UdpMux.js';
import type { SentPackets } from '../bwe/SendHistory.js';
import { deriveSessionKeys, type SessionKeys } from '../srtp/kdf.js';
import type { SrtpKeyingMaterial } from '../srtp/SrtpSession.js';
import type { NativePacketCore, NativeTapReceiver, NativeTransportReceiver } from './PacketCore.js';

/** What the core counts for one transport (added to the transport's own counters). */
export interface NativeTransportCounters {
  rtpIn: number;
  rtcpIn: number;
  rtpOut: number;
  /** RTCP the core made itself: NACKs to senders. */
  rtcpOut: number;
  droppedSrtp: number;
  /** droppedSrtp by reason: truncated or malformed, failing authentication, replayed (or an index out of reach). */
  srtpTruncated: number;
  srtpAuthFailures: number;
  srtpReplayed: number;
  droppedUnknownSsrc: number;
  droppedOther: number;
}

/** A producer's receive statistics as the core keeps them (Producer.ts reads them). */
export interface NativeProducerCounters {
  packets: number;
  bytes: number;
  lost: number;
  duplicates: number;
  retransmissionsReceived: number;
  nacksSent: number;
  nackedPackets: number;
  jitter: number;
  /** Undefined before the first packet. */
  highestSeq: number | undefined;
  cycles: number;
  baseSeq: number;
}

/** A consumer's send statistics and rewrite state as the core keeps them. */
export interface NativeConsumerCounters {
  packets: number;
  bytes: number;
  droppedAwaitingKeyframe: number;
  droppedBeforeStart: number;
  nacksReceived: number;
  retransmitted: number;
  retransmitMisses: number;
  retransmitsSkipped: number;
  /** The newest packet's output timestamp and sequence number, and how long ago it was sent (ms); undefined before any. */
  lastTimestamp: number | undefined;
  lastSequenceNumber: number | undefined;
  msSinceLast: number;
}

/**
 * A producer's entry in the core's tables: one of a transport (its packets arrive in the
 * core), or a fed one (NativeProducer.fed: JavaScript hands its packets down).
 */
export class NativeProducer {
  constructor(
    readonly core: NativePacketCore,
    readonly id: number,
  ) {}

  /** A producer of no transport whose packets JavaScript feeds (a mix, an endpoint's media) to consumers in the core. */
  static fed(core: NativePacketCore, p: { payloadType: number; clockRate: number; mimeType: string; video: boolean }): NativeProducer {
    return new NativeProducer(core, core.raw.addFedProducer(p.payloadType, p.clockRate, codecOf(p.mimeType), p.video));
  }

  /** Whether its entry is still usable (its core runs: a core ends with its last socket). */
  get usable(): boolean {
    return !this.core.isClosed;
  }

  /** Fed producers: one unprotected RTP packet, forwarded to the core's consumers of it before this returns. */
  feed(packet: Buffer): void {
    if (!this.core.isClosed) this.core.raw.feed(this.id, packet);
  }

  /** Its packets come up to `receiver` (JavaScript sinks), until undefined. */
  setTap(receiver: NativeTapReceiver | undefined): void {
    this.core.setTap(this.id, receiver);
  }

  /** An SSRC (or RTX SSRC) learned from a packet's mid. */
  bindSsrc(ssrc: number, rtx: boolean): void {
    if (!this.core.isClosed) this.core.raw.bindProducerSsrc(this.id, ssrc >>> 0, rtx);
  }

  setPaused(paused: boolean): void {
    if (!this.core.isClosed) this.core.raw.setProducerPaused(this.id, paused);
  }

  /** The core reads the audio level extension (RFC 6464) with this id from its packets. */
  setAudioLevelExtension(extensionId: number): void {
    if (!this.core.isClosed) this.core.raw.setProducerAudioLevel(this.id, extensionId);
  }

  /** The audio levels of its packets since the previous read (setAudioLevelExtension first); starts a new period. */
  readAudioLevel(): AudioLevelReading {
    const v = this.core.isClosed ? undefined : this.core.raw.readProducerAudioLevel(this.id);
    if (!v) return { level: 0, packets: 0, voicePackets: 0 };
    const [loudest, packets, voicePackets] = v as [number, number, number];
    return { level: linearLevel(loudest), packets, voicePackets };
  }

  counters(): NativeProducerCounters | undefined {
    const v = this.core.isClosed ? undefined : this.core.raw.producerStats(this.id);
    if (!v) return undefined;
    const [packets, bytes, lost, duplicates, retransmissionsReceived, nacksSent, nackedPackets, jitter, started, highestSeq, cycles, baseSeq] = v as [number, number, number, number, number, number, number, number, number, number, number, number];
    return { packets, bytes, lost, duplicates, retransmissionsReceived, nacksSent, nackedPackets, jitter, highestSeq: started ? highestSeq : undefined, cycles, baseSeq };
  }

  remove(): void {
    this.core.setTap(this.id, undefined);
    if (!this.core.isClosed) this.core.raw.removeProducer(this.id);
  }
}

/** A consumer's entry in the core's tables. */
export class NativeConsumer {
  constructor(
    private readonly core: NativePacketCore,
    readonly id: number,
  ) {}

  setPaused(paused: boolean): void {
    if (!this.core.isClosed) this.core.raw.setConsumerPaused(this.id, paused);
  }

  /** The least time between two resends of one packet (ms): the round trip to the subscriber. */
  setResendInterval(ms: number): void {
    if (!this.core.isClosed) this.core.raw.setConsumerResend(this.id, ms, -1);
  }

  /** NACKs for what was fed before `seq` (the simulcast consumer's last layer switch) are not answered. */
  setResendFloor(seq: number): void {
    if (!this.core.isClosed) this.core.raw.setConsumerResend(this.id, -1, seq & 0xffff);
  }

  /** The core stamps the transport-wide sequence number extension with this id on what it sends for this consumer (0: none). */
  setTransportCc(extensionId: number): void {
    if (!this.core.isClosed) this.core.raw.setConsumerTransportCc(this.id, extensionId);
  }

  /** A bandwidth probe: `count` padding-only packets (`size` padding bytes) in its stream, stamped; the first transport-wide number used and how many went. */
  sendPadding(count: number, size: number): { first: number; sent: number } {
    const v = this.core.isClosed ? undefined : this.core.raw.sendPadding(this.id, count, size);
    return v ? { first: v[0]!, sent: v[1]! } : { first: 0, sent: 0 };
  }

  counters(): NativeConsumerCounters | undefined {
    const v = this.core.isClosed ? undefined : this.core.raw.consumerStats(this.id);
    if (!v) return undefined;
    const [packets, bytes, droppedAwaitingKeyframe, droppedBeforeStart, nacksReceived, retransmitted, retransmitMisses, lastTs, msSinceLast, started, lastSeq, retransmitsSkipped] = v as [
      number, number, number, number, number, number, number, number, number, number, number, number,
    ];
    return {
      packets,
      bytes,
      droppedAwaitingKeyframe,
      droppedBeforeStart,
      nacksReceived,
      retransmitted,
      retransmitMisses,
      retransmitsSkipped,
      lastTimestamp: started ? lastTs : undefined,
      lastSequenceNumber: started ? lastSeq : undefined,
      msSinceLast,
    };
  }

  remove(): void {
    if (!this.core.isClosed) this.core.raw.removeConsumer(this.id);
  }
}

export interface NativeProducerParameters {
  ssrc: number | undefined;
  rtxSsrc: number | undefined;
  payloadType: number;
  rtxPayloadType: number | undefined;
  clockRate: number;
  mimeType: string;
  video: boolean;
  nack: boolean;
}

export interface NativeConsumerParameters {
  ssrc: number;
  payloadType: number;
  clockRate: number;
  mimeType: string;
  video: boolean;
  paused: boolean;
  /** The first packet's output sequence number and timestamp (a stream continued on the same SSRC). Default: random. */
  initialSequenceNumber?: number;
  initialTimestamp?: number;
}

/** The codec number the core's keyframe detection knows (native/rtp.h). */
function codecOf(mimeType: string): number {
  const mime = mimeType.toLowerCase();
  if (mime === 'video/vp8') return 1;
  if (mime === 'video/h264') return 2;
  return 0;
}

function keyBuffers(keys: SessionKeys): Buffer[] {
  return [keys.rtpKey, keys.rtpSalt, keys.rtpAuth, keys.rtcpKey, keys.rtcpSalt, keys.rtcpAuth];
}

/**
 * One WebRtcTransport's place in the native packet core: its keys, its selected
 * 5-tuple and the socket it is on (SRTP from there is handled natively; the core sends
 * there), its producers and consumers. The transport keeps ICE, DTLS, RTCP timers and everything else.
 */
export class NativeTransport {
  readonly id: number;
  private closed = false;
  private last: NativeTransportCounters | undefined;

  constructor(
    readonly core: NativePacketCore,
    socket: number,
    rtcpSsrc: number,
    receiver: NativeTransportReceiver,
  ) {
    this.id = core.addTransport(socket, rtcpSsrc >>> 0, receiver);
  }

  private get usable(): boolean {
    return !this.closed && !this.core.isClosed;
  }

  /** Keys from the DTLS handshake; false when the core cannot use the profile (it can use every one we negotiate). */
  setKeys(material: SrtpKeyingMaterial): boolean {
    if (!this.usable) return false;
    const inbound = deriveSessionKeys(material.profile, material.remoteMasterKey, material.remoteMasterSalt);
    const outbound = deriveSessionKeys(material.profile, material.localMasterKey, material.localMasterSalt);
    return this.core.raw.setKeys(this.id, material.profile, ...keyBuffers(inbound), ...keyBuffers(outbound));
  }

  /**
   * The selected 5-tuple (undefined: none, nothing is sent), on the core's socket
   * `socket` when given (a transport on several sockets moves to the one of the selected
   * pair; its SRTP is then taken from there), else on the one it is on.
   */
  setTuple(tuple: MuxAddress | undefined, socket?: number): void {
    if (!this.usable) return;
    if (!tuple) this.core.raw.setTuple(this.id);
    else if (socket === undefined) this.core.raw.setTuple(this.id, tuple[0], tuple[1]);
    else this.core.raw.setTuple(this.id, tuple[0], tuple[1], socket);
  }

  /** Tests only: incoming SRTP comes up to JavaScript first, outgoing RTP goes up before it is sent. */
  setHooked(hooked: boolean): void {
    if (this.usable) this.core.raw.setHooked(this.id, hooked);
  }

  /** An SRTP/SRTCP datagram that reached JavaScript: through the native path. */
  inject(data: Buffer): void {
    if (this.usable) this.core.raw.inject(this.id, data, false);
  }

  /** An unprotected RTP packet whose SSRC JavaScript just bound: routed natively. */
  routeDecrypted(data: Buffer): void {
    if (this.usable) this.core.raw.inject(this.id, data, true);
  }

  /** Protects and sends a compound RTCP packet; false when it cannot be sent now. */
  sendRtcp(data: Buffer): boolean {
    return this.usable && this.core.raw.sendRtcp(this.id, data);
  }

  addProducer(p: NativeProducerParameters): NativeProducer {
    const id = this.core.raw.addProducer(this.id, p.ssrc ?? -1, p.rtxSsrc ?? -1, p.payloadType, p.rtxPayloadType ?? -1, p.clockRate, codecOf(p.mimeType), p.video, p.nack);
    return new NativeProducer(this.core, id);
  }

  addConsumer(producer: NativeProducer, c: NativeConsumerParameters): NativeConsumer {
    const initialSeq = c.initialSequenceNumber ?? randomInt(0, 0x8000);
    const initialTs = c.initialTimestamp ?? randomInt(0, 0x7fffffff);
    const id = this.core.raw.addConsumer(producer.id, this.id, c.ssrc >>> 0, c.payloadType, c.clockRate, codecOf(c.mimeType), c.video, c.paused, initialSeq & 0xffff, initialTs >>> 0);
    return new NativeConsumer(this.core, id);
  }

  /**
   * The send times the core keeps of the transport-wide sequence numbers it stamped (ms
   * on the core's monotonic clock: only differences are used), read once per feedback.
   */
  sentPackets(): SentPackets {
    let base = 0;
    let values: number[] = [];
    return {
      prepare: (baseSeq: number, count: number): void => {
        base = baseSeq;
        values = this.usable ? (this.core.raw.sentPackets(this.id, baseSeq, Math.min(count, 8192)) as number[]) : [];
      },
      lookup: (seq: number): { sendTime: number; size: number } | undefined => {
        const i = (seq - base) & 0xffff;
        const sendTime = values[2 * i];
        if (sendTime === undefined || sendTime < 0) return undefined;
        return { sendTime, size: values[2 * i + 1]! };
      },
    };
  }

  counters(): NativeTransportCounters {
    const v = this.usable ? this.core.raw.transportStats(this.id) : undefined;
    if (!v) return this.last ?? { rtpIn: 0, rtcpIn: 0, rtpOut: 0, rtcpOut: 0, droppedSrtp: 0, srtpTruncated: 0, srtpAuthFailures: 0, srtpReplayed: 0, droppedUnknownSsrc: 0, droppedOther: 0 };
    const [rtpIn, rtcpIn, rtpOut, rtcpOut, droppedSrtp, droppedUnknownSsrc, droppedOther, , srtpTruncated, srtpAuthFailures, srtpReplayed] = v as number[] as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return { rtpIn, rtcpIn, rtpOut, rtcpOut, droppedSrtp, srtpTruncated, srtpAuthFailures, srtpReplayed, droppedUnknownSsrc, droppedOther };
  }

  /** Removes the transport, its producers and consumers from the core. Idempotent. */
  close(): void {
    if (this.closed) return;
    // What it counted stays readable after the close.
    this.last = this.counters();
    this.closed = true;
    this.core.removeTransport(this.id);
  }
}
