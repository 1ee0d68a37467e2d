import { SCTP, SCTP_STATE, WEBRTC_PPID, type Transport } from 'werift-sctp';
import { InitChunk, parsePacket, ShutdownChunk } from 'werift-sctp/lib/sctp/src/chunk.js';
import { MediaError } from '../core/errors.js';
import { TypedEmitter } from '../core/TypedEmitter.js';
import { DataChannel, type DataChannelLink, type DataChannelParameters } from './DataChannel.js';
import { readDcep, writeDataChannelAck, writeDataChannelOpen } from './dcep.js';
import type { DtlsRole } from './DtlsSession.js';
import type { RemoteDataParameters } from './transportSdp.js';

/** The SCTP port of our m=application line (a=sctp-port), as browsers use. */
export const SCTP_PORT = 5000;
/** The largest message we take (our a=max-message-size), what Chromium announces. */
export const MAX_MESSAGE_SIZE = 262144;

export interface SctpAssociationEvents extends Record<string, unknown[]> {
  /** The peer opened a channel (DATA_CHANNEL_OPEN); it is open. */
  datachannel: [DataChannel];
  /** The association ended (ABORT, SHUTDOWN, or close()): its channels are closed. */
  close: [];
}

export interface SctpAssociationStats {
  /** 'closing': a SHUTDOWN is under way. */
  state: 'new' | 'connecting' | 'connected' | 'closing' | 'closed';
  channels: number;
  /** Application data that is no SCTP packet werift-sctp can take (checksum, chunk and parameter lengths, unknown chunks, an INIT bundled with others, a second SHUTDOWN). */
  droppedSctp: number;
  /** DCEP messages that do not parse, an OPEN on a stream in use, an ACK for no channel of ours waiting for one. */
  droppedDcep: number;
  /** Messages on a stream without an open channel, or with a PPID that is not WebRTC's. */
  droppedMessages: number;
  /** Sends werift-sctp gave up on (the association or DTLS went away meanwhile). */
  sendFailures: number;
}

/**
 * The SCTP association of a transport's data channels (RFC 8831), carried in DTLS
 * application data: werift-sctp used as a library, with our DCEP (RFC 8832) and channel
 * closing by stream reset (RFC 8831 §6.7, RFC 6525) on top. Made when an m=application
 * line is negotiated; started when DTLS connects. Which side sends the INIT follows the
 * ICE role (the controlling agent does, as werift's peer connections expect; libwebrtc
 * sends one either way and resolves the collision). Our stream ids: even as the DTLS
 * client, odd as the DTLS server (RFC 8832 §6), skipping streams in use; the peer's OPEN
 * is taken on any free stream (werift's peers choose the parity by ICE role). Channels
 * made before the association is up wait for it. Nothing received throws: drops are
 * counted by reason.
 */
export class SctpAssociation extends TypedEmitter<SctpAssociationEvents> {
  private readonly channels = new Map<number, DataChannel>();
  /** Our channels waiting for the association (no stream id yet). */
  private readonly pending: DataChannel[] = [];
  private sctp: SCTP | undefined;
  private readonly link: Transport = {
    send: (data: Buffer) => this.sendPacket(data),
    close: () => undefined,
  };
  private ownParity = 0;
  private nextId = 0;
  private closed = false;
  /** The peer's SHUTDOWN went to werift-sctp: a second one is not handed over (see receive()). */
  private shutdownTaken = false;
  private readonly counters = { droppedSctp: 0, droppedDcep: 0, droppedMessages: 0, sendFailures: 0 };
  private readonly channelLink: DataChannelLink = {
    send: (channel, data) => this.sendMessage(channel, data),
    close: (channel) => this.closeChannel(channel),
  };

  constructor(
    private remote: RemoteDataParameters,
    /** Sends an SCTP packet as DTLS application data. */
    private readonly sendPacket: (data: Buffer) => Promise<void>,
  ) {
    super();
  }

  /** The peer's parameters from its description; once started only its a=max-message-size may change. */
  setRemote(remote: RemoteDataParameters): void {
    this.remote = { port: this.sctp ? this.remote.port : remote.port, maxMessageSize: remote.maxMessageSize };
  }

  get isStarted(): boolean {
    return this.sctp !== undefined;
  }

  /** DTLS is connected: the association starts, as the INIT's sender when `initiate`. */
  start(dtlsRole: DtlsRole, initiate: boolean): void {
    if (this.sctp || this.closed) return;
    this.ownParity = dtlsRole === 'client' ? 0 : 1;
    this.nextId = this.ownParity;
    const sctp = initiate ? SCTP.client(this.link, SCTP_PORT) : SCTP.server(this.link, SCTP_PORT);
    this.sctp = sctp;
    sctp.onReceive.subscribe((streamId, ppid, data) => this.onMessage(streamId, ppid, data));
    sctp.onReconfigStreams.subscribe((ids) => this.onStreamsReset(ids));
    sctp.stateChanged.connected.subscribe(() => this.flushPending());
    sctp.stateChanged.closed.subscribe(() => this.close());
    sctp.start(this.remote.port).catch(() => this.close());
  }

  /** DTLS application data from the peer. */
  receive(data: Buffer): void {
    const link = this.link;
    const chunks = this.closed || !link.onData ? undefined : takeableChunks(data);
    // werift-sctp throws (an unhandled rejection) when a SHUTDOWN arrives while it still answers the previous one
    // (its T2 timer is set): the first is taken, and its SHUTDOWN-ACK is retransmitted by that timer anyway.
    const shutdown = chunks?.includes(ShutdownChunk.type) ?? false;
    if (!chunks || (shutdown && this.shutdownTaken)) {
      this.counters.droppedSctp++;
      return;
    }
    if (shutdown) this.shutdownTaken = true;
    link.onData!(data);
  }

  /**
   * Opens a channel to the peer: its DATA_CHANNEL_OPEN goes out now, or once the
   * association is up; 'open' follows the peer's ACK. INVALID_STATE once closed.
   */
  createDataChannel(parameters: DataChannelParameters): DataChannel {
    if (this.closed) throw new MediaError('INVALID_STATE', 'the data channel association is closed');
    const channel = new DataChannel(parameters, false, this.channelLink);
    if (this.established) this.announce(channel);
    else this.pending.push(channel);
    return channel;
  }

  getStats(): SctpAssociationStats {
    const association = this.sctp?.associationState;
    const state = this.closed ? 'closed' : association === undefined ? 'new' : association === SCTP_STATE.ESTABLISHED ? 'connected' : association >= SCTP_STATE.SHUTDOWN_PENDING ? 'closing' : 'connecting';
    return { state, channels: this.channels.size + this.pending.length, ...this.counters };
  }

  /** Ends the association (ABORT to the peer while DTLS still carries it) and closes every channel. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const channels = [...this.pending, ...this.channels.values()];
    this.pending.length = 0;
    this.channels.clear();
    for (const channel of channels) channel.setState('closed');
    // Stopping sends an ABORT; when DTLS is gone already it goes nowhere, which is fine.
    this.sctp?.stop().catch(() => this.counters.sendFailures++);
    this.emit('close');
    this.removeAllListeners();
  }

  private get established(): boolean {
    return this.sctp?.associationState === SCTP_STATE.ESTABLISHED;
  }

  private flushPending(): void {
    for (const channel of this.pending.splice(0)) this.announce(channel);
  }

  /** Gives `channel` a stream of our parity and sends its DATA_CHANNEL_OPEN. */
  private announce(channel: DataChannel): void {
    const id = this.freeStreamId();
    if (id === undefined) {
      channel.setState('closed');
      return;
    }
    channel.assignId(id);
    this.channels.set(id, channel);
    const open = writeDataChannelOpen(channel.label, channel.protocol, channel);
    this.sctp!.send(id, WEBRTC_PPID.DCEP, open, { ordered: true }).catch(() => this.counters.sendFailures++);
  }

  /**
   * The next stream id of our parity not in use, going round the streams both sides
   * allow: an id closed a moment ago is not taken again at once, while the peer may still
   * be resetting its side of it.
   */
  private freeStreamId(): number | undefined {
    const limit = this.sctp!.maxChannels ?? 65535;
    for (let tries = 0; tries < limit; tries += 2) {
      let id = this.nextId;
      if (id >= limit) id = this.ownParity;
      this.nextId = id + 2;
      if (!this.channels.has(id)) return id;
    }
    return undefined;
  }

  private onMessage(streamId: number, ppid: number, data: Buffer): void {
    if (this.closed) return;
    if (ppid === WEBRTC_PPID.DCEP) return this.onDcep(streamId, data);
    const channel = this.channels.get(streamId);
    const message = messageOf(ppid, data);
    if (!channel || channel.state !== 'open' || message === undefined) {
      this.counters.droppedMessages++;
      return;
    }
    channel.deliver(message);
  }

  private onDcep(streamId: number, data: Buffer): void {
    const message = readDcep(data);
    const existing = this.channels.get(streamId);
    if (message?.type === 'ack') {
      if (!existing || existing.openedByPeer || existing.state !== 'connecting') {
        this.counters.droppedDcep++;
        return;
      }
      existing.setState('open');
      return;
    }
    // Not on a stream in use. A stream of our parity is taken all the same: werift's peer connections choose the
    // parity by ICE role, so a controlling werift peer that is the DTLS client opens odd streams (RFC 8832 §6: even).
    if (!message || existing) {
      this.counters.droppedDcep++;
      return;
    }
    const channel = new DataChannel(message, true, this.channelLink, streamId);
    this.channels.set(streamId, channel);
    this.sctp!.send(streamId, WEBRTC_PPID.DCEP, writeDataChannelAck(), { ordered: true }).catch(() => this.counters.sendFailures++);
    this.emit('datachannel', channel);
    channel.setState('open');
  }

  private sendMessage(channel: DataChannel, data: string | Buffer): void {
    const sctp = this.sctp;
    const id = channel.id;
    if (!sctp || id === undefined || this.closed) throw new MediaError('INVALID_STATE', 'the data channel association is not up');
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const max = this.remote.maxMessageSize;
    if (max > 0 && payload.length > max) throw new MediaError('INVALID_ARGUMENT', `a message of ${payload.length} bytes is larger than the peer's max-message-size (${max})`);
    // An empty message goes as one zero byte with its own PPID (RFC 8831 §6.6).
    const ppid = typeof data === 'string' ? (payload.length === 0 ? WEBRTC_PPID.STRING_EMPTY : WEBRTC_PPID.STRING) : payload.length === 0 ? WEBRTC_PPID.BINARY_EMPTY : WEBRTC_PPID.BINARY;
    const lifetime = channel.maxPacketLifeTime;
    sctp
      .send(id, ppid, payload.length === 0 ? Buffer.alloc(1) : payload, {
        ordered: channel.ordered,
        maxRetransmits: channel.maxRetransmits,
        // werift-sctp compares expiry with Date.now() in seconds.
        expiry: lifetime === undefined ? undefined : (Date.now() + lifetime) / 1000,
      })
      .catch(() => this.counters.sendFailures++);
  }

  /** RFC 8831 §6.7: a channel closes by resetting its outgoing stream; the peer resets its own in turn. */
  private closeChannel(channel: DataChannel): void {
    const id = channel.id;
    const sctp = this.sctp;
    if (id === undefined || !sctp || !this.established) {
      // Not announced yet, or the association is gone: nothing to tell the peer.
      const waiting = this.pending.indexOf(channel);
      if (waiting >= 0) this.pending.splice(waiting, 1);
      if (id !== undefined) this.channels.delete(id);
      channel.setState('closed');
      return;
    }
    channel.setState('closing');
    if (!sctp.reconfigQueue.includes(id)) sctp.reconfigQueue.push(id);
    // werift-sctp sends one request at a time and the queue's rest after its response.
    sctp.transmitReconfigRequest().catch(() => this.counters.sendFailures++);
  }

  /** Streams reset by the peer, or by us and confirmed: their channels are closed. */
  private onStreamsReset(ids: number[]): void {
    for (const id of ids) {
      const channel = this.channels.get(id);
      if (!channel) continue;
      this.channels.delete(id);
      channel.setState('closed');
    }
  }
}

/** A message of a WebRTC PPID (RFC 8831 §8); undefined for any other (the deprecated partial ones among them). */
function messageOf(ppid: number, data: Buffer): string | Buffer | undefined {
  switch (ppid) {
    case WEBRTC_PPID.STRING:
      return data.toString('utf8');
    case WEBRTC_PPID.BINARY:
      return data;
    case WEBRTC_PPID.STRING_EMPTY:
      return '';
    case WEBRTC_PPID.BINARY_EMPTY:
      return Buffer.alloc(0);
    default:
      return undefined;
  }
}

/**
 * The chunk types of `data` when werift-sctp can take it without throwing or hanging
 * (it handles a packet in a promise nobody awaits, so a throw there would be an
 * unhandled rejection): a whole packet whose chunks and parameters fit (see
 * chunksFit), with a valid checksum and known chunks, an INIT only alone; else
 * undefined.
 */
export function takeableChunks(data: Buffer): number[] | undefined {
  if (!chunksFit(data)) return undefined;
  let types: number[];
  try {
    types = parsePacket(data)[3].map((c) => c.type);
  } catch {
    return undefined;
  }
  return types.length !== 1 && types.includes(InitChunk.type) ? undefined : types;
}

/**
 * Where the parameters of a chunk begin in its value, for the chunks werift-sctp reads
 * parameters of: INIT and INIT ACK after their 16 fixed bytes, HEARTBEAT, HEARTBEAT ACK,
 * ABORT, ERROR and RE-CONFIG at once.
 */
const PARAMETERS_AT: ReadonlyMap<number, number> = new Map([
  [1, 16],
  [2, 16],
  [4, 0],
  [5, 0],
  [6, 0],
  [9, 0],
  [130, 0],
]);

/**
 * SCTP packet (RFC 4960 §3): a 12-byte common header, then chunks of type (1), flags
 * (1), length (2, the header included) and value, each padded to 4 bytes; parameters
 * inside a chunk are type (2), length (2, the header included) and value, padded the
 * same way. True when every chunk and every parameter is at least its header and ends
 * within what holds it: werift-sctp's parser loops forever, allocating, on a length of 0.
 */
function chunksFit(data: Buffer): boolean {
  if (data.length < 12) return false;
  let at = 12;
  while (at + 4 <= data.length) {
    const length = data.readUInt16BE(at + 2);
    if (length < 4 || at + length > data.length) return false;
    const parametersAt = PARAMETERS_AT.get(data[at]!);
    if (parametersAt !== undefined && !parametersFit(data.subarray(Math.min(at + length, at + 4 + parametersAt), at + length))) return false;
    at += padded(length);
  }
  return true;
}

function parametersFit(value: Buffer): boolean {
  let at = 0;
  while (at + 4 <= value.length) {
    const length = value.readUInt16BE(at + 2);
    if (length < 4 || at + length > value.length) return false;
    at += padded(length);
  }
  return true;
}

function padded(length: number): number {
  return length + ((4 - (length % 4)) % 4);
}
