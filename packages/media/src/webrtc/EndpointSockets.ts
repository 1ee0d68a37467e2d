import { singleUdpPort, type IceServerConfig, type MediaConfig } from '../config.js';
import type { PortAllocator } from '../core/PortAllocator.js';
import type { UdpMux, UdpMuxes } from '../net/UdpMux.js';
import type { MuxedIceAgent } from './iceMux.js';

/**
 * The UDP sockets one WebRtcEndpoint holds, and their release. Single-port mode: a
 * share of the process's mux on every ICE address (and the ICE agents placed on them).
 * Port-range mode, or a TURN client in either mode: a block of the pipeline's range.
 */
export class EndpointSockets {
  private portBlock: { start: number; count: number } | undefined;
  private muxList: Map<string, UdpMux> | undefined;
  private readonly agents: MuxedIceAgent[] = [];

  constructor(
    private readonly sockets: UdpMuxes,
    private readonly config: MediaConfig,
    private readonly ports: PortAllocator,
    private readonly localAddresses: readonly string[],
    /** True once the owner closed: sockets acquired after that are given back at once. */
    private readonly abandoned: () => boolean,
  ) {}

  /** Single-port mode: the shared sockets, one per ICE address, once open() acquired them. */
  get muxes(): ReadonlyMap<string, UdpMux> | undefined {
    return this.muxList;
  }

  /**
   * Single-port mode: joins (or binds, for the first endpoint of the process) the shared
   * socket of every ICE address. A port that cannot be bound fails here with an error
   * naming it. When the owner closed meanwhile, the sockets are given back (the owner
   * checks that it is open afterwards).
   */
  async open(): Promise<void> {
    const port = singleUdpPort(this.config);
    if (port === undefined || this.muxList) return;
    const muxes = new Map<string, UdpMux>();
    try {
      for (const address of this.localAddresses) muxes.set(address, await this.sockets.acquire(address, port, undefined, this.config.packetCore));
    } catch (error) {
      for (const mux of muxes.values()) mux.release();
      throw error;
    }
    if (this.abandoned() || this.muxList) {
      for (const mux of muxes.values()) mux.release();
      return;
    }
    this.muxList = muxes;
    for (const mux of muxes.values()) this.ports.exclude(mux.port);
  }

  /**
   * Reserves the ports a peer connection with `iceServers` needs of its own, and returns
   * werift's icePortRange for them. Port-range mode: one port per host address, plus
   * slack (werift probes the block in order and skips ports another process holds).
   * Single-port mode: host candidates are on the shared port; only a TURN client still
   * needs a socket of its own.
   */
  reserveFor(iceServers: readonly IceServerConfig[]): [number, number] | undefined {
    const muxes = this.muxList;
    const needsPorts = !muxes || iceServers.some((s) => [s.urls].flat().some((u) => u.startsWith('turn')));
    if (needsPorts && !this.portBlock) {
      const count = muxes ? 2 : this.localAddresses.length + 3;
      const start = this.ports.reserve(count);
      this.portBlock = { start, count };
    }
    const block = this.portBlock;
    return block ? [block.start, block.start + block.count] : undefined;
  }

  /** An ICE agent placed on the muxes: closed with the sockets. */
  addAgent(agent: MuxedIceAgent): void {
    this.agents.push(agent);
  }

  /** Single-port mode: the shared UDP port, while it is held. */
  get sharedUdpPort(): number | undefined {
    for (const mux of this.muxList?.values() ?? []) return mux.port;
    return undefined;
  }

  /** The reserved block, first and last port, if any. */
  get reservedPorts(): [number, number] | undefined {
    return this.portBlock ? [this.portBlock.start, this.portBlock.start + this.portBlock.count - 1] : undefined;
  }

  /** Gives every port and socket back. Idempotent; open() may be called again afterwards. */
  release(): void {
    if (this.portBlock) this.ports.release(this.portBlock.start, this.portBlock.count);
    this.portBlock = undefined;
    for (const agent of this.agents.splice(0)) agent.close();
    const muxes = this.muxList;
    this.muxList = undefined;
    for (const mux of muxes?.values() ?? []) mux.release();
  }
}
