import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MediaError } from '../core/errors.js';

/** Which packet path the engine's own transport uses (`media.packetCore`). */
export type PacketCoreSetting = 'auto' | 'native' | 'typescript';
export type PacketCorePath = 'native' | 'typescript';

export interface PacketCoreChoice {
  path: PacketCorePath;
  setting: PacketCoreSetting;
  /** Why: the addon's file, or why it is not used. */
  reason: string;
}

/** The addon's surface (native/packet_core.cc). Ids are small integers the core hands out. */
export interface RawPacketCore {
  openSocket(address: string, port: number): { index: number; port: number };
  closeSocket(index: number): void;
  send(index: number, data: Buffer, ip: string, port: number): boolean;
  addTransport(socket: number, rtcpSsrc: number): number;
  removeTransport(tid: number): void;
  /** Also moves the transport to `socket` when given. */
  setTuple(tid: number, ip?: string, port?: number, socket?: number): void;
  setKeys(tid: number, profile: number, ...keys: Buffer[]): boolean;
  setHooked(tid: number, hooked: boolean): void;
  inject(tid: number, data: Buffer, decrypted?: boolean): void;
  sendRtcp(tid: number, data: Buffer): boolean;
  addProducer(tid: number, ssrc: number, rtxSsrc: number, payloadType: number, rtxPayloadType: number, clockRate: number, codec: number, video: boolean, nack: boolean): number;
  bindProducerSsrc(pid: number, ssrc: number, rtx: boolean): void;
  setProducerPaused(pid: number, paused: boolean): void;
  removeProducer(pid: number): void;
  setProducerTapped(pid: number, tapped: boolean): void;
  setProducerAudioLevel(pid: number, extensionId: number): void;
  readProducerAudioLevel(pid: number): number[] | undefined;
  addFedProducer(payloadType: number, clockRate: number, codec: number, video: boolean): number;
  feed(pid: number, data: Buffer): void;
  addConsumer(pid: number, tid: number, ssrc: number, payloadType: number, clockRate: number, codec: number, video: boolean, paused: boolean, initialSeq: number, initialTs: number): number;
  setConsumerPaused(cid: number, paused: boolean): void;
  /** The least ms between two resends of one packet (-1: unchanged), and the fed sequence number NACKs are answered from (-1: unchanged). */
  setConsumerResend(cid: number, intervalMs: number, floorSeq: number): void;
  setConsumerTransportCc(cid: number, extensionId: number): void;
  /** [first transport-wide number, packets sent]: `count` (<= 64) padding-only packets of `size` (1-255) padding bytes in the consumer's stream (a bandwidth probe). */
  sendPadding(cid: number, count: number, size: number): number[];
  /** [sendTime ms (-1: unknown), size] for `count` transport-wide numbers from `baseSeq`. */
  sentPackets(tid: number, baseSeq: number, count: number): number[];
  removeConsumer(cid: number): void;
  transportStats(tid: number): number[] | undefined;
  producerStats(pid: number): number[] | undefined;
  consumerStats(cid: number): number[] | undefined;
  socketStats(index: number): number[] | undefined;
  stats(): number[];
  close(): void;
}

interface Addon {
  PacketCore: new (onEvents: (events: unknown[]) => void) => RawPacketCore;
}

/** Event types of the addon's batches: [type, id, buffer, ip, port] each (TAPPED: id the producer, port 1 for a retransmission). */
export const PacketCoreEvent = { DATAGRAM: 0, RTCP: 1, RTP_UNKNOWN: 2, OUTGOING: 3, TAPPED: 4 } as const;

const here = dirname(fileURLToPath(import.meta.url));
/** The addon built by `npm install` (native/build.mjs); ROUNDTABLE_PACKET_CORE_ADDON names another build (the ASan one). */
export const ADDON_PATH = process.env['ROUNDTABLE_PACKET_CORE_ADDON'] ?? join(here, '..', '..', 'native', 'build', 'packet_core.node');

let loaded: { addon: Addon | undefined; reason: string } | undefined;

function loadAddon(): { addon: Addon | undefined; reason: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { addon: undefined, reason: `the native packet core needs Linux, this is ${process.platform}` };
  } else if (!existsSync(ADDON_PATH)) {
    loaded = { addon: undefined, reason: `the native addon is not built (${ADDON_PATH}; npm install builds it when a C++ compiler is there)` };
  } else {
    try {
      loaded = { addon: createRequire(import.meta.url)(ADDON_PATH) as Addon, reason: ADDON_PATH };
    } catch (error) {
      loaded = { addon: undefined, reason: `the native addon did not load: ${(error as Error).message}` };
    }
  }
  return loaded;
}

const SETTINGS: readonly PacketCoreSetting[] = ['auto', 'native', 'typescript'];

export function isPacketCoreSetting(value: unknown): value is PacketCoreSetting {
  return typeof value === 'string' && (SETTINGS as readonly string[]).includes(value);
}

/** The setting in force: `value` when given, else ROUNDTABLE_PACKET_CORE, else 'auto' (native when its addon loads). */
export function packetCoreSetting(value?: PacketCoreSetting): PacketCoreSetting {
  if (value !== undefined) return value;
  const env = process.env['ROUNDTABLE_PACKET_CORE'];
  if (env === undefined || env === '') return 'auto';
  if (!isPacketCoreSetting(env)) throw new MediaError('INVALID_ARGUMENT', `ROUNDTABLE_PACKET_CORE must be auto, native or typescript, not '${env}'`);
  return env;
}

/**
 * The path a setting gives on this machine: 'typescript' always; 'native' the addon or
 * an error saying why it cannot load; 'auto' the addon when it loads, else TypeScript.
 */
export function choosePacketCore(value?: PacketCoreSetting): PacketCoreChoice {
  const setting = packetCoreSetting(value);
  if (setting === 'typescript') return { path: 'typescript', setting, reason: 'media.packetCore is typescript' };
  const { addon, reason } = loadAddon();
  if (addon) return { path: 'native', setting, reason };
  if (setting === 'native') throw new MediaError('INVALID_ARGUMENT', `media.packetCore is native but ${reason}`);
  return { path: 'typescript', setting, reason };
}

/** Receives what the core hands up for one socket: datagrams it does not handle itself. */
export type NativeSocketReceiver = (data: Buffer, ip: string, port: number) => void;

/** Receives what the core hands up for one transport. */
export interface NativeTransportReceiver {
  /** A decrypted RTCP compound packet (NACKs in it were answered already). */
  rtcp(data: Buffer): void;
  /** A decrypted RTP packet whose SSRC no producer has (yet). */
  unknownRtp(data: Buffer): void;
  /** Tests only (a hooked transport): a protected packet the core would have sent. */
  outgoing(data: Buffer): void;
}

/** Receives a tapped producer's packets: decrypted, unwrapped from RTX (`retransmission` then). */
export type NativeTapReceiver = (data: Buffer, retransmission: boolean) => void;

/**
 * The process's native packet core: one receive thread over every native socket, the
 * routing tables of every transport on them. Shared by the UdpMuxes of the process
 * (acquire/release per socket); the thread stops with the last socket.
 */
export class NativePacketCore {
  readonly raw: RawPacketCore;
  private readonly sockets = new Map<number, NativeSocketReceiver>();
  private readonly transports = new Map<number, NativeTransportReceiver>();
  /** Tapped producers: their packets go up to JavaScript sinks. */
  private readonly taps = new Map<number, NativeTapReceiver>();
  private closed = false;
  /** Listener errors in handed-up events: counted, never thrown into the core. */
  listenerErrors = 0;

  private constructor(addon: Addon) {
    this.raw = new addon.PacketCore((events) => this.onEvents(events));
  }

  /**
   * A new core (its receive thread starts with its first socket); undefined when the
   * addon cannot load. An Engine makes one and keeps it while its sockets are open.
   */
  static open(): NativePacketCore | undefined {
    const { addon } = loadAddon();
    return addon ? new NativePacketCore(addon) : undefined;
  }

  /** Binds a UDP socket of the core; errors carry the errno code (EADDRINUSE...). */
  openSocket(address: string, port: number, receiver: NativeSocketReceiver): { index: number; port: number } {
    const opened = this.raw.openSocket(address, port);
    this.sockets.set(opened.index, receiver);
    return opened;
  }

  closeSocket(index: number): void {
    if (this.closed || !this.sockets.delete(index)) return;
    this.raw.closeSocket(index);
    if (this.sockets.size === 0) {
      // Nothing left to receive on: the thread ends; a later socket makes a new core.
      this.closed = true;
      this.transports.clear();
      this.taps.clear();
      this.raw.close();
    }
  }

  send(index: number, data: Buffer, ip: string, port: number): void {
    if (!this.closed) this.raw.send(index, data, ip, port);
  }

  /** A transport of socket `index` (its RTCP sender SSRC for the NACKs the core sends). */
  addTransport(index: number, rtcpSsrc: number, receiver: NativeTransportReceiver): number {
    const tid = this.raw.addTransport(index, rtcpSsrc);
    this.transports.set(tid, receiver);
    return tid;
  }

  removeTransport(tid: number): void {
    if (this.closed || !this.transports.delete(tid)) return;
    this.raw.removeTransport(tid);
  }

  /** While `receiver` is set, producer `pid`'s packets come up to it (batched with the rest of a receive); undefined stops them. */
  setTap(pid: number, receiver: NativeTapReceiver | undefined): void {
    if (this.closed) return;
    if (receiver) this.taps.set(pid, receiver);
    else if (!this.taps.delete(pid)) return;
    this.raw.setProducerTapped(pid, receiver !== undefined);
  }

  /** True once its last socket closed: its thread ended, a new core is needed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Datagrams and bytes received on one socket (all of them: handled here or handed up). */
  socketStats(index: number): { datagrams: number; bytes: number } | undefined {
    const v = this.closed ? undefined : this.raw.socketStats(index);
    return v ? { datagrams: v[0]!, bytes: v[1]! } : undefined;
  }

  /** Core-wide counters. */
  stats(): NativeCoreStats {
    if (this.closed) return { datagrams: 0, bytes: 0, batches: 0, upcalls: 0, forwarded: 0, sendBatches: 0, sendErrors: 0, transports: 0, producers: 0, consumers: 0, sockets: 0, tapped: 0, fed: 0 };
    const [datagrams, bytes, batches, upcalls, forwarded, sendBatches, sendErrors, transports, producers, consumers, sockets, tapped, fed] = this.raw.stats();
    return { datagrams: datagrams!, bytes: bytes!, batches: batches!, upcalls: upcalls!, forwarded: forwarded!, sendBatches: sendBatches!, sendErrors: sendErrors!, transports: transports!, producers: producers!, consumers: consumers!, sockets: sockets!, tapped: tapped!, fed: fed! };
  }

  private onEvents(events: unknown[]): void {
    for (let i = 0; i + 4 < events.length; i += 5) {
      const type = events[i] as number;
      const id = events[i + 1] as number;
      const data = events[i + 2] as Buffer;
      try {
        if (type === PacketCoreEvent.DATAGRAM) {
          this.sockets.get(id)?.(data, events[i + 3] as string, events[i + 4] as number);
          continue;
        }
        if (type === PacketCoreEvent.TAPPED) {
          this.taps.get(id)?.(data, events[i + 4] === 1);
          continue;
        }
        const receiver = this.transports.get(id);
        if (!receiver) continue;
        if (type === PacketCoreEvent.RTCP) receiver.rtcp(data);
        else if (type === PacketCoreEvent.RTP_UNKNOWN) receiver.unknownRtp(data);
        else if (type === PacketCoreEvent.OUTGOING) receiver.outgoing(data);
      } catch {
        // One receiver's failure must not lose the rest of the batch.
        this.listenerErrors++;
      }
    }
  }
}

export interface NativeCoreStats {
  datagrams: number;
  bytes: number;
  /** recvmmsg calls that returned datagrams. */
  batches: number;
  /** Batches of events handed up to JavaScript. */
  upcalls: number;
  /** RTP packets forwarded (protected per consumer) by the core. */
  forwarded: number;
  sendBatches: number;
  sendErrors: number;
  transports: number;
  producers: number;
  consumers: number;
  sockets: number;
  /** Packets of tapped producers handed up to JavaScript sinks. */
  tapped: number;
  /** Packets JavaScript fed to fed producers. */
  fed: number;
}
