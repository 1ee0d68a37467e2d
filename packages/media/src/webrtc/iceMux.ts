import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import {
  candidateFoundation,
  candidatePriority,
  candidateToIce,
  IceCandidate,
  serverReflexiveCandidate,
  StunProtocol,
  type RTCDtlsTransport,
  type RTCPeerConnection,
} from 'werift';
import { MediaError } from '../core/errors.js';
import type { MuxAddress, UdpMux, UdpMuxBinding, UdpMuxes } from '../net/UdpMux.js';

/*
 * Single-port mode on werift's ICE. werift gathers a host candidate by creating one
 * StunProtocol per local address, each with its own UdpTransport (socket). Here, as
 * soon as the peer connection creates its ICE transport, the agent (werift's
 * `Connection`) is given, per local address, a StunProtocol whose transport is a
 * binding on the shared UdpMux: werift then skips those addresses when it gathers
 * (it only creates protocols for addresses that have none), pairs, checks, nominates
 * and sends through them as through its own sockets. The agent's ufrag is made unique
 * in the process and registered on the mux; ICE restarts register the new one.
 * Everything patched is on the instance, and checked first: if werift's internals
 * ever change shape, useUdpMux() fails loudly instead of silently gathering elsewhere.
 */

/** The parts of werift's ICE agent (`Connection`, untyped publicly) used here. */
interface IceAgent {
  localUsername: string;
  localPassword: string;
  userHistory: Record<string, string>;
  protocols: unknown[];
  localCandidatesStart: boolean;
  stunServer?: MuxAddress;
  ensureProtocol(protocol: StunProtocol): void;
  appendLocalCandidate(candidate: unknown): void;
  getCandidatePromises(addresses: string[], timeout?: number): Array<Promise<unknown>>;
  close(): Promise<void>;
}

interface SecureManager {
  createTransport(): RTCDtlsTransport;
}

/** What werift's StunProtocol needs of its transport (UdpTransport's surface). */
interface MuxTransport {
  readonly type: 'udp';
  readonly socketType: 'udp4' | 'udp6';
  /** Unused by werift's UDP path; undefined when the native packet core owns the socket. */
  readonly socket: Socket | undefined;
  closed: boolean;
  onData: (data: Buffer, addr: MuxAddress) => void;
  send(data: Buffer, addr?: MuxAddress): Promise<void>;
  /** On the native packet core's socket (no dgram socket): sends before it returns (the fast path's sends). */
  readonly sendNow: ((data: Buffer, addr: MuxAddress) => void) | undefined;
  readonly address: { address: string; port: number; family: string };
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** One agent's use of the muxes: its bindings and ufrags, released when it closes. */
export class MuxedIceAgent {
  private readonly bindings: UdpMuxBinding[] = [];
  private readonly ufrags: string[] = [];
  private closed = false;

  constructor(
    private readonly agent: IceAgent,
    /** The engine's sockets: the ufrag registry. */
    private readonly owner: UdpMuxes,
  ) {}

  get localUfrags(): readonly string[] {
    return this.ufrags;
  }

  addBinding(binding: UdpMuxBinding): void {
    this.bindings.push(binding);
    for (const ufrag of this.ufrags) binding.addUfrag(ufrag, () => this.passwordFor(ufrag));
  }

  addUfrag(ufrag: string): void {
    if (this.closed) {
      this.owner.releaseUfrag(ufrag);
      return;
    }
    this.ufrags.push(ufrag);
    for (const binding of this.bindings) binding.addUfrag(ufrag, () => this.passwordFor(ufrag));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const binding of this.bindings) binding.close();
    for (const ufrag of this.ufrags) this.owner.releaseUfrag(ufrag);
  }

  private passwordFor(ufrag: string): string | undefined {
    return this.agent.userHistory[ufrag] ?? (this.agent.localUsername === ufrag ? this.agent.localPassword : undefined);
  }
}

/**
 * Puts every ICE transport `pc` creates on the given muxes (one per local address, in
 * the order of `addresses`). Call right after constructing the peer connection, before
 * any description is set. `onAgent` sees each agent (for tests and release).
 */
export function useUdpMux(pc: RTCPeerConnection, muxes: ReadonlyMap<string, UdpMux>, onAgent: (agent: MuxedIceAgent) => void): void {
  const manager = (pc as unknown as { secureManager?: Partial<SecureManager> }).secureManager;
  const createTransport = manager?.createTransport;
  if (!manager || typeof createTransport !== 'function') {
    throw new MediaError('INVALID_STATE', 'single-port mode: werift RTCPeerConnection has no secureManager.createTransport (werift changed); set udpPort to false');
  }
  manager.createTransport = function (this: unknown): RTCDtlsTransport {
    const dtls = createTransport.call(manager) as RTCDtlsTransport;
    const agent = dtls.iceTransport.connection as unknown as IceAgent;
    onAgent(attachAgent(agent, muxes));
    return dtls;
  };
}

function assertAgentShape(agent: IceAgent): void {
  const missing: string[] = [];
  for (const name of ['ensureProtocol', 'appendLocalCandidate', 'getCandidatePromises', 'close'] as const) {
    if (typeof agent[name] !== 'function') missing.push(name);
  }
  if (!Array.isArray(agent.protocols)) missing.push('protocols');
  if (typeof agent.userHistory !== 'object' || agent.userHistory === null) missing.push('userHistory');
  const own = Object.getOwnPropertyDescriptor(agent, 'localUsername');
  if (!own || !('value' in own) || typeof own.value !== 'string') missing.push('localUsername');
  if (typeof StunProtocol !== 'function' || typeof candidateToIce !== 'function') missing.push('StunProtocol/candidateToIce exports');
  if (missing.length > 0) {
    throw new MediaError('INVALID_STATE', `single-port mode: werift's ICE agent lacks ${missing.join(', ')} (werift changed); set udpPort to false`);
  }
}

function attachAgent(agent: IceAgent, muxes: ReadonlyMap<string, UdpMux>): MuxedIceAgent {
  assertAgentShape(agent);
  const owner = [...muxes.values()][0]?.owner;
  if (!owner) throw new MediaError('INVALID_STATE', 'single-port mode: no shared socket to attach the ICE agent to');
  const muxed = new MuxedIceAgent(agent, owner);

  // A ufrag unique in the process, now and after every restart (werift assigns
  // localUsername in restart() and when copying credentials between transports).
  let ufrag = owner.claimUfrag();
  agent.userHistory[ufrag] = agent.localPassword;
  Object.defineProperty(agent, 'localUsername', {
    configurable: true,
    enumerable: true,
    get: () => ufrag,
    set: (value: string) => {
      ufrag = owner.claimUfrag(value);
      muxed.addUfrag(ufrag);
    },
  });
  muxed.addUfrag(ufrag);

  const ours: StunProtocol[] = [];
  for (const [address, mux] of muxes) {
    const protocol = new StunProtocol();
    agent.ensureProtocol(protocol);
    // Dynamic dispatch: the fast path replaces datagramReceived on the instance.
    const receiver = protocol as unknown as { datagramReceived(data: Buffer, addr: MuxAddress): void };
    const binding = mux.bind((data, addr) => receiver.datagramReceived(data, addr));
    muxed.addBinding(binding);
    protocol.transport = muxTransport(mux, binding) as unknown as StunProtocol['transport'];
    protocol.localIp = address;
    // A connectivity check answered with the peer's MESSAGE-INTEGRITY (werift verified
    // it: request() resolves only then) makes the answering 5-tuple this agent's.
    const request = protocol.request;
    protocol.request = async function (this: StunProtocol, ...args: Parameters<StunProtocol['request']>): ReturnType<StunProtocol['request']> {
      const result = await request.apply(protocol, args);
      if (args[2] !== undefined) binding.learn(result[1][0], result[1][1]);
      return result;
    };
    protocol.localCandidate = candidateToIce(
      new IceCandidate(1, candidateFoundation('host', 'udp', address), address, mux.port, candidatePriority('host', { transport: 'udp' }), 'udp', 'host'),
    );
    agent.protocols.push(protocol);
    ours.push(protocol);
  }

  // werift asks a STUN server for reflexive candidates only on protocols it created:
  // do it for ours (the response comes back to the mux by transaction id).
  const getCandidatePromises = agent.getCandidatePromises;
  agent.getCandidatePromises = function (this: IceAgent, addresses: string[], timeout?: number): Array<Promise<unknown>> {
    const promises = getCandidatePromises.call(agent, addresses, timeout);
    const stunServer = agent.stunServer;
    if (!stunServer) return promises;
    for (const protocol of ours) {
      promises.push(
        withTimeout(serverReflexiveCandidate(protocol, stunServer), (timeout ?? 5) * 1000).then((candidate) => {
          if (candidate && agent.protocols.includes(protocol)) agent.appendLocalCandidate(candidate);
          return candidate;
        }),
      );
    }
    return promises;
  };

  const close = agent.close;
  agent.close = async function (this: IceAgent): Promise<void> {
    try {
      await close.call(agent);
    } finally {
      muxed.close();
    }
  };
  return muxed;
}

function muxTransport(mux: UdpMux, binding: UdpMuxBinding): MuxTransport {
  const transport: MuxTransport = {
    type: 'udp',
    socketType: isIPv6(mux.address) ? 'udp6' : 'udp4',
    socket: mux.socket,
    closed: false,
    onData: () => undefined,
    send: async (data: Buffer, addr?: MuxAddress): Promise<void> => {
      if (addr && !transport.closed) binding.send(data, addr);
    },
    sendNow: mux.native
      ? (data: Buffer, addr: MuxAddress): void => {
          if (!transport.closed) binding.send(data, addr);
        }
      : undefined,
    get address() {
      return { address: mux.address, port: mux.port, family: isIPv6(mux.address) ? 'IPv6' : 'IPv4' };
    },
    get host() {
      return mux.address;
    },
    get port() {
      return mux.port;
    },
    close: async (): Promise<void> => {
      transport.closed = true;
      binding.close();
    },
  };
  return transport;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
