import { MediaError } from '../core/errors.js';
import { TypedEmitter } from '../core/TypedEmitter.js';
import type { ChannelReliability } from './dcep.js';

export type DataChannelState = 'connecting' | 'open' | 'closing' | 'closed';

export interface DataChannelEvents extends Record<string, unknown[]> {
  /** The peer acknowledged our DATA_CHANNEL_OPEN (a channel the peer opened is open when announced). */
  open: [];
  /** A message: PPID 51 and 56 as a string, 53 and 57 as a Buffer. */
  message: [data: string | Buffer];
  /** close() was called: our side of the stream is being reset. */
  closing: [];
  /** Both directions of the channel's stream were reset, or the association ended. */
  close: [];
}

export interface DataChannelParameters extends ChannelReliability {
  label: string;
  protocol: string;
}

/** What a channel asks of its SctpAssociation. */
export interface DataChannelLink {
  /** Sends a message of the channel (the association chooses the PPID). */
  send(channel: DataChannel, data: string | Buffer): void;
  /** Resets the channel's outgoing stream (RFC 8831 §6.7), or forgets a channel not opened yet. */
  close(channel: DataChannel): void;
}

/**
 * One data channel of an SctpAssociation (RFC 8831): an SCTP stream pair opened by a
 * DATA_CHANNEL_OPEN of either side. Its stream id is given when the open goes out (the
 * association must be up to know its parity), so a channel made early has none yet.
 */
export class DataChannel extends TypedEmitter<DataChannelEvents> {
  readonly label: string;
  readonly protocol: string;
  readonly ordered: boolean;
  readonly maxRetransmits: number | undefined;
  readonly maxPacketLifeTime: number | undefined;
  private stateValue: DataChannelState;
  private idValue: number | undefined;

  constructor(
    parameters: DataChannelParameters,
    /** True for a channel the peer opened. */
    readonly openedByPeer: boolean,
    private readonly link: DataChannelLink,
    id?: number,
  ) {
    super();
    this.label = parameters.label;
    this.protocol = parameters.protocol;
    this.ordered = parameters.ordered;
    this.maxRetransmits = parameters.maxRetransmits;
    this.maxPacketLifeTime = parameters.maxPacketLifeTime;
    this.idValue = id;
    this.stateValue = 'connecting';
  }

  /** The SCTP stream id; undefined until our DATA_CHANNEL_OPEN went out. */
  get id(): number | undefined {
    return this.idValue;
  }

  get state(): DataChannelState {
    return this.stateValue;
  }

  /**
   * Sends a message to the peer. INVALID_STATE when the channel is not open,
   * INVALID_ARGUMENT when it is larger than the peer's a=max-message-size.
   */
  send(data: string | Buffer): void {
    if (this.stateValue !== 'open') throw new MediaError('INVALID_STATE', `data channel '${this.label}' is ${this.stateValue}`);
    this.link.send(this, data);
  }

  /** Starts closing (the peer's reset of its side ends it: 'close'). Idempotent. */
  close(): void {
    if (this.stateValue === 'closing' || this.stateValue === 'closed') return;
    this.link.close(this);
  }

  // --- for the association ---------------------------------------------------------------

  assignId(id: number): void {
    this.idValue = id;
  }

  setState(state: DataChannelState): void {
    if (this.stateValue === state || this.stateValue === 'closed') return;
    this.stateValue = state;
    if (state === 'open') this.emit('open');
    if (state === 'closing') this.emit('closing');
    if (state === 'closed') {
      this.emit('close');
      this.removeAllListeners();
    }
  }

  deliver(data: string | Buffer): void {
    if (this.stateValue === 'open') this.emit('message', data);
  }
}
