import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { IceServerConfig } from '../config.js';
import { MediaError } from '../core/errors.js';
import { integrityValid, readStun, readXorAddress, stunAttributes, writeStun, xorMappedAddress } from './stun.js';

/*
 * A TURN client over UDP (RFC 8656, formerly RFC 5766): one allocation on one TURN
 * server, for a relayed ICE candidate (RFC 8445 §5.1.1.2). Long-term credentials
 * (RFC 8489 §9.2: the key is MD5(username:realm:password)), permissions per peer
 * address, channels for the data (ChannelData, 4 bytes of overhead) once bound, Send
 * and Data indications until then; the allocation, permissions and channels are
 * refreshed before they expire. It sends through the function it is given and is
 * handed the datagrams of its socket, so the socket is the caller's.
 */

/** A TURN server for UDP relaying, from a `turn:` URL and its credentials. */
export interface TurnServerAddress {
  host: string;
  port: number;
  username: string;
  password: string;
}

/** The `turn:` servers of `servers` usable over UDP (`turns:` and `?transport=tcp` are not), with their credentials. */
export function turnServersOf(servers: readonly IceServerConfig[]): TurnServerAddress[] {
  const found: TurnServerAddress[] = [];
  for (const server of servers) {
    if (server.username === undefined || server.credential === undefined) continue;
    for (const url of [server.urls].flat()) {
      const m = /^turn:(?:\[([0-9a-fA-F:.]+)\]|([^:?[\]]+))(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/i.exec(url);
      if (!m || m[4]?.toLowerCase() === 'tcp') continue;
      const port = m[3] === undefined ? 3478 : Number(m[3]);
      if (port < 1 || port > 65535) continue;
      found.push({ host: m[1] ?? m[2]!, port, username: server.username, password: server.credential });
    }
  }
  return found;
}

export type TurnAddress = readonly [string, number];

export interface TurnClientEvents {
  /** A datagram from `from` reached us through the relay. */
  data(payload: Buffer, from: TurnAddress): void;
  /** The allocation is lost (a refresh failed, or the server said so): nothing is relayed any more. */
  failed(reason: string): void;
}

export interface TurnClientOptions {
  /** A request is given up after this long (ms). Default 5000. */
  timeoutMs?: number;
  /** First retransmission after this long, doubling each time (RFC 8489 §6.2.1). Default 250. */
  retransmitMs?: number;
  /** Lifetime asked for the allocation (s). Default 600 (the server may grant less). */
  lifetimeSeconds?: number;
}

const METHOD = { ALLOCATE: 0x003, REFRESH: 0x004, SEND: 0x006, DATA: 0x007, CREATE_PERMISSION: 0x008, CHANNEL_BIND: 0x009 } as const;
const CLASS = { REQUEST: 0x0000, INDICATION: 0x0010, SUCCESS: 0x0100, ERROR: 0x0110 } as const;
const ATTR = {
  CHANNEL_NUMBER: 0x000c,
  LIFETIME: 0x000d,
  XOR_PEER_ADDRESS: 0x0012,
  DATA: 0x0013,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_TRANSPORT: 0x0019,
  USERNAME: 0x0006,
  ERROR_CODE: 0x0009,
  XOR_MAPPED_ADDRESS: 0x0020,
} as const;
const UDP = 17;
/** RFC 8656 §9: a permission lasts 300 s; refreshed at 240. A channel lasts 600 s; refreshed at 540. */
const PERMISSION_REFRESH_MS = 240_000;
const CHANNEL_REFRESH_MS = 540_000;
const FIRST_CHANNEL = 0x4000;
const LAST_CHANNEL = 0x4fff;

interface Pending {
  method: number;
  resolve(response: Buffer): void;
  reject(error: Error): void;
  timers: { retransmit?: NodeJS.Timeout; deadline: NodeJS.Timeout };
}

interface Channel {
  number: number;
  /** The server confirmed the binding: data goes as ChannelData. */
  bound: boolean;
}

/** The type of a STUN message of `method` and `cls` (RFC 8489 §5: the class bits sit between the method's). */
function messageType(method: number, cls: number): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | cls;
}

function methodOf(type: number): number {
  return (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
}

function classOf(type: number): number {
  return type & 0x0110;
}

/** ERROR-CODE (RFC 8489 §14.8): class × 100 + number, and its reason. */
function errorCodeOf(response: Buffer): { code: number; reason: string } | undefined {
  const value = stunAttributes(response)?.get(ATTR.ERROR_CODE);
  if (!value || value.length < 4) return undefined;
  return { code: (value[2]! & 0x07) * 100 + value[3]!, reason: value.toString('utf8', 4) };
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

export class TurnClient {
  private readonly pending = new Map<string, Pending>();
  private readonly permissions = new Map<string, Promise<void>>();
  private readonly channels = new Map<string, Channel>();
  private nextChannel = FIRST_CHANNEL;
  private realm: Buffer | undefined;
  private nonce: Buffer | undefined;
  private key: Buffer | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private permissionTimer: NodeJS.Timeout | undefined;
  private channelTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The relayed transport address, once allocated. */
  relayed: TurnAddress | undefined;
  /** The address the server saw us at (a server-reflexive candidate's), once allocated. */
  mapped: TurnAddress | undefined;

  /**
   * `server` must be an IP address (resolve names first); `send` puts a datagram on the
   * socket whose datagrams from the server are handed to receive().
   */
  constructor(
    readonly server: { ip: string; port: number; username: string; password: string },
    private readonly send: (data: Buffer, to: TurnAddress) => void,
    private readonly events: TurnClientEvents,
    private readonly options: TurnClientOptions = {},
  ) {
    if (isIP(server.ip) === 0) throw new MediaError('INVALID_ARGUMENT', `TURN server address must be an IP address, not '${server.ip}'`);
  }

  /**
   * Asks for the allocation: resolves with the relayed address; rejects with the
   * server's error (wrong credentials: 401 twice) or when it does not answer in time.
   */
  async allocate(): Promise<TurnAddress> {
    const lifetime = this.options.lifetimeSeconds ?? 600;
    const response = await this.request(METHOD.ALLOCATE, () => [
      [ATTR.REQUESTED_TRANSPORT, Buffer.from([UDP, 0, 0, 0])],
      [ATTR.LIFETIME, u32(lifetime)],
    ]);
    const relayed = readXorAddress(response, ATTR.XOR_RELAYED_ADDRESS);
    if (!relayed) throw new MediaError('TURN_FAILED', 'the TURN server granted an allocation without a relayed address');
    this.relayed = relayed;
    this.mapped = readXorAddress(response, ATTR.XOR_MAPPED_ADDRESS);
    this.scheduleRefresh(this.grantedLifetime(response, lifetime));
    return relayed;
  }

  /**
   * Lets `peerIp` send to us through the relay (a remote candidate's address): the
   * server drops what comes from addresses without a permission. Refreshed until close.
   */
  permit(peerIp: string): Promise<void> {
    const known = this.permissions.get(peerIp);
    if (known) return known;
    const asked = this.request(METHOD.CREATE_PERMISSION, (tid) => [[ATTR.XOR_PEER_ADDRESS, xorMappedAddress(peerIp, 0, tid)]]).then(() => undefined);
    this.permissions.set(peerIp, asked);
    asked.catch(() => this.permissions.delete(peerIp));
    this.permissionTimer ??= setInterval(() => this.refreshPermissions(), PERMISSION_REFRESH_MS).unref();
    return asked;
  }

  /**
   * Sends `payload` to `to` through the relay: as ChannelData once a channel to `to` is
   * bound (asked for on the first send), as a Send indication until then.
   */
  sendTo(payload: Buffer, to: TurnAddress): void {
    if (this.closed || !this.relayed) return;
    const key = `${to[0]}:${to[1]}`;
    let channel = this.channels.get(key);
    if (!channel && this.nextChannel <= LAST_CHANNEL) {
      channel = { number: this.nextChannel++, bound: false };
      this.channels.set(key, channel);
      this.bindChannel(channel, to);
    }
    if (channel?.bound) {
      // ChannelData (RFC 8656 §12.4): number, length, data padded to 4 bytes over UDP is optional: none.
      const framed = Buffer.allocUnsafe(4 + payload.length);
      framed.writeUInt16BE(channel.number, 0);
      framed.writeUInt16BE(payload.length, 2);
      payload.copy(framed, 4);
      this.send(framed, [this.server.ip, this.server.port]);
      return;
    }
    const tid = randomBytes(12);
    this.send(writeStun(messageType(METHOD.SEND, CLASS.INDICATION), tid, [
      [ATTR.XOR_PEER_ADDRESS, xorMappedAddress(to[0], to[1], tid)],
      [ATTR.DATA, payload],
    ], undefined), [this.server.ip, this.server.port]);
  }

  /**
   * A datagram of the socket: true when it came from the server and was taken (a
   * response, a Data indication, ChannelData), false when it is someone else's.
   */
  receive(data: Buffer, from: TurnAddress): boolean {
    if (from[0] !== this.server.ip || from[1] !== this.server.port) return false;
    if (this.closed) return true;
    if (data.length >= 4 && data[0]! >= 0x40 && data[0]! <= 0x4f) {
      this.receiveChannelData(data);
      return true;
    }
    const message = readStun(data);
    if (!message) return true;
    const cls = classOf(message.type);
    if (cls === CLASS.INDICATION) {
      if (methodOf(message.type) !== METHOD.DATA) return true;
      const peer = readXorAddress(data, ATTR.XOR_PEER_ADDRESS);
      const payload = stunAttributes(data)?.get(ATTR.DATA);
      if (peer && payload) this.events.data(payload, peer);
      return true;
    }
    if (cls !== CLASS.SUCCESS && cls !== CLASS.ERROR) return true;
    const pending = this.pending.get(message.transactionId.toString('hex'));
    if (!pending || methodOf(message.type) !== pending.method) return true;
    // A success must carry our MESSAGE-INTEGRITY (RFC 8489 §9.2.5): anyone could forge one on the 5-tuple otherwise.
    if (cls === CLASS.SUCCESS && (!this.key || !integrityValid(data, message.integrityAt, this.key))) return true;
    this.settle(message.transactionId.toString('hex'));
    pending.resolve(data);
    return true;
  }

  /** Gives the allocation back (a Refresh with lifetime 0, not waited for) and stops every timer. Idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.relayed && this.key) this.transmit(METHOD.REFRESH, randomBytes(12), [[ATTR.LIFETIME, u32(0)]]);
    this.closed = true;
    clearTimeout(this.refreshTimer);
    clearInterval(this.permissionTimer);
    clearInterval(this.channelTimer);
    for (const [id, pending] of this.pending) {
      this.settle(id);
      pending.reject(new MediaError('OBJECT_CLOSED', 'the TURN client was closed'));
    }
  }

  private receiveChannelData(data: Buffer): void {
    const number = data.readUInt16BE(0);
    const length = data.readUInt16BE(2);
    if (4 + length > data.length) return;
    for (const [key, channel] of this.channels) {
      if (channel.number !== number || !channel.bound) continue;
      const at = key.lastIndexOf(':');
      this.events.data(data.subarray(4, 4 + length), [key.slice(0, at), Number(key.slice(at + 1))]);
      return;
    }
  }

  private bindChannel(channel: Channel, to: TurnAddress): void {
    this.request(METHOD.CHANNEL_BIND, (tid) => [
      [ATTR.CHANNEL_NUMBER, Buffer.from([channel.number >> 8, channel.number & 0xff, 0, 0])],
      [ATTR.XOR_PEER_ADDRESS, xorMappedAddress(to[0], to[1], tid)],
    ]).then(
      () => {
        channel.bound = true;
        this.channelTimer ??= setInterval(() => this.refreshChannels(), CHANNEL_REFRESH_MS).unref();
      },
      // Not bound: Send indications go on, and the next send does not ask again (the number stays taken).
      () => undefined,
    );
  }

  private refreshChannels(): void {
    for (const [key, channel] of this.channels) {
      if (!channel.bound) continue;
      const at = key.lastIndexOf(':');
      channel.bound = false;
      this.bindChannel(channel, [key.slice(0, at), Number(key.slice(at + 1))]);
    }
  }

  private refreshPermissions(): void {
    for (const ip of [...this.permissions.keys()]) {
      this.permissions.delete(ip);
      void this.permit(ip).catch(() => undefined);
    }
  }

  private scheduleRefresh(lifetimeSeconds: number): void {
    clearTimeout(this.refreshTimer);
    // A minute before it expires, or halfway through a lifetime shorter than two minutes.
    const inMs = Math.max(1000, lifetimeSeconds * 500, (lifetimeSeconds - 60) * 1000);
    this.refreshTimer = setTimeout(() => {
      const lifetime = this.options.lifetimeSeconds ?? 600;
      this.request(METHOD.REFRESH, () => [[ATTR.LIFETIME, u32(lifetime)]]).then(
        (response) => this.scheduleRefresh(this.grantedLifetime(response, lifetime)),
        (error: unknown) => {
          if (this.closed) return;
          // Lost: nothing to give back.
          this.relayed = undefined;
          this.close();
          this.events.failed(`the TURN allocation could not be refreshed: ${error instanceof Error ? error.message : String(error)}`);
        },
      );
    }, inMs).unref();
  }

  private grantedLifetime(response: Buffer, asked: number): number {
    const value = stunAttributes(response)?.get(ATTR.LIFETIME);
    return value && value.length === 4 ? value.readUInt32BE(0) : asked;
  }

  /**
   * One request, authenticated once the server told its realm and nonce: a 401 (the
   * first request) or 438 (stale nonce) is answered once with the new nonce. The
   * attributes are made per transaction id (an IPv6 XOR address is encoded with it).
   */
  private async request(method: number, attributes: (tid: Buffer) => Array<[number, Buffer]>): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const tid = randomBytes(12);
      const response = await this.transaction(method, tid, attributes(tid));
      if (classOf(response.readUInt16BE(0)) === CLASS.SUCCESS) return response;
      const error = errorCodeOf(response);
      const code = error?.code ?? 0;
      if ((code === 401 || code === 438) && attempt === 0 && this.takeChallenge(response, code)) continue;
      const what = code === 401 ? 'the TURN server refused the credentials' : `the TURN server answered ${code} ${error?.reason ?? ''}`.trim();
      throw new MediaError('TURN_FAILED', what);
    }
  }

  /** Takes REALM and NONCE from a 401 or 438; false when it has none usable. */
  private takeChallenge(response: Buffer, code: number): boolean {
    const attributes = stunAttributes(response);
    const nonce = attributes?.get(ATTR.NONCE);
    const realm = attributes?.get(ATTR.REALM) ?? (code === 438 ? this.realm : undefined);
    if (!nonce || !realm) return false;
    this.nonce = Buffer.from(nonce);
    if (!this.realm?.equals(realm)) {
      this.realm = Buffer.from(realm);
      this.key = createHash('md5').update(`${this.server.username}:${realm.toString('utf8')}:${this.server.password}`).digest();
    }
    return true;
  }

  private transaction(method: number, tid: Buffer, attributes: Array<[number, Buffer]>): Promise<Buffer> {
    if (this.closed) return Promise.reject(new MediaError('OBJECT_CLOSED', 'the TURN client was closed'));
    const id = tid.toString('hex');
    return new Promise<Buffer>((resolve, reject) => {
      const timeoutMs = this.options.timeoutMs ?? 5000;
      const timers: Pending['timers'] = {
        deadline: setTimeout(() => {
          this.settle(id);
          reject(new MediaError('TURN_FAILED', `the TURN server ${this.server.ip}:${this.server.port} did not answer within ${timeoutMs} ms`));
        }, timeoutMs).unref(),
      };
      this.pending.set(id, { method, resolve, reject, timers });
      let interval = this.options.retransmitMs ?? 250;
      const send = (): void => {
        this.transmit(method, tid, attributes);
        timers.retransmit = setTimeout(send, interval).unref();
        interval *= 2;
      };
      send();
    });
  }

  private transmit(method: number, tid: Buffer, attributes: Array<[number, Buffer]>): void {
    const authenticated: Array<[number, Buffer]> = this.key && this.realm && this.nonce
      ? [...attributes, [ATTR.USERNAME, Buffer.from(this.server.username)], [ATTR.REALM, this.realm], [ATTR.NONCE, this.nonce]]
      : attributes;
    this.send(writeStun(messageType(method, CLASS.REQUEST), tid, authenticated, this.key), [this.server.ip, this.server.port]);
  }

  private settle(id: string): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timers.deadline);
    clearTimeout(pending.timers.retransmit);
  }
}
