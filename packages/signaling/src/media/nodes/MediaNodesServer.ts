import { silentLogger, type Logger } from '../../logger.js';
import { SignalingError } from '../../net/Handlers.js';
import type { MediaRoom, MediaServer, RoomOptions } from '../MediaServer.js';
import { RemoteMediaServer } from '../RemoteMediaServer.js';
import { MediaNodeRegistry, type MediaNodeInfo } from './MediaNodeRegistry.js';

export interface MediaNodesServerOptions {
  /** Redis where the media nodes register (the signaling cluster's). */
  redisUrl: string;
  /** Default 'roundtable:'. */
  keyPrefix?: string;
  /** The media nodes' shared secret (their kurento.secret), if they require one. */
  accessToken?: string;
  /** How often the list of nodes is read (ms). Default 1000. */
  pollMs?: number;
  /**
   * A node missing from Redis while its connection is up is taken for gone only after
   * this long (ms): a restarted Redis is empty until the nodes beat again. Default 10000.
   */
  missingGraceMs?: number;
  logger?: Logger;
}

/** A media node as this signaling node knows it. */
interface NodeEntry {
  info: MediaNodeInfo;
  /** When a listing last named it. */
  seenAt: number;
  /** Rooms this process opened on it that its reported load may not count yet (placement must not send every room to one node between two beats). */
  placed: number;
  /** The beat that was current when a room was last placed on it: a later beat counts those rooms. */
  placedAtBeat: number;
  server: Promise<RemoteMediaServer> | undefined;
}

/**
 * Rooms on any number of media nodes (docs/deployment.md, "Media nodes"). The nodes
 * register in Redis with their load; a new room goes to the least-loaded one. A node
 * whose registration expired, and whose connection is down, is gone: every room this
 * process had on it is told so (onClosed), and the room service re-creates it with
 * createRoom(), on a node still alive.
 */
export class MediaNodesServer implements MediaServer {
  readonly kind = 'nodes';
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly timer: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly graceMs: number;
  private polling: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly registry: MediaNodeRegistry,
    private readonly options: MediaNodesServerOptions,
  ) {
    this.log = options.logger ?? silentLogger;
    this.graceMs = options.missingGraceMs ?? 10_000;
    this.timer = setInterval(() => void this.poll(), options.pollMs ?? 1000);
    this.timer.unref();
  }

  static async connect(options: MediaNodesServerOptions): Promise<MediaNodesServer> {
    const registry = await MediaNodeRegistry.connect({
      url: options.redisUrl,
      ...(options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix }),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    const server = new MediaNodesServer(registry, options);
    await server.poll();
    return server;
  }

  /** The nodes known now, with their last load (for /metrics and tests). */
  get knownNodes(): MediaNodeInfo[] {
    return [...this.nodes.values()].map((n) => n.info);
  }

  async createRoom(label: string, options: RoomOptions = {}): Promise<MediaRoom> {
    if (this.closed) throw new SignalingError('MEDIA_ERROR', 'the media server is closed');
    await this.poll();
    const tried: string[] = [];
    for (const node of this.byLoad()) {
      try {
        const server = await this.serverOf(node);
        const room = await server.createRoom(label, options);
        node.placed++;
        node.placedAtBeat = node.info.beat;
        this.log.info({ event: 'mediaRoomPlaced', label, mediaNode: node.info.id, url: node.info.url, rooms: node.info.rooms + node.placed, participants: node.info.participants, cpu: node.info.cpu }, 'room placed on a media node');
        return room;
      } catch (error) {
        tried.push(node.info.id);
        this.log.warn({ event: 'mediaNodeFailed', mediaNode: node.info.id, url: node.info.url, err: error }, 'a media node did not take a room; trying the next');
      }
    }
    throw new SignalingError('MEDIA_ERROR', tried.length === 0 ? 'no media node is registered' : `no media node took the room (tried ${tried.join(', ')})`);
  }

  async ready(): Promise<boolean> {
    return !this.closed && this.nodes.size > 0 && (await this.registry.ready());
  }

  /** Closes the connections to the nodes and to Redis (the rooms are the room service's to close first). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.polling;
    for (const node of this.nodes.values()) await this.disconnect(node);
    this.nodes.clear();
    await this.registry.close();
  }

  /** Least participants first, then fewest rooms, then least CPU. */
  private byLoad(): NodeEntry[] {
    const rooms = (n: NodeEntry): number => n.info.rooms + n.placed;
    return [...this.nodes.values()].sort((a, b) => a.info.participants + a.placed - (b.info.participants + b.placed) || rooms(a) - rooms(b) || a.info.cpu - b.info.cpu);
  }

  private serverOf(node: NodeEntry): Promise<RemoteMediaServer> {
    if (!node.server) {
      const pending = RemoteMediaServer.connect({
        url: node.info.url,
        ...(this.options.accessToken ? { accessToken: this.options.accessToken } : {}),
        logger: this.log,
      });
      node.server = pending;
      // A failed connection is tried again at the next room.
      pending.catch(() => {
        if (node.server === pending) node.server = undefined;
      });
    }
    return node.server;
  }

  /** Reads the nodes from Redis; one at a time. */
  private poll(): Promise<void> {
    this.polling ??= this.readNodes().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async readNodes(): Promise<void> {
    if (this.closed) return;
    let listed: MediaNodeInfo[];
    try {
      listed = await this.registry.list();
    } catch (error) {
      // Redis away: nobody is missing for that. The nodes count as seen.
      const now = Date.now();
      for (const node of this.nodes.values()) node.seenAt = now;
      this.log.debug({ event: 'mediaNodesUnread', err: error }, 'cannot read the media nodes from Redis');
      return;
    }
    const now = Date.now();
    for (const info of listed) {
      const known = this.nodes.get(info.id);
      if (known) {
        if (known.info.url !== info.url) await this.disconnect(known);
        known.info = info;
        known.seenAt = now;
        if (info.beat !== known.placedAtBeat) known.placed = 0;
      } else {
        this.nodes.set(info.id, { info, seenAt: now, placed: 0, placedAtBeat: info.beat, server: undefined });
        this.log.info({ event: 'mediaNodeFound', mediaNode: info.id, url: info.url }, 'a media node registered');
      }
    }
    const names = new Set(listed.map((n) => n.id));
    for (const node of [...this.nodes.values()]) {
      if (names.has(node.info.id)) continue;
      // Its registration expired. With its connection down too it stopped; with the
      // connection up, Redis may have restarted empty: it has the grace to beat again.
      const server = node.server ? await node.server.catch(() => undefined) : undefined;
      if (server?.connected && now - node.seenAt < this.graceMs) continue;
      this.nodes.delete(node.info.id);
      const reason = `media node ${node.info.id} (${node.info.url}) stopped: its heartbeat expired`;
      this.log.warn({ event: 'mediaNodeGone', mediaNode: node.info.id, url: node.info.url, connected: server?.connected ?? false }, 'a media node stopped heartbeating: its rooms move');
      server?.loseRooms(reason);
      await this.disconnect(node);
    }
  }

  private async disconnect(node: NodeEntry): Promise<void> {
    const pending = node.server;
    node.server = undefined;
    const server = pending ? await pending.catch(() => undefined) : undefined;
    await server?.close().catch((error: unknown) => this.log.warn({ event: 'closeFailed', err: error }, 'closing a media node connection failed'));
  }
}
