/*
 * The Data Channel Establishment Protocol (RFC 8832): the two messages that open a data
 * channel on an SCTP stream, sent with PPID 50. Reading never throws: a message that
 * does not parse is undefined, and the association drops it.
 */

export const DATA_CHANNEL_ACK = 0x02;
export const DATA_CHANNEL_OPEN = 0x03;

/** Channel types (RFC 8832 §5.1): the high bit makes a channel unordered. */
export const CHANNEL_RELIABLE = 0x00;
export const CHANNEL_PARTIAL_RELIABLE_REXMIT = 0x01;
export const CHANNEL_PARTIAL_RELIABLE_TIMED = 0x02;
const UNORDERED = 0x80;

/** How a channel delivers: in order or not, and when it gives up on a message. */
export interface ChannelReliability {
  ordered: boolean;
  /** Give up after this many retransmissions (PARTIAL_RELIABLE_REXMIT). */
  maxRetransmits?: number;
  /** Give up after this many ms (PARTIAL_RELIABLE_TIMED). */
  maxPacketLifeTime?: number;
}

export interface DataChannelOpen extends ChannelReliability {
  type: 'open';
  priority: number;
  label: string;
  protocol: string;
}

export type DcepMessage = DataChannelOpen | { type: 'ack' };

/**
 * DATA_CHANNEL_OPEN (RFC 8832 §5.1):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Message Type |  Channel Type |            Priority           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Reliability Parameter                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Label Length          |       Protocol Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                             Label                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                            Protocol                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * DATA_CHANNEL_ACK (§5.2) is the message type alone.
 *
 * Undefined when `data` is neither: an unknown message type or channel type, or an
 * OPEN shorter than its header or than the label and protocol it announces.
 */
export function readDcep(data: Buffer): DcepMessage | undefined {
  if (data.length === 0) return undefined;
  if (data[0] === DATA_CHANNEL_ACK) return { type: 'ack' };
  if (data[0] !== DATA_CHANNEL_OPEN || data.length < 12) return undefined;
  const channelType = data[1]!;
  const reliability = data.readUInt32BE(4);
  const labelLength = data.readUInt16BE(8);
  const protocolLength = data.readUInt16BE(10);
  if (12 + labelLength + protocolLength > data.length) return undefined;
  const kind = channelType & ~UNORDERED;
  if (kind !== CHANNEL_RELIABLE && kind !== CHANNEL_PARTIAL_RELIABLE_REXMIT && kind !== CHANNEL_PARTIAL_RELIABLE_TIMED) return undefined;
  const open: DataChannelOpen = {
    type: 'open',
    ordered: (channelType & UNORDERED) === 0,
    priority: data.readUInt16BE(2),
    label: data.toString('utf8', 12, 12 + labelLength),
    protocol: data.toString('utf8', 12 + labelLength, 12 + labelLength + protocolLength),
  };
  if (kind === CHANNEL_PARTIAL_RELIABLE_REXMIT) open.maxRetransmits = reliability;
  if (kind === CHANNEL_PARTIAL_RELIABLE_TIMED) open.maxPacketLifeTime = reliability;
  return open;
}

/** DATA_CHANNEL_OPEN for a channel of `label` and `protocol` (UTF-8) delivering as `reliability` says. */
export function writeDataChannelOpen(label: string, protocol: string, reliability: ChannelReliability, priority = 0): Buffer {
  const labelBytes = Buffer.from(label, 'utf8');
  const protocolBytes = Buffer.from(protocol, 'utf8');
  const out = Buffer.alloc(12 + labelBytes.length + protocolBytes.length);
  let channelType = CHANNEL_RELIABLE;
  let parameter = 0;
  if (reliability.maxRetransmits !== undefined) {
    channelType = CHANNEL_PARTIAL_RELIABLE_REXMIT;
    parameter = reliability.maxRetransmits;
  } else if (reliability.maxPacketLifeTime !== undefined) {
    channelType = CHANNEL_PARTIAL_RELIABLE_TIMED;
    parameter = reliability.maxPacketLifeTime;
  }
  if (!reliability.ordered) channelType |= UNORDERED;
  out[0] = DATA_CHANNEL_OPEN;
  out[1] = channelType;
  out.writeUInt16BE(priority, 2);
  out.writeUInt32BE(parameter, 4);
  out.writeUInt16BE(labelBytes.length, 8);
  out.writeUInt16BE(protocolBytes.length, 10);
  labelBytes.copy(out, 12);
  protocolBytes.copy(out, 12 + labelBytes.length);
  return out;
}

export function writeDataChannelAck(): Buffer {
  return Buffer.from([DATA_CHANNEL_ACK]);
}

