import { singleUdpPort, type MediaConfig } from '../config.js';
import { MediaError } from '../core/errors.js';
import type { PortAllocator } from '../core/PortAllocator.js';
import type { UdpMux, UdpMuxes } from '../net/UdpMux.js';

/** Ports of the range tried in turn when other processes hold them. */
const BIND_ATTEMPTS = 8;

/**
 * The socket of one WebRtcEndpoint on the engine's own transport, and its release.
 * Single-port mode: a share of the process's mux of the ICE address (the port is never
 * handed out by the allocator afterwards). Port-range mode: a mux of the endpoint's own
 * on one port the pipeline's allocator reserves for it (RTP and RTCP muxed, media
 * BUNDLEd), given back with the mux.
 */
export class EndpointMux {
  private released = false;

  private constructor(
    readonly mux: UdpMux,
    private readonly ports: PortAllocator,
    /** Port-range mode: the reserved port, the mux's own. */
    private readonly reserved: number | undefined,
  ) {}

  /**
   * The endpoint's socket on `address`, on either packet path (config packetCore).
   * Port-range mode: NO_PORT_AVAILABLE when every port of the range is reserved, or when
   * other processes hold the ports tried; nothing stays reserved then.
   */
  static async acquire(sockets: UdpMuxes, config: MediaConfig, ports: PortAllocator, address: string, endpoint: string): Promise<EndpointMux> {
    const shared = singleUdpPort(config);
    if (shared !== undefined) {
      const mux = await sockets.acquire(address, shared, undefined, config.packetCore);
      ports.exclude(mux.port);
      return new EndpointMux(mux, ports, undefined);
    }
    let taken = '';
    for (let attempt = 0; attempt < Math.min(BIND_ATTEMPTS, ports.size); attempt++) {
      const port = reserveOne(ports, endpoint);
      let mux: UdpMux;
      try {
        mux = await sockets.acquire(address, port, 'MediaConfig.portRange', config.packetCore);
      } catch (error) {
        ports.release(port, 1);
        const cause = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
        if (!cause?.code) throw error;
        if (cause.code !== 'EADDRINUSE') throw new MediaError('INVALID_ARGUMENT', `cannot bind UDP port ${port} of media.portRange on ${address} for ${endpoint}: ${cause.message}`);
        taken = `${taken}${taken ? ', ' : ''}${port}`;
        continue;
      }
      if (mux.users === 1) return new EndpointMux(mux, ports, port);
      // A mux of this process is on that port already (the single port another pipeline set by number): not the endpoint's alone.
      mux.release();
      ports.release(port, 1);
      taken = `${taken}${taken ? ', ' : ''}${port}`;
    }
    throw new MediaError('NO_PORT_AVAILABLE', `no free UDP port in media.portRange ${ports.min}-${ports.max} for ${endpoint}: ports ${taken} are held by other sockets`);
  }

  /** The endpoint's socket on each of `addresses`, in their order; none stays held when one cannot be had. */
  static async acquireEach(sockets: UdpMuxes, config: MediaConfig, ports: PortAllocator, addresses: readonly string[], endpoint: string): Promise<EndpointMux[]> {
    const held: EndpointMux[] = [];
    try {
      for (const address of addresses) held.push(await EndpointMux.acquire(sockets, config, ports, address, endpoint));
    } catch (error) {
      for (const socket of held) socket.release();
      throw error;
    }
    return held;
  }

  /** Single-port mode: the shared port, while held. */
  get sharedPort(): number | undefined {
    return this.released || this.reserved !== undefined ? undefined : this.mux.port;
  }

  /** Port-range mode: the endpoint's own port, while held. */
  get reservedPort(): number | undefined {
    return this.released ? undefined : this.reserved;
  }

  /** Port-range mode: datagrams the endpoint's own socket dropped before its transport (0 on the shared port: not the endpoint's alone). */
  get socketDrops(): number {
    if (this.reserved === undefined) return 0;
    const s = this.mux.getStats();
    return s.droppedUnknown + s.droppedMalformed + s.droppedUnauthenticated;
  }

  /** Gives the mux (closed when it was the last user) and the reserved port back. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.mux.release();
    if (this.reserved !== undefined) this.ports.release(this.reserved, 1);
  }
}

/** One port of the range for `endpoint`, or NO_PORT_AVAILABLE saying so. */
function reserveOne(ports: PortAllocator, endpoint: string): number {
  try {
    return ports.reserve(1);
  } catch (error) {
    if (error instanceof MediaError && error.code === 'NO_PORT_AVAILABLE') {
      throw new MediaError('NO_PORT_AVAILABLE', `no free UDP port in media.portRange ${ports.min}-${ports.max} for ${endpoint}: every one is reserved by another endpoint or element (port-range mode: one port per endpoint)`);
    }
    throw error;
  }
}
