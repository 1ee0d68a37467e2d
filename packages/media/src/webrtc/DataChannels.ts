import { MediaError } from '../core/errors.js';
import type { DataChannel, DataChannelState } from '../transport/DataChannel.js';

/** Options of a data channel the server opens (RFC 8832's DATA_CHANNEL_OPEN fields). */
export interface DataChannelOptions {
  /** Deliver messages in order. Default true. */
  ordered?: boolean;
  /** Give up retransmitting a message after this many ms. Default: no limit. */
  maxPacketLifeTime?: number;
  /** Give up after this many retransmissions. Default: no limit. */
  maxRetransmits?: number;
  /** Sub-protocol name announced to the peer. Default ''. */
  protocol?: string;
}

export interface DataChannelStats {
  channelsOpened: number;
  channelsClosed: number;
  messagesReceived: number;
  bytesReceived: number;
  messagesSent: number;
  bytesSent: number;
}

export interface DataChannelCallbacks {
  opened(channelId: number): void;
  closed(channelId: number): void;
  message(label: string, data: string | Buffer): void;
}

/** DataChannelOptions checked, with their defaults. */
export interface ValidDataChannelOptions {
  ordered: boolean;
  maxPacketLifeTime: number | undefined;
  maxRetransmits: number | undefined;
  protocol: string;
}

/**
 * The data channels of one endpoint (its transport's SctpAssociation), opened by either
 * side. Reports opening, closing and messages through callbacks; the endpoint decides
 * where messages go.
 */
export class DataChannels {
  private readonly channels = new Set<DataChannel>();
  private readonly stats: DataChannelStats = { channelsOpened: 0, channelsClosed: 0, messagesReceived: 0, bytesReceived: 0, messagesSent: 0, bytesSent: 0 };
  private closed = false;

  constructor(private readonly callbacks: DataChannelCallbacks) {}

  /**
   * Opens a channel to the peer with `open` (the transport's); 'opened' follows once the
   * peer acknowledges it. INVALID_ARGUMENT when the options do not make a channel.
   */
  create(label: string, options: DataChannelOptions, open: (label: string, options: ValidDataChannelOptions) => DataChannel): void {
    const { ordered, maxPacketLifeTime, maxRetransmits, protocol } = options;
    for (const [name, value] of [['maxPacketLifeTime', maxPacketLifeTime], ['maxRetransmits', maxRetransmits]] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 0xffff)) {
        throw new MediaError('INVALID_ARGUMENT', `${name} must be an integer from 0 to 65535`);
      }
    }
    if (maxPacketLifeTime !== undefined && maxRetransmits !== undefined) {
      throw new MediaError('INVALID_ARGUMENT', 'maxPacketLifeTime and maxRetransmits cannot both be set');
    }
    this.track(open(label, { ordered: ordered ?? true, maxPacketLifeTime, maxRetransmits, protocol: protocol ?? '' }));
  }

  /** Closes the open channel `channelId`. */
  close(channelId: number): void {
    const channel = [...this.channels].find((c) => c.id === channelId && c.state === 'open');
    if (!channel) throw new MediaError('INVALID_ARGUMENT', `no open data channel with id ${channelId}`);
    channel.close();
  }

  /** Sends on the open channel labelled `label`, or on the first open one. False when there is none. */
  send(label: string, data: string | Buffer): boolean {
    const open = [...this.channels].filter((c) => c.state === 'open');
    const channel = open.find((c) => c.label === label) ?? open[0];
    if (!channel) return false;
    try {
      channel.send(data);
    } catch {
      // Larger than the peer's max-message-size, or the association just went away: the caller gets false.
      return false;
    }
    this.stats.messagesSent++;
    this.stats.bytesSent += byteLength(data);
    return true;
  }

  getStats(): DataChannelStats {
    return { ...this.stats };
  }

  /** Closes every channel without reporting it: the endpoint is going away. Idempotent. */
  closeAll(): void {
    this.closed = true;
    for (const channel of this.channels) channel.close();
    this.channels.clear();
  }

  /** A channel the peer opened, or one of ours (create()). */
  track(channel: DataChannel): void {
    if (this.closed) {
      channel.close();
      return;
    }
    this.channels.add(channel);
    let opened = false;
    const onState = (state: DataChannelState): void => {
      if (this.closed) return;
      if (state === 'open' && !opened) {
        opened = true;
        this.stats.channelsOpened++;
        this.callbacks.opened(channel.id!);
      } else if ((state === 'closing' || state === 'closed') && this.channels.delete(channel) && opened) {
        this.stats.channelsClosed++;
        this.callbacks.closed(channel.id!);
      }
    };
    channel.on('open', () => onState('open'));
    channel.on('closing', () => onState('closing'));
    channel.on('close', () => onState('closed'));
    channel.on('message', (data) => {
      if (this.closed) return;
      this.stats.messagesReceived++;
      this.stats.bytesReceived += byteLength(data);
      this.callbacks.message(channel.label, data);
    });
    // A channel the peer opened may already be open when it is announced.
    if (channel.state !== 'connecting') onState(channel.state);
  }
}

function byteLength(data: string | Buffer): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}
