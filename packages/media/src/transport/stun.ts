import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { crc32 } from 'node:zlib';

/*
 * Just the STUN (RFC 5389) an ICE-lite agent needs (RFC 8445 §2.5): read a Binding
 * request, check its FINGERPRINT and MESSAGE-INTEGRITY, answer it with
 * XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0 0|     STUN Message Type     |         Message Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Magic Cookie                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Transaction ID (96 bits)                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * then attributes: type (16), length (16), value padded to 4 bytes.
 */

export const STUN_HEADER = 20;
const MAGIC_COOKIE = 0x2112a442;
const FINGERPRINT_XOR = 0x5354554e;
export const BINDING_REQUEST = 0x0001;
export const BINDING_SUCCESS = 0x0101;
export const BINDING_ERROR = 0x0111;
export const BINDING_INDICATION = 0x0011;

export const StunAttr = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
} as const;

/** A parsed STUN message: its type, transaction id and where each attribute's value is. */
export interface StunMessage {
  type: number;
  transactionId: Buffer;
  username: string | undefined;
  priority: number | undefined;
  useCandidate: boolean;
  iceControlling: boolean;
  iceControlled: boolean;
  /** Offsets of MESSAGE-INTEGRITY and FINGERPRINT attributes, -1 when absent. */
  integrityAt: number;
  fingerprintAt: number;
}

/** Parses a STUN message, checking every length; undefined when anything does not fit. */
export function readStun(data: Buffer): StunMessage | undefined {
  if (data.length < STUN_HEADER || (data[0]! & 0xc0) !== 0) return undefined;
  const length = data.readUInt16BE(2);
  if (data.readUInt32BE(4) !== MAGIC_COOKIE || length % 4 !== 0 || STUN_HEADER + length !== data.length) return undefined;
  const message: StunMessage = {
    type: data.readUInt16BE(0),
    transactionId: data.subarray(8, STUN_HEADER),
    username: undefined,
    priority: undefined,
    useCandidate: false,
    iceControlling: false,
    iceControlled: false,
    integrityAt: -1,
    fingerprintAt: -1,
  };
  let at = STUN_HEADER;
  while (at < data.length) {
    if (at + 4 > data.length) return undefined;
    const type = data.readUInt16BE(at);
    const len = data.readUInt16BE(at + 2);
    const end = at + 4 + len;
    if (end > data.length) return undefined;
    // After FINGERPRINT nothing may follow; after MESSAGE-INTEGRITY only FINGERPRINT counts.
    if (message.fingerprintAt >= 0) return undefined;
    if (message.integrityAt < 0 || type === StunAttr.FINGERPRINT) {
      switch (type) {
        case StunAttr.USERNAME:
          if (len === 0 || len > 513) return undefined;
          message.username = data.toString('utf8', at + 4, end);
          break;
        case StunAttr.PRIORITY:
          if (len !== 4) return undefined;
          message.priority = data.readUInt32BE(at + 4);
          break;
        case StunAttr.USE_CANDIDATE:
          message.useCandidate = true;
          break;
        case StunAttr.ICE_CONTROLLING:
          message.iceControlling = true;
          break;
        case StunAttr.ICE_CONTROLLED:
          message.iceControlled = true;
          break;
        case StunAttr.MESSAGE_INTEGRITY:
          if (len !== 20) return undefined;
          message.integrityAt = at;
          break;
        case StunAttr.FINGERPRINT:
          if (len !== 4) return undefined;
          message.fingerprintAt = at;
          break;
        default:
          break;
      }
    }
    at = end + ((4 - (len % 4)) % 4);
  }
  return at === data.length ? message : undefined;
}

/** RFC 5389 §15.5: CRC-32 of the message up to FINGERPRINT, XOR 0x5354554e. */
export function fingerprintValid(data: Buffer, fingerprintAt: number): boolean {
  if (fingerprintAt < 0 || fingerprintAt + 8 !== data.length) return false;
  return ((crc32(data.subarray(0, fingerprintAt)) ^ FINGERPRINT_XOR) >>> 0) === data.readUInt32BE(fingerprintAt + 4);
}

/**
 * RFC 5389 §15.4: HMAC-SHA1 keyed with the short-term password over the message up to
 * MESSAGE-INTEGRITY, with the header's length counting up to the end of that attribute.
 */
export function integrityValid(data: Buffer, integrityAt: number, password: string | Buffer): boolean {
  if (integrityAt < 0 || integrityAt + 24 > data.length) return false;
  const header = Buffer.from(data.subarray(0, 4));
  header.writeUInt16BE(integrityAt + 24 - STUN_HEADER, 2);
  const mac = createHmac('sha1', password).update(header).update(data.subarray(4, integrityAt)).digest();
  return timingSafeEqual(mac, data.subarray(integrityAt + 4, integrityAt + 24));
}

/**
 * Builds a STUN message: header, the attributes, then MESSAGE-INTEGRITY (if `password`:
 * ICE's short-term password, or a long-term key, RFC 5389 §15.4) and FINGERPRINT.
 */
export function writeStun(type: number, transactionId: Buffer, attributes: ReadonlyArray<[number, Buffer]>, password: string | Buffer | undefined): Buffer {
  let size = STUN_HEADER;
  for (const [, value] of attributes) size += 4 + ((value.length + 3) & ~3);
  const total = size + (password !== undefined ? 24 : 0) + 8;
  const out = Buffer.alloc(total);
  out.writeUInt16BE(type, 0);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(out, 8, 0, 12);
  let at = STUN_HEADER;
  for (const [attr, value] of attributes) {
    out.writeUInt16BE(attr, at);
    out.writeUInt16BE(value.length, at + 2);
    value.copy(out, at + 4);
    at += 4 + ((value.length + 3) & ~3);
  }
  if (password !== undefined) {
    out.writeUInt16BE(at + 24 - STUN_HEADER, 2);
    const mac = createHmac('sha1', password).update(out.subarray(0, at)).digest();
    out.writeUInt16BE(StunAttr.MESSAGE_INTEGRITY, at);
    out.writeUInt16BE(20, at + 2);
    mac.copy(out, at + 4);
    at += 24;
  }
  out.writeUInt16BE(total - STUN_HEADER, 2);
  out.writeUInt16BE(StunAttr.FINGERPRINT, at);
  out.writeUInt16BE(4, at + 2);
  out.writeUInt32BE((crc32(out.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0, at + 4);
  return out;
}

/** XOR-MAPPED-ADDRESS (RFC 5389 §15.2) of an IPv4 or IPv6 address. */
export function xorMappedAddress(ip: string, port: number, transactionId: Buffer): Buffer {
  const v4 = isIPv4(ip);
  const value = Buffer.alloc(v4 ? 8 : 20);
  value[1] = v4 ? 0x01 : 0x02;
  value.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2);
  if (v4) {
    const parts = ip.split('.').map(Number);
    value.writeUInt32BE(((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0, 4);
    value.writeUInt32BE((value.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0, 4);
    return value;
  }
  const raw = ipv6Bytes(ip);
  const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), transactionId.subarray(0, 12)]);
  for (let i = 0; i < 16; i++) value[4 + i] = raw[i]! ^ mask[i]!;
  return value;
}

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2));
  return out;
}

/**
 * The address XOR-MAPPED-ADDRESS (RFC 5389 §15.2) of a Binding success response
 * carries (IPv4 or IPv6); undefined when the message has none or it does not fit.
 */
export function readXorMappedAddress(data: Buffer): [string, number] | undefined {
  return readXorAddress(data, StunAttr.XOR_MAPPED_ADDRESS);
}

/**
 * The address of the first attribute `attr` of the message, XOR-encoded as
 * XOR-MAPPED-ADDRESS is (RFC 5389 §15.2; TURN's XOR-PEER-ADDRESS and
 * XOR-RELAYED-ADDRESS are too); undefined when there is none or it does not fit.
 */
export function readXorAddress(data: Buffer, attr: number): [string, number] | undefined {
  if (data.length < STUN_HEADER || data.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  const value = stunAttributes(data)?.get(attr);
  if (!value || value.length < 8) return undefined;
  const family = value[1];
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  if (family === 0x01 && value.length === 8) {
    const ip = (value.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0;
    return [`${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`, port];
  }
  if (family === 0x02 && value.length === 20) {
    const mask = Buffer.concat([data.subarray(4, 8), data.subarray(8, STUN_HEADER)]);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((value[4 + i]! ^ mask[i]!) << 8) | (value[5 + i]! ^ mask[i + 1]!)).toString(16));
    return [groups.join(':'), port];
  }
  return undefined;
}

/**
 * The values of a STUN message's attributes by type (the first of each type), without
 * their padding; undefined when an attribute does not fit in the message.
 */
export function stunAttributes(data: Buffer): Map<number, Buffer> | undefined {
  const attributes = new Map<number, Buffer>();
  let at = STUN_HEADER;
  while (at < data.length) {
    if (at + 4 > data.length) return undefined;
    const type = data.readUInt16BE(at);
    const len = data.readUInt16BE(at + 2);
    if (at + 4 + len > data.length) return undefined;
    if (!attributes.has(type)) attributes.set(type, data.subarray(at + 4, at + 4 + len));
    at += 4 + len + ((4 - (len % 4)) % 4);
  }
  return attributes;
}
