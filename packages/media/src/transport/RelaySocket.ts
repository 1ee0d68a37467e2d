import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import type { MuxAddress } from '../net/UdpMux.js';
import { TurnClient, type TurnServerAddress } from './TurnClient.js';
import type { TransportSocket } from './WebRtcTransport.js';

export interface RelaySocketOptions {
  /** A TURN request is given up after this long (ms). Default 5000 (as werift's gathering). */
  timeoutMs?: number;
}

/**
 * A transport's TURN relay (a relayed candidate, RFC 8445 §5.1.1.2): a UDP socket of its
 * own (an ephemeral port on the ICE address) with one allocation on the TURN server.
 * What a peer sends to the relayed address comes up through the client; what the
 * transport sends to a peer goes out through the server. A socket of its own, not the
 * shared port: TURN tells allocations apart by the client's 5-tuple, so every endpoint
 * on the shared port would share one.
 */
export class RelaySocket implements TransportSocket {
  /** The transport's datagram handler (set by WebRtcTransport.addRelay). */
  receiver: ((data: Buffer, from: MuxAddress) => void) | undefined;
  readonly nativeIndex = undefined;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly client: TurnClient,
    /** The relayed address. */
    readonly local: MuxAddress,
  ) {}

  /**
   * An allocation on `server` from a new socket on `localAddress`: the relay, or the
   * reason there is none (the name does not resolve, the server refuses or does not
   * answer). Nothing is left open on failure.
   */
  static async open(server: TurnServerAddress, localAddress: string, options: RelaySocketOptions = {}): Promise<RelaySocket | string> {
    const family = isIPv6(localAddress) ? 6 : 4;
    let ip = server.host;
    if (isIP(ip) === 0) {
      try {
        ip = (await lookup(ip, { family })).address;
      } catch {
        return `the TURN server name ${server.host} does not resolve`;
      }
    }
    if (isIP(ip) !== family) return `the TURN server ${server.host} is not reachable from ${localAddress} (another address family)`;
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    const relay: { socket?: RelaySocket } = {};
    const client = new TurnClient({ ip, port: server.port, username: server.username, password: server.password }, (data, to) => {
      try {
        socket.send(data, to[1], to[0]);
      } catch {
        // closed meanwhile
      }
    }, {
      data: (payload, from) => relay.socket?.receiver?.(payload, from),
      // The allocation is gone: what was relayed stops, as when a peer's relay dies (an ICE restart finds a new one).
      failed: () => relay.socket?.close(),
    }, { timeoutMs: options.timeoutMs });
    socket.on('message', (data, rinfo) => client.receive(data, [rinfo.address, rinfo.port]));
    socket.on('error', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, localAddress, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const relayed = await client.allocate();
      relay.socket = new RelaySocket(socket, client, relayed);
      return relay.socket;
    } catch (error) {
      client.close();
      socket.close();
      return error instanceof Error ? error.message : String(error);
    }
  }

  /** The address the TURN server saw us at (the relayed candidate's raddr/rport). */
  get mapped(): MuxAddress | undefined {
    return this.client.mapped;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(data: Buffer, to: MuxAddress): void {
    if (!this.closed) this.client.sendTo(data, to);
  }

  /** Everything the relay brings is the transport's: nothing to learn. */
  learn(): void {}

  /** The transport checks the USERNAME of what the relay brings itself: nothing to route. */
  addUfrag(): void {}

  permit(ip: string): void {
    if (this.closed || isIP(ip) === 0 || isIPv6(ip) !== isIPv6(this.local[0])) return;
    // Refused or unanswered: that peer cannot reach us through the relay; its other pairs may.
    this.client.permit(ip).catch(() => undefined);
  }

  /** Gives the allocation back and closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    // Lets the zero-lifetime Refresh leave the socket before it closes.
    setTimeout(() => this.socket.close(), 50).unref();
  }
}
