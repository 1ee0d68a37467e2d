/**
 * The server configuration, from (lowest to highest precedence) a config file,
 * environment variables and flags; every setting has a default, so none is needed.
 * Each value is validated where it is read, then the rules that tie settings together
 * run on the result. Problems name the setting and where its value came from.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { KurentoLimits } from '@roundtable/kurento';
import type { MediaConfig } from '@roundtable/media';
import { readConfigFile } from './configFile.js';
import { isLoopback, type LogLevel, type Role } from './configValues.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import {
  CONFIG_FILE_SETTING,
  DEFAULT_DB_PATH,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_HOST,
  DEFAULT_KURENTO_HOST,
  DEFAULT_KURENTO_PORT,
  DEFAULT_LOG_LEVEL,
  DEFAULT_LOOPBACK_MAX_SESSIONS,
  DEFAULT_LOOPBACK_MAX_SESSIONS_PER_ADDRESS,
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  DEFAULT_PORT,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RING_TIMEOUT_MS,
  DEFAULT_ROLE,
  DEFAULT_WS_RATE_PER_ADDRESS,
  SETTINGS,
  SETTING_KEYS,
  howToSet,
  type SettingKey,
  type SettingSpec,
  type SettingValues,
} from './settings.js';

export { ROLES, LOG_LEVELS, type Role, type LogLevel } from './configValues.js';
export { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_KURENTO_HOST, DEFAULT_KURENTO_PORT } from './settings.js';

/** The media settings the server passes through to every `MediaPipeline`. */
export type MediaOptions = Pick<Partial<MediaConfig>, 'iceAddresses' | 'portRange' | 'announcedAddress' | 'udpPort' | 'packetCore' | 'bandwidthEstimation'>;

export interface ServerConfig {
  /** What this process runs. Default 'all' (`role`, `ROUNDTABLE_ROLE`, `--role`). */
  role: Role;
  /** Address the HTTP(S) server binds to. Default '0.0.0.0' (`ROUNDTABLE_HOST`). */
  host: string;
  /** HTTP(S) port; 0 picks a free one. Default 8080 (`ROUNDTABLE_PORT`). */
  port: number;
  /** Default 'info' (`ROUNDTABLE_LOG_LEVEL`, or `LOG_LEVEL`). */
  logLevel: LogLevel;
  /** Prometheus metrics at `/metrics`. Default on (`ROUNDTABLE_METRICS`, `--metrics`). */
  metrics: boolean;
  /** Where the metrics listener binds, and the bearer token a scrape needs. Default 127.0.0.1:9464, no token. */
  metricsListen: MetricsListenConfig;
  /** Exposure and limits of the HTTP(S) server and its WebSockets (docs/security.md). */
  http: HttpLimitsConfig;
  /** Limits of the loopback test at `/ws/loopback`. */
  loopback: LoopbackConfig;
  /** HTTPS and wss:// with this certificate and key. Default: none, plain HTTP. */
  tls?: TlsConfig;
  /**
   * Media settings. Each field is left out when it is not set, so the media engine's
   * own default applies (all non-internal IPv4 addresses, ports 40000-49999, no
   * announced address).
   */
  media: MediaOptions;
  /**
   * Media worker threads for the rooms of the signaling server (`ROUNDTABLE_MEDIA_WORKERS`,
   * `--media-workers`); 0: rooms in the main thread. Left out when not set: one per core.
   */
  mediaWorkers?: number;
  /**
   * The Kurento Protocol endpoint, or false when turned off (`ROUNDTABLE_KURENTO=off`).
   * Default: on, at ws://127.0.0.1:8888/kurento.
   */
  kurento: KurentoOptions | false;
  /** The signaling server (accounts, IM, calls, rooms) at `/ws`. */
  signaling: SignalingConfig;
}

export interface MetricsListenConfig {
  /** `ROUNDTABLE_METRICS_HOST`. Default '127.0.0.1'. */
  host: string;
  /** `ROUNDTABLE_METRICS_PORT`. Default 9464. */
  port: number;
  /** `ROUNDTABLE_METRICS_TOKEN`; required when `host` is beyond loopback. Default: none. */
  token?: string;
}

export interface HttpLimitsConfig {
  /** Other origins whose pages may open /ws and /ws/loopback (`ROUNDTABLE_ALLOWED_ORIGINS`). Default: none. */
  allowedOrigins: string[];
  /** `ROUNDTABLE_HEADERS_TIMEOUT_MS`. Default 10000. */
  headersTimeoutMs: number;
  /** `ROUNDTABLE_REQUEST_TIMEOUT_MS`. Default 30000. */
  requestTimeoutMs: number;
  /** Requests per second of one address over its /ws sockets (`ROUNDTABLE_WS_RATE_PER_ADDRESS`). Default 500. */
  wsRatePerAddress: number;
}

export interface LoopbackConfig {
  /** `ROUNDTABLE_LOOPBACK_MAX_SESSIONS`. Default 32. */
  maxSessions: number;
  /** `ROUNDTABLE_LOOPBACK_MAX_SESSIONS_PER_ADDRESS`. Default 4. */
  maxSessionsPerAddress: number;
}

export interface TlsConfig {
  /** PEM certificate chain and private key, as read from `certFile` and `keyFile`. */
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

export interface SignalingConfig {
  /** SQLite file (`ROUNDTABLE_DB`), used when `dbUrl` is not set. Default '.roundtable/roundtable.db'. */
  dbPath: string;
  /** PostgreSQL database (`ROUNDTABLE_DB_URL`) instead of the SQLite file. Default: none. */
  dbUrl?: string;
  /** STUN/TURN URLs handed to clients (`ROUNDTABLE_ICE_SERVERS`, comma-separated). Default: none. */
  iceServers: string[];
  /** coturn's static-auth-secret (`ROUNDTABLE_TURN_SECRET`); needed with a turn: URL. */
  turnSecret?: string;
  /** Folder of recordings (`ROUNDTABLE_RECORDINGS`). Default: `recordings` beside the SQLite file. */
  recordingsDir?: string;
  /** Upload finished recordings there (`ROUNDTABLE_RECORDINGS_UPLOAD_URL`), with this bearer token (`ROUNDTABLE_RECORDINGS_UPLOAD_TOKEN`). Default: none. */
  recordingsUpload?: { url: string; token?: string };
  /** Ring timeout in ms (`ROUNDTABLE_RING_TIMEOUT_MS`). Default 60000. */
  ringTimeoutMs: number;
  /**
   * How long a call or room keeps a member whose device dropped (ms). Default 15000. Not a
   * setting of the file, the environment or the flags: only given in code (tests shorten it).
   */
  disconnectGraceMs?: number;
  /**
   * A media server in another process, over the Kurento Protocol (`ROUNDTABLE_MEDIA_URL`,
   * with `ROUNDTABLE_MEDIA_SECRET`). Default: none, the media engine runs in this process.
   * Required for the signaling role.
   */
  mediaUrl?: string;
  mediaSecret?: string;
  /**
   * Redis of a cluster of signaling nodes (`ROUNDTABLE_REDIS_URL`, `--redis-url`). Default:
   * none, this process alone.
   */
  redisUrl?: string;
  /** With `redisUrl`: when a silent node is taken for gone (`ROUNDTABLE_REDIS_NODE_TTL_MS`). Default 10000. */
  redisNodeTtlMs?: number;
  /** Login limits, quotas and retention (`limits.*`); only those set. Left out when none is: the signaling package's defaults apply. */
  limits?: SignalingLimits;
}

/** The `limits.*` settings as the signaling server takes them; each absent one keeps its default. */
export interface SignalingLimits {
  loginLimits?: { account?: { maxFailures: number }; address?: { maxFailures: number }; registrationsPerHour?: number; hashing?: { maxQueued: number } };
  maxRoomsPerUser?: number;
  maxSocketsPerUser?: number;
  maxDevicesPerUser?: number;
  recordingLimits?: { maxActivePerUser?: number; maxActive?: number; diskQuotaPerUserBytes?: number; diskQuotaTotalBytes?: number; retentionDays?: number };
}

export interface KurentoOptions {
  host: string;
  port: number;
  secret?: string;
  /**
   * HttpPostEndpoint URLs: the host announced in them (`ROUNDTABLE_KURENTO_ANNOUNCED_ADDRESS`)
   * and the body cap (`ROUNDTABLE_KURENTO_HTTP_POST_MAX_BYTES`). Left out when neither is set.
   */
  httpPost?: { announcedAddress?: string; maxBodyBytes?: number };
  /** Folder of the local copies of recordings to http(s) URIs (`ROUNDTABLE_KURENTO_UPLOAD_SPOOL`). Left out when not set. */
  recordingSpoolDir?: string;
  /** Limits per client and per server (`kurento.max*`); each left out takes the Kurento server's default. */
  limits?: Partial<KurentoLimits>;
}

type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigSources {
  /** Environment variables. Default: none. */
  env?: Env;
  /** Flag values by flag name without the dashes (`{ port: '9090', 'tls-cert': 'x.pem' }`). Default: none. */
  flags?: Readonly<Record<string, string | undefined>>;
  /** Folder that a relative `--config` path is relative to. Default: the process's working directory. */
  cwd?: string;
}

/**
 * Reads the configuration: the config file named by `--config` (or `ROUNDTABLE_CONFIG`),
 * then environment variables, then flags, each overriding the one before. An empty or
 * blank environment variable counts as unset. Throws `ConfigError` listing every problem.
 */
export function loadConfig(sources: ConfigSources = { env: process.env }): ServerConfig {
  const env = sources.env ?? {};
  const flags = sources.flags ?? {};
  const problems: ConfigProblem[] = [];
  const layers: Layer[] = [];

  const file = fileSetting(env, flags);
  if (file) {
    const read = readConfigFile(file.path, file.where, sources.cwd ?? process.cwd());
    if (Array.isArray(read)) problems.push(...read);
    else layers.push(read);
  }
  layers.push(readLayer((key) => envValue(env, SETTINGS[key]), problems));
  layers.push(readLayer((key) => flagValue(flags, SETTINGS[key]), problems));
  if (problems.length > 0) throw new ConfigError(problems);

  const values: SettingValues = {};
  const where: Partial<Record<SettingKey, string>> = {};
  for (const layer of layers) {
    Object.assign(values, layer.values);
    Object.assign(where, layer.where);
  }
  const config = resolve(new Settings(values, where), problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

interface Layer {
  values: SettingValues;
  where: Partial<Record<SettingKey, string>>;
}

/** Validates the strings one source gives (environment or flags), each with its setting's schema. */
function readLayer(lookup: (key: SettingKey) => { text: string; where: string } | undefined, problems: ConfigProblem[]): Layer {
  const values: Record<string, unknown> = {};
  const where: Partial<Record<SettingKey, string>> = {};
  for (const key of SETTING_KEYS) {
    const found = lookup(key);
    if (!found) continue;
    const spec: SettingSpec = SETTINGS[key];
    const result = spec.schema.safeParse(found.text);
    if (result.success) {
      values[key] = result.data;
      where[key] = found.where;
    } else {
      problems.push(...result.error.issues.map((issue) => ({ setting: key, where: found.where, reason: issue.message })));
    }
  }
  // Each value was produced by SETTINGS[key].schema, which is what SettingValues says.
  return { values: values as SettingValues, where };
}

function envValue(env: Env, spec: SettingSpec): { text: string; where: string } | undefined {
  for (const name of [spec.env, ...(spec.envAliases ?? [])]) {
    const text = env[name]?.trim();
    if (text !== undefined && text !== '') return { text, where: name };
  }
  return undefined;
}

function flagValue(flags: Readonly<Record<string, string | undefined>>, spec: SettingSpec): { text: string; where: string } | undefined {
  const text = flags[spec.flag];
  return text === undefined ? undefined : { text, where: `--${spec.flag}` };
}

function fileSetting(env: Env, flags: Readonly<Record<string, string | undefined>>): { path: string; where: string } | undefined {
  const flag = flags[CONFIG_FILE_SETTING.flag];
  if (flag !== undefined) return { path: flag, where: `--${CONFIG_FILE_SETTING.flag}` };
  const variable = env[CONFIG_FILE_SETTING.env]?.trim();
  if (variable) return { path: variable, where: CONFIG_FILE_SETTING.env };
  return undefined;
}

/** The merged values, with where each came from. */
class Settings {
  constructor(
    private readonly values: SettingValues,
    private readonly sources: Partial<Record<SettingKey, string>>,
  ) {}

  get<K extends SettingKey>(key: K): SettingValues[K] {
    return this.values[key];
  }

  /** Where the value of `key` came from, or the key itself when it is not set. */
  where(key: SettingKey): string {
    return this.sources[key] ?? key;
  }

  problem(key: SettingKey, reason: string): ConfigProblem {
    return { setting: key, where: this.where(key), reason };
  }
}

/** Applies the defaults and the rules that tie settings together. */
function resolve(s: Settings, problems: ConfigProblem[]): ServerConfig {
  const role = s.get('role') ?? DEFAULT_ROLE;
  const host = s.get('host') ?? DEFAULT_HOST;
  const port = s.get('port') ?? DEFAULT_PORT;

  const media: MediaOptions = {};
  const iceAddresses = s.get('media.iceAddresses');
  if (iceAddresses !== undefined && iceAddresses.length > 0) media.iceAddresses = iceAddresses;
  const portRange = s.get('media.portRange');
  if (portRange !== undefined) media.portRange = portRange;
  const announcedAddress = s.get('media.announcedAddress');
  if (announcedAddress !== undefined) media.announcedAddress = announcedAddress;
  const udpPort = s.get('media.udpPort');
  if (udpPort !== undefined) media.udpPort = udpPort;
  const packetCore = s.get('media.packetCore');
  if (packetCore !== undefined) media.packetCore = packetCore;
  const bwe = { startBitrate: s.get('media.bweStartBitrate'), minBitrate: s.get('media.bweMinBitrate'), maxBitrate: s.get('media.bweMaxBitrate') };
  if (Object.values(bwe).some((v) => v !== undefined)) {
    media.bandwidthEstimation = Object.fromEntries(Object.entries(bwe).filter(([, v]) => v !== undefined));
    if (bwe.minBitrate !== undefined && bwe.maxBitrate !== undefined && bwe.minBitrate > bwe.maxBitrate) {
      problems.push(s.problem('media.bweMinBitrate', `${bwe.minBitrate} is above media.bweMaxBitrate (${bwe.maxBitrate})`));
    }
  }

  const mediaWorkers = s.get('media.workers');

  const kurento = resolveKurento(s, role, { host, port }, problems);
  const headersTimeoutMs = s.get('http.headersTimeoutMs') ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const requestTimeoutMs = s.get('http.requestTimeoutMs') ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (headersTimeoutMs > requestTimeoutMs) {
    problems.push(s.problem('http.headersTimeoutMs', `${headersTimeoutMs} ms is longer than http.requestTimeoutMs (${requestTimeoutMs} ms), which covers the headers too`));
  }
  const signaling = resolveSignaling(s, role, problems);
  const tls = resolveTls(s, problems);
  return {
    role,
    host,
    port,
    logLevel: s.get('logLevel') ?? DEFAULT_LOG_LEVEL,
    metrics: s.get('metrics') ?? true,
    metricsListen: resolveMetricsListen(s, problems),
    http: {
      allowedOrigins: s.get('http.allowedOrigins') ?? [],
      headersTimeoutMs,
      requestTimeoutMs,
      wsRatePerAddress: s.get('http.wsRatePerAddress') ?? DEFAULT_WS_RATE_PER_ADDRESS,
    },
    loopback: {
      maxSessions: s.get('loopback.maxSessions') ?? DEFAULT_LOOPBACK_MAX_SESSIONS,
      maxSessionsPerAddress: s.get('loopback.maxSessionsPerAddress') ?? DEFAULT_LOOPBACK_MAX_SESSIONS_PER_ADDRESS,
    },
    ...(tls ? { tls } : {}),
    media,
    ...(mediaWorkers === undefined ? {} : { mediaWorkers }),
    kurento,
    signaling,
  };
}

function resolveMetricsListen(s: Settings, problems: ConfigProblem[]): MetricsListenConfig {
  const host = s.get('metricsHost') ?? DEFAULT_METRICS_HOST;
  const token = s.get('metricsToken');
  // The metrics tell who is online and what runs: beyond loopback, a token.
  if ((s.get('metrics') ?? true) && !isLoopback(host) && token === undefined) {
    problems.push(s.problem('metricsToken', `the metrics listener binds ${host} (${s.where('metricsHost')}), beyond loopback: it needs a bearer token; ${howToSet('metricsToken')}`));
  }
  const port = s.get('metricsPort') ?? DEFAULT_METRICS_PORT;
  const http = { host: s.get('host') ?? DEFAULT_HOST, port: s.get('port') ?? DEFAULT_PORT };
  if ((s.get('metrics') ?? true) && port !== 0 && port === http.port && hostsOverlap(host, http.host)) {
    problems.push(s.problem('metricsPort', `port ${port} is also the HTTP port (${s.where('port')}): give the metrics listener another port`));
  }
  return { host, port, ...(token === undefined ? {} : { token }) };
}

/** The Kurento server's limits and the settings that set them. */
const LIMIT_SETTINGS = [
  ['maxObjects', 'kurento.maxObjects'],
  ['maxSessionObjects', 'kurento.maxSessionObjects'],
  ['maxFrameRequests', 'kurento.maxFrameRequests'],
  ['maxQueuedRequests', 'kurento.maxQueuedRequests'],
  ['maxUnreadBytes', 'kurento.maxUnreadBytes'],
  ['maxFrameBytes', 'kurento.maxFrameBytes'],
] as const satisfies ReadonlyArray<readonly [keyof KurentoLimits, string]>;

function resolveKurento(s: Settings, role: Role, http: { host: string; port: number }, problems: ConfigProblem[]): KurentoOptions | false {
  const enabled = s.get('kurento.enabled') ?? true;
  if (!enabled) {
    if (role === 'media') problems.push(s.problem('kurento.enabled', 'the media role serves the media engine over the Kurento Protocol: it cannot be turned off'));
    return false;
  }
  const host = s.get('kurento.host') ?? DEFAULT_KURENTO_HOST;
  const port = s.get('kurento.port') ?? DEFAULT_KURENTO_PORT;
  const secret = s.get('kurento.secret');
  // A signaling-role process has no media engine to serve.
  if (role === 'signaling') return false;

  // Whoever reaches the endpoint controls the media engine: beyond loopback, a secret.
  if (!isLoopback(host) && secret === undefined) {
    problems.push(
      s.problem(
        'kurento.secret',
        `the Kurento Protocol endpoint binds ${host} (${s.where('kurento.host')}), beyond loopback: it needs a shared secret; ${howToSet('kurento.secret')}`,
      ),
    );
  }
  if (port !== 0 && port === http.port && hostsOverlap(host, http.host)) {
    problems.push(s.problem('kurento.port', `port ${port} is also the HTTP port (${s.where('port')}): give the Kurento Protocol endpoint another port`));
  }
  const announcedAddress = s.get('kurento.announcedAddress');
  const maxBodyBytes = s.get('kurento.httpPostMaxBytes');
  const httpPost = { ...(announcedAddress === undefined ? {} : { announcedAddress }), ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }) };
  const recordingSpoolDir = s.get('kurento.uploadSpool');
  const limits: Partial<KurentoLimits> = {};
  for (const [name, key] of LIMIT_SETTINGS) {
    const value = s.get(key);
    if (value !== undefined) limits[name] = value;
  }
  return {
    host,
    port,
    ...(secret === undefined ? {} : { secret }),
    ...(Object.keys(httpPost).length > 0 ? { httpPost } : {}),
    ...(recordingSpoolDir === undefined ? {} : { recordingSpoolDir }),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

function resolveSignaling(s: Settings, role: Role, problems: ConfigProblem[]): SignalingConfig {
  const iceServers = s.get('signaling.iceServers') ?? [];
  const turnSecret = s.get('signaling.turnSecret');
  const mediaUrl = s.get('media.url');
  const mediaSecret = s.get('media.secret');
  const recordingsDir = s.get('signaling.recordings');
  const uploadUrl = s.get('signaling.recordingsUploadUrl');
  const uploadToken = s.get('signaling.recordingsUploadToken');
  const dbUrl = s.get('signaling.dbUrl');
  const redisUrl = s.get('signaling.redisUrl');
  const redisNodeTtlMs = s.get('signaling.redisNodeTtlMs');
  if (role !== 'media') {
    if (dbUrl !== undefined && s.get('signaling.db') !== undefined) {
      problems.push(
        s.problem('signaling.dbUrl', `PostgreSQL is set here, and the SQLite file signaling.db too (${s.where('signaling.db')}): the data goes to one database; unset signaling.db to use PostgreSQL, or signaling.dbUrl to keep the SQLite file`),
      );
    }
    if (iceServers.some((url) => url.startsWith('turn')) && turnSecret === undefined) {
      problems.push(
        s.problem('signaling.turnSecret', `a TURN server is configured in signaling.iceServers (${s.where('signaling.iceServers')}): its shared secret is needed; ${howToSet('signaling.turnSecret')}`),
      );
    }
    if (role === 'signaling' && mediaUrl === undefined && redisUrl === undefined) {
      problems.push(s.problem('media.url', `the signaling role needs a media server (a process with role media, or a Kurento Media Server): ${howToSet('media.url')}; or signaling.redisUrl, for the media nodes registered there`));
    }
  }
  const limits = resolveLimits(s);
  return {
    ...(limits === undefined ? {} : { limits }),
    dbPath: s.get('signaling.db') ?? DEFAULT_DB_PATH,
    ...(dbUrl === undefined ? {} : { dbUrl }),
    ...(recordingsDir === undefined ? {} : { recordingsDir }),
    ...(uploadUrl === undefined ? {} : { recordingsUpload: { url: uploadUrl, ...(uploadToken === undefined ? {} : { token: uploadToken }) } }),
    iceServers,
    ...(turnSecret === undefined ? {} : { turnSecret }),
    ringTimeoutMs: s.get('signaling.ringTimeoutMs') ?? DEFAULT_RING_TIMEOUT_MS,
    ...(mediaUrl === undefined ? {} : { mediaUrl }),
    ...(mediaSecret === undefined ? {} : { mediaSecret }),
    ...(redisUrl === undefined ? {} : { redisUrl }),
    ...(redisNodeTtlMs === undefined ? {} : { redisNodeTtlMs }),
  };
}

function resolveLimits(s: Settings): SignalingLimits | undefined {
  const defined = <T extends object>(value: T): T | undefined => {
    const kept = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
    return Object.keys(kept).length > 0 ? (kept as T) : undefined;
  };
  const accountFailures = s.get('limits.loginFailuresPerAccount');
  const addressFailures = s.get('limits.loginFailuresPerAddress');
  const hashQueue = s.get('limits.passwordHashQueue');
  const loginLimits = defined({
    account: accountFailures === undefined ? undefined : { maxFailures: accountFailures },
    address: addressFailures === undefined ? undefined : { maxFailures: addressFailures },
    registrationsPerHour: s.get('limits.registrationsPerHour'),
    hashing: hashQueue === undefined ? undefined : { maxQueued: hashQueue },
  });
  const recordingLimits = defined({
    maxActivePerUser: s.get('limits.recordingsPerUser'),
    maxActive: s.get('limits.recordings'),
    diskQuotaPerUserBytes: s.get('limits.recordingQuotaPerUser'),
    diskQuotaTotalBytes: s.get('limits.recordingQuota'),
    retentionDays: s.get('limits.recordingRetentionDays'),
  });
  return defined({ loginLimits, maxRoomsPerUser: s.get('limits.roomsPerUser'), maxSocketsPerUser: s.get('limits.socketsPerUser'), maxDevicesPerUser: s.get('limits.devicesPerUser'), recordingLimits });
}

/** Reads the certificate and key, and checks that they load and belong together. */
function resolveTls(s: Settings, problems: ConfigProblem[]): TlsConfig | undefined {
  const certFile = s.get('tls.cert');
  const keyFile = s.get('tls.key');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined) {
    problems.push(s.problem('tls.cert', `tls.key is set (${s.where('tls.key')}) but no certificate: ${howToSet('tls.cert')}`));
    return undefined;
  }
  if (keyFile === undefined) {
    problems.push(s.problem('tls.key', `tls.cert is set (${s.where('tls.cert')}) but no private key: ${howToSet('tls.key')}`));
    return undefined;
  }
  const cert = readPem(s, 'tls.cert', certFile, 'certificate', 'CERTIFICATE', problems);
  const key = readPem(s, 'tls.key', keyFile, 'private key', 'PRIVATE KEY', problems);
  if (!cert || !key) return undefined;
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    problems.push(s.problem('tls.cert', `the certificate '${certFile}' and the key '${keyFile}' (${s.where('tls.key')}) cannot be used together: ${messageOf(error)}`));
    return undefined;
  }
  return { cert, key, certFile, keyFile };
}

/** Reads a PEM file that must hold a `block` block ('PRIVATE KEY' also matches 'RSA PRIVATE KEY', 'EC PRIVATE KEY'...). */
function readPem(s: Settings, key: 'tls.cert' | 'tls.key', file: string, what: string, block: string, problems: ConfigProblem[]): Buffer | undefined {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    problems.push(s.problem(key, `cannot read the ${what} file '${file}': ${messageOf(error)}`));
    return undefined;
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${block}-----`).test(pem.toString('latin1'))) {
    problems.push(s.problem(key, `'${file}' holds no PEM ${what} (expected a '-----BEGIN ${block}-----' block)`));
    return undefined;
  }
  return pem;
}

function hostsOverlap(a: string, b: string): boolean {
  const wildcard = (host: string) => host === '0.0.0.0' || host === '::';
  return a === b || wildcard(a) || wildcard(b);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
