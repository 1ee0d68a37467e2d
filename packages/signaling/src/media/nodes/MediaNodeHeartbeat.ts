import { silentLogger, type Logger } from '../../logger.js';
import type { MediaNodeLoad, MediaNodeRegistry } from './MediaNodeRegistry.js';

export interface MediaNodeHeartbeatOptions {
  /** This node's id (unique per process start). */
  id: string;
  /** The Kurento Protocol URL signaling nodes reach this node at. */
  url: string;
  /** Read at each beat. */
  load: () => MediaNodeLoad;
  /** Between beats (ms). Default 1000. */
  intervalMs?: number;
  /** How long one beat keeps the node registered (ms): a node silent this long is gone. Default 3000. */
  ttlMs?: number;
  logger?: Logger;
}

/**
 * A media node's registration in Redis, refreshed every `intervalMs` with its load; a
 * beat that fails (Redis away) is logged once and the next one registers the node again,
 * also after a restart of Redis that lost it.
 */
export class MediaNodeHeartbeat {
  private readonly timer: NodeJS.Timeout;
  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly log: Logger;
  private failing = false;
  private beats = 0;
  private beating: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly registry: MediaNodeRegistry,
    private readonly options: MediaNodeHeartbeatOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.ttlMs = options.ttlMs ?? 3000;
    if (!(this.ttlMs > this.intervalMs)) throw new RangeError('ttlMs must be longer than intervalMs');
    this.log = options.logger ?? silentLogger;
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /** Registers the node (rejects when Redis does not take it) and keeps it registered. */
  static async start(registry: MediaNodeRegistry, options: MediaNodeHeartbeatOptions): Promise<MediaNodeHeartbeat> {
    await registry.announce({ id: options.id, url: options.url, beat: 0, ...options.load() }, options.ttlMs ?? 3000);
    return new MediaNodeHeartbeat(registry, options);
  }

  /** Stops beating and withdraws the node from Redis. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.beating;
    await this.registry.withdraw(this.options.id).catch((error: unknown) => this.log.warn({ event: 'mediaNodeWithdrawFailed', err: error }, 'could not withdraw the media node from Redis'));
  }

  private beat(): Promise<void> {
    this.beating = (async () => {
      if (this.closed) return;
      try {
        await this.registry.announce({ id: this.options.id, url: this.options.url, beat: ++this.beats, ...this.options.load() }, this.ttlMs);
        if (this.failing) this.log.info({ event: 'mediaNodeHeartbeat', nodeId: this.options.id }, 'media node registered in Redis again');
        this.failing = false;
      } catch (error) {
        if (!this.failing) this.log.warn({ event: 'mediaNodeHeartbeatFailed', nodeId: this.options.id, err: error }, 'media node heartbeat failed; retrying');
        this.failing = true;
      }
    })();
    return this.beating;
  }
}
