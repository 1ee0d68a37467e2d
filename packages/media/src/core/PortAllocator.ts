import { createSocket, type Socket } from 'node:dgram';
import { MediaError } from './errors.js';

/**
 * Hands out blocks of UDP ports from the configured media range, round robin, so that
 * concurrent endpoints never race for the same port. A block is reserved until
 * released by the endpoint that took it.
 */
export class PortAllocator {
  private readonly reserved = new Set<number>();
  /** Ports never handed out: the shared port of single-port mode. */
  private readonly excluded = new Set<number>();
  private next: number;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || min >= max) {
      throw new MediaError('INVALID_ARGUMENT', `invalid UDP port range ${min}-${max}: need 1024 <= min < max <= 65535`);
    }
    this.next = min;
  }

  get size(): number {
    return this.max - this.min + 1;
  }

  get inUse(): number {
    return this.reserved.size;
  }

  /** Reserves `count` consecutive free ports; returns the first. */
  reserve(count: number): number {
    if (count < 1 || count > this.size) throw new MediaError('INVALID_ARGUMENT', `cannot reserve ${count} ports`);
    for (let tried = 0; tried < this.size; tried++) {
      const start = this.next;
      this.next = start + 1 > this.max ? this.min : start + 1;
      if (start + count - 1 > this.max) continue;
      let free = true;
      for (let p = start; p < start + count; p++) {
        if (this.reserved.has(p) || this.excluded.has(p)) {
          free = false;
          break;
        }
      }
      if (!free) continue;
      for (let p = start; p < start + count; p++) this.reserved.add(p);
      this.next = start + count > this.max ? this.min : start + count;
      return start;
    }
    throw new MediaError('NO_PORT_AVAILABLE', `no ${count} free consecutive UDP ports left in ${this.min}-${this.max}`);
  }

  /** Never hands out `port` (another socket of the process holds it for good). */
  exclude(port: number): void {
    if (port >= this.min && port <= this.max) this.excluded.add(port);
  }

  release(start: number, count: number): void {
    for (let p = start; p < start + count; p++) this.reserved.delete(p);
  }

  /**
   * Reserves `count` consecutive ports that no socket of the machine holds now (each is
   * bound on 127.0.0.1 for a moment and let go), for a child process to bind: a port of
   * the range that another process took (an outgoing socket given an ephemeral port in
   * the range, say) is skipped instead of making the child fail its bind. Up to
   * `attempts` blocks are tried; then NO_PORT_AVAILABLE naming `what`.
   */
  async reserveFree(count: number, what: string, attempts = 8): Promise<number> {
    let failure = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      const start = this.reserve(count);
      try {
        for (let port = start; port < start + count; port++) await probeBind(port);
        return start;
      } catch (error) {
        this.release(start, count);
        failure = error instanceof Error ? error.message : String(error);
      }
    }
    throw new MediaError('NO_PORT_AVAILABLE', `no ${count} free UDP ports for ${what} after ${attempts} attempts: ${failure}`);
  }

  /**
   * Reserves a port and binds a UDP socket on 127.0.0.1 to it (the RTP leg to or from a
   * child process). A port that another process holds is given back and the next one
   * tried, up to `attempts`; then NO_PORT_AVAILABLE naming `what`. The caller releases
   * the port when it closes the socket.
   */
  async bindLoopback(what: string, attempts = 5): Promise<{ socket: Socket; port: number }> {
    let failure = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      const port = this.reserve(1);
      const socket = createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        return { socket, port };
      } catch (error) {
        socket.close();
        this.release(port, 1);
        failure = error instanceof Error ? error.message : String(error);
      }
    }
    throw new MediaError('NO_PORT_AVAILABLE', `no free UDP port for ${what} after ${attempts} attempts: ${failure}`);
  }
}

/** Binds a UDP socket on 127.0.0.1:port and closes it: rejects when another socket holds the port. */
function probeBind(port: number): Promise<void> {
  const socket = createSocket('udp4');
  return new Promise<void>((resolve, reject) => {
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => socket.close(() => resolve()));
  });
}
