import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { AuthService, type LoginLimits } from './auth/AuthService.js';
import { CallService } from './calls/CallService.js';
import type { Cluster } from './cluster/Cluster.js';
import { InMemoryCluster } from './cluster/InMemoryCluster.js';
import { RedisCluster, type RedisClusterOptions } from './cluster/RedisCluster.js';
import { callOrRoomTarget, routeToOwner } from './cluster/routeToOwner.js';
import { RoomService } from './calls/RoomService.js';
import { IceServers, type IceServersOptions } from './ice/IceServers.js';
import { iceHandlers } from './ice/iceHandlers.js';
import { ImService } from './im/ImService.js';
import { imHandlers } from './im/imHandlers.js';
import { PresenceService } from './im/PresenceService.js';
import { silentLogger, type Logger } from './logger.js';
import type { MediaServer } from './media/MediaServer.js';
import type { LinkRegistry } from './net/LinkRegistry.js';
import { mergeHandlerTables } from './net/mergeHandlerTables.js';
import { SignalingServer, type SignalingServerOptions } from './net/SignalingServer.js';
import { SERVER_REQUESTS } from './net/Connection.js';
import type { RecordingUpload } from './recording/RecordingStore.js';
import { RecordingService, type RecordingLimits } from './recording/RecordingService.js';
import { DEFAULT_DB_PATH, openStore } from './store/openStore.js';
import type { Store } from './store/Store.js';

export interface SignalingOptions {
  /** SQLite file, used when `dbUrl` is not set. Default '.roundtable/roundtable.db' (its folder is created). */
  dbPath?: string;
  /**
   * PostgreSQL database (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`) instead of the
   * SQLite file: what several signaling nodes share. Its schema is migrated at open.
   * Default: none.
   */
  dbUrl?: string;
  /** Where calls and rooms get their media. */
  media: MediaServer;
  /** STUN/TURN servers handed to clients. Default: none. */
  iceServers?: IceServersOptions;
  /** Ring timeout of calls (ms). Default 60000. */
  ringTimeoutMs?: number;
  /**
   * How long a call or room keeps a member whose device dropped, for it to come back (ms).
   * Default 15000. Tests of what happens after it shorten it so as not to sleep through it.
   */
  disconnectGraceMs?: number;
  /**
   * Folder of call and room recordings. Default: `recordings` beside the SQLite file
   * (`dbPath`, or its default also with `dbUrl`; a temporary folder for ':memory:'). With
   * a remote media server this path must be the same folder on both hosts (the media
   * server writes the files).
   */
  recordingsDir?: string;
  /** Upload each finished recording there and serve it from there (any node can). Default: none, the files stay in `recordingsDir`. */
  recordingsUpload?: RecordingUpload;
  /** Lifetime of device tokens (ms). Default 30 days. */
  tokenTtlMs?: number;
  /** Login and registration limits, the password-hashing queue. Default `DEFAULT_LOGIN_LIMITS`. */
  loginLimits?: LoginLimits;
  /** Device logins (unexpired tokens) per account; one more login: QUOTA_EXCEEDED. Default 50. */
  maxDevicesPerUser?: number;
  /** Open rooms one user may be in at once. Default 4. */
  maxRoomsPerUser?: number;
  /** Recording quotas (running, disk) and retention. Default `DEFAULT_RECORDING_LIMITS`. */
  recordingLimits?: RecordingLimits;
  /** Limits of the WebSocket endpoint (frame size, rate, ...). */
  server?: Omit<SignalingServerOptions, 'auth' | 'router' | 'handlers' | 'logger' | 'observe' | 'onSessionLoggedOut'>;
  /**
   * Told about every answered request: its type ('' for a frame refused before it became
   * a request) and, if it failed, the error code. For metrics. Default: none.
   */
  observe?: SignalingServerOptions['observe'];
  logger?: Logger;
  /**
   * Redis of a cluster of signaling nodes (`redis://host:6379`): devices, presence, calls'
   * and rooms' owners and the quotas are shared there, so any number of nodes can serve one
   * company behind any load balancer (docs/deployment.md). Default: none, one process.
   */
  redisUrl?: string;
  /** Heartbeat, forwarding and key settings of the Redis cluster (`redisUrl`). Each has its default. */
  cluster?: Omit<RedisClusterOptions, 'url' | 'logger'>;
}

/** What /readyz reports of the signaling server: each dependency usable or not. */
export interface SignalingReadiness {
  /** The database (SQLite or PostgreSQL) answers a query. */
  database: boolean;
  /** The media server takes new rooms (`MediaServer.ready()`). */
  media: boolean;
  /** The cluster's Redis answers (always true without one). */
  cluster: boolean;
}

export { DEFAULT_DB_PATH };

/**
 * The signaling server as the product runs it: the store (SQLite or PostgreSQL),
 * accounts, presence, IM, ICE servers, calls and open rooms behind one WebSocket
 * endpoint (`/ws`).
 */
export class Signaling {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly store: Store,
    readonly router: LinkRegistry & { readonly onlineUserCount: number },
    readonly im: ImService,
    readonly calls: CallService,
    readonly rooms: RoomService,
    readonly recordings: RecordingService,
    readonly server: SignalingServer,
    readonly media: MediaServer,
    /** The nodes this one shares users with (an in-memory one without Redis). */
    readonly cluster: Cluster,
  ) {}

  static async open(options: SignalingOptions): Promise<Signaling> {
    const logger = options.logger ?? silentLogger;
    const dbPath = options.dbPath ?? DEFAULT_DB_PATH;
    if (options.dbUrl === undefined && dbPath !== ':memory:') mkdirSync(dirname(dbPath), { recursive: true });
    const store = await openStore({ dbPath, ...(options.dbUrl === undefined ? {} : { dbUrl: options.dbUrl }), logger });
    const { from, to, applied } = store.migration;
    logger.info(
      { event: 'storeOpened', store: store.kind, database: store.description, schemaVersion: to, migrated: applied.map((m) => m.version) },
      applied.length > 0 ? `${store.description}: schema migrated from version ${from} to ${to}` : `${store.description}: schema version ${to}`,
    );
    let cluster: Cluster | undefined;
    try {
      cluster = options.redisUrl ? await RedisCluster.connect({ ...options.cluster, url: options.redisUrl, logger }) : new InMemoryCluster({ logger });
      return await Signaling.compose(options, store, cluster, dbPath, logger);
    } catch (error) {
      await cluster?.close();
      await store.close();
      throw error;
    }
  }

  private static async compose(options: SignalingOptions, store: Store, cluster: Cluster, dbPath: string, logger: Logger): Promise<Signaling> {
    const router = cluster.router;
    const auth = new AuthService({ store, attemptCounters: (name, limits, now) => cluster.attemptCounter(name, limits, now), ...(options.tokenTtlMs ? { tokenTtlMs: options.tokenTtlMs } : {}), ...(options.loginLimits ? { limits: options.loginLimits } : {}), ...(options.maxDevicesPerUser ? { maxDevicesPerUser: options.maxDevicesPerUser } : {}) });
    const im = new ImService({ store, router });
    const presence = new PresenceService(router, im);
    const ice = new IceServers(options.iceServers ?? {});
    const grace = options.disconnectGraceMs ? { disconnectGraceMs: options.disconnectGraceMs } : {};
    const calls = new CallService(router, options.media, im, { logger, cluster, ...grace, ...(options.ringTimeoutMs ? { ringTimeoutMs: options.ringTimeoutMs } : {}) });
    const rooms = new RoomService(router, options.media, { logger, cluster, ...grace, ...(options.maxRoomsPerUser ? { maxRoomsPerUser: options.maxRoomsPerUser } : {}) });
    const recordingsDir = options.recordingsDir ?? (dbPath === ':memory:' ? join(tmpdir(), `roundtable-recordings-${process.pid}`) : join(dirname(dbPath), 'recordings'));
    const recordings = new RecordingService({
      router,
      calls,
      rooms,
      auth,
      directory: recordingsDir,
      store,
      logger,
      ...(options.recordingsUpload ? { upload: options.recordingsUpload } : {}),
      ...(options.recordingLimits ? { limits: options.recordingLimits } : {}),
    });
    // Who joins a call or room being recorded is told so, as the others were.
    calls.onJoined((callId, user) => recordings.joined({ callId }, user));
    rooms.onJoined((room, user) => recordings.joined({ room }, user));
    // Recordings left 'recording' are another node's running ones while other nodes are up.
    await recordings.importFiles();
    const peers = await cluster.peers();
    if (peers === 0) await recordings.recover();
    else logger.info({ event: 'recordingRecoverySkipped', peers }, 'other signaling nodes are up: unfinished recordings are left to them');
    await recordings.sweep();
    // Requests about a call or a room run on the node that owns it (docs/architecture.md, "Cluster").
    const owned = [calls.handlers(), rooms.handlers(), recordings.handlers()];
    cluster.serve(mergeHandlerTables(owned, SERVER_REQUESTS));
    const server = new SignalingServer({
      ...options.server,
      auth,
      router,
      handlers: [imHandlers(im), presence.handlers(), iceHandlers(ice), ...owned.map((table) => routeToOwner(cluster, table, callOrRoomTarget))],
      logger,
      ...(options.observe ? { observe: options.observe } : {}),
      onSessionLoggedOut: (tokenHash) => cluster.sessionLoggedOut(tokenHash),
      sharedRate: (ratePerSecond, burst) => cluster.sharedRate(ratePerSecond, burst),
    });
    cluster.onSessionLoggedOut((tokenHash) => server.endSession(tokenHash));
    return new Signaling(store, router, im, calls, rooms, recordings, server, options.media, cluster);
  }

  /** Takes a WebSocket upgrade for `/ws`; returns false (leaving the socket alone) for other paths. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    return this.server.handleUpgrade(request, socket, head);
  }

  /** Serves GET /recordings/<id> (device token as bearer, or a signed link); false for other paths. */
  handleHttp(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    return this.recordings.handleHttp(request, response);
  }

  /** Database, media server and cluster usable (for /readyz). */
  async ready(): Promise<boolean> {
    const { database, media, cluster } = await this.readiness();
    return database && media && cluster;
  }

  /** Which of the database, the media server and the cluster is usable (for /readyz); never throws. */
  async readiness(): Promise<SignalingReadiness> {
    const [database, media, cluster] = await Promise.all([
      this.store.ping().then(
        () => true,
        () => false,
      ),
      this.media.ready().catch(() => false),
      this.cluster.ready().catch(() => false),
    ]);
    return { database, media, cluster };
  }

  /**
   * Server shutdown: ends every call (participants get `call.ended {reason: 'hangup', by:
   * null}`, the server's hang-up, and the call is recorded), closes the rooms, tells each
   * client `session.ended {reason: 'serverShutdown'}` and closes its socket, then closes
   * the database. Idempotent.
   */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.recordings.close();
      await this.calls.close('hangup');
      await this.rooms.close();
      await this.server.close();
      await this.cluster.close();
      await this.store.close();
    })());
  }
}
