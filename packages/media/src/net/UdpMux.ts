import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { hostAddresses, singleUdpPort, type MediaConfig } from '../config.js';
import { MediaError } from '../core/errors.js';
import { choosePacketCore, NativePacketCore, type PacketCoreChoice, type PacketCorePath, type PacketCoreSetting } from '../native/PacketCore.js';

/** A remote transport address, as werift writes it: [ip, port]. */
export type MuxAddress = readonly [string, number];

/** Receives the datagrams routed to one binding. */
export type MuxReceiver = (data: Buffer, from: MuxAddress) => void;

export interface UdpMuxStats {
  /** Datagrams and bytes received on the shared socket. */
  datagrams: number;
  bytes: number;
  /** Dropped: no binding knows the sender (unknown 5-tuple, ufrag or transaction). */
  droppedUnknown: number;
  /** Dropped: in the STUN range but not a well-formed STUN message, or empty. */
  droppedMalformed: number;
  /** Dropped: a STUN request naming a known ufrag whose MESSAGE-INTEGRITY is missing or wrong. */
  droppedUnauthenticated: number;
  /** Registered ICE agents (bindings) and learned remote 5-tuples now. */
  bindings: number;
  tuples: number;
}

interface Route {
  binding: UdpMuxBinding;
  /** The address handed to the receiver: one array per learned tuple, not one per datagram. */
  address: MuxAddress;
}

interface PendingTransaction {
  binding: UdpMuxBinding;
  to: MuxAddress;
  expires: number;
}

const STUN_HEADER = 20;
const MAGIC_COOKIE = 0x2112a442;
const ATTR_USERNAME = 0x0006;
const ATTR_MESSAGE_INTEGRITY = 0x0008;
const CLASS_REQUEST = 0;
const TRANSACTION_TTL_MS = 30_000;
const SWEEP_MS = 10_000;
/** Generous socket buffers: every peer of the process shares this one socket. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * One UDP socket shared by every ICE agent of the process on one (address, port):
 * the single-port mode of the media engine. Agents register (a binding each) under
 * their local ICE ufrag. A datagram from a remote 5-tuple an agent already used goes to
 * that agent. From an unknown 5-tuple only two things are accepted: a STUN Binding
 * request whose USERNAME is "<local ufrag>:<remote ufrag>" of a registered agent and
 * whose MESSAGE-INTEGRITY checks with that agent's password (the 5-tuple is then learned
 * for the agent), and a STUN response to a request an agent sent (routed by transaction
 * id). Everything else is dropped and counted; nothing received ever throws.
 *
 * Shared and reference-counted: acquire() binds the socket on first use (or joins the
 * one bound), release() closes it when the last user goes.
 */
export class UdpMux {
  private refs = 0;
  private closed = false;
  private readonly routes = new Map<string, Map<number, Route>>();
  private readonly ufrags = new Map<string, UdpMuxBinding>();
  private readonly transactions = new Map<string, PendingTransaction>();
  private readonly bindingSet = new Set<UdpMuxBinding>();
  private tupleCount = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly counters = { datagrams: 0, bytes: 0, droppedUnknown: 0, droppedMalformed: 0, droppedUnauthenticated: 0 };

  /**
   * The socket: a Node `dgram` socket on the TypeScript packet path, undefined on the
   * native one (the packet core owns the socket and hands up what it does not handle).
   */
  readonly socket: Socket | undefined;
  /** Which packet path this socket's transports use, and why (media.packetCore). */
  readonly packetCore: PacketCoreChoice;
  private readonly nativeSocket: { core: NativePacketCore; index: number } | undefined;

  /** @internal made by UdpMuxes.acquire() */
  constructor(
    /** The engine's sockets this one is of. */
    readonly owner: UdpMuxes,
    readonly address: string,
    backend: Socket | { core: NativePacketCore; index: number },
    private readonly key: string,
    choice: PacketCoreChoice,
  ) {
    this.packetCore = choice;
    if ('core' in backend) {
      this.socket = undefined;
      this.nativeSocket = backend;
      return;
    }
    const socket = backend;
    this.socket = socket;
    this.nativeSocket = undefined;
    // After binding, errors (ICMP unreachable on some systems, a closing socket) must
    // not become uncaught exceptions.
    socket.on('error', () => undefined);
    try {
      // The kernel caps these at net.core.rmem_max / wmem_max.
      socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
      socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
    } catch {
      // keep the defaults
    }
    socket.on('message', (data, rinfo) => this.onMessage(data, rinfo.address, rinfo.port));
  }

  /** @internal the native packet core and this socket's index in it (native path only). */
  get native(): { core: NativePacketCore; index: number } | undefined {
    return this.nativeSocket;
  }

  /** The packet path of this socket's transports. */
  get packetPath(): PacketCorePath {
    return this.packetCore.path;
  }

  /** The bound port. */
  get port(): number {
    return this.boundPort;
  }

  private boundPort = 0;

  /** @internal the bound port, once bound. */
  set bound(port: number) {
    this.boundPort = port;
  }

  /** @internal one more user (UdpMuxes.acquire). */
  acquired(): void {
    this.refs++;
  }

  /** @internal a datagram the native core handed up. */
  receive(data: Buffer, ip: string, port: number): void {
    this.onMessage(data, ip, port);
  }

  get users(): number {
    return this.refs;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Gives back one acquire(); the socket closes when the last user goes. Idempotent at zero. */
  release(): void {
    if (this.refs === 0) return;
    this.refs--;
    if (this.refs > 0) return;
    for (const binding of [...this.bindingSet]) binding.close();
    this.owner.closed(this, this.key, this.closeSocket());
  }

  getStats(): UdpMuxStats {
    const stats = { ...this.counters, bindings: this.bindingSet.size, tuples: this.tupleCount };
    // On the native path most datagrams never come up: the core counts them all.
    const native = this.nativeSocket && !this.closed ? this.nativeSocket.core.socketStats(this.nativeSocket.index) : undefined;
    if (native) {
      stats.datagrams = native.datagrams;
      stats.bytes = native.bytes;
    }
    return stats;
  }

  /** The downlink estimates (bits/s) of the agents that keep one (receiving transports), for metrics. */
  bandwidthEstimates(): number[] {
    const out: number[] = [];
    for (const binding of this.bindingSet) {
      const bps = binding.bandwidthEstimate?.();
      if (bps !== undefined) out.push(bps);
    }
    return out;
  }

  /** Registers an ICE agent (its datagrams go to `receiver`). */
  bind(receiver: MuxReceiver): UdpMuxBinding {
    if (this.closed) throw new MediaError('OBJECT_CLOSED', `the UDP mux on ${this.address}:${this.port} is closed`);
    const binding = new UdpMuxBinding(this, receiver);
    this.bindingSet.add(binding);
    this.sweepTimer ??= setInterval(() => this.sweepTransactions(), SWEEP_MS).unref();
    return binding;
  }

  // --- used by UdpMuxBinding -----------------------------------------------------

  /** @internal */
  addUfrag(binding: UdpMuxBinding, ufrag: string): void {
    const holder = this.ufrags.get(ufrag);
    if (holder && holder !== binding) throw new MediaError('INVALID_STATE', `ICE ufrag '${ufrag}' is already registered on ${this.address}:${this.port}`);
    this.ufrags.set(ufrag, binding);
  }

  /** @internal */
  noteRequest(binding: UdpMuxBinding, data: Buffer, to: MuxAddress): void {
    if (!isStunRequest(data)) return;
    this.transactions.set(data.toString('hex', 8, STUN_HEADER), { binding, to, expires: Date.now() + TRANSACTION_TTL_MS });
  }

  /** @internal */
  learn(binding: UdpMuxBinding, ip: string, port: number): Route {
    let byPort = this.routes.get(ip);
    if (!byPort) {
      byPort = new Map();
      this.routes.set(ip, byPort);
    }
    const existing = byPort.get(port);
    if (existing?.binding === binding) return existing;
    if (existing) existing.binding.forgetTuple(ip, port);
    else this.tupleCount++;
    const route: Route = { binding, address: [ip, port] };
    byPort.set(port, route);
    binding.noteTuple(ip, port);
    return route;
  }

  /** @internal */
  unbind(binding: UdpMuxBinding, ufrags: Iterable<string>, tuples: Iterable<[string, number]>): void {
    if (!this.bindingSet.delete(binding)) return;
    for (const ufrag of ufrags) if (this.ufrags.get(ufrag) === binding) this.ufrags.delete(ufrag);
    for (const [ip, port] of tuples) {
      const byPort = this.routes.get(ip);
      if (byPort?.get(port)?.binding !== binding) continue;
      byPort.delete(port);
      this.tupleCount--;
      if (byPort.size === 0) this.routes.delete(ip);
    }
    for (const [id, pending] of this.transactions) if (pending.binding === binding) this.transactions.delete(id);
    if (this.bindingSet.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  // --- receive ---------------------------------------------------------------------

  private onMessage(data: Buffer, ip: string, port: number): void {
    const counters = this.counters;
    counters.datagrams++;
    counters.bytes += data.length;
    try {
      const first = data[0];
      if (first === undefined) {
        counters.droppedMalformed++;
        return;
      }
      // RFC 7983: 0-3 is STUN; everything else (DTLS, RTP/RTCP, TURN channels) goes by 5-tuple.
      if (first < 4) {
        this.onStun(data, ip, port);
        return;
      }
      const route = this.routes.get(ip)?.get(port);
      if (!route) {
        counters.droppedUnknown++;
        return;
      }
      route.binding.deliver(data, route.address);
    } catch {
      // Never let one datagram take the process down; a receiver's failure is its own.
      counters.droppedMalformed++;
    }
  }

  private onStun(data: Buffer, ip: string, port: number): void {
    const message = parseStun(data);
    if (!message) {
      this.counters.droppedMalformed++;
      return;
    }
    if (message.cls === CLASS_REQUEST) {
      const username = message.username;
      const colon = username === undefined ? -1 : username.indexOf(':');
      const binding = colon > 0 ? this.ufrags.get(username!.slice(0, colon)) : undefined;
      if (binding) {
        const ufrag = username!.slice(0, colon);
        if (!verifyIntegrity(data, message.integrityAt, binding.passwordFor(ufrag))) {
          this.counters.droppedUnauthenticated++;
          return;
        }
        const route = this.learn(binding, ip, port);
        binding.deliver(data, route.address);
        return;
      }
      // A request for nobody we know (a stale ufrag): only an agent that already talks
      // with this 5-tuple may answer it.
      const route = this.routes.get(ip)?.get(port);
      if (route) route.binding.deliver(data, route.address);
      else this.counters.droppedUnknown++;
      return;
    }
    if (message.cls !== 1) {
      // A response: to the agent that sent the request (a peer, a STUN server).
      const id = data.toString('hex', 8, STUN_HEADER);
      const pending = this.transactions.get(id);
      if (pending) {
        // Not learned here: the response is not checked yet (any host that got a check,
        // a wrongly trickled candidate's, answers with its own password). The agent
        // learns the 5-tuple once its ICE layer verified the answer (UdpMuxBinding.learn).
        this.transactions.delete(id);
        const known = this.routes.get(ip)?.get(port);
        pending.binding.deliver(data, known?.binding === pending.binding ? known.address : [ip, port]);
        return;
      }
    }
    // Indications (consent-free keepalives) and duplicate responses: by 5-tuple.
    const route = this.routes.get(ip)?.get(port);
    if (route) route.binding.deliver(data, route.address);
    else this.counters.droppedUnknown++;
  }

  private sweepTransactions(): void {
    const now = Date.now();
    for (const [id, pending] of this.transactions) if (pending.expires < now) this.transactions.delete(id);
  }

  private closeSocket(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const native = this.nativeSocket;
    if (native) {
      native.core.closeSocket(native.index);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      try {
        this.socket!.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** @internal sends one datagram from the shared socket. */
  sendTo(data: Buffer, to: MuxAddress): void {
    const native = this.nativeSocket;
    if (native) native.core.send(native.index, data, to[0], to[1]);
    else this.socket!.send(data, to[1], to[0]);
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * A shared socket's address lookup (dgram's `lookup` option). dgram resolves the
 * destination of every send() with dns.lookup(), which for an IP literal answers on the
 * next tick: each datagram cost a closure, a regular expression and a nextTick, and its
 * send waited for the end of the task. Our destinations are IP literals (the peers'
 * addresses as their datagrams brought them), so they are answered at once (the last
 * one without even the check: a pair's datagrams go to one address), and send() reaches
 * the kernel inside the call; a host name still goes to dns.lookup().
 */
function literalLookup(): (address: string, family: unknown, callback: LookupCallback) => void {
  let last = '';
  let lastFamily = 0;
  return (address, family, callback) => {
    if (address === last) {
      callback(null, address, lastFamily);
      return;
    }
    const version = isIP(address);
    if (version !== 0) {
      last = address;
      lastFamily = version;
      callback(null, address, version);
      return;
    }
    dnsLookup(address, { family: family === 6 ? 6 : family === 4 ? 4 : 0 }, callback);
  };
}

function bindError(address: string, first: number, last: number, port: number, error: NodeJS.ErrnoException, setting: string): MediaError {
  const what = first === last ? `UDP port ${port} on ${address}` : `UDP ports ${first}-${last} on ${address}`;
  const why = error.code === 'EADDRINUSE' ? (first === last ? 'is already in use' : 'are all in use') : error.code === 'EADDRNOTAVAIL' ? 'cannot be bound: not an address of this machine' : `cannot be bound (${error.message})`;
  return new MediaError('INVALID_ARGUMENT', `${what} ${why}: set another port with ${setting}, or turn the single port off to use the port range`, { cause: error });
}

/**
 * One ICE agent's registration on a mux: the ufrags it answers to, the remote
 * 5-tuples it learned, the STUN requests it sent. close() forgets all of them.
 */
export class UdpMuxBinding {
  private readonly ufrags = new Map<string, () => string | undefined>();
  private readonly tuples = new Map<string, [string, number]>();
  private closed = false;
  /** The agent's downlink estimate, bits/s, if it keeps one (a receiving transport): read for metrics. */
  bandwidthEstimate: (() => number | undefined) | undefined;

  /** @internal use UdpMux.bind() */
  constructor(
    readonly mux: UdpMux,
    private readonly receiver: MuxReceiver,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** The shared socket's address and port: our side of every pair on it. */
  get local(): MuxAddress {
    return [this.mux.address, this.mux.port];
  }

  /** The shared socket's index in the native packet core, when it is on the core. */
  get nativeIndex(): number | undefined {
    return this.mux.native?.index;
  }

  /** Remote 5-tuples this agent talks with now. */
  get remoteTuples(): Array<[string, number]> {
    return [...this.tuples.values()];
  }

  /**
   * Routes STUN requests for `ufrag` ("<ufrag>:<remote ufrag>") here, checked against
   * the password `password()` returns for it. Throws if another agent holds the ufrag.
   */
  addUfrag(ufrag: string, password: () => string | undefined): void {
    if (this.closed) return;
    this.mux.addUfrag(this, ufrag);
    this.ufrags.set(ufrag, password);
  }

  /**
   * Claims a remote 5-tuple for this agent, after its ICE layer verified a response from
   * there (MESSAGE-INTEGRITY with the peer's password): an ICE-lite peer sends no checks
   * of its own, then DTLS from that 5-tuple.
   */
  learn(ip: string, port: number): void {
    if (!this.closed) this.mux.learn(this, ip, port);
  }

  /** @internal */
  passwordFor(ufrag: string): string | undefined {
    return this.ufrags.get(ufrag)?.();
  }

  /** Sends from the shared socket; STUN requests are remembered so their responses find us. */
  send(data: Buffer, to: MuxAddress): void {
    if (this.closed) return;
    this.mux.noteRequest(this, data, to);
    try {
      this.mux.sendTo(data, to);
    } catch {
      // the socket is closing
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mux.unbind(this, this.ufrags.keys(), this.tuples.values());
    this.ufrags.clear();
    this.tuples.clear();
  }

  /** @internal */
  deliver(data: Buffer, from: MuxAddress): void {
    if (this.closed) return;
    try {
      this.receiver(data, from);
    } catch {
      // A receiver's exception stays with it.
    }
  }

  /** @internal */
  noteTuple(ip: string, port: number): void {
    this.tuples.set(`${ip}:${port}`, [ip, port]);
  }

  /** @internal */
  forgetTuple(ip: string, port: number): void {
    this.tuples.delete(`${ip}:${port}`);
  }
}

// --- the engine's sockets ---------------------------------------------------------

/**
 * An engine's shared UDP sockets (core/Engine.ts): one UdpMux per address and port (or
 * port range), bound on first acquire() and closed with its last user, and the ICE
 * ufrags of every agent on them (the muxes route checks by ufrag).
 */
export class UdpMuxes {
  private readonly registry = new Map<string, UdpMux>();
  /** Sockets being closed, by key: a new acquire of the same port waits for them. */
  private readonly closing = new Map<string, Promise<void>>();
  private readonly opening = new Map<string, Promise<UdpMux>>();
  private readonly ufrags = new Set<string>();

  /** `nativeCore`: the engine's native packet core (started on demand), undefined when it cannot load. */
  constructor(private readonly nativeCore: () => NativePacketCore | undefined) {}

  /**
   * The shared mux of `address` and `ports`, bound on first use. A number is that port
   * or an error naming it (and `setting`). A range [min, max] (the default: no port
   * configured, the first port of the media range) is the first of its ports that
   * binds, trying up to 32 from min, and is then shared by every user of that range.
   */
  async acquire(address: string, ports: number | readonly [number, number], setting = 'MediaConfig.udpPort', packetCore?: PacketCoreSetting): Promise<UdpMux> {
    const key = typeof ports === 'number' ? `${address}:${ports}` : `${address}:${ports[0]}-${ports[1]}`;
    const pendingClose = this.closing.get(key);
    if (pendingClose) await pendingClose;
    let opening = this.opening.get(key);
    if (!this.registry.has(key) && !opening) {
      opening = this.open(address, ports, setting, key, choosePacketCore(packetCore)).finally(() => this.opening.delete(key));
      this.opening.set(key, opening);
    }
    if (opening) {
      const mux = await opening;
      if (!this.registry.has(key)) this.registry.set(key, mux);
    }
    const mux = this.registry.get(key)!;
    mux.acquired();
    return mux;
  }

  /** The open mux bound to (address, port), if any. */
  find(address: string, port: number): UdpMux | undefined {
    return [...this.registry.values()].find((mux) => mux.address === address && mux.port === port);
  }

  /** Every open mux. */
  all(): UdpMux[] {
    return [...this.registry.values()];
  }

  /**
   * A local ICE ufrag no other agent on these sockets uses: `wanted` if it is free and
   * at least 8 characters, else a fresh random one (werift's own are 4 hex digits, 65536
   * values: a busy server would see collisions, and the mux routes by ufrag).
   */
  claimUfrag(wanted?: string): string {
    if (wanted !== undefined && wanted.length >= 8 && /^[A-Za-z0-9+/]+$/.test(wanted) && !this.ufrags.has(wanted)) {
      this.ufrags.add(wanted);
      return wanted;
    }
    for (;;) {
      const ufrag = randomBytes(6).toString('hex');
      if (!this.ufrags.has(ufrag)) {
        this.ufrags.add(ufrag);
        return ufrag;
      }
    }
  }

  releaseUfrag(ufrag: string): void {
    this.ufrags.delete(ufrag);
  }

  /** @internal `mux` lost its last user: its socket is closing (`done`). */
  closed(mux: UdpMux, key: string, done: Promise<void>): void {
    if (this.registry.get(key) === mux) this.registry.delete(key);
    this.closing.set(key, done);
    void done.then(() => {
      if (this.closing.get(key) === done) this.closing.delete(key);
    });
  }

  private async open(address: string, ports: number | readonly [number, number], setting: string, key: string, choice: PacketCoreChoice): Promise<UdpMux> {
    const [first, last] = typeof ports === 'number' ? [ports, ports] : [ports[0], Math.min(ports[1], ports[0] + 31)];
    if (choice.path === 'native') return this.openNative(address, first, last, setting, key, choice);
    for (let port = first; ; port++) {
      const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', lookup: literalLookup() });
      const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        socket.once('error', resolve);
        socket.once('listening', () => {
          socket.off('error', resolve);
          resolve(undefined);
        });
        socket.bind({ address, port, exclusive: true });
      });
      if (!error) {
        const mux = new UdpMux(this, address, socket, key, choice);
        mux.bound = port;
        return mux;
      }
      await new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      });
      if (error.code === 'EADDRINUSE' && port < last) continue;
      throw bindError(address, first, last, port, error, setting);
    }
  }

  /** The same search on the native packet core's sockets. */
  private openNative(address: string, first: number, last: number, setting: string, key: string, choice: PacketCoreChoice): UdpMux {
    const core = this.nativeCore();
    if (!core) throw new MediaError('INVALID_STATE', `the native packet core cannot load: ${choice.reason}`);
    let mux: UdpMux | undefined;
    for (let port = first; ; port++) {
      try {
        const opened = core.openSocket(address, port, (data, ip, from) => mux?.receive(data, ip, from));
        mux = new UdpMux(this, address, { core, index: opened.index }, key, choice);
        mux.bound = opened.port;
        return mux;
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE' && port < last) continue;
        throw bindError(address, first, last, port, e, setting);
      }
    }
  }
}

// --- STUN (RFC 5389), just what routing needs ----------------------------------------

export interface StunSummary {
  /** 0 request, 1 indication, 2 success response, 3 error response. */
  cls: number;
  method: number;
  /** USERNAME, if present and valid UTF-8 text. */
  username: string | undefined;
  /** Offset of the MESSAGE-INTEGRITY attribute, -1 if none. */
  integrityAt: number;
}

/**
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0 0|     STUN Message Type     |         Message Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Magic Cookie                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Transaction ID (96 bits)                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Parses the header and walks the attributes (type, length, value padded to 4 bytes),
 * checking every length against the datagram. Undefined when anything does not fit.
 */
export function parseStun(data: Buffer): StunSummary | undefined {
  if (data.length < STUN_HEADER || (data[0]! & 0xc0) !== 0) return undefined;
  const type = data.readUInt16BE(0);
  const length = data.readUInt16BE(2);
  if (data.readUInt32BE(4) !== MAGIC_COOKIE || length % 4 !== 0 || STUN_HEADER + length !== data.length) return undefined;
  const cls = ((type >> 7) & 0x2) | ((type >> 4) & 0x1);
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  let username: string | undefined;
  let integrityAt = -1;
  let at = STUN_HEADER;
  while (at < data.length) {
    if (at + 4 > data.length) return undefined;
    const attrType = data.readUInt16BE(at);
    const attrLength = data.readUInt16BE(at + 2);
    const end = at + 4 + attrLength;
    if (end > data.length) return undefined;
    if (attrType === ATTR_USERNAME && integrityAt < 0) {
      if (attrLength === 0 || attrLength > 513) return undefined;
      username = data.toString('utf8', at + 4, end);
    } else if (attrType === ATTR_MESSAGE_INTEGRITY && integrityAt < 0) {
      if (attrLength !== 20) return undefined;
      integrityAt = at;
    }
    at = end + ((4 - (attrLength % 4)) % 4);
  }
  if (at !== data.length) return undefined;
  return { cls, method, username, integrityAt };
}

function isStunRequest(data: Buffer): boolean {
  return data.length >= STUN_HEADER && (data[0]! & 0xc0) === 0 && (data[0]! & 0x01) === 0 && (data[1]! & 0x10) === 0 && data.readUInt32BE(4) === MAGIC_COOKIE;
}

/**
 * RFC 5389 15.4: HMAC-SHA1 with the short-term password over the message up to
 * MESSAGE-INTEGRITY, the header's length covering the attribute itself.
 */
function verifyIntegrity(data: Buffer, integrityAt: number, password: string | undefined): boolean {
  if (integrityAt < 0 || password === undefined) return false;
  const header = Buffer.from(data.subarray(0, 4));
  header.writeUInt16BE(integrityAt + 24 - STUN_HEADER, 2);
  const mac = createHmac('sha1', Buffer.from(password, 'utf8')).update(header).update(data.subarray(4, integrityAt)).digest();
  return timingSafeEqual(mac, data.subarray(integrityAt + 4, integrityAt + 24));
}

/**
 * Single-port mode: binds (or joins) the shared socket of every ICE address of `config`
 * now and holds it until `release()`; nothing in port-range mode (`port` undefined).
 * For a server to fail at start-up, naming `setting`, rather than at the first call. A
 * configured port must be free; with none configured the first free port of the range's
 * first 32 is taken (`port` says which: the operator must open that one).
 */
export async function holdUdpPort(sockets: UdpMuxes, config: MediaConfig, setting: string): Promise<{ port: number | undefined; release: () => void }> {
  const ports = singleUdpPort(config);
  if (ports === undefined) return { port: undefined, release: () => undefined };
  const held: UdpMux[] = [];
  const release = (): void => {
    for (const mux of held.splice(0)) mux.release();
  };
  try {
    for (const address of hostAddresses(config)) held.push(await sockets.acquire(address, ports, setting, config.packetCore));
  } catch (error) {
    release();
    throw error;
  }
  return { port: held[0]?.port, release };
}
