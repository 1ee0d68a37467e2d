/**
 * Every setting of `roundtable start`, as data: its key in a config file, its
 * environment variable, its flag, its default as `--help` shows it, the roles that use
 * it, and the zod schema of its value. The config file schema, the environment and flag
 * readers and the help text are all made from this table.
 */
import { DEFAULT_KURENTO_LIMITS } from '@roundtable/kurento';
import { DEFAULT_MEDIA_CONFIG } from '@roundtable/media';
import { DEFAULT_DB_PATH, DEFAULT_HASH_QUEUE, DEFAULT_LOGIN_LIMITS, DEFAULT_MAX_DEVICES_PER_USER, DEFAULT_MAX_ROOMS_PER_USER, DEFAULT_RECORDING_LIMITS } from '@roundtable/signaling';
import type { z } from 'zod';
import {
  byteCountValue,
  countValue,
  httpTimeoutValue,
  hostValue,
  iceServersValue,
  ipAddressListValue,
  ipAddressValue,
  logLevelValue,
  originListValue,
  packetCoreValue,
  bitrateValue,
  pathValue,
  portRangeValue,
  portValue,
  postgresUrlValue,
  quotaBytesValue,
  redisUrlValue,
  httpUrlValue,
  ringTimeoutValue,
  roleValue,
  secretValue,
  switchValue,
  fastPathValue,
  udpPortValue,
  workerCountValue,
  wsUrlValue,
  type LogLevel,
  type Role,
} from './configValues.js';

export const DEFAULT_ROLE: Role = 'all';
export const DEFAULT_HOST = '0.0.0.0';
export const DEFAULT_PORT = 8080;
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const DEFAULT_KURENTO_HOST = '127.0.0.1';
export const DEFAULT_KURENTO_PORT = 8888;
export const DEFAULT_HTTP_POST_MAX_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_RING_TIMEOUT_MS = 60_000;
export const DEFAULT_METRICS_HOST = '127.0.0.1';
export const DEFAULT_METRICS_PORT = 9464;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_LOOPBACK_MAX_SESSIONS = 32;
export const DEFAULT_LOOPBACK_MAX_SESSIONS_PER_ADDRESS = 4;
export const DEFAULT_WS_RATE_PER_ADDRESS = 500;
export { DEFAULT_DB_PATH };

/** The groups of `--help`. */
export type SettingSection = 'general' | 'security' | 'tls' | 'engine' | 'remoteMedia' | 'kurento' | 'signaling' | 'limits';

/** The default of the maximum of open sockets per account (`limits.socketsPerUser`). */
export const DEFAULT_SOCKETS_PER_USER = 20;
const GIB = 1024 ** 3;

export const SECTION_TITLES: Readonly<Record<SettingSection, string>> = {
  general: 'General',
  security: 'Limits and exposure of the HTTP(S) server (docs/security.md)',
  tls: 'HTTPS and wss:// (PEM files)',
  engine: 'Media engine (roles all and media)',
  remoteMedia: 'Media server in another process (role signaling; role all may use one too)',
  kurento: 'Kurento Protocol endpoint (roles all and media)',
  signaling: 'Signaling server at /ws: accounts, IM, calls, rooms (roles all and signaling)',
  limits: 'Login limits, quotas and retention of the signaling server (docs/security.md)',
};

export interface SettingSpec {
  section: SettingSection;
  /** Environment variable. */
  env: string;
  /** Older variable names, read when `env` is unset. */
  envAliases?: readonly string[];
  /** Flag of `roundtable start`, without the leading `--`. */
  flag: string;
  /** Placeholder of the flag's value in `--help`. */
  arg: string;
  /** The default, as `--help` shows it. */
  default: string;
  /** One line for `--help`. */
  help: string;
  /** A file path: relative to the config file's folder when it comes from a config file. */
  isPath?: boolean;
  schema: z.ZodType;
}

const [MIN_MEDIA_PORT, MAX_MEDIA_PORT] = DEFAULT_MEDIA_CONFIG.portRange;

/** The settings by their key in a config file (`section.name` inside a section). */
export const SETTINGS = {
  role: {
    section: 'general',
    env: 'ROUNDTABLE_ROLE',
    flag: 'role',
    arg: 'ROLE',
    default: DEFAULT_ROLE,
    help: 'all: everything in one process; signaling: web pages and /ws, media from media.url or the media nodes in Redis; media: the media engine behind the Kurento Protocol, /healthz, /readyz (a media node in Redis with signaling.redisUrl)',
    schema: roleValue,
  },
  host: {
    section: 'general',
    env: 'ROUNDTABLE_HOST',
    flag: 'host',
    arg: 'ADDRESS',
    default: DEFAULT_HOST,
    help: 'address the HTTP(S) server binds to (web pages, /ws, /ws/loopback, /healthz, /readyz)',
    schema: hostValue,
  },
  port: {
    section: 'general',
    env: 'ROUNDTABLE_PORT',
    flag: 'port',
    arg: 'PORT',
    default: String(DEFAULT_PORT),
    help: 'TCP port of the HTTP(S) server; 0 picks a free one',
    schema: portValue,
  },
  logLevel: {
    section: 'general',
    env: 'ROUNDTABLE_LOG_LEVEL',
    envAliases: ['LOG_LEVEL'],
    flag: 'log-level',
    arg: 'LEVEL',
    default: DEFAULT_LOG_LEVEL,
    help: 'fatal, error, warn, info, debug, trace or silent (JSON lines on stdout)',
    schema: logLevelValue,
  },
  metrics: {
    section: 'general',
    env: 'ROUNDTABLE_METRICS',
    flag: 'metrics',
    arg: 'on|off',
    default: 'on',
    help: 'serve Prometheus metrics at http://METRICS_HOST:METRICS_PORT/metrics (a listener of their own, not the public port)',
    schema: switchValue,
  },
  metricsHost: {
    section: 'general',
    env: 'ROUNDTABLE_METRICS_HOST',
    flag: 'metrics-host',
    arg: 'ADDRESS',
    default: DEFAULT_METRICS_HOST,
    help: 'address the metrics listener binds to; beyond loopback it needs metricsToken',
    schema: hostValue,
  },
  metricsPort: {
    section: 'general',
    env: 'ROUNDTABLE_METRICS_PORT',
    flag: 'metrics-port',
    arg: 'PORT',
    default: String(DEFAULT_METRICS_PORT),
    help: 'TCP port of the metrics listener; 0 picks a free one',
    schema: portValue,
  },
  metricsToken: {
    section: 'general',
    env: 'ROUNDTABLE_METRICS_TOKEN',
    flag: 'metrics-token',
    arg: 'SECRET',
    default: 'none',
    help: 'bearer token a scrape must send (Authorization: Bearer SECRET; Prometheus: authorization.credentials)',
    schema: secretValue,
  },
  'http.allowedOrigins': {
    section: 'security',
    env: 'ROUNDTABLE_ALLOWED_ORIGINS',
    flag: 'allowed-origins',
    arg: 'ORIGIN,...',
    default: 'none (the server\'s own origin only)',
    help: 'other origins (https://app.example.com) whose pages may open /ws and /ws/loopback; * for any; clients without an Origin header (the Node SDK) are always allowed',
    schema: originListValue,
  },
  'http.headersTimeoutMs': {
    section: 'security',
    env: 'ROUNDTABLE_HEADERS_TIMEOUT_MS',
    flag: 'headers-timeout-ms',
    arg: 'MS',
    default: String(DEFAULT_HEADERS_TIMEOUT_MS),
    help: 'a client that has not sent its request headers within this is cut (1000-3600000)',
    schema: httpTimeoutValue,
  },
  'http.requestTimeoutMs': {
    section: 'security',
    env: 'ROUNDTABLE_REQUEST_TIMEOUT_MS',
    flag: 'request-timeout-ms',
    arg: 'MS',
    default: String(DEFAULT_REQUEST_TIMEOUT_MS),
    help: 'a request (headers and body) not complete within this is answered 408 and cut (1000-3600000)',
    schema: httpTimeoutValue,
  },
  'http.wsRatePerAddress': {
    section: 'security',
    env: 'ROUNDTABLE_WS_RATE_PER_ADDRESS',
    flag: 'ws-rate-per-address',
    arg: 'N',
    default: String(DEFAULT_WS_RATE_PER_ADDRESS),
    help: 'requests per second one remote address may send over all its /ws sockets (bursts of twice that); raise it behind a reverse proxy',
    schema: countValue('a number of requests a second', 1, 1_000_000),
  },
  'loopback.maxSessions': {
    section: 'security',
    env: 'ROUNDTABLE_LOOPBACK_MAX_SESSIONS',
    flag: 'loopback-max-sessions',
    arg: 'N',
    default: String(DEFAULT_LOOPBACK_MAX_SESSIONS),
    help: 'loopback test sessions (/ws/loopback, each a media pipeline, no sign-in needed) open at once',
    schema: countValue('a number of sessions', 1, 1_000_000),
  },
  'loopback.maxSessionsPerAddress': {
    section: 'security',
    env: 'ROUNDTABLE_LOOPBACK_MAX_SESSIONS_PER_ADDRESS',
    flag: 'loopback-max-sessions-per-address',
    arg: 'N',
    default: String(DEFAULT_LOOPBACK_MAX_SESSIONS_PER_ADDRESS),
    help: 'loopback test sessions one remote address may have open at once',
    schema: countValue('a number of sessions', 1, 1_000_000),
  },
  'tls.cert': {
    section: 'tls',
    env: 'ROUNDTABLE_TLS_CERT',
    flag: 'tls-cert',
    arg: 'FILE',
    default: 'none (plain HTTP)',
    help: 'PEM certificate (chain) file: serve HTTPS and wss:// instead of HTTP and ws://; needs tls.key',
    isPath: true,
    schema: pathValue,
  },
  'tls.key': {
    section: 'tls',
    env: 'ROUNDTABLE_TLS_KEY',
    flag: 'tls-key',
    arg: 'FILE',
    default: 'none',
    help: 'PEM private key file of tls.cert',
    isPath: true,
    schema: pathValue,
  },
  'media.portRange': {
    section: 'engine',
    env: 'ROUNDTABLE_PORT_RANGE',
    flag: 'port-range',
    arg: 'MIN-MAX',
    default: `${MIN_MEDIA_PORT}-${MAX_MEDIA_PORT}`,
    help: 'UDP ports for media (open them in the firewall)',
    schema: portRangeValue,
  },
  'media.udpPort': {
    section: 'engine',
    env: 'ROUNDTABLE_UDP_PORT',
    flag: 'udp-port',
    arg: 'PORT|off',
    default: 'the first port of media.portRange (40000)',
    help: 'one UDP port for the media of every peer (open it in the firewall); off: a port per peer from media.portRange (docs/performance.md)',
    schema: udpPortValue,
  },
  'media.iceAddresses': {
    section: 'engine',
    env: 'ROUNDTABLE_ICE_ADDRESSES',
    flag: 'ice-addresses',
    arg: 'IP,...',
    default: 'every non-internal IPv4 address',
    help: 'local addresses the media engine offers in ICE candidates',
    schema: ipAddressListValue,
  },
  'media.announcedAddress': {
    section: 'engine',
    env: 'ROUNDTABLE_ANNOUNCED_ADDRESS',
    flag: 'announced-address',
    arg: 'IP',
    default: 'none',
    help: 'public address announced in ICE candidates, for a server behind NAT',
    schema: ipAddressValue,
  },
  'media.fastPath': {
    section: 'engine',
    env: 'ROUNDTABLE_FAST_PATH',
    flag: 'fast-path',
    arg: 'on',
    default: 'on',
    help: "RTP/RTCP on Roundtable's own transport, the only path since the werift one was removed (off is refused; the setting stays for files and flags that name it)",
    schema: fastPathValue,
  },
  'media.packetCore': {
    section: 'engine',
    env: 'ROUNDTABLE_PACKET_CORE',
    flag: 'packet-core',
    arg: 'auto|native|typescript',
    default: 'auto',
    help: "packet path of the engine's own transport: native (the C++ packet core npm install builds), typescript (the reference path), auto (native when it is built; docs/performance.md)",
    schema: packetCoreValue,
  },
  'media.bweStartBitrate': {
    section: 'engine',
    env: 'ROUNDTABLE_BWE_START_BITRATE',
    flag: 'bwe-start-bitrate',
    arg: 'BPS',
    default: '600000',
    help: "downlink bandwidth estimate of each receiving transport before the receiver's first feedback, bits/s (docs/adaptation.md)",
    schema: bitrateValue,
  },
  'media.bweMinBitrate': {
    section: 'engine',
    env: 'ROUNDTABLE_BWE_MIN_BITRATE',
    flag: 'bwe-min-bitrate',
    arg: 'BPS',
    default: '50000',
    help: 'the downlink bandwidth estimate never goes below this, bits/s',
    schema: bitrateValue,
  },
  'media.bweMaxBitrate': {
    section: 'engine',
    env: 'ROUNDTABLE_BWE_MAX_BITRATE',
    flag: 'bwe-max-bitrate',
    arg: 'BPS',
    default: '10000000',
    help: 'the downlink bandwidth estimate never goes above this, bits/s',
    schema: bitrateValue,
  },
  'media.workers': {
    section: 'engine',
    env: 'ROUNDTABLE_MEDIA_WORKERS',
    flag: 'media-workers',
    arg: 'N',
    default: 'one per core',
    help: 'worker threads that carry the rooms of /ws calls (signaling and the Kurento Protocol stay on the main thread; a crashed worker ends only its rooms); 0: rooms in the main thread (docs/workers.md)',
    schema: workerCountValue,
  },
  'media.url': {
    section: 'remoteMedia',
    env: 'ROUNDTABLE_MEDIA_URL',
    flag: 'media-url',
    arg: 'URL',
    default: 'none',
    help: 'Kurento Protocol URL of a media-role process (or of a Kurento Media Server); role signaling needs it, or signaling.redisUrl (the media nodes registered there); with role all, calls use it instead of the engine in this process',
    schema: wsUrlValue,
  },
  'media.secret': {
    section: 'remoteMedia',
    env: 'ROUNDTABLE_MEDIA_SECRET',
    flag: 'media-secret',
    arg: 'SECRET',
    default: 'none',
    help: "shared secret of the media server at media.url, or of the media nodes (their kurento.secret)",
    schema: secretValue,
  },
  'kurento.enabled': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO',
    flag: 'kurento',
    arg: 'on|off',
    default: 'on',
    help: 'serve the Kurento Protocol for Kurento applications and signaling-role processes (always on for role media)',
    schema: switchValue,
  },
  'kurento.host': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_HOST',
    flag: 'kurento-host',
    arg: 'ADDRESS',
    default: DEFAULT_KURENTO_HOST,
    help: 'address the Kurento Protocol endpoint binds to; beyond loopback it needs kurento.secret',
    schema: hostValue,
  },
  'kurento.port': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_PORT',
    flag: 'kurento-port',
    arg: 'PORT',
    default: String(DEFAULT_KURENTO_PORT),
    help: 'TCP port of the Kurento Protocol endpoint (ws://HOST:PORT/kurento); 0 picks a free one',
    schema: portValue,
  },
  'kurento.secret': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_SECRET',
    flag: 'kurento-secret',
    arg: 'SECRET',
    default: 'none',
    help: 'shared secret clients send as ?access_token= (or Authorization: Bearer)',
    schema: secretValue,
  },
  'kurento.announcedAddress': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_ANNOUNCED_ADDRESS',
    flag: 'kurento-announced-address',
    arg: 'HOST',
    default: 'kurento.host; the first non-internal IPv4 address when that is 0.0.0.0',
    help: "host in the URLs of HttpPostEndpoints (getUrl), which the application's clients POST media to",
    schema: hostValue,
  },
  'kurento.httpPostMaxBytes': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_HTTP_POST_MAX_BYTES',
    flag: 'kurento-http-post-max-bytes',
    arg: 'BYTES',
    default: String(DEFAULT_HTTP_POST_MAX_BYTES),
    help: 'largest media file accepted by one POST to an HttpPostEndpoint (more is answered 413)',
    schema: byteCountValue,
  },
  'kurento.uploadSpool': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_UPLOAD_SPOOL',
    flag: 'kurento-upload-spool',
    arg: 'DIR',
    default: "'roundtable-recordings' in the system's temporary folder",
    help: 'folder where recordings to http(s):// URIs are written before their upload; a failed upload leaves its file there',
    isPath: true,
    schema: pathValue,
  },
  'kurento.maxObjects': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_MAX_OBJECTS',
    flag: 'kurento-max-objects',
    arg: 'COUNT',
    default: String(DEFAULT_KURENTO_LIMITS.maxObjects),
    help: 'media objects of all Kurento sessions together; create beyond it answers 40009 NOT_ENOUGH_RESOURCES',
    schema: countValue('a number of media objects', 1, 10_000_000),
  },
  'kurento.maxSessionObjects': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_MAX_SESSION_OBJECTS',
    flag: 'kurento-max-session-objects',
    arg: 'COUNT',
    default: String(DEFAULT_KURENTO_LIMITS.maxSessionObjects),
    help: 'media objects of one Kurento session (a signaling-role server holds all its calls in one); beyond it, 40009',
    schema: countValue('a number of media objects', 1, 10_000_000),
  },
  'kurento.maxFrameRequests': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_MAX_FRAME_REQUESTS',
    flag: 'kurento-max-frame-requests',
    arg: 'COUNT',
    default: String(DEFAULT_KURENTO_LIMITS.maxFrameRequests),
    help: 'requests run from one WebSocket frame, and operations of one transaction; the rest get 40009',
    schema: countValue('a number of requests', 1, 1_000_000),
  },
  'kurento.maxQueuedRequests': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_MAX_QUEUED_REQUESTS',
    flag: 'kurento-max-queued-requests',
    arg: 'COUNT',
    default: String(DEFAULT_KURENTO_LIMITS.maxQueuedRequests),
    help: 'requests of one connection waiting their turn; beyond it, each gets 40009',
    schema: countValue('a number of requests', 1, 1_000_000),
  },
  'kurento.maxUnreadBytes': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_MAX_UNREAD_BYTES',
    flag: 'kurento-max-unread-bytes',
    arg: 'BYTES',
    default: String(DEFAULT_KURENTO_LIMITS.maxUnreadBytes),
    help: 'replies and events a client may leave unread before its connection is cut (its session stays for reconnection)',
    schema: countValue('a number of bytes', 65_536, 1_073_741_824),
  },
  'kurento.maxFrameBytes': {
    section: 'kurento',
    env: 'ROUNDTABLE_KURENTO_MAX_FRAME_BYTES',
    flag: 'kurento-max-frame-bytes',
    arg: 'BYTES',
    default: String(DEFAULT_KURENTO_LIMITS.maxFrameBytes),
    help: 'size of one WebSocket frame from a client; a bigger one closes its connection (1009)',
    schema: countValue('a number of bytes', 65_536, 67_108_864),
  },
  'signaling.db': {
    section: 'signaling',
    env: 'ROUNDTABLE_DB',
    flag: 'db',
    arg: 'FILE',
    default: DEFAULT_DB_PATH,
    help: 'SQLite file of accounts, conversations and call records (its folder is created); not with signaling.dbUrl',
    isPath: true,
    schema: pathValue,
  },
  'signaling.dbUrl': {
    section: 'signaling',
    env: 'ROUNDTABLE_DB_URL',
    flag: 'db-url',
    arg: 'URL',
    default: 'none (the SQLite file signaling.db)',
    help: 'PostgreSQL database instead of the SQLite file (postgres://USER:PASSWORD@HOST:PORT/DATABASE): what several signaling nodes share; its schema is migrated at start (or by roundtable migrate)',
    schema: postgresUrlValue,
  },
  'signaling.redisUrl': {
    section: 'signaling',
    env: 'ROUNDTABLE_REDIS_URL',
    flag: 'redis-url',
    arg: 'URL',
    default: 'none',
    help: 'Redis shared by several signaling nodes behind a load balancer (redis://host:6379): devices, presence, calls, rooms and quotas over all nodes; media nodes (role media) register there with their load (docs/deployment.md); none: this process alone',
    schema: redisUrlValue,
  },
  'signaling.redisNodeTtlMs': {
    section: 'signaling',
    env: 'ROUNDTABLE_REDIS_NODE_TTL_MS',
    flag: 'redis-node-ttl-ms',
    arg: 'MS',
    default: '10000',
    help: 'with signaling.redisUrl: a node silent this long is missing, and after twice as long again it is gone: its clients offline, its calls and rooms taken over by another node (1000-600000; heartbeats every third of it)',
    schema: countValue('a number of milliseconds', 1000, 600_000),
  },
  'signaling.recordingsUploadUrl': {
    section: 'signaling',
    env: 'ROUNDTABLE_RECORDINGS_UPLOAD_URL',
    flag: 'recordings-upload-url',
    arg: 'URL',
    default: 'none',
    help: 'upload each finished recording to <URL><id>.webm (HTTP PUT, GET, DELETE: a WebDAV folder, an object store) and serve it from there on any signaling node; none: files stay in signaling.recordings',
    schema: httpUrlValue,
  },
  'signaling.recordingsUploadToken': {
    section: 'signaling',
    env: 'ROUNDTABLE_RECORDINGS_UPLOAD_TOKEN',
    flag: 'recordings-upload-token',
    arg: 'TOKEN',
    default: 'none',
    help: 'with signaling.recordingsUploadUrl: sent as Authorization: Bearer <TOKEN> with each upload, download and delete',
    schema: secretValue,
  },
  'signaling.recordings': {
    section: 'signaling',
    env: 'ROUNDTABLE_RECORDINGS',
    flag: 'recordings',
    arg: 'DIR',
    default: "'recordings' beside signaling.db",
    help: 'folder of call and room recordings (a split deployment needs it on the media host too, at the same path)',
    isPath: true,
    schema: pathValue,
  },
  'signaling.iceServers': {
    section: 'signaling',
    env: 'ROUNDTABLE_ICE_SERVERS',
    flag: 'ice-servers',
    arg: 'URL,...',
    default: 'none',
    help: 'STUN/TURN URLs handed to clients (stun:, stuns:, turn:, turns:)',
    schema: iceServersValue,
  },
  'signaling.turnSecret': {
    section: 'signaling',
    env: 'ROUNDTABLE_TURN_SECRET',
    flag: 'turn-secret',
    arg: 'SECRET',
    default: 'none',
    help: "coturn's static-auth-secret, for TURN REST credentials; required with a turn: URL",
    schema: secretValue,
  },
  'signaling.ringTimeoutMs': {
    section: 'signaling',
    env: 'ROUNDTABLE_RING_TIMEOUT_MS',
    flag: 'ring-timeout-ms',
    arg: 'MS',
    default: String(DEFAULT_RING_TIMEOUT_MS),
    help: 'how long an unanswered call rings (1000-600000)',
    schema: ringTimeoutValue,
  },
  'limits.loginFailuresPerAccount': {
    section: 'limits',
    env: 'ROUNDTABLE_LOGIN_FAILURES_PER_ACCOUNT',
    flag: 'login-failures-per-account',
    arg: 'N',
    default: String(DEFAULT_LOGIN_LIMITS.account.maxFailures),
    help: 'failed logins for one username before its logins wait (TOO_MANY_ATTEMPTS): 30 s, doubling to 15 min; one is forgiven per minute',
    schema: countValue('a number of failed logins', 1, 1_000_000),
  },
  'limits.loginFailuresPerAddress': {
    section: 'limits',
    env: 'ROUNDTABLE_LOGIN_FAILURES_PER_ADDRESS',
    flag: 'login-failures-per-address',
    arg: 'N',
    default: String(DEFAULT_LOGIN_LIMITS.address.maxFailures),
    help: 'failed logins from one client address before its logins wait (TOO_MANY_ATTEMPTS): 30 s, doubling to 15 min; one is forgiven per 20 s',
    schema: countValue('a number of failed logins', 1, 1_000_000),
  },
  'limits.registrationsPerHour': {
    section: 'limits',
    env: 'ROUNDTABLE_REGISTRATIONS_PER_HOUR',
    flag: 'registrations-per-hour',
    arg: 'N',
    default: String(DEFAULT_LOGIN_LIMITS.registrationsPerHour),
    help: 'new accounts per client address and hour (more: TOO_MANY_ATTEMPTS)',
    schema: countValue('a number of registrations', 1, 1_000_000),
  },
  'limits.passwordHashQueue': {
    section: 'limits',
    env: 'ROUNDTABLE_PASSWORD_HASH_QUEUE',
    flag: 'password-hash-queue',
    arg: 'N',
    default: String(DEFAULT_HASH_QUEUE.maxQueued),
    help: `logins and registrations waiting for a password hash (${DEFAULT_HASH_QUEUE.concurrency} run at once, ${DEFAULT_HASH_QUEUE.perSource} per address); more: OVERLOADED`,
    schema: countValue('a queue length', 0, 100_000),
  },
  'limits.roomsPerUser': {
    section: 'limits',
    env: 'ROUNDTABLE_ROOMS_PER_USER',
    flag: 'rooms-per-user',
    arg: 'N',
    default: String(DEFAULT_MAX_ROOMS_PER_USER),
    help: 'open rooms one user may be in at once (more: QUOTA_EXCEEDED)',
    schema: countValue('a number of rooms', 1, 10_000),
  },
  'limits.socketsPerUser': {
    section: 'limits',
    env: 'ROUNDTABLE_SOCKETS_PER_USER',
    flag: 'sockets-per-user',
    arg: 'N',
    default: String(DEFAULT_SOCKETS_PER_USER),
    help: 'signed-in /ws sockets one account may have open, over all its devices (more: QUOTA_EXCEEDED)',
    schema: countValue('a number of sockets', 1, 100_000),
  },
  'limits.devicesPerUser': {
    section: 'limits',
    env: 'ROUNDTABLE_DEVICES_PER_USER',
    flag: 'devices-per-user',
    arg: 'N',
    default: String(DEFAULT_MAX_DEVICES_PER_USER),
    help: 'device logins (unexpired tokens) one account may hold; one more login: QUOTA_EXCEEDED',
    schema: countValue('a number of devices', 1, 100_000),
  },
  'limits.recordingsPerUser': {
    section: 'limits',
    env: 'ROUNDTABLE_RECORDINGS_PER_USER',
    flag: 'recordings-per-user',
    arg: 'N',
    default: String(DEFAULT_RECORDING_LIMITS.maxActivePerUser),
    help: 'recordings one user may have running at once (more: QUOTA_EXCEEDED)',
    schema: countValue('a number of recordings', 1, 10_000),
  },
  'limits.recordings': {
    section: 'limits',
    env: 'ROUNDTABLE_RECORDINGS_MAX',
    flag: 'recordings-max',
    arg: 'N',
    default: String(DEFAULT_RECORDING_LIMITS.maxActive),
    help: 'recordings running at once on this server, each a few GStreamer/FFmpeg processes (more: QUOTA_EXCEEDED)',
    schema: countValue('a number of recordings', 1, 10_000),
  },
  'limits.recordingQuotaPerUser': {
    section: 'limits',
    env: 'ROUNDTABLE_RECORDING_QUOTA_PER_USER',
    flag: 'recording-quota-per-user',
    arg: 'SIZE',
    default: `${DEFAULT_RECORDING_LIMITS.diskQuotaPerUserBytes / GIB}G`,
    help: 'disk space of the recordings one user started (full: new ones are refused, a running one is stopped); 0: no limit',
    schema: quotaBytesValue,
  },
  'limits.recordingQuota': {
    section: 'limits',
    env: 'ROUNDTABLE_RECORDING_QUOTA',
    flag: 'recording-quota',
    arg: 'SIZE',
    default: `${DEFAULT_RECORDING_LIMITS.diskQuotaTotalBytes / GIB}G`,
    help: 'disk space of all recordings (full: new ones are refused, running ones are stopped); 0: no limit',
    schema: quotaBytesValue,
  },
  'limits.recordingRetentionDays': {
    section: 'limits',
    env: 'ROUNDTABLE_RECORDING_RETENTION_DAYS',
    flag: 'recording-retention-days',
    arg: 'DAYS',
    default: String(DEFAULT_RECORDING_LIMITS.retentionDays),
    help: 'delete recordings this many days after they ended (swept at start and hourly); 0: keep them until their owner deletes them',
    schema: countValue('a number of days', 0, 100_000),
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
export type SettingValue<K extends SettingKey> = z.output<(typeof SETTINGS)[K]['schema']>;
/** Settings by key, each validated and converted; absent when not given. */
export type SettingValues = { [K in SettingKey]?: SettingValue<K> };

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** The config file itself: a flag and a variable, never a key of the file. */
export const CONFIG_FILE_SETTING = { env: 'ROUNDTABLE_CONFIG', flag: 'config', arg: 'FILE' } as const;

/** How to set `key` from each source, for messages about a missing value. */
export function howToSet(key: SettingKey): string {
  const spec: SettingSpec = SETTINGS[key];
  return `set ${key} in the config file, ${spec.env} or --${spec.flag}`;
}
