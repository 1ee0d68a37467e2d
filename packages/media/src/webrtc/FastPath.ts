import type { Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { RtcpPacketConverter, RtpPacket, type RtcpPacket, type RtpHeader, type RTCDtlsTransport } from 'werift';
import { isSupportedProfile, SrtpSession, type SrtpStats } from '../srtp/index.js';

/** Header extensions a forwarded packet carries towards one sink (RFC 8285 one-byte form). */
export interface ExtensionLayout {
  /** sdes:mid extension id and value, if negotiated. */
  midId?: number;
  mid?: Buffer;
  /** abs-send-time extension id, if negotiated. */
  absSendTimeId?: number;
}

/** The parts of werift's ICE objects the fast path uses (werift does not type them publicly). */
interface UdpProtocol {
  datagramReceived(data: Buffer, addr: [string, number]): void;
  /** sendNow: the shared port's transport when the native packet core owns the socket (no dgram socket then). */
  transport?: { socket?: Socket; closed?: boolean; sendNow?: (data: Buffer, addr: readonly [string, number]) => void };
}
interface IcePair {
  protocol: UdpProtocol;
  remoteAddr: [string, number];
}
interface IceConnection {
  nominated?: IcePair;
  protocols?: UdpProtocol[];
  canSendApplicationData?: () => boolean;
  send(data: Buffer): Promise<void>;
}

export interface FastPathStats {
  rtpIn: number;
  rtcpIn: number;
  rtpOut: number;
  rtcpOut: number;
  /** The negotiated SRTP protection profile (DTLS-SRTP id). */
  profile: number;
  /** What the peer sent: unprotected, and dropped (truncated, forged, replayed). */
  inbound: SrtpStats;
  /** What we sent. */
  outbound: SrtpStats;
}

export interface FastPathHooks {
  /** An SRTP/SRTCP datagram failed (truncated, forged, replayed): count it. */
  invalid(): void;
}

const RING_SIZE = 1024;
const REPLAY_WINDOW = 1024;
const SLOT_BYTES = 1500 + 128;
const NTP_EPOCH_OFFSET = 2208988800;

/**
 * Roundtable's own RTP/RTCP path over a WebRTC transport whose ICE and DTLS werift
 * did: SRTP keys come from werift's DTLS transport; RTP and RTCP datagrams are taken
 * from the ICE socket before werift parses them, unprotected once with native crypto
 * (src/srtp), and handed to werift's RTP/RTCP routing as parsed packets (so receiver
 * reports, upstream NACKs and RTCP feedback keep working). Forwarded packets are
 * written with rewritten headers into pooled buffers, protected in place and sent on
 * the selected pair's socket. All outgoing RTCP (ours and werift's) goes through the
 * same SRTCP context, so the SRTCP index stays one sequence.
 */
export class FastPath {
  readonly session: SrtpSession;
  private readonly connection: IceConnection;
  private readonly hooked = new Map<UdpProtocol, UdpProtocol['datagramReceived']>();
  private readonly originalSendRtcp: RTCDtlsTransport['sendRtcp'];
  private readonly originalSendRtp: RTCDtlsTransport['sendRtp'];
  private closed = false;
  /** Datagrams sent and received through this path. */
  readonly counters = { rtpIn: 0, rtcpIn: 0, rtpOut: 0, rtcpOut: 0 };

  private constructor(
    private readonly dtls: RTCDtlsTransport,
    session: SrtpSession,
    private readonly hooks: FastPathHooks,
  ) {
    this.session = session;
    this.connection = dtls.iceTransport.connection as unknown as IceConnection;
    this.originalSendRtcp = dtls.sendRtcp;
    this.originalSendRtp = dtls.sendRtp;
    // werift's own RTCP (receiver reports, NACK, PLI) must share our SRTCP index.
    dtls.sendRtcp = (packets: RtcpPacket[]): Promise<number | undefined> => this.sendRtcp(packets);
    dtls.sendRtp = (payload: Buffer, header: RtpHeader): Promise<number> => this.sendRtpHeader(payload, header);
    this.hookProtocols();
  }

  /**
   * Starts the fast path on a DTLS transport that has its SRTP keys; undefined when
   * it cannot (no SRTP session, an unsupported profile).
   */
  static start(dtls: RTCDtlsTransport, hooks: FastPathHooks): FastPath | undefined {
    const srtp = (dtls as unknown as { srtp?: { config?: { profile: number; keys: Record<string, Buffer> } } }).srtp;
    const config = srtp?.config;
    if (!dtls.srtpStarted || !config || !isSupportedProfile(config.profile)) return undefined;
    const k = config.keys;
    if (!k.localMasterKey || !k.localMasterSalt || !k.remoteMasterKey || !k.remoteMasterSalt) return undefined;
    const session = new SrtpSession(
      {
        profile: config.profile,
        localMasterKey: k.localMasterKey,
        localMasterSalt: k.localMasterSalt,
        remoteMasterKey: k.remoteMasterKey,
        remoteMasterSalt: k.remoteMasterSalt,
      },
      // libwebrtc's window: senders (werift among them) reorder bursts by more than 128.
      { replayWindow: REPLAY_WINDOW },
    );
    return new FastPath(dtls, session, hooks);
  }

  getStats(): FastPathStats {
    return {
      ...this.counters,
      profile: this.session.inbound.profile,
      inbound: { ...this.session.inbound.stats },
      outbound: { ...this.session.outbound.stats },
    };
  }

  /**
   * Sends a forwarded packet: `packet`'s payload with the given header fields and
   * this sink's extensions. False when nothing can be sent on this path now.
   */
  forwardRtp(packet: RtpPacket, payloadType: number, seq: number, timestamp: number, ssrc: number, ext: ExtensionLayout): boolean {
    if (this.closed) return false;
    const h = packet.header;
    const payload = packet.payload;
    const buf = nextSlot();
    const csrcs = h.csrc;
    const cc = csrcs.length & 0x0f;
    let extLength = 0;
    if (ext.midId !== undefined && ext.mid) extLength += 1 + ext.mid.length;
    if (ext.absSendTimeId !== undefined) extLength += 4;
    const extWords = (extLength + 3) >>> 2;
    buf[0] = 0x80 | (extWords > 0 ? 0x10 : 0) | cc;
    buf[1] = (h.marker ? 0x80 : 0) | (payloadType & 0x7f);
    buf[2] = (seq >>> 8) & 0xff;
    buf[3] = seq & 0xff;
    buf.writeUInt32BE(timestamp >>> 0, 4);
    buf.writeUInt32BE(ssrc >>> 0, 8);
    let at = 12;
    for (let i = 0; i < cc; i++, at += 4) buf.writeUInt32BE(csrcs[i]! >>> 0, at);
    if (extWords > 0) {
      buf[at] = 0xbe;
      buf[at + 1] = 0xde;
      buf[at + 2] = extWords >>> 8;
      buf[at + 3] = extWords & 0xff;
      let e = at + 4;
      if (ext.midId !== undefined && ext.mid) {
        buf[e++] = (ext.midId << 4) | (ext.mid.length - 1);
        e += ext.mid.copy(buf, e);
      }
      if (ext.absSendTimeId !== undefined) {
        const v = absSendTime();
        buf[e++] = (ext.absSendTimeId << 4) | 2;
        buf[e++] = (v >>> 16) & 0xff;
        buf[e++] = (v >>> 8) & 0xff;
        buf[e++] = v & 0xff;
      }
      at += 4 + extWords * 4;
      while (e < at) buf[e++] = 0;
    }
    if (at + payload.length + this.session.outbound.rtpOverhead > SLOT_BYTES) return false;
    at += payload.copy(buf, at);
    const length = this.session.outbound.protectRtp(buf, at);
    this.counters.rtpOut++;
    this.send(buf, length);
    return true;
  }

  /** Restores werift's own paths (the transport is closing). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [protocol, original] of this.hooked) protocol.datagramReceived = original;
    this.hooked.clear();
    this.dtls.sendRtcp = this.originalSendRtcp;
    this.dtls.sendRtp = this.originalSendRtp;
  }

  /** Takes RTP/RTCP off every local candidate's socket (others go on to werift: STUN, DTLS). */
  private hookProtocols(): void {
    const protocols = this.connection.protocols ?? [];
    for (const protocol of protocols) {
      if (this.hooked.has(protocol) || typeof protocol.datagramReceived !== 'function') continue;
      const original = protocol.datagramReceived;
      this.hooked.set(protocol, original);
      protocol.datagramReceived = (data: Buffer, addr: [string, number]): void => {
        const first = data[0];
        if (first !== undefined && first >= 128 && first <= 191 && !this.closed) {
          this.receive(data);
          return;
        }
        original.call(protocol, data, addr);
      };
    }
  }

  private receive(data: Buffer): void {
    // RFC 5761: RTCP packet types 192-223 in the second byte.
    const pt = data.length > 1 ? data[1]! & 0x7f : 0;
    const isRtcp = data.length > 1 && data[1]! >= 192 && data[1]! <= 223 && pt >= 64 && pt <= 95;
    if (isRtcp) {
      const n = this.session.inbound.unprotectRtcp(data);
      if (n < 0) {
        this.hooks.invalid();
        return;
      }
      this.counters.rtcpIn++;
      let packets: RtcpPacket[];
      try {
        packets = RtcpPacketConverter.deSerialize(data.subarray(0, n));
      } catch {
        this.hooks.invalid();
        return;
      }
      for (const packet of packets) {
        try {
          this.dtls.onRtcp.execute(packet);
        } catch {
          // A listener's failure must not stop the others.
        }
      }
      return;
    }
    const n = this.session.inbound.unprotectRtp(data);
    if (n < 0) {
      this.hooks.invalid();
      return;
    }
    this.counters.rtpIn++;
    let packet: RtpPacket;
    try {
      packet = RtpPacket.deSerialize(data.subarray(0, n));
    } catch {
      this.hooks.invalid();
      return;
    }
    try {
      this.dtls.onRtp.execute(packet);
    } catch {
      // as above
    }
  }

  private async sendRtcp(packets: RtcpPacket[]): Promise<number | undefined> {
    if (this.closed) return undefined;
    const buf = nextSlot();
    let at = 0;
    for (const packet of packets) {
      const bytes = packet.serialize();
      if (at + bytes.length + this.session.outbound.rtcpOverhead > SLOT_BYTES) break;
      at += bytes.copy(buf, at);
    }
    if (at < 8) return undefined;
    const length = this.session.outbound.protectRtcp(buf, at);
    this.counters.rtcpOut++;
    this.send(buf, length);
    return length;
  }

  private async sendRtpHeader(payload: Buffer, header: RtpHeader): Promise<number> {
    if (this.closed) return 0;
    const bytes = new RtpPacket(header, payload).serialize();
    const buf = nextSlot();
    if (bytes.length + this.session.outbound.rtpOverhead > SLOT_BYTES) return 0;
    bytes.copy(buf);
    const length = this.session.outbound.protectRtp(buf, bytes.length);
    this.counters.rtpOut++;
    this.send(buf, length);
    return length;
  }

  private send(buf: Buffer, length: number): void {
    const connection = this.connection;
    if (connection.canSendApplicationData && !connection.canSendApplicationData()) return;
    const pair = connection.nominated;
    if (!pair) return;
    const transport = pair.protocol.transport;
    if (transport?.sendNow && !transport.closed) {
      // Sent before this returns (the native core's sendto): the ring slot is free again.
      transport.sendNow(buf.subarray(0, length), pair.remoteAddr);
      return;
    }
    const socket = transport?.socket;
    if (socket && !transport?.closed) {
      if (!directSockets.has(socket)) sendWithoutLookup(socket);
      const [address, port] = pair.remoteAddr;
      try {
        socket.send(buf, 0, length, port, address);
      } catch {
        // socket closing under us
      }
      return;
    }
    // TURN and other non-UDP candidates: werift's send, with a copy (it is asynchronous).
    connection.send(Buffer.from(buf.subarray(0, length))).catch(() => undefined);
  }
}

/**
 * Send buffers, one ring per thread (1.6 MB; the main thread and each media worker
 * have their own module instance): every endpoint of a thread writes and sends from
 * it, and a send reaches the kernel inside socket.send() (see sendWithoutLookup), so
 * a slot is free again as soon as send() returns. A send the kernel makes Node queue
 * (socket buffer full), or one deferred by a lookup (an IPv6 destination), keeps its
 * slot until RING_SIZE more packets were written, which is far longer than either takes.
 */
const ring: Buffer[] = [];
let ringAt = 0;

function nextSlot(): Buffer {
  let buf = ring[ringAt];
  if (!buf) {
    buf = Buffer.allocUnsafe(SLOT_BYTES);
    ring[ringAt] = buf;
  }
  ringAt = (ringAt + 1) % RING_SIZE;
  return buf;
}

const directSockets = new WeakSet<Socket>();

/**
 * Node's dgram resolves the destination of every send() on an unconnected socket
 * with dns.lookup(), which for an IP literal still defers the send to the next tick
 * (a closure, a nextTick and an async-id scope per packet). Answer IPv4 literals at
 * once instead, so a send goes to the kernel inside send(). This reaches into dgram's
 * internal state (the 'state symbol' handle's lookup); when that is not there, the
 * socket is left as it is.
 */
function sendWithoutLookup(socket: Socket): void {
  if (directSockets.has(socket)) return;
  directSockets.add(socket);
  const stateKey = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'state symbol');
  const state = stateKey ? (socket as unknown as Record<symbol, { handle?: { lookup?: unknown } } | undefined>)[stateKey] : undefined;
  const handle = state?.handle;
  const original = handle?.lookup;
  if (!handle || typeof original !== 'function') return;
  const lookup = original as (address: string, callback: (error: Error | null, ip?: string) => void) => void;
  handle.lookup = (address: string, callback: (error: Error | null, ip?: string) => void): void => {
    if (isIPv4(address)) callback(null, address);
    else lookup.call(handle, address, callback);
  };
}

/** abs-send-time (24-bit 6.18 fixed point seconds) without BigInt. */
function absSendTime(): number {
  const seconds = Date.now() / 1000 + NTP_EPOCH_OFFSET;
  return Math.floor(seconds * 262144) & 0xffffff;
}
