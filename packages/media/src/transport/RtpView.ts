/*
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                             SSRC                              |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |            CSRCs (CC x 32 bits), extension (X), payload       |
 */

/** The header fields the forwarding path reads (RetransmissionBuffer keys on sequenceNumber). */
export interface RtpFields {
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payloadType: number;
  marker: boolean;
}

/**
 * A received, unprotected RTP packet: its bytes (held, not copied: Node gives every
 * datagram its own buffer) and the offsets of its parts.
 */
export interface RtpView {
  readonly data: Buffer;
  readonly header: RtpFields;
  /** First CSRC at 12; CSRC count; start of the payload; end of the packet (padding included). */
  readonly csrcCount: number;
  readonly payloadOffset: number;
  readonly end: number;
  readonly padding: boolean;
}

/** Parses the header of `length` bytes of `data`; undefined when it is not RTP that fits. */
export function readRtp(data: Buffer, length = data.length): RtpView | undefined {
  if (length < 12) return undefined;
  const b0 = data[0]!;
  if (b0 >>> 6 !== 2) return undefined;
  const csrcCount = b0 & 0x0f;
  let offset = 12 + csrcCount * 4;
  if (b0 & 0x10) {
    if (offset + 4 > length) return undefined;
    offset += 4 + data.readUInt16BE(offset + 2) * 4;
  }
  if (offset > length) return undefined;
  const padding = (b0 & 0x20) !== 0;
  if (padding && (length === offset || data[length - 1]! > length - offset)) return undefined;
  return {
    data,
    header: {
      sequenceNumber: data.readUInt16BE(2),
      timestamp: data.readUInt32BE(4),
      ssrc: data.readUInt32BE(8),
      payloadType: data[1]! & 0x7f,
      marker: (data[1]! & 0x80) !== 0,
    },
    csrcCount,
    payloadOffset: offset,
    end: length,
    padding,
  };
}

/** The payload without padding. */
export function payloadOf(packet: RtpView): Buffer {
  const end = packet.padding ? packet.end - packet.data[packet.end - 1]! : packet.end;
  return packet.data.subarray(packet.payloadOffset, end);
}

/** The value of one-byte-header extension `id` (RFC 8285), if the packet carries it. */
export function readExtension(packet: RtpView, id: number): Buffer | undefined {
  const data = packet.data;
  if (!(data[0]! & 0x10)) return undefined;
  const at = 12 + packet.csrcCount * 4;
  if (data.readUInt16BE(at) !== 0xbede) return undefined;
  const end = at + 4 + data.readUInt16BE(at + 2) * 4;
  for (let p = at + 4; p < end; ) {
    const b = data[p]!;
    if (b === 0) {
      p++;
      continue;
    }
    const extId = b >>> 4;
    const len = (b & 0x0f) + 1;
    if (extId === 15) return undefined;
    if (extId === id) return p + 1 + len <= end ? data.subarray(p + 1, p + 1 + len) : undefined;
    p += 1 + len;
  }
  return undefined;
}

/**
 * RTX (RFC 4588): the original packet of a retransmission: the original sequence
 * number comes first in the payload. Undefined for a padding-only RTX packet.
 */
export function unwrapRtx(packet: RtpView, ssrc: number, payloadType: number): RtpView | undefined {
  const payload = payloadOf(packet);
  if (payload.length < 3) return undefined;
  const headerLength = packet.payloadOffset;
  const out = Buffer.allocUnsafe(headerLength + payload.length - 2);
  packet.data.copy(out, 0, 0, headerLength);
  out[0] = out[0]! & ~0x20;
  out[1] = (out[1]! & 0x80) | payloadType;
  payload.copy(out, 2, 0, 2);
  out.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(out, headerLength, 2);
  return readRtp(out);
}
