import { payloadOf, type RtpView } from './RtpView.js';

/*
 * RTP payload for redundant audio data (RED, RFC 2198 §3): block headers, then the
 * blocks' data in the same order, the primary (newest) block last.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |1|   block PT  |  timestamp offset         |   block length    |   one per redundant block
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0|   block PT  |                                                   the primary block's
 * +-+-+-+-+-+-+-+-+
 */

export const RED_MIME = 'audio/red';

export interface RedBlock {
  payloadType: number;
  /** How much older than the packet's timestamp (0 for the primary block). */
  timestampOffset: number;
  data: Buffer;
}

/** The blocks of a RED payload, primary last; undefined when the payload is not well formed. */
export function readRed(payload: Buffer): RedBlock[] | undefined {
  const headers: Array<{ payloadType: number; timestampOffset: number; length: number }> = [];
  let at = 0;
  for (;;) {
    if (at >= payload.length) return undefined;
    const b = payload[at]!;
    if (b & 0x80) {
      if (at + 4 > payload.length) return undefined;
      const word = payload.readUInt32BE(at);
      headers.push({ payloadType: b & 0x7f, timestampOffset: (word >>> 10) & 0x3fff, length: word & 0x3ff });
      at += 4;
    } else {
      headers.push({ payloadType: b & 0x7f, timestampOffset: 0, length: -1 });
      at += 1;
      break;
    }
  }
  const blocks: RedBlock[] = [];
  for (const h of headers) {
    const length = h.length < 0 ? payload.length - at : h.length;
    if (at + length > payload.length) return undefined;
    blocks.push({ payloadType: h.payloadType, timestampOffset: h.timestampOffset, data: payload.subarray(at, at + length) });
    at += length;
  }
  return blocks;
}

/** A packet with `payload` in place of `packet`'s (header and CSRCs kept; extensions and padding dropped: the forwarding path writes neither). */
function withPayload(packet: RtpView, payload: Buffer): RtpView {
  const headerLength = 12 + packet.csrcCount * 4;
  const data = Buffer.allocUnsafe(headerLength + payload.length);
  packet.data.copy(data, 0, 0, headerLength);
  data[0] = data[0]! & ~0x30;
  payload.copy(data, headerLength);
  return { data, header: packet.header, csrcCount: packet.csrcCount, payloadOffset: headerLength, end: data.length, padding: false };
}

/** The primary block of a RED packet as a packet of its own (for receivers that did not negotiate RED); undefined when malformed. */
export function primaryOf(packet: RtpView): RtpView | undefined {
  const blocks = readRed(payloadOf(packet));
  const primary = blocks?.at(-1);
  return primary ? withPayload(packet, primary.data) : undefined;
}

/** The RED packet with every block's payload type set to `payloadType` (a receiver whose Opus has another number); undefined when malformed. */
export function withBlockPayloadType(packet: RtpView, payloadType: number): RtpView | undefined {
  const payload = payloadOf(packet);
  const blocks = readRed(payload);
  if (!blocks) return undefined;
  if (blocks.every((b) => b.payloadType === payloadType)) return packet;
  const copy = Buffer.from(payload);
  let at = 0;
  for (let i = 0; i < blocks.length; i++) {
    copy[at] = (copy[at]! & 0x80) | (payloadType & 0x7f);
    at += i < blocks.length - 1 ? 4 : 1;
  }
  return withPayload(packet, copy);
}
