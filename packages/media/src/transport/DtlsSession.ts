import { createHash, X509Certificate } from 'node:crypto';
import { CipherContext, DtlsClient, DtlsServer, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm, type DtlsSocket, type SignatureHash } from 'werift';
import { isSupportedProfile, profileParams, SrtpProfile, SrtpSession } from '../srtp/index.js';

/**
 * The SRTP profiles the engine accepts, most preferred first. AES_CM_128_HMAC_SHA1_80
 * first: every WebRTC stack must support it (RFC 8827), and it costs about half of
 * AEAD_AES_128_GCM per packet in Node (GCM needs a new cipher context per packet;
 * AES-CM's keystream is made ahead, scripts/srtpBench.ts, docs/performance.md). As the
 * DTLS server (an answer of ours says passive) we pick; werift's own order, what a werift
 * server picks by, puts GCM first.
 */
const PREFERRED_SRTP_PROFILES: readonly number[] = [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM];

/** A DTLS certificate and its key, shared by every transport of an engine. */
export class DtlsCertificate {
  /** "sha-256" fingerprint as SDP writes it (upper-case hex pairs joined by ':'). */
  readonly fingerprint: string;

  private constructor(
    readonly certPem: string,
    readonly keyPem: string,
    readonly signatureHash: SignatureHash,
  ) {
    const der = new X509Certificate(certPem).raw;
    this.fingerprint = fingerprintOf(der);
  }

  /** A fresh self-signed ECDSA P-256 certificate (what browsers make for themselves). */
  static async generate(): Promise<DtlsCertificate> {
    const { certPem, keyPem, signatureHash } = await CipherContext.createSelfSignedCertificateWithKey(
      { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
      NamedCurveAlgorithm.secp256r1_23,
    );
    return new DtlsCertificate(certPem, keyPem, signatureHash);
  }
}

/** The SHA-256 fingerprint of a DER certificate, as SDP writes it. */
export function fingerprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

export type DtlsRole = 'server' | 'client';

export interface DtlsSessionEvents {
  /** The handshake finished and the peer's certificate matched: SRTP keys for this side. */
  connected(srtp: SrtpSession, profile: SrtpProfile): void;
  /** The handshake failed, the certificate did not match, or the peer sent an alert. */
  failed(reason: string): void;
  /** Application data from the peer, decrypted (the SCTP packets of data channels), once connected. */
  data?(data: Buffer): void;
}

/**
 * One DTLS association (RFC 6347) over a transport's selected pair, for DTLS-SRTP
 * (RFC 5764): werift's DTLS client or server used as a library. Records from the peer
 * are handed in with receive(); records to send go out through `send`. Once
 * connected, the peer's certificate is checked against the fingerprint of its SDP and
 * the SRTP keys are exported into our own SrtpSession; after that DTLS carries the
 * data channels' SCTP packets as application data (sendData(), the `data` event) and
 * close alerts.
 */
export class DtlsSession {
  private readonly socket: DtlsSocket;
  private readonly link = {
    type: 'udp',
    address: {} as never,
    closed: false,
    onData: (_data: Buffer, _addr: never): void => undefined,
    send: async (data: Buffer): Promise<void> => {
      if (!this.closed) this.send(data);
    },
    close: async (): Promise<void> => undefined,
  };
  private closed = false;
  private done = false;
  private helloAnsweredAt = -Infinity;
  private started = false;

  constructor(
    readonly role: DtlsRole,
    certificate: DtlsCertificate,
    private readonly remoteFingerprint: { algorithm: string; value: string },
    private readonly send: (data: Buffer) => void,
    private readonly events: DtlsSessionEvents,
  ) {
    const options = {
      cert: certificate.certPem,
      key: certificate.keyPem,
      signatureHash: certificate.signatureHash,
      transport: this.link as never,
      srtpProfiles: [...PREFERRED_SRTP_PROFILES] as never,
      extendedMasterSecret: true,
    };
    this.socket = role === 'server' ? new DtlsServer({ ...options, certificateRequest: true }) : new DtlsClient(options);
    this.socket.onConnect.subscribe(() => this.onConnect());
    this.socket.onError.subscribe((error: Error) => this.fail(`DTLS handshake failed: ${error.message ?? String(error)}`));
    this.socket.onClose.subscribe(() => this.fail('DTLS alert from the peer'));
    // werift decrypts application data with the epoch's keys (records that do not authenticate are dropped there).
    this.socket.onData.subscribe((data: Buffer) => {
      if (this.done && !this.closed) this.events.data?.(data);
    });
  }

  get isConnected(): boolean {
    return this.done && !this.closed;
  }

  /** As the client: sends the first ClientHello (once the ICE pair is selected). */
  start(): void {
    if (this.role !== 'client' || this.started || this.closed) return;
    this.started = true;
    (this.socket as DtlsClient).connect().catch((error: unknown) => this.fail(`DTLS connect failed: ${String(error)}`));
  }

  /**
   * A DTLS record from the peer (first byte 20-63): 'taken', 'refused' (closed, or a
   * plaintext alert or records that do not fit after the handshake), or 'repeat' (a
   * retransmitted cookieless ClientHello within 2 s of the one answered: a peer's
   * retransmission, not an invalid record).
   */
  receive(data: Buffer): 'taken' | 'refused' | 'repeat' {
    if (this.closed) return 'refused';
    // Once connected, an alert must come encrypted (epoch > 0): a plaintext one would
    // let anyone on the 5-tuple end the session.
    if (this.done && hasPlaintextAlert(data)) return 'refused';
    // One HelloVerifyRequest per 2 s: a client whose event loop is busy (many peer
    // connections in one process: the load generator, Node clients, tests) retransmits
    // its first ClientHello before it handled our answer, and werift's client fails the
    // whole handshake on a second HelloVerifyRequest (its Flight3 throws when it is in
    // flight 3 already). A client whose answer was lost retransmits again later (werift
    // after 0.5, 1.5, 3 s, ...; libwebrtc after 1, 3 s) and is answered then.
    if (this.role === 'server' && !this.done && isCookielessClientHello(data)) {
      const now = performance.now();
      if (now - this.helloAnsweredAt < HELLO_REPEAT_MS) return 'repeat';
      this.helloAnsweredAt = now;
    }
    this.link.onData(data, undefined as never);
    return 'taken';
  }

  /** Sends `data` to the peer as application data; rejects before the handshake finished and once closed. */
  async sendData(data: Buffer): Promise<void> {
    if (!this.done || this.closed) throw new Error('the DTLS session is not connected');
    await this.socket.send(data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.closed = true;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private onConnect(): void {
    if (this.done || this.closed) return;
    const certificate = this.socket.remoteCertificate;
    if (!certificate) return this.fail('the peer sent no DTLS certificate');
    if (this.remoteFingerprint.algorithm.toLowerCase() !== 'sha-256') return this.fail(`unsupported fingerprint algorithm ${this.remoteFingerprint.algorithm}`);
    if (fingerprintOf(Buffer.from(certificate)) !== this.remoteFingerprint.value.toUpperCase()) return this.fail('the peer DTLS certificate does not match its SDP fingerprint');
    const profile = this.socket.srtp.srtpProfile;
    if (profile === undefined || !isSupportedProfile(profile)) return this.fail(`no usable SRTP profile negotiated (${String(profile)})`);
    const { keyLength, saltLength } = profileParams(profile);
    const material = this.socket.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 2 * (keyLength + saltLength));
    // libwebrtc's replay window: senders reorder bursts by more than 128.
    const srtp = SrtpSession.fromDtlsExport(profile, material, this.role === 'client', { replayWindow: 1024 });
    this.done = true;
    this.events.connected(srtp, profile);
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.close();
    this.events.failed(reason);
  }
}

const CONTENT_ALERT = 21;
const CONTENT_HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const HELLO_REPEAT_MS = 2000;

/**
 * A datagram whose first record is a whole, unfragmented ClientHello without a cookie.
 * Record header (13): type, version, epoch, sequence, length. Handshake header (12):
 * msg_type, length (3), message_seq (2), fragment_offset (3), fragment_length (3).
 * A fragmented hello is never one: its later fragments would read as anything (this
 * Chromium's ClientHello is 1413 bytes, sent as fragments of 1175 and 238).
 */
export function isCookielessClientHello(data: Buffer): boolean {
  if (data.length <= 13 + 12 + 35 || data[0] !== CONTENT_HANDSHAKE || data[13] !== CLIENT_HELLO) return false;
  const length = data.readUIntBE(14, 3);
  const offset = data.readUIntBE(19, 3);
  const fragmentLength = data.readUIntBE(22, 3);
  return offset === 0 && fragmentLength === length && 25 + length <= data.length && isCookieless(data.subarray(25));
}

/** A ClientHello body without a cookie: version (2), random (32), session_id <0..32>, cookie <0..255>, ... */
export function isCookieless(fragment: Buffer): boolean {
  const sessionIdLength = fragment[34];
  if (sessionIdLength === undefined) return false;
  const cookieLength = fragment[35 + sessionIdLength];
  return cookieLength === 0;
}

/**
 * Record header (RFC 6347 §4.1): type (1), version (2), epoch (2), sequence (6),
 * length (2). True when a record of the datagram is an alert in epoch 0, or the
 * records do not fit.
 */
function hasPlaintextAlert(data: Buffer): boolean {
  let at = 0;
  while (at < data.length) {
    if (at + 13 > data.length) return true;
    if (data[at] === CONTENT_ALERT && data.readUInt16BE(at + 3) === 0) return true;
    at += 13 + data.readUInt16BE(at + 11);
  }
  return at !== data.length;
}
