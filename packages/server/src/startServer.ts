/**
 * `startServer()`: the composition root. Builds the parts a role runs (media engine,
 * Kurento Protocol server, signaling server, HTTP(S) server), with their metrics and
 * readiness checks, starts them, and shuts them down in order.
 */
import { fileURLToPath } from 'node:url';
import { isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { choosePacketCore, Engine, holdUdpPort, MediaError, resolveMediaConfig, type MediaConfig, type PacketCoreChoice } from '@roundtable/media';
import type { Logger } from 'pino';
import { KurentoServer } from '@roundtable/kurento';
import { randomUUID } from 'node:crypto';
import { InProcessMediaServer, MediaNodeHeartbeat, MediaNodeRooms, MediaNodeRegistry, MediaNodesServer, RemoteMediaServer, Signaling, WorkerMediaServer, splitMediaPorts, type MediaServer, type WorkerPorts } from '@roundtable/signaling';
import { DEFAULT_HOST, DEFAULT_KURENTO_HOST, DEFAULT_KURENTO_PORT, DEFAULT_PORT, type KurentoOptions, type Role, type SignalingConfig } from './config.js';
import { isLoopback } from './configValues.js';
import { mediaNodeLoadMeter } from './mediaNodeLoad.js';
import { ConfigError, ServerError } from './errors.js';
import { HttpServer, type TlsOptions } from './HttpServer.js';
import type { LoopbackLimits } from './LoopbackEndpoint.js';
import { createLogger } from './logger.js';
import { Metrics } from './Metrics.js';
import { MetricsServer } from './MetricsServer.js';
import { Readiness, clusterCheck, databaseCheck, engineCheck, mediaServerCheck } from './Readiness.js';
import { serverVersion } from './version.js';

export interface StartServerOptions {
  /**
   * What this process runs. Default 'all'. Options for parts a role does not run are
   * ignored: `signaling` runs the web server and the signaling server (media at
   * `signaling.mediaUrl`, required); `media` runs the media engine behind the Kurento
   * Protocol (`kurento`, on by default for this role) and `/healthz`.
   */
  role?: Role;
  /** Address to bind. Default '0.0.0.0'. */
  host?: string;
  /** HTTP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Serve HTTPS and wss:// with this PEM certificate and key. Default: plain HTTP. */
  tls?: TlsOptions;
  /** Settings for every session's MediaPipeline. Default: the media engine's defaults. */
  media?: Partial<MediaConfig>;
  /**
   * Worker threads that carry the rooms of the signaling server (role 'all' with the
   * engine in this process): each runs its own media engine on its own share of the
   * ports; the Kurento Protocol and /ws/loopback stay on the main thread, on a share of
   * their own (docs/workers.md). Default: `os.availableParallelism()`; 0: every room in
   * the main thread.
   */
  mediaWorkers?: number;
  /** Default: a pino logger at `LOG_LEVEL` (default 'info'). */
  logger?: Logger;
  /** Folder of static files. Default: this package's `public/`. */
  publicDir?: string;
  /**
   * The built web app, served before `publicDir` (its `index.html` is the page at `/`).
   * Default: `packages/web/dist` (`npm start` builds it when missing or stale); `false`: none.
   */
  webDir?: string | false;
  /**
   * Serve the Kurento Protocol too. Default: off for role 'all' (the CLI turns it on from
   * the config), on at ws://127.0.0.1:8888/kurento for role 'media', where it cannot be off.
   */
  kurento?: KurentoOptions | false;
  /**
   * Serve the signaling server at `/ws`. Default: off for role 'all' (the CLI turns it on
   * from the config); required for role 'signaling'.
   */
  signaling?: SignalingConfig | false;
  /**
   * Prometheus metrics at `/metrics`, on a listener of their own (never on the public
   * port): `true` binds 127.0.0.1 on a free port (`RunningServer.metricsUrl` says which);
   * an object sets the address, the port and a bearer token. Default: `true`. The CLI
   * binds 127.0.0.1:9464 by default.
   */
  metrics?: boolean | MetricsListenOptions;
  /** Exposure and limits of the HTTP(S) server and of `/ws` (docs/security.md). Each field has its default. */
  http?: HttpLimitsOptions;
  /** Limits of `/ws/loopback`; each field defaults as `DEFAULT_LOOPBACK_LIMITS` says. */
  loopback?: Partial<LoopbackLimits>;
  /**
   * Role 'media': register in this Redis as one of the deployment's media nodes, with a
   * heartbeat carrying the load (docs/deployment.md, "Media nodes"). Default: none (the
   * one media server of `signaling.mediaUrl`).
   */
  mediaNode?: MediaNodeOptions;
}

export interface MediaNodeOptions {
  /** The Redis of the signaling nodes. */
  redisUrl: string;
  /** Between heartbeats (ms). Default 1000. */
  heartbeatMs?: number;
  /** A node silent this long is gone and its rooms move (ms). Default 3000. */
  ttlMs?: number;
}

export interface MetricsListenOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** A scrape must send `Authorization: Bearer <token>`. Default: none. */
  token?: string;
}

export interface HttpLimitsOptions {
  /** Other origins whose pages may open `/ws` and `/ws/loopback` (`*`: any). No Origin header is always allowed. Default: none. */
  allowedOrigins?: readonly string[];
  /** Node's `headersTimeout`. Default 10 s. */
  headersTimeoutMs?: number;
  /** Node's `requestTimeout` (headers and body). Default 30 s. */
  requestTimeoutMs?: number;
  /** Requests per second of one address over all its `/ws` sockets; bursts of twice that. Default 500. */
  wsRatePerAddress?: number;
}

export interface RunningServer {
  readonly role: Role;
  /** Base URL with a trailing slash, e.g. 'http://127.0.0.1:8080/' ('https://' with TLS). */
  readonly url: string;
  readonly port: number;
  /** The Kurento Protocol URL, when that endpoint is on. */
  readonly kurentoUrl: string | undefined;
  /** The signaling WebSocket URL ('ws://' or 'wss://'), when that endpoint is on. */
  readonly signalingUrl: string | undefined;
  /** The metrics URL (`http://127.0.0.1:PORT/metrics`), when metrics are on. */
  readonly metricsUrl: string | undefined;
  /** The main thread's media engine (its pipelines, sockets and ports; media workers have their own). */
  readonly engine: Engine;
  /**
   * Graceful shutdown: reports not ready and stops accepting connections; ends every call
   * (participants get `call.ended {reason: 'hangup', by: null}`, and the call is
   * recorded), tells every signaling client `session.ended {reason: 'serverShutdown'}`,
   * closes the database, then the Kurento Protocol sessions, the web server and the media
   * engine. Idempotent.
   */
  close(): Promise<void>;
}

export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
/** Where `vite build` puts the web app (packages/web). */
export const WEB_DIST_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** What a role's composition serves: the HTTP(S) server (not yet listening) and the other endpoints. */
interface Composed {
  http: HttpServer;
  kurentoUrl?: string;
  signaling?: Signaling;
}

/** What every composer gets: the options, the parts it opens, and where it registers metrics and readiness checks. */
interface Context {
  options: StartServerOptions;
  /** The process's media engine (the main thread's: media workers have their own). */
  engine: Engine;
  parts: Parts;
  logger: Logger;
  metrics: Metrics | undefined;
  readiness: Readiness;
}

/** Owns what a start-up opened, to close it in reverse order (also when start-up fails halfway). */
class Parts {
  private readonly opened: Array<{ close(): Promise<void> }> = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add<T extends { close(): Promise<void> }>(part: T): T {
    this.opened.push(part);
    return part;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const part of this.opened.reverse()) {
        await part.close().catch((error: unknown) => this.logger.error({ event: 'closeFailed', err: error }, 'close failed'));
      }
    })();
    return this.closing;
  }
}

type Composer = (context: Context) => Promise<Composed>;

const COMPOSERS: Record<Role, Composer> = {
  all: composeAll,
  signaling: composeSignaling,
  media: composeMedia,
};

/** Starts the server for `options.role` (default 'all') and resolves once it listens. */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const role = options.role ?? 'all';
  const logger = options.logger ?? createLogger();
  const parts = new Parts(logger);
  const engine = new Engine();
  // Added first: closed last, after every part that makes pipelines on it.
  parts.add({ close: async () => engine.close() });
  const context: Context = {
    options,
    engine,
    parts,
    logger,
    metrics: options.metrics === false ? undefined : new Metrics({ role, version: serverVersion() }),
    readiness: new Readiness(),
  };
  try {
    const composed = await COMPOSERS[role](context);
    const port = await composed.http.listen();
    const metricsUrl = context.metrics ? await listenMetrics(context.metrics, options.metrics, context) : undefined;
    const url = `${options.tls ? 'https' : 'http'}://${urlHost(options.host ?? DEFAULT_HOST)}:${port}/`;
    let closing: Promise<void> | undefined;
    return {
      role,
      url,
      port,
      kurentoUrl: composed.kurentoUrl,
      signalingUrl: composed.signaling ? `${url.replace(/^http/, 'ws')}ws` : undefined,
      metricsUrl,
      engine,
      close: () => (closing ??= shutdown(context, composed)),
    };
  } catch (error) {
    await parts.close();
    throw error;
  }
}

/** The order matters: no new clients first, then the clients are told, then the parts go. */
async function shutdown(context: Context, composed: Composed): Promise<void> {
  const { logger, parts, readiness } = context;
  readiness.markShuttingDown();
  composed.http.drain();
  if (composed.signaling) {
    const calls = composed.signaling.calls.activeCalls;
    await composed.signaling.close().catch((error: unknown) => logger.error({ event: 'closeFailed', err: error }, 'closing the signaling server failed'));
    logger.info({ event: 'signalingClosed', endedCalls: calls }, 'calls ended, clients told, database closed');
  }
  // Recordings do not exist yet. When they do, this is where they are flushed: after the
  // calls have ended (no more media comes in) and before the media engine closes.
  await parts.close();
}

/** Everything in one process: pages, /ws/loopback, /ws with the in-process (or a remote) media server, the Kurento Protocol. */
async function composeAll(context: Context): Promise<Composed> {
  const { options, parts } = context;
  const configured = options.media ?? {};
  // Fail at start-up, not at the first call, when the media settings are wrong.
  resolveMediaConfig(configured);
  const workers = options.signaling && !options.signaling.mediaUrl ? mediaWorkerCount(options, configured, context) : 0;
  // With media workers, the main thread's engine (Kurento Protocol, loopback) gets the first share of the ports,
  // and in single-port mode the engines' shared ports sit side by side (one firewall rule).
  const block = workers > 0 ? await sharedPortBlock(context.engine, configured, workers + 1) : undefined;
  const shares = workers > 0 ? splitPorts(block ? { ...configured, udpPort: block.first } : configured, workers + 1) : undefined;
  const media: Partial<MediaConfig> = shares ? { ...configured, ...shares[0] } : configured;
  await holdMediaPort(context, media);
  // The workers bind their own ports: the probe lets go of them now.
  block?.release();
  if (shares) {
    const ports = shares.map((share) => share.udpPort).filter((port) => port !== undefined);
    if (ports.length > 0) context.logger.info({ event: 'mediaPorts', udpPorts: ports }, `media on UDP ports ${ports[0]}-${ports.at(-1)} (the main thread, then one per media worker)`);
  }
  watchEngine(context, media);
  let signaling: Signaling | undefined;
  if (options.signaling) {
    const mediaServer = options.signaling.mediaUrl
      ? await connectRemoteMedia(options.signaling, context)
      : shares
        ? await startWorkers(configured, shares.slice(1), context)
        : parts.add(new InProcessMediaServer(media, context.logger.child({ component: 'media' }), context.engine));
    signaling = await openSignaling(options.signaling, mediaServer, context);
  }
  const http = parts.add(httpServer(context, { publicDir: options.publicDir ?? PUBLIC_DIR, ...webDir(options), media, signaling }));
  const kurentoUrl = options.kurento ? await listenKurento(options.kurento, media, context) : undefined;
  return { http, ...(kurentoUrl ? { kurentoUrl } : {}), ...(signaling ? { signaling } : {}) };
}

/** Pages and /ws; calls get their media from a media-role process at `signaling.mediaUrl`. */
async function composeSignaling(context: Context): Promise<Composed> {
  const { options, parts } = context;
  const config = options.signaling;
  if (!config || (!config.mediaUrl && !config.redisUrl)) {
    throw new ConfigError({ setting: 'media.url', where: 'media.url', reason: 'the signaling role needs a media server: set signaling.mediaUrl, or signaling.redisUrl for the media nodes registered there' });
  }
  const media = config.mediaUrl ? await connectRemoteMedia(config, context) : await connectMediaNodes(config, context);
  const signaling = await openSignaling(config, media, context);
  const http = parts.add(httpServer(context, { publicDir: options.publicDir ?? PUBLIC_DIR, ...webDir(options), signaling }));
  return { http, signaling };
}

/** The media engine behind the Kurento Protocol, and /healthz. */
async function composeMedia(context: Context): Promise<Composed> {
  const { options, parts } = context;
  const media = options.media ?? {};
  resolveMediaConfig(media);
  if (options.kurento === false) {
    throw new ConfigError({ setting: 'kurento.enabled', where: 'kurento', reason: 'the media role serves the media engine over the Kurento Protocol: it cannot be turned off' });
  }
  const kurento = options.kurento ?? { host: DEFAULT_KURENTO_HOST, port: DEFAULT_KURENTO_PORT };
  if (!isLoopback(kurento.host) && !kurento.secret) {
    throw new ConfigError({ setting: 'kurento.secret', where: 'kurento.secret', reason: `the Kurento Protocol endpoint binds ${kurento.host}, beyond loopback: it needs a shared secret` });
  }
  await holdMediaPort(context, media);
  watchEngine(context, media);
  const rooms = context.parts.add(new MediaNodeRooms(media, context.logger.child({ component: 'media-node-rooms' }), undefined, context.engine));
  context.metrics?.watchMediaNodeRooms(rooms);
  const kurentoUrl = await listenKurento(kurento, media, context, rooms);
  if (options.mediaNode) await registerMediaNode(options.mediaNode, advertisedUrl(kurento, kurentoUrl), context, rooms);
  const http = parts.add(httpServer(context, {}));
  return { http, kurentoUrl };
}

/** The Kurento Protocol URL signaling nodes reach: kurento.host, or kurento.announcedAddress when it binds every address. */
function advertisedUrl(kurento: KurentoOptions, listening: string): string {
  const announced = kurento.httpPost?.announcedAddress;
  const wildcard = kurento.host === '0.0.0.0' || kurento.host === '::';
  if (!wildcard) return listening;
  if (!announced) {
    throw new ConfigError({ setting: 'kurento.announcedAddress', where: 'kurento.announcedAddress', reason: `a media node registered in Redis binds ${kurento.host}: set kurento.announcedAddress to the address signaling nodes reach it at` });
  }
  const url = new URL(listening);
  url.hostname = isIPv6(announced) ? `[${announced}]` : announced;
  return url.toString();
}

/** A media node: registered in Redis with its load until shutdown (withdrawn first thing then). */
async function registerMediaNode(node: MediaNodeOptions, url: string, context: Context, rooms: MediaNodeRooms): Promise<void> {
  const logger = context.logger.child({ component: 'media-node' });
  let registry: MediaNodeRegistry;
  try {
    registry = await MediaNodeRegistry.connect({ url: node.redisUrl, logger });
  } catch (error) {
    throw new ServerError('REDIS_UNREACHABLE', `${error instanceof Error ? error.message : String(error)} (signaling.redisUrl)`);
  }
  context.parts.add(registry);
  const id = randomUUID();
  context.parts.add(
    await MediaNodeHeartbeat.start(registry, {
      id,
      url,
      load: mediaNodeLoadMeter(context.engine, rooms),
      logger,
      ...(node.heartbeatMs === undefined ? {} : { intervalMs: node.heartbeatMs }),
      ...(node.ttlMs === undefined ? {} : { ttlMs: node.ttlMs }),
    }),
  );
  context.readiness.add('redis', async () => ((await registry.ready()) ? undefined : 'Redis does not answer: this media node cannot beat (signaling nodes take it for gone)'));
  logger.info({ event: 'mediaNodeRegistered', mediaNode: id, url }, `registered in Redis as media node ${id} (${url})`);
}

/** Rooms on the media nodes registered in Redis. */
async function connectMediaNodes(config: SignalingConfig, context: Context): Promise<MediaServer> {
  const logger = context.logger.child({ component: 'media-nodes' });
  try {
    return context.parts.add(await MediaNodesServer.connect({ redisUrl: config.redisUrl ?? '', logger, ...(config.mediaSecret ? { accessToken: config.mediaSecret } : {}) }));
  } catch (error) {
    throw new ServerError('REDIS_UNREACHABLE', `${error instanceof Error ? error.message : String(error)} (signaling.redisUrl)`);
  }
}

/** The HTTP(S) server with what a role puts on it: static pages, /ws/loopback (needs the engine), /ws; /healthz and /readyz always (/metrics has its own listener). */
function httpServer(context: Context, serves: { publicDir?: string; webDir?: string; media?: Partial<MediaConfig>; signaling?: Signaling | undefined }): HttpServer {
  const { options, logger, readiness } = context;
  const { signaling } = serves;
  return new HttpServer({
    host: options.host ?? DEFAULT_HOST,
    port: options.port ?? DEFAULT_PORT,
    logger,
    readiness: () => readiness.report(),
    ...(options.http?.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.http.headersTimeoutMs }),
    ...(options.http?.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.http.requestTimeoutMs }),
    loopback: { ...options.loopback, ...(options.http?.allowedOrigins ? { allowedOrigins: options.http.allowedOrigins } : {}) },
    ...(serves.publicDir === undefined ? {} : { publicDir: serves.publicDir }),
    ...(serves.webDir === undefined ? {} : { webDir: serves.webDir }),
    ...(serves.media === undefined ? {} : { media: serves.media, engine: context.engine }),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(signaling ? { upgradeHandlers: [(req, socket, head) => signaling.handleUpgrade(req, socket, head)] } : {}),
    ...(signaling ? { requestHandlers: [(req, res) => signaling.handleHttp(req, res)] } : {}),
  });
}

/** The web app's folder for roles that serve pages. */
function webDir(options: StartServerOptions): { webDir?: string } {
  if (options.webDir === false) return {};
  return { webDir: options.webDir ?? WEB_DIST_DIR };
}

async function openSignaling(config: SignalingConfig, media: MediaServer, context: Context): Promise<Signaling> {
  const { options, parts, logger, metrics, readiness } = context;
  const rate = options.http?.wsRatePerAddress;
  const signaling = parts.add(
    await Signaling.open({
      dbPath: config.dbPath,
      ...(config.dbUrl === undefined ? {} : { dbUrl: config.dbUrl }),
      ...(config.recordingsDir === undefined ? {} : { recordingsDir: config.recordingsDir }),
      ...(config.recordingsUpload === undefined ? {} : { recordingsUpload: config.recordingsUpload }),
      media,
      iceServers: { urls: config.iceServers, ...(config.turnSecret ? { sharedSecret: config.turnSecret } : {}) },
      ringTimeoutMs: config.ringTimeoutMs,
      ...(config.disconnectGraceMs === undefined ? {} : { disconnectGraceMs: config.disconnectGraceMs }),
      ...(config.redisUrl === undefined ? {} : { redisUrl: config.redisUrl }),
      ...(config.redisNodeTtlMs === undefined ? {} : { cluster: { nodeTtlMs: config.redisNodeTtlMs } }),
      server: {
        ...(options.http?.allowedOrigins ? { allowedOrigins: options.http.allowedOrigins } : {}),
        ...(rate === undefined ? {} : { addressRatePerSecond: rate, addressBurst: rate * 2 }),
        ...(config.limits?.maxSocketsPerUser ? { maxSocketsPerUser: config.limits.maxSocketsPerUser } : {}),
      },
      ...(config.limits?.loginLimits ? { loginLimits: config.limits.loginLimits } : {}),
      ...(config.limits?.maxRoomsPerUser ? { maxRoomsPerUser: config.limits.maxRoomsPerUser } : {}),
      ...(config.limits?.maxDevicesPerUser ? { maxDevicesPerUser: config.limits.maxDevicesPerUser } : {}),
      ...(config.limits?.recordingLimits ? { recordingLimits: config.limits.recordingLimits } : {}),
      logger: logger.child({ component: 'signaling' }),
      ...(metrics ? { observe: metrics.observeRequest } : {}),
    }),
  );
  metrics?.watchSignaling(signaling);
  readiness.add('database', databaseCheck(signaling));
  readiness.add('media', mediaServerCheck(signaling, config.mediaUrl));
  if (config.redisUrl !== undefined) readiness.add('redis', clusterCheck(signaling, config.redisUrl));
  return signaling;
}

/** The metrics on their own listener; resolves with its URL. */
async function listenMetrics(source: Metrics, option: StartServerOptions['metrics'], context: Context): Promise<string> {
  const listen = typeof option === 'object' ? option : {};
  const server = context.parts.add(
    new MetricsServer({
      source,
      host: listen.host ?? '127.0.0.1',
      port: listen.port ?? 0,
      ...(listen.token === undefined ? {} : { token: listen.token }),
      logger: context.logger,
    }),
  );
  return server.listen();
}

/** The media engine runs in this process: its metrics and its readiness check. */
function watchEngine(context: Context, media: Partial<MediaConfig>): void {
  context.metrics?.watchEngine(context.engine, packetCore(context, media));
  context.readiness.add('engine', engineCheck(context.engine, media));
}

/** The packet path of the engine's own transport (media.packetCore), said once at start-up. */
function packetCore(context: Context, media: Partial<MediaConfig>): PacketCoreChoice {
  let choice: PacketCoreChoice;
  try {
    choice = choosePacketCore(media.packetCore);
  } catch (error) {
    if (!(error instanceof MediaError)) throw error;
    throw new ConfigError({ setting: 'media.packetCore', where: 'media.packetCore', reason: error.message });
  }
  const fields = { event: 'packetCore', path: choice.path, setting: choice.setting, reason: choice.reason };
  if (choice.path === 'native') context.logger.info(fields, `media packet path: native (${choice.reason})`);
  else context.logger.info(fields, `media packet path: TypeScript (${choice.reason})`);
  return choice;
}

/**
 * Single-port mode: binds the media engine's UDP port (one per ICE address) at start-up
 * and holds it until shutdown, so that a configured port in use stops the start with a
 * message naming it instead of failing the first call. Unconfigured, the first free
 * port of the range's first 32 is taken, and a warning says so when it is not the first.
 */
async function holdMediaPort(context: Context, media: Partial<MediaConfig>): Promise<void> {
  try {
    const config = resolveMediaConfig(media);
    const { port, release } = await holdUdpPort(context.engine.sockets, config, 'media.udpPort (ROUNDTABLE_UDP_PORT, --udp-port)');
    context.parts.add({ close: async () => release() });
    if (port === undefined) return;
    const wanted = config.udpPort === undefined || config.udpPort === false ? config.portRange[0] : config.udpPort;
    if (port === wanted) context.logger.info({ event: 'mediaPort', udpPort: port }, `media on UDP port ${port}`);
    else context.logger.warn({ event: 'mediaPort', udpPort: port, wanted }, `UDP port ${wanted} is in use: media on UDP port ${port} instead (open it, or set media.udpPort)`);
  } catch (error) {
    if (!(error instanceof MediaError)) throw error;
    throw new ConfigError({ setting: 'media.udpPort', where: 'media.udpPort', reason: error.message });
  }
}

/**
 * How many media workers: as set, or by default one per core, but no more than the port
 * range has room for (a small range in a test, say: fewer workers, with a warning).
 */
function mediaWorkerCount(options: StartServerOptions, media: Partial<MediaConfig>, context: Context): number {
  if (options.mediaWorkers !== undefined) return options.mediaWorkers;
  const cores = availableParallelism();
  // In single-port mode by default, the shared ports come off the start of the range (sharedPortBlock).
  const config = resolveMediaConfig(media);
  const probe = config.udpPort === undefined ? { ...media, udpPort: config.portRange[0] } : media;
  for (let workers = cores; workers > 0; workers--) {
    try {
      splitMediaPorts(probe, workers + 1);
    } catch {
      continue;
    }
    if (workers < cores) context.logger.warn({ event: 'mediaWorkersCapped', workers, cores }, `media.portRange has room for ${workers} media workers only, not one per core (${cores})`);
    return workers;
  }
  context.logger.warn({ event: 'mediaWorkersCapped', workers: 0, cores }, 'media.portRange is too small for media workers: rooms run in the main thread');
  return 0;
}

/**
 * Single-port mode by default (media.udpPort unset) with media workers: the first run of
 * `engines` free UDP ports from the start of the range (within its first 32 ports, as the
 * engine alone looks for its port), so that the main thread and the workers listen on
 * `first`, `first + 1`, ... The ports are held until `release()`; undefined when
 * media.udpPort is set (those ports, strictly) or off (no shared ports).
 */
async function sharedPortBlock(engine: Engine, media: Partial<MediaConfig>, engines: number): Promise<{ first: number; release: () => void } | undefined> {
  const config = resolveMediaConfig(media);
  if (config.udpPort !== undefined) return undefined;
  const [min, max] = config.portRange;
  for (let first = min; first <= Math.min(max - engines + 1, min + 31); first++) {
    const releases: Array<() => void> = [];
    const release = (): void => {
      for (const r of releases.splice(0)) r();
    };
    try {
      for (let port = first; port < first + engines; port++) releases.push((await holdUdpPort(engine.sockets, { ...config, udpPort: port }, 'media.udpPort')).release);
      return { first, release };
    } catch (error) {
      release();
      if (!(error instanceof MediaError)) throw error;
    }
  }
  throw new ConfigError({ setting: 'media.udpPort', where: 'media.udpPort', reason: `no ${engines} free UDP ports side by side in the first 32 of media.portRange ${min}-${max} for the main thread and the media workers: set media.udpPort` });
}

/** The media ports split between the main thread and the media workers; a range too small for them is a configuration error. */
function splitPorts(media: Partial<MediaConfig>, engines: number): WorkerPorts[] {
  try {
    return splitMediaPorts(media, engines);
  } catch (error) {
    const reason = `${error instanceof Error ? error.message : String(error)} (the main thread takes a share too; lower media.workers or widen media.portRange)`;
    throw new ConfigError({ setting: 'media.workers', where: 'media.workers', reason });
  }
}

async function startWorkers(media: Partial<MediaConfig>, ports: WorkerPorts[], context: Context): Promise<MediaServer> {
  const logger = context.logger.child({ component: 'media-workers' });
  const server = context.parts.add(await WorkerMediaServer.start({ media, ports, logger }));
  context.metrics?.watchMediaWorkers(server);
  logger.info({ event: 'mediaWorkersStarted', workers: server.workerCount, ports }, `${server.workerCount} media workers started`);
  return server;
}

async function connectRemoteMedia(config: SignalingConfig, context: Context): Promise<MediaServer> {
  const url = config.mediaUrl ?? '';
  try {
    const logger = context.logger.child({ component: 'media-client' });
    return context.parts.add(await RemoteMediaServer.connect({ url, logger, ...(config.mediaSecret ? { accessToken: config.mediaSecret } : {}) }));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const hint = /\b401\b/.test(reason) ? ' (media.secret is missing or is not the media server\'s kurento.secret)' : '';
    throw new ServerError('MEDIA_UNREACHABLE', `cannot reach the media server at ${url} (media.url): ${reason}${hint}`);
  }
}

/** The Kurento Protocol endpoint; with `rooms`, it also holds rooms for signaling nodes (the room calls: a media node). */
async function listenKurento(options: KurentoOptions, media: Partial<MediaConfig>, context: Context, rooms?: MediaNodeRooms): Promise<string> {
  const kurento = new KurentoServer({ ...options, media, engine: context.engine, logger: context.logger.child({ component: 'kurento' }), ...(rooms ? { extensions: rooms.extensions } : {}) });
  // Added before listening: a failed listen still leaves a server to close.
  context.parts.add(kurento);
  context.metrics?.watchKurento(kurento);
  return (await kurento.listen()).url;
}

// A wildcard bind is reachable on localhost, which browsers also treat as a secure
// context (getUserMedia needs one).
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return isIPv6(host) ? `[${host}]` : host;
}
