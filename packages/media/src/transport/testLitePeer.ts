/**
 * A WebRTC peer with no browser, for transport-level tests and benchmarks: one UDP
 * socket, connectivity checks (it nominates, as a controlling agent), our DtlsSession
 * as the DTLS client, our SrtpSession for media. It speaks to a WebRtcTransport as a
 * browser does, on either packet path, at a fraction of a browser's cost.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { SrtpSession } from '../srtp/index.js';
import { DtlsSession, type DtlsCertificate } from './DtlsSession.js';
import { BINDING_REQUEST, StunAttr, writeStun } from './stun.js';

const HOST = '127.0.0.1';

/** The payload of an unprotected RTP packet: after the CSRCs and the header extension (a receiving transport stamps transport-cc). */
export function rtpPayload(packet: Buffer): Buffer {
  let at = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) at += 4 + packet.readUInt16BE(at + 2) * 4;
  return packet.subarray(at);
}

export class LitePeer {
  readonly ufrag = randomBytes(4).toString('hex');
  readonly pwd = randomBytes(12).toString('hex');
  /** SRTP datagrams received (not unprotected unless `unprotect` is set). */
  received = 0;
  receivedBytes = 0;
  srtp: SrtpSession | undefined;
  private dtls: DtlsSession | undefined;
  private remote: { ufrag: string; pwd: string; fingerprint: string } | undefined;
  private connected: Promise<SrtpSession> | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly certificate: DtlsCertificate,
    /** The transport's port (the shared UDP port). */
    public serverPort: number,
    /** Unprotect what arrives and hand it here (off by default: a benchmark's peer only counts). */
    private readonly onRtp?: (packet: Buffer) => void,
    /** The transport's address (a peer moves its pair to another of the transport's addresses by changing it). */
    public serverHost = HOST,
  ) {
    socket.on('message', (data) => this.onDatagram(data));
  }

  /**
   * A peer on `bindAddress` (default `host`, 127.0.0.1) talking to the transport at
   * `host`:`serverPort`. Bound to 0.0.0.0, each datagram leaves from the machine's
   * address toward the transport's: a peer with a host candidate on each.
   */
  static async create(certificate: DtlsCertificate, serverPort: number, onRtp?: (packet: Buffer) => void, host = HOST, bindAddress = host): Promise<LitePeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, bindAddress, resolve));
    return new LitePeer(socket, certificate, serverPort, onRtp, host);
  }

  /** A sending client's offer: `base` (a browser-shaped offer) with this peer's credentials, as DTLS client. */
  offer(base: string): string {
    return this.withCredentials(base).replace(/a=setup:\w+/g, 'a=setup:active');
  }

  /** The answer to a receiving transport's offer: every m-line received, this peer the DTLS client. */
  answer(offer: string): string {
    return this.withCredentials(offer)
      .replace(/a=setup:\w+/g, 'a=setup:active')
      .replace(/a=sendonly/g, 'a=recvonly')
      .replace(/a=ice-lite\r\n/g, '')
      .replace(/a=(ssrc|msid|candidate|end-of-candidates)[^\r]*\r\n/g, '');
  }

  /** Checks the transport (nominating) and runs the DTLS handshake: resolves with the keys. */
  connect(remote: { ufrag: string; pwd: string; fingerprint: string }): Promise<SrtpSession> {
    this.remote = remote;
    this.connected ??= new Promise<SrtpSession>((resolve, reject) => {
      this.dtls = new DtlsSession('client', this.certificate, { algorithm: 'sha-256', value: remote.fingerprint }, (data) => this.send(data), {
        connected: (srtp) => {
          this.srtp = srtp;
          resolve(srtp);
        },
        failed: (reason) => reject(new Error(reason)),
      });
      this.check();
      this.dtls.start();
    });
    return this.connected;
  }

  /** A nominating connectivity check (also what keeps consent). */
  check(): void {
    const remote = this.remote;
    if (!remote) return;
    const attributes: Array<[number, Buffer]> = [
      [StunAttr.USERNAME, Buffer.from(`${remote.ufrag}:${this.ufrag}`)],
      [StunAttr.PRIORITY, Buffer.from([0x6e, 0x00, 0x1e, 0xff])],
      [StunAttr.ICE_CONTROLLING, randomBytes(8)],
      [StunAttr.USE_CANDIDATE, Buffer.alloc(0)],
    ];
    this.send(writeStun(BINDING_REQUEST, randomBytes(12), attributes, remote.pwd));
  }

  /** Protects and sends one RTP packet (`packet` needs no spare room). */
  sendRtp(packet: Buffer): void {
    const srtp = this.srtp;
    if (!srtp) return;
    const buf = Buffer.allocUnsafe(packet.length + 16);
    packet.copy(buf);
    this.send(buf.subarray(0, srtp.outbound.protectRtp(buf, packet.length)));
  }

  send(data: Buffer): void {
    this.socket.send(data, this.serverPort, this.serverHost);
  }

  close(): void {
    this.dtls?.close();
    this.socket.close();
  }

  private withCredentials(sdp: string): string {
    return sdp
      .replace(/a=ice-ufrag:[^\r]*/g, `a=ice-ufrag:${this.ufrag}`)
      .replace(/a=ice-pwd:[^\r]*/g, `a=ice-pwd:${this.pwd}`)
      .replace(/a=fingerprint:[^\r]*/g, `a=fingerprint:sha-256 ${this.certificate.fingerprint}`);
  }

  private onDatagram(data: Buffer): void {
    const first = data[0] ?? 0;
    if (first >= 20 && first <= 63) {
      this.dtls?.receive(data);
      return;
    }
    if (first < 128 || first > 191) return;
    this.received++;
    this.receivedBytes += data.length;
    if (!this.onRtp || !this.srtp) return;
    const rtcp = data.length > 1 && data[1]! >= 192 && data[1]! <= 223;
    if (rtcp) return;
    const n = this.srtp.inbound.unprotectRtp(data);
    if (n > 0) this.onRtp(data.subarray(0, n));
  }
}
