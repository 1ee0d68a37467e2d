import { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../../logger.js';

/** What a media node reports of its load at each heartbeat. */
export interface MediaNodeLoad {
  /** Open rooms (media pipelines). */
  rooms: number;
  /** People in those rooms. */
  participants: number;
  /** CPU the process used over the last heartbeat interval, in cores (0.5: half of one core). */
  cpu: number;
}

/** A media node as registered in Redis. */
export interface MediaNodeInfo extends MediaNodeLoad {
  id: string;
  /** Its Kurento Protocol URL, as signaling nodes reach it. */
  url: string;
  /** Counts the node's heartbeats: a new value is a load measured later. */
  beat: number;
}

export interface MediaNodeRegistryOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  /** Prefix of every key, as the signaling cluster's. Default 'roundtable:'. */
  keyPrefix?: string;
  /** How long `connect` waits for Redis (ms). Default 5000. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/**
 * The media nodes of a deployment, in Redis (docs/architecture.md, "Media nodes"):
 * `<p>media:<id>` is a hash of one node (url, rooms, participants, cpu) with an expiry
 * that its heartbeat keeps pushing back, `<p>medianodes` the set of their ids. A node
 * whose key expired is not listed (and is taken out of the set by whoever lists).
 */
export class MediaNodeRegistry {
  private readonly prefix: string;
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    options: MediaNodeRegistryOptions,
  ) {
    this.prefix = options.keyPrefix ?? 'roundtable:';
  }

  static async connect(options: MediaNodeRegistryOptions): Promise<MediaNodeRegistry> {
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    const redis = new Redis(options.url, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      // A heartbeat or a listing while Redis is away fails soon; the next one tries again.
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
    });
    const logger = options.logger ?? silentLogger;
    redis.on('error', (error: Error) => logger.warn({ event: 'redisError', err: error }, 'Redis connection error (media nodes)'));
    try {
      await withTimeout(redis.connect(), timeoutMs);
    } catch (error) {
      redis.disconnect();
      throw new Error(`cannot reach Redis at ${redactUrl(options.url)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return new MediaNodeRegistry(redis, options);
  }

  /** Registers (or refreshes) a node for `ttlMs`. Rejects while Redis is away. */
  async announce(node: MediaNodeInfo, ttlMs: number): Promise<void> {
    const key = this.nodeKey(node.id);
    await this.redis
      .multi()
      .hset(key, { url: node.url, beat: String(node.beat), rooms: String(node.rooms), participants: String(node.participants), cpu: node.cpu.toFixed(3) })
      .pexpire(key, ttlMs)
      .sadd(this.setKey(), node.id)
      .exec();
  }

  /** Takes a node out at once (a graceful stop). */
  async withdraw(id: string): Promise<void> {
    await this.redis.multi().del(this.nodeKey(id)).srem(this.setKey(), id).exec();
  }

  /** The nodes alive now. Rejects while Redis is away (the caller must not take that for "no nodes"). */
  async list(): Promise<MediaNodeInfo[]> {
    const ids = await this.redis.smembers(this.setKey());
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.nodeKey(id));
    const replies = (await pipeline.exec()) ?? [];
    const nodes: MediaNodeInfo[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const [error, value] = replies[i] ?? [new Error('no reply'), undefined];
      if (error) throw error;
      const hash = value as Record<string, string>;
      if (!hash['url']) {
        gone.push(id);
        return;
      }
      nodes.push({ id, url: hash['url'], beat: Number(hash['beat'] ?? 0), rooms: Number(hash['rooms'] ?? 0), participants: Number(hash['participants'] ?? 0), cpu: Number(hash['cpu'] ?? 0) });
    });
    if (gone.length > 0) await this.redis.srem(this.setKey(), ...gone);
    return nodes;
  }

  /** Whether Redis answers (for /readyz); never throws. */
  async ready(): Promise<boolean> {
    if (this.redis.status !== 'ready') return false;
    try {
      return (await withTimeout(this.redis.ping(), 1000)) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private nodeKey(id: string): string {
    return `${this.prefix}media:${id}`;
  }

  private setKey(): string {
    return `${this.prefix}medianodes`;
  }
}

/** `redis://user:secret@host` without the secret, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
