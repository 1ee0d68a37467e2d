/**
 * For the native packet core's tests: plain UDP peers that speak SRTP with our
 * TypeScript SrtpSession (the reference) to transports of the core, and RTP/RTCP
 * packet builders. No browser: every byte is the test's own.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { profileParams, SrtpProfile, SrtpSession, type SrtpKeyingMaterial } from '../srtp/index.js';
import type { NativePacketCore } from './PacketCore.js';
import { NativeTransport } from './NativeTransport.js';

export const HOST = '127.0.0.1';

/** Random master keys for one transport of the core (local: the core's sending side). */
export function randomKeys(profile: SrtpProfile = SrtpProfile.AES_CM_128_HMAC_SHA1_80): SrtpKeyingMaterial {
  const { keyLength, saltLength } = profileParams(profile);
  return { profile, localMasterKey: randomBytes(keyLength), localMasterSalt: randomBytes(saltLength), remoteMasterKey: randomBytes(keyLength), remoteMasterSalt: randomBytes(saltLength) };
}

/** The peer's view of the same keys. */
export function mirrored(keys: SrtpKeyingMaterial): SrtpKeyingMaterial {
  return { profile: keys.profile, localMasterKey: keys.remoteMasterKey, localMasterSalt: keys.remoteMasterSalt, remoteMasterKey: keys.localMasterKey, remoteMasterSalt: keys.localMasterSalt };
}

/** What a transport of the core handed up. */
export interface Handed {
  rtcp: Buffer[];
  unknownRtp: Buffer[];
  outgoing: Buffer[];
}

/** A UDP peer keyed to one transport of the core, which sends to it and routes its SRTP. */
export class CorePeer {
  readonly received: Buffer[] = [];
  readonly receivedRtcp: Buffer[] = [];
  readonly handed: Handed = { rtcp: [], unknownRtp: [], outgoing: [] };
  readonly session: SrtpSession;
  readonly transport: NativeTransport;
  /** Datagrams that failed our unprotect (should stay 0). */
  undecryptable = 0;
  /** Loses the RTP datagrams this says to, by arrival number (0 first), before SRTP sees them. */
  lose: (arrival: number) => boolean = () => false;
  /** RTP datagrams lost on purpose (their sequence numbers). */
  readonly lost: number[] = [];
  private arrivals = 0;

  private constructor(
    readonly socket: Socket,
    readonly keys: SrtpKeyingMaterial,
    core: NativePacketCore,
    index: number,
    readonly corePort: number,
  ) {
    this.session = new SrtpSession(mirrored(keys), { replayWindow: 1024 });
    this.transport = new NativeTransport(core, index, randomBytes(4).readUInt32BE(0) || 1, {
      rtcp: (d) => this.handed.rtcp.push(d),
      unknownRtp: (d) => this.handed.unknownRtp.push(d),
      outgoing: (d) => this.handed.outgoing.push(d),
    });
    socket.on('message', (data) => {
      const buf = Buffer.from(data);
      const rtcp = buf.length > 1 && buf[1]! >= 192 && buf[1]! <= 223;
      if (!rtcp && buf.length >= 12 && this.lose(this.arrivals++)) {
        this.lost.push(buf.readUInt16BE(2));
        return;
      }
      const n = rtcp ? this.session.inbound.unprotectRtcp(buf) : this.session.inbound.unprotectRtp(buf);
      if (n < 0) this.undecryptable++;
      else (rtcp ? this.receivedRtcp : this.received).push(buf.subarray(0, n));
    });
  }

  static async create(mux: { native: { core: NativePacketCore; index: number } | undefined; port: number }, profile?: SrtpProfile): Promise<CorePeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
    const { core, index } = mux.native!;
    const peer = new CorePeer(socket, randomKeys(profile), core, index, mux.port);
    peer.transport.setKeys(peer.keys);
    peer.transport.setTuple([HOST, socket.address().port]);
    return peer;
  }

  /** Sends a datagram as it is (hostile input). */
  sendRaw(data: Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.send(data, this.corePort, HOST, () => resolve()));
  }

  /** Protects an RTP packet with the peer's keys and sends it. */
  sendRtp(packet: Buffer): Promise<void> {
    return this.sendRaw(this.protectRtp(packet));
  }

  protectRtp(packet: Buffer): Buffer {
    const buf = Buffer.alloc(packet.length + 16);
    packet.copy(buf);
    return buf.subarray(0, this.session.outbound.protectRtp(buf, packet.length));
  }

  sendRtcp(packet: Buffer): Promise<void> {
    const buf = Buffer.alloc(packet.length + 24);
    packet.copy(buf);
    return this.sendRaw(buf.subarray(0, this.session.outbound.protectRtcp(buf, packet.length)));
  }

  close(): void {
    this.transport.close();
    this.socket.close();
  }
}

/** An RTP packet: 12-byte header and payload. */
export function rtp(ssrc: number, seq: number, ts: number, payloadType: number, payload: Buffer, marker = false): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | payloadType;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(b, 12);
  return b;
}

/** A VP8 payload: a keyframe's first packet, or a delta frame's, then `size` bytes of filler. */
export function vp8(keyframe: boolean, size = 100, fill = 0xab): Buffer {
  const b = Buffer.alloc(2 + size, fill);
  b[0] = 0x10; // S=1, partition 0, no extensions
  b[1] = keyframe ? 0x00 : 0x01; // P bit clear: keyframe
  return b;
}

/** A generic NACK (RFC 4585) from `sender` about `media` for `lost` sequence numbers. */
export function nack(sender: number, media: number, lost: number[]): Buffer {
  const items: Array<[number, number]> = [];
  for (const seq of lost) {
    const last = items[items.length - 1];
    const d = last ? (seq - last[0]) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1);
    else items.push([seq, 0]);
  }
  const b = Buffer.alloc(12 + items.length * 4);
  b[0] = 0x81;
  b[1] = 205;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(sender >>> 0, 4);
  b.writeUInt32BE(media >>> 0, 8);
  items.forEach(([pid, blp], i) => {
    b.writeUInt16BE(pid, 12 + i * 4);
    b.writeUInt16BE(blp, 14 + i * 4);
  });
  return b;
}

/** A receiver report with no blocks (the smallest RTCP). */
export function emptyRr(sender: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x80;
  b[1] = 201;
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(sender >>> 0, 4);
  return b;
}

/** Header fields of a received RTP packet. */
export function fields(packet: Buffer): { pt: number; seq: number; ts: number; ssrc: number; marker: boolean; payload: Buffer } {
  return { pt: packet[1]! & 0x7f, seq: packet.readUInt16BE(2), ts: packet.readUInt32BE(4), ssrc: packet.readUInt32BE(8), marker: (packet[1]! & 0x80) !== 0, payload: packet.subarray(12) };
}
