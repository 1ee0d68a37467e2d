import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCert, type TestCertificate } from '@roundtable/media/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KURENTO_LIMITS } from '@roundtable/kurento';
import { loadConfig, type ConfigSources } from './config.js';
import { ConfigError } from './errors.js';
import { SETTINGS, SETTING_KEYS, type SettingSpec } from './settings.js';

const DEFAULTS = {
  role: 'all',
  host: '0.0.0.0',
  port: 8080,
  logLevel: 'info',
  metrics: true,
  metricsListen: { host: '127.0.0.1', port: 9464 },
  http: { allowedOrigins: [], headersTimeoutMs: 10000, requestTimeoutMs: 30000, wsRatePerAddress: 500 },
  loopback: { maxSessions: 32, maxSessionsPerAddress: 4 },
  media: {},
  kurento: { host: '127.0.0.1', port: 8888 },
  signaling: { dbPath: '.roundtable/roundtable.db', iceServers: [], ringTimeoutMs: 60000 },
};

let dir: string;
let cert: TestCertificate;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roundtable-config-'));
  cert = selfSignedCert(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(sources: ConfigSources): ConfigError {
  try {
    loadConfig(sources);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig() did not throw');
}

/** Writes a config file into the test folder; returns its path. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('loadConfig() from environment variables', () => {
  it('returns the defaults for an empty environment', () => {
    expect(loadConfig({ env: {} })).toEqual(DEFAULTS);
    expect(loadConfig({})).toEqual(DEFAULTS);
  });

  it('treats blank variables as unset', () => {
    expect(loadConfig({ env: { ROUNDTABLE_HOST: ' ', ROUNDTABLE_PORT: '', ROUNDTABLE_ICE_ADDRESSES: '' } })).toEqual(DEFAULTS);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      env: {
        ROUNDTABLE_HOST: '127.0.0.1',
        ROUNDTABLE_PORT: '9090',
        ROUNDTABLE_ICE_ADDRESSES: '127.0.0.1, 10.0.0.5',
        ROUNDTABLE_PORT_RANGE: '41000-41999',
        ROUNDTABLE_ANNOUNCED_ADDRESS: '198.51.100.7',
        ROUNDTABLE_LOG_LEVEL: 'debug',
      },
    });
    expect(config).toEqual({
      ...DEFAULTS,
      host: '127.0.0.1',
      port: 9090,
      logLevel: 'debug',
      media: { iceAddresses: ['127.0.0.1', '10.0.0.5'], portRange: [41000, 41999], announcedAddress: '198.51.100.7' },
    });
  });

  it('accepts a hostname, an IPv6 address and port 0', () => {
    expect(loadConfig({ env: { ROUNDTABLE_HOST: 'localhost' } }).host).toBe('localhost');
    expect(loadConfig({ env: { ROUNDTABLE_HOST: '::' } }).host).toBe('::');
    expect(loadConfig({ env: { ROUNDTABLE_PORT: '0' } }).port).toBe(0);
  });

  it('still reads LOG_LEVEL, below ROUNDTABLE_LOG_LEVEL', () => {
    expect(loadConfig({ env: { LOG_LEVEL: 'warn' } }).logLevel).toBe('warn');
    expect(loadConfig({ env: { LOG_LEVEL: 'warn', ROUNDTABLE_LOG_LEVEL: 'error' } }).logLevel).toBe('error');
  });

  it('moves the recordings folder on request', () => {
    expect(loadConfig({ env: { ROUNDTABLE_RECORDINGS: '/var/lib/roundtable/rec' } }).signaling.recordingsDir).toBe('/var/lib/roundtable/rec');
  });

  it('takes media.fastPath on (the only path left) from the environment, a flag or a file, and refuses off, naming the removed werift path', () => {
    expect(loadConfig({ env: { ROUNDTABLE_FAST_PATH: 'on' } }).media).toEqual(DEFAULTS.media);
    expect(loadConfig({ flags: { 'fast-path': 'on' } }).media).toEqual(DEFAULTS.media);
    expect(loadConfig({ flags: { config: file('fast.yaml', 'media:\n  fastPath: on\n') } }).media).toEqual(DEFAULTS.media);
    for (const sources of [{ env: { ROUNDTABLE_FAST_PATH: 'off' } }, { flags: { 'fast-path': 'off' } }, { flags: { config: file('slow.yaml', 'media:\n  fastPath: off\n') } }]) {
      const error = configError(sources);
      expect(error.problems.map((p) => p.setting)).toEqual(['media.fastPath']);
      expect(error.message).toMatch(/werift packet path was removed/);
    }
  });

  it('reads the single media UDP port or off from the environment, a flag or a file, and refuses a port below 1024', () => {
    expect(loadConfig({ env: { ROUNDTABLE_UDP_PORT: '3478' } }).media.udpPort).toBe(3478);
    expect(loadConfig({ env: { ROUNDTABLE_UDP_PORT: '3478' }, flags: { 'udp-port': 'off' } }).media.udpPort).toBe(false);
    expect(loadConfig({ flags: { config: file('udp.yaml', 'media:\n  udpPort: 40100\n') } }).media.udpPort).toBe(40100);
    expect(loadConfig({ flags: { config: file('udp-off.yaml', 'media:\n  udpPort: off\n') } }).media.udpPort).toBe(false);
    expect(loadConfig({ env: {} }).media.udpPort).toBeUndefined();
    for (const bad of ['80', '70000', 'maybe', '4000x']) {
      const error = configError({ env: { ROUNDTABLE_UDP_PORT: bad } });
      expect(error.setting).toBe('media.udpPort');
      expect(error.message).toMatch(/ROUNDTABLE_UDP_PORT: .*is not a UDP port \(1024-65535\) or off/);
    }
  });

  it('reads the packet core from the environment, a flag or a file; unset leaves it to the engine (ROUNDTABLE_PACKET_CORE, else auto); refuses other values', () => {
    expect(loadConfig({ env: { ROUNDTABLE_PACKET_CORE: 'typescript' } }).media.packetCore).toBe('typescript');
    expect(loadConfig({ env: { ROUNDTABLE_PACKET_CORE: 'typescript' }, flags: { 'packet-core': 'Native' } }).media.packetCore).toBe('native');
    expect(loadConfig({ flags: { config: file('core.yaml', 'media:\n  packetCore: auto\n') } }).media.packetCore).toBe('auto');
    expect(loadConfig({ env: {} }).media.packetCore).toBeUndefined();
    const error = configError({ env: { ROUNDTABLE_PACKET_CORE: 'rust' } });
    expect(error.setting).toBe('media.packetCore');
    expect(error.message).toMatch(/ROUNDTABLE_PACKET_CORE: .*is not a packet core \(expected auto, native, typescript\)/);
  });

  it('reads the downlink estimate\'s start and bounds from the environment, a flag or a file; unset leaves the engine\'s defaults; refuses a minimum above the maximum', () => {
    expect(loadConfig({ env: { ROUNDTABLE_BWE_START_BITRATE: '300000' } }).media.bandwidthEstimation).toEqual({ startBitrate: 300_000 });
    expect(loadConfig({ flags: { 'bwe-min-bitrate': '100000', 'bwe-max-bitrate': '4000000' } }).media.bandwidthEstimation).toEqual({ minBitrate: 100_000, maxBitrate: 4_000_000 });
    expect(loadConfig({ flags: { config: file('bwe.yaml', 'media:\n  bweMaxBitrate: 2000000\n') } }).media.bandwidthEstimation).toEqual({ maxBitrate: 2_000_000 });
    expect(loadConfig({ env: {} }).media.bandwidthEstimation).toBeUndefined();
    expect(configError({ env: { ROUNDTABLE_BWE_START_BITRATE: '5k' } }).setting).toBe('media.bweStartBitrate');
    expect(configError({ env: { ROUNDTABLE_BWE_MIN_BITRATE: '999' } }).setting).toBe('media.bweMinBitrate');
    const inverted = configError({ env: { ROUNDTABLE_BWE_MIN_BITRATE: '500000', ROUNDTABLE_BWE_MAX_BITRATE: '400000' } });
    expect(inverted.setting).toBe('media.bweMinBitrate');
    expect(inverted.message).toMatch(/above media.bweMaxBitrate/);
  });

  it('reads the number of media workers from the environment, a flag or a file; unset leaves the default (one per core)', () => {
    expect(loadConfig({ env: { ROUNDTABLE_MEDIA_WORKERS: '3' } }).mediaWorkers).toBe(3);
    expect(loadConfig({ env: { ROUNDTABLE_MEDIA_WORKERS: '3' }, flags: { 'media-workers': '0' } }).mediaWorkers).toBe(0);
    expect(loadConfig({ flags: { config: file('workers.yaml', 'media:\n  workers: 2\n') } }).mediaWorkers).toBe(2);
    expect(loadConfig({ env: {} }).mediaWorkers).toBeUndefined();
  });

  it.each([
    ['ROUNDTABLE_MEDIA_WORKERS', 'many', /not a number of media workers/],
    ['ROUNDTABLE_MEDIA_WORKERS', '-1', /not a number of media workers/],
    ['ROUNDTABLE_MEDIA_WORKERS', '1000', /not a number of media workers/],
    ['ROUNDTABLE_FAST_PATH', 'maybe', /on or off/],
    ['ROUNDTABLE_PORT', 'http', /not a port number/],
    ['ROUNDTABLE_PORT', '8080.5', /not a port number/],
    ['ROUNDTABLE_PORT', '-1', /not a port number/],
    ['ROUNDTABLE_PORT', '70000', /out of range/],
    ['ROUNDTABLE_HOST', 'not a host!', /neither an IP address nor a hostname/],
    ['ROUNDTABLE_ICE_ADDRESSES', '127.0.0.1,,10.0.0.1', /empty entry/],
    ['ROUNDTABLE_ICE_ADDRESSES', '127.0.0.1,eth0', /'eth0' is not an IPv4 or IPv6 address/],
    ['ROUNDTABLE_PORT_RANGE', '40000', /not a port range/],
    ['ROUNDTABLE_PORT_RANGE', '40000-', /not a port range/],
    ['ROUNDTABLE_PORT_RANGE', '49999-40000', /needs MIN below MAX/],
    ['ROUNDTABLE_PORT_RANGE', '40000-40000', /needs MIN below MAX/],
    ['ROUNDTABLE_PORT_RANGE', '80-90', /out of range/],
    ['ROUNDTABLE_PORT_RANGE', '40000-70000', /out of range/],
    ['ROUNDTABLE_ANNOUNCED_ADDRESS', 'example.com', /not an IPv4 or IPv6 address/],
    ['ROUNDTABLE_ROLE', 'edge', /'edge' is not a role \(expected all, signaling, media\)/],
    ['ROUNDTABLE_LOG_LEVEL', 'loud', /not a log level/],
  ])('rejects %s=%s with a ConfigError naming the variable', (variable, value, reason) => {
    const error = configError({ env: { [variable]: value } });

    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.where).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^${variable}: `));
    expect(error.message).toMatch(reason);
  });

  it('reads the Kurento Protocol settings, and turns the endpoint off on request', () => {
    expect(loadConfig({ env: { ROUNDTABLE_KURENTO_HOST: '0.0.0.0', ROUNDTABLE_KURENTO_PORT: '9999', ROUNDTABLE_KURENTO_SECRET: 'k' } }).kurento).toEqual({
      host: '0.0.0.0',
      port: 9999,
      secret: 'k',
    });
    expect(loadConfig({ env: { ROUNDTABLE_KURENTO: 'off' } }).kurento).toBe(false);
    expect(configError({ env: { ROUNDTABLE_KURENTO: 'maybe' } }).message).toMatch(/^ROUNDTABLE_KURENTO: /);
    expect(configError({ env: { ROUNDTABLE_KURENTO_PORT: '70000' } }).message).toMatch(/^ROUNDTABLE_KURENTO_PORT: /);
  });

  it('reads the HttpPostEndpoint URL settings: the announced host and the body cap', () => {
    expect(loadConfig({ env: { ROUNDTABLE_KURENTO_ANNOUNCED_ADDRESS: 'media.example.com' }, flags: { 'kurento-http-post-max-bytes': '1048576' } }).kurento).toEqual({
      host: '127.0.0.1',
      port: 8888,
      httpPost: { announcedAddress: 'media.example.com', maxBodyBytes: 1048576 },
    });
    expect(configError({ env: { ROUNDTABLE_KURENTO_HTTP_POST_MAX_BYTES: '1 GB' } }).message).toMatch(/^ROUNDTABLE_KURENTO_HTTP_POST_MAX_BYTES: '1 GB' is not a number of bytes/);
    expect(configError({ flags: { 'kurento-announced-address': 'not a host!' } }).message).toMatch(/^--kurento-announced-address: /);
  });

  it('reads the folder of recordings waiting for their upload', () => {
    expect(loadConfig({ env: { ROUNDTABLE_KURENTO_UPLOAD_SPOOL: '/var/spool/roundtable' } }).kurento).toEqual({ host: '127.0.0.1', port: 8888, recordingSpoolDir: '/var/spool/roundtable' });
  });

  it('reads the metrics listener, the HTTP limits and the loopback limits from each source', () => {
    const config = loadConfig({
      env: { ROUNDTABLE_METRICS_PORT: '9100', ROUNDTABLE_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173', ROUNDTABLE_LOOPBACK_MAX_SESSIONS: '8' },
      flags: { 'metrics-host': '10.0.0.5', 'metrics-token': 'scrape-me', 'headers-timeout-ms': '5000', 'request-timeout-ms': '20000', 'ws-rate-per-address': '1000', 'loopback-max-sessions-per-address': '1' },
    });
    expect(config.metricsListen).toEqual({ host: '10.0.0.5', port: 9100, token: 'scrape-me' });
    expect(config.http).toEqual({ allowedOrigins: ['https://app.example.com', 'http://localhost:5173'], headersTimeoutMs: 5000, requestTimeoutMs: 20000, wsRatePerAddress: 1000 });
    expect(config.loopback).toEqual({ maxSessions: 8, maxSessionsPerAddress: 1 });
  });

  it('refuses a metrics listener beyond loopback without a token, on the HTTP port, bad origins and a headers timeout over the request timeout', () => {
    expect(configError({ flags: { 'metrics-host': '0.0.0.0' } }).message).toMatch(/^metricsToken: the metrics listener binds 0\.0\.0\.0 \(--metrics-host\), beyond loopback: it needs a bearer token/);
    expect(loadConfig({ flags: { 'metrics-host': '0.0.0.0', metrics: 'off' } }).metrics).toBe(false);
    expect(configError({ flags: { 'metrics-port': '8080' } }).message).toMatch(/^--metrics-port: port 8080 is also the HTTP port/);
    expect(configError({ flags: { 'allowed-origins': 'https://app.example.com/path' } }).message).toMatch(/is not an origin/);
    expect(configError({ flags: { 'allowed-origins': 'app.example.com' } }).message).toMatch(/is not an origin/);
    expect(loadConfig({ flags: { 'allowed-origins': '*' } }).http.allowedOrigins).toEqual(['*']);
    expect(configError({ flags: { 'headers-timeout-ms': '40000' } }).message).toMatch(/^--headers-timeout-ms: 40000 ms is longer than http\.requestTimeoutMs \(30000 ms\)/);
    expect(configError({ flags: { 'loopback-max-sessions': '0' } }).message).toMatch(/^--loopback-max-sessions: '0' is not a number of sessions \(1-1000000\)/);
  });

  it('reads the Kurento limits from the environment, flags and the file, and refuses a value out of range', () => {
    const path = file('limits.yaml', 'kurento:\n  maxObjects: 300\n  maxUnreadBytes: 1048576\n  maxFrameBytes: 262144\n');
    const config = loadConfig({
      env: { ROUNDTABLE_KURENTO_MAX_SESSION_OBJECTS: '40', ROUNDTABLE_KURENTO_MAX_FRAME_REQUESTS: '50' },
      flags: { config: path, 'kurento-max-queued-requests': '60', 'kurento-max-frame-requests': '70' },
    });
    expect(config.kurento && config.kurento.limits).toEqual({ maxObjects: 300, maxSessionObjects: 40, maxFrameRequests: 70, maxQueuedRequests: 60, maxUnreadBytes: 1048576, maxFrameBytes: 262144 });
    expect(configError({ env: { ROUNDTABLE_KURENTO_MAX_OBJECTS: '0' } }).message).toMatch(/^ROUNDTABLE_KURENTO_MAX_OBJECTS: '0' is not a number of media objects/);
    expect(configError({ flags: { 'kurento-max-unread-bytes': 'lots' } }).message).toMatch(/^--kurento-max-unread-bytes: /);
  });

  it('turns the metrics off with ROUNDTABLE_METRICS or --metrics, and refuses a value that is not a switch', () => {
    expect(loadConfig({ env: { ROUNDTABLE_METRICS: 'off' } }).metrics).toBe(false);
    expect(loadConfig({ env: { ROUNDTABLE_METRICS: 'off' }, flags: { metrics: 'on' } }).metrics).toBe(true);
    expect(loadConfig({ flags: { metrics: 'no' } }).metrics).toBe(false);
    expect(configError({ flags: { metrics: 'sometimes' } }).message).toBe("--metrics: 'sometimes' is not on or off");
  });

  it('reads the signaling settings and refuses bad ones by name', () => {
    const config = loadConfig({
      env: {
        ROUNDTABLE_DB: '/var/lib/roundtable/db.sqlite',
        ROUNDTABLE_ICE_SERVERS: 'stun:stun.example.com:3478, turn:turn.example.com:3478?transport=udp',
        ROUNDTABLE_TURN_SECRET: 's',
        ROUNDTABLE_RING_TIMEOUT_MS: '30000',
        ROUNDTABLE_MEDIA_URL: 'ws://media.example.com:8888/kurento',
      },
    });
    expect(config.signaling).toEqual({
      dbPath: '/var/lib/roundtable/db.sqlite',
      iceServers: ['stun:stun.example.com:3478', 'turn:turn.example.com:3478?transport=udp'],
      turnSecret: 's',
      ringTimeoutMs: 30000,
      mediaUrl: 'ws://media.example.com:8888/kurento',
    });
    expect(configError({ env: { ROUNDTABLE_ICE_SERVERS: 'http://x' } }).message).toMatch(/^ROUNDTABLE_ICE_SERVERS: /);
    // A missing value is named by its key, with the ways to set it.
    expect(configError({ env: { ROUNDTABLE_ICE_SERVERS: 'turn:t:3478' } }).message).toMatch(
      /^signaling\.turnSecret: a TURN server is configured in signaling\.iceServers \(ROUNDTABLE_ICE_SERVERS\).*ROUNDTABLE_TURN_SECRET or --turn-secret/,
    );
    expect(configError({ env: { ROUNDTABLE_RING_TIMEOUT_MS: '5' } }).message).toMatch(/^ROUNDTABLE_RING_TIMEOUT_MS: /);
    expect(configError({ env: { ROUNDTABLE_MEDIA_URL: 'media-host' } }).message).toMatch(/^ROUNDTABLE_MEDIA_URL: /);
  });

  it('reads a PostgreSQL URL from ROUNDTABLE_DB_URL, --db-url or the file, refuses another scheme without quoting it, and refuses it beside signaling.db', () => {
    const url = 'postgres://roundtable:pw@db.internal:5432/roundtable?sslmode=require';
    expect(loadConfig({ env: { ROUNDTABLE_DB_URL: url } }).signaling).toEqual({ ...DEFAULTS.signaling, dbUrl: url });
    expect(loadConfig({ flags: { 'db-url': 'postgresql://db/rt' } }).signaling.dbUrl).toBe('postgresql://db/rt');
    expect(loadConfig({ flags: { config: file('pg.yaml', `signaling:\n  dbUrl: ${url}\n`) } }).signaling.dbUrl).toBe(url);

    expect(configError({ env: { ROUNDTABLE_DB_URL: 'mysql://root:hunter2@db/rt' } }).message).toBe(
      'ROUNDTABLE_DB_URL: not a postgres:// or postgresql:// URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)',
    );
    expect(configError({ env: { ROUNDTABLE_DB: 'x.db', ROUNDTABLE_DB_URL: url } }).message).toMatch(
      /^ROUNDTABLE_DB_URL: PostgreSQL is set here, and the SQLite file signaling\.db too \(ROUNDTABLE_DB\)/,
    );
  });

  it('reads the login limits, quotas and retention from the environment, flags or a file; unset ones are left to the defaults', () => {
    expect(loadConfig({ env: {} }).signaling.limits).toBeUndefined();
    const config = loadConfig({
      env: {
        ROUNDTABLE_LOGIN_FAILURES_PER_ACCOUNT: '5',
        ROUNDTABLE_LOGIN_FAILURES_PER_ADDRESS: '50',
        ROUNDTABLE_REGISTRATIONS_PER_HOUR: '10',
        ROUNDTABLE_PASSWORD_HASH_QUEUE: '32',
        ROUNDTABLE_ROOMS_PER_USER: '3',
        ROUNDTABLE_RECORDINGS_PER_USER: '1',
        ROUNDTABLE_RECORDING_QUOTA_PER_USER: '500M',
        ROUNDTABLE_RECORDING_RETENTION_DAYS: '90',
      },
      flags: { 'sockets-per-user': '8', 'recordings-max': '6', 'recording-quota': '0' },
    });
    expect(config.signaling.limits).toEqual({
      loginLimits: { account: { maxFailures: 5 }, address: { maxFailures: 50 }, registrationsPerHour: 10, hashing: { maxQueued: 32 } },
      maxRoomsPerUser: 3,
      maxSocketsPerUser: 8,
      recordingLimits: { maxActivePerUser: 1, maxActive: 6, diskQuotaPerUserBytes: 500 * 1024 ** 2, diskQuotaTotalBytes: 0, retentionDays: 90 },
    });
    const fromFile = loadConfig({ flags: { config: file('limits.yaml', 'limits:\n  roomsPerUser: 2\n  recordingQuota: 20G\n') } });
    expect(fromFile.signaling.limits).toEqual({ maxRoomsPerUser: 2, recordingLimits: { diskQuotaTotalBytes: 20 * 1024 ** 3 } });
    expect(configError({ env: { ROUNDTABLE_ROOMS_PER_USER: '0' } }).message).toBe("ROUNDTABLE_ROOMS_PER_USER: '0' is not a number of rooms (1-10000)");
    expect(configError({ flags: { 'recording-quota': '5 lots' } }).message).toMatch(/^--recording-quota: '5 lots' is not a size/);
  });

  it('lists every problem at once', () => {
    const error = configError({ env: { ROUNDTABLE_PORT: 'x', ROUNDTABLE_HOST: '!', ROUNDTABLE_ROLE: 'edge' } });

    expect(error.problems.map((p) => p.where).sort()).toEqual(['ROUNDTABLE_HOST', 'ROUNDTABLE_PORT', 'ROUNDTABLE_ROLE']);
    expect(error.message.split('\n')).toHaveLength(3);
  });
});

describe('loadConfig() from a config file and flags', () => {
  it('reads a YAML file: nested sections, lists and numbers, null as the default', () => {
    const path = file(
      'full.yaml',
      [
        'role: all',
        'host: 127.0.0.1',
        'port: 9000',
        'logLevel: warn',
        'media:',
        '  portRange: 41000-41999',
        '  iceAddresses: [127.0.0.1]',
        '  announcedAddress:',
        'kurento:',
        '  enabled: true',
        '  port: 9999',
        'signaling:',
        '  db: data/rt.db',
        '  iceServers:',
        '    - stun:stun.example.com:3478',
        '  ringTimeoutMs: 20000',
      ].join('\n'),
    );

    expect(loadConfig({ flags: { config: path } })).toEqual({
      ...DEFAULTS,
      host: '127.0.0.1',
      port: 9000,
      logLevel: 'warn',
      media: { portRange: [41000, 41999], iceAddresses: ['127.0.0.1'] },
      kurento: { host: '127.0.0.1', port: 9999 },
      // Relative paths in a file are relative to the file's folder.
      signaling: { dbPath: join(dir, 'data/rt.db'), iceServers: ['stun:stun.example.com:3478'], ringTimeoutMs: 20000 },
    });
  });

  it('reads a JSON file named by ROUNDTABLE_CONFIG, and a port range as [MIN, MAX]', () => {
    const path = file('config.json', JSON.stringify({ port: 7000, media: { portRange: [42000, 42999] }, kurento: { enabled: 'off' } }));

    const config = loadConfig({ env: { ROUNDTABLE_CONFIG: path } });

    expect(config).toMatchObject({ port: 7000, media: { portRange: [42000, 42999] }, kurento: false });
  });

  it('takes the file, then the environment, then the flags: each overrides the one before', () => {
    const path = file('layers.yaml', 'port: 1001\nhost: 127.0.0.1\nmedia:\n  portRange: 41000-41999\n');
    const env = { ROUNDTABLE_PORT: '1002', ROUNDTABLE_PORT_RANGE: '43000-43999' };

    const config = loadConfig({ env, flags: { config: path, port: '1003' } });

    expect(config.port).toBe(1003);
    expect(config.media.portRange).toEqual([43000, 43999]);
    expect(config.host).toBe('127.0.0.1');
  });

  it('--config wins over ROUNDTABLE_CONFIG, and is relative to cwd', () => {
    file('a.yaml', 'port: 1111\n');
    file('b.yaml', 'port: 2222\n');

    expect(loadConfig({ env: { ROUNDTABLE_CONFIG: join(dir, 'a.yaml') }, flags: { config: 'b.yaml' }, cwd: dir }).port).toBe(2222);
  });

  it.each([
    ['a bad value', 'media:\n  portRange: 49999-40000\n', /^media\.portRange in .*bad\.yaml: range 49999-40000 needs MIN below MAX$/],
    ['an unknown key', 'media:\n  portrange: 40000-49999\n', /bad\.yaml: unknown key 'media\.portrange' \(known here: portRange, /],
    ['an unknown section', 'medai:\n  portRange: 40000-49999\n', /bad\.yaml: unknown key 'medai' \(known here: role, host, port, logLevel, metrics, metricsHost, metricsPort, metricsToken, http, loopback, tls, media, kurento, signaling, limits\)/],
    ['a value of the wrong type', 'port: true\n', /^port in .*bad\.yaml: expected a port number/],
    ['a number for a secret', 'kurento:\n  secret: 1234\n', /^kurento\.secret in .*bad\.yaml: expected a string/],
    ['a section that is not one', 'tls: yes\n', /^tls in .*bad\.yaml: expected a section with the keys cert, key/],
    ['a list at the top', '- port\n', /bad\.yaml: expected a mapping of settings/],
    ['broken YAML', 'port: [8080\n', /bad\.yaml: not valid YAML: /],
  ])('refuses a file with %s, naming the file and the key', (_what, text, reason) => {
    const path = file('bad.yaml', text);

    expect(configError({ flags: { config: path } }).message).toMatch(reason);
  });

  it('refuses broken JSON and a config file it cannot read', () => {
    const json = file('bad.json', '{"port": 80,}');

    expect(configError({ flags: { config: json } }).message).toMatch(/bad\.json: not valid JSON: /);
    expect(configError({ flags: { config: join(dir, 'missing.yaml') } }).message).toMatch(/^--config: cannot read the config file '.*missing\.yaml': ENOENT/);
    expect(configError({ env: { ROUNDTABLE_CONFIG: join(dir, 'missing.yaml') } }).message).toMatch(/^ROUNDTABLE_CONFIG: cannot read/);
  });

  it('names the flag of a bad flag value', () => {
    const error = configError({ flags: { port: '99999', 'port-range': '2-1' } });

    expect(error.problems.map((p) => `${p.setting} ${p.where}`)).toEqual(['port --port', 'media.portRange --port-range']);
  });
});

describe('loadConfig() roles', () => {
  it('the signaling role needs media.url, and serves no Kurento Protocol', () => {
    expect(configError({ flags: { role: 'signaling' } }).message).toMatch(/^media\.url: the signaling role needs a media server.*ROUNDTABLE_MEDIA_URL or --media-url/);

    const config = loadConfig({ flags: { role: 'signaling', 'media-url': 'ws://10.0.0.2:8888/kurento', 'media-secret': 's' } });

    expect(config).toMatchObject({ role: 'signaling', kurento: false, signaling: { mediaUrl: 'ws://10.0.0.2:8888/kurento', mediaSecret: 's' } });
  });

  it('signaling nodes on Redis: --redis-url and the node TTL reach the signaling config; a URL that is not redis:// is refused without showing its password', () => {
    const config = loadConfig({ env: { ROUNDTABLE_REDIS_URL: 'redis://:s3cret@redis.internal:6379/2' }, flags: { role: 'signaling', 'media-url': 'ws://10.0.0.2:8888/kurento', 'redis-node-ttl-ms': '3000' } });

    expect(config).toMatchObject({ signaling: { redisUrl: 'redis://:s3cret@redis.internal:6379/2', redisNodeTtlMs: 3000 } });
    const error = configError({ flags: { 'redis-url': 'http://user:s3cret@redis.internal:6379' } });
    expect(error.message).toMatch(/^--redis-url: .*is not a redis:\/\/ or rediss:\/\/ URL/);
    expect(error.message).not.toContain('s3cret');
    expect(configError({ flags: { 'redis-node-ttl-ms': '10' } }).problems.map((p) => p.setting)).toEqual(['signaling.redisNodeTtlMs']);
  });

  it('the media role cannot turn the Kurento Protocol off', () => {
    expect(configError({ env: { ROUNDTABLE_KURENTO: 'off' }, flags: { role: 'media' } }).message).toMatch(/^ROUNDTABLE_KURENTO: the media role .* cannot be turned off/);
  });

  it.each(['media', 'all'])('role %s refuses a Kurento endpoint beyond loopback without a secret', (role) => {
    const error = configError({ flags: { role, 'kurento-host': '0.0.0.0' } });

    expect(error.setting).toBe('kurento.secret');
    expect(error.message).toMatch(/^kurento\.secret: the Kurento Protocol endpoint binds 0\.0\.0\.0 \(--kurento-host\), beyond loopback: it needs a shared secret/);
    expect(loadConfig({ flags: { role, 'kurento-host': '0.0.0.0', 'kurento-secret': 'k' } }).kurento).toEqual({ host: '0.0.0.0', port: 8888, secret: 'k' });
  });

  it('refuses the Kurento endpoint on the HTTP port', () => {
    expect(configError({ flags: { port: '8888' } }).message).toMatch(/^kurento\.port: port 8888 is also the HTTP port \(--port\)/);
    expect(loadConfig({ flags: { port: '8888', 'kurento-port': '0' } }).port).toBe(8888);
  });
});

describe('loadConfig() TLS', () => {
  it('reads the certificate and key files', () => {
    const config = loadConfig({ env: { ROUNDTABLE_TLS_CERT: cert.certFile, ROUNDTABLE_TLS_KEY: cert.keyFile } });

    expect(config.tls).toEqual({ certFile: cert.certFile, keyFile: cert.keyFile, cert: Buffer.from(cert.cert), key: Buffer.from(cert.key) });
  });

  it('needs both files', () => {
    expect(configError({ flags: { 'tls-cert': cert.certFile } }).message).toMatch(/^tls\.key: tls\.cert is set \(--tls-cert\) but no private key/);
    expect(configError({ flags: { 'tls-key': cert.keyFile } }).message).toMatch(/^tls\.cert: tls\.key is set \(--tls-key\) but no certificate/);
  });

  it('refuses an unreadable file, a file without PEM, and a key of another certificate', () => {
    const other = selfSignedCert(dir, 'other');
    const notPem = file('not.pem', 'hello');

    expect(configError({ flags: { 'tls-cert': join(dir, 'nope.pem'), 'tls-key': cert.keyFile } }).message).toMatch(/^--tls-cert: cannot read the certificate file '.*nope\.pem': ENOENT/);
    expect(configError({ flags: { 'tls-cert': cert.certFile, 'tls-key': notPem } }).message).toMatch(/^--tls-key: '.*not\.pem' holds no PEM private key/);
    expect(configError({ flags: { 'tls-cert': cert.keyFile, 'tls-key': cert.keyFile } }).message).toMatch(/^--tls-cert: .* holds no PEM certificate/);
    expect(configError({ flags: { 'tls-cert': cert.certFile, 'tls-key': other.keyFile } }).message).toMatch(/^--tls-cert: the certificate .* cannot be used together: .*key values mismatch/);
  });

  it('reads certificate paths in a file relative to the file', () => {
    const path = file('tls.yaml', `tls:\n  cert: ${cert.certFile.slice(dir.length + 1)}\n  key: ${cert.keyFile.slice(dir.length + 1)}\n`);

    expect(loadConfig({ flags: { config: path } }).tls?.certFile).toBe(cert.certFile);
  });
});

describe('docs/configuration.md', () => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  const block = (lang: string) => new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc)?.[1] ?? '';

  it('the annotated YAML file loads, and sets the defaults but for its TURN example', () => {
    const config = loadConfig({ flags: { config: file('doc.yaml', block('yaml')) } });

    expect(config).toEqual({
      ...DEFAULTS,
      media: { portRange: [40000, 49999], packetCore: 'auto' },
      kurento: { ...DEFAULTS.kurento, limits: DEFAULT_KURENTO_LIMITS },
      signaling: { ...DEFAULTS.signaling, iceServers: ['stun:stun.example.com:3478', 'turn:turn.example.com:3478?transport=udp'], turnSecret: 'change-me' },
    });
  });

  it('the JSON example has only known keys and good values (its certificate files are not here)', () => {
    const error = configError({ flags: { config: file('doc.json', block('json')) } });

    expect(error.problems.map((p) => p.setting)).toEqual(['tls.cert', 'tls.key']);
    expect(error.message).toMatch(/cannot read the certificate file/);
  });

  it('the table lists every setting with its variable and flag', () => {
    for (const key of SETTING_KEYS) {
      const spec: SettingSpec = SETTINGS[key];
      expect(doc).toContain(`| \`${key}\` | \`${spec.env}\``);
      expect(doc).toContain(`\`--${spec.flag}\``);
    }
  });
});

describe('deploy/roundtable.env.example', () => {
  it('loads as an environment: the defaults, but for the database in the state directory', () => {
    const text = readFileSync(new URL('../../../deploy/roundtable.env.example', import.meta.url), 'utf8');
    const env: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line);
      if (match) env[match[1]!] = match[2]!;
    }

    expect(Object.keys(env).filter((name) => !SETTING_KEYS.some((key) => SETTINGS[key].env === name))).toEqual([]);
    expect(loadConfig({ env })).toEqual({ ...DEFAULTS, media: { portRange: [40000, 49999] }, signaling: { ...DEFAULTS.signaling, dbPath: '/var/lib/roundtable/roundtable.db' } });
  });
});
