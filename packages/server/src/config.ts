import { isIP } from 'node:net';
import type { MediaConfig } from '@roundtable/media';
import { ConfigError } from './errors.js';

/** The media settings the server passes through to every `MediaPipeline`. */
export type MediaOptions = Pick<Partial<MediaConfig>, 'iceAddresses' | 'portRange' | 'announcedAddress'>;

export interface ServerConfig {
  /** Address the HTTP server binds to. Default '0.0.0.0' (`ROUNDTABLE_HOST`). */
  host: string;
  /** HTTP port; 0 picks a free one. Default 8080 (`ROUNDTABLE_PORT`). */
  port: number;
  /**
   * Media settings. Each field is left out when its variable is unset, so the media
   * engine's own default applies (all non-internal IPv4 addresses, ports 40000-49999,
   * no announced address).
   */
  media: MediaOptions;
  /**
   * The Kurento Protocol endpoint for Kurento applications, or false when turned off
   * (`ROUNDTABLE_KURENTO=off`). Default: on, at ws://127.0.0.1:8888/kurento
   * (`ROUNDTABLE_KURENTO_HOST`, `ROUNDTABLE_KURENTO_PORT`), with a shared secret when
   * `ROUNDTABLE_KURENTO_SECRET` is set.
   */
  kurento: KurentoOptions | false;
  /** The signaling server (accounts, IM, calls, rooms) at `/ws`. */
  signaling: SignalingConfig;
}

export interface SignalingConfig {
  /** SQLite file (`ROUNDTABLE_DB`). Default '.roundtable/roundtable.db'. */
  dbPath: string;
  /** STUN/TURN URLs handed to clients (`ROUNDTABLE_ICE_SERVERS`, comma-separated). Default: none. */
  iceServers: string[];
  /** coturn's static-auth-secret (`ROUNDTABLE_TURN_SECRET`); needed with a turn: URL. */
  turnSecret?: string;
  /** Ring timeout in ms (`ROUNDTABLE_RING_TIMEOUT_MS`). Default 60000. */
  ringTimeoutMs: number;
  /**
   * A media server in another process, over the Kurento Protocol (`ROUNDTABLE_MEDIA_URL`,
   * with `ROUNDTABLE_MEDIA_SECRET`). Default: none, the media engine runs in this process.
   */
  mediaUrl?: string;
  mediaSecret?: string;
}

export interface KurentoOptions {
  host: string;
  port: number;
  secret?: string;
}

export const DEFAULT_KURENTO_HOST = '127.0.0.1';
export const DEFAULT_KURENTO_PORT = 8888;

export const DEFAULT_HOST = '0.0.0.0';
export const DEFAULT_PORT = 8080;
/** Media ports below this are refused: they belong to system services. */
const MIN_MEDIA_PORT = 1024;

/**
 * Reads the server configuration from environment variables. An empty or blank
 * variable counts as unset. Throws `ConfigError` naming the variable on a bad value.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): ServerConfig {
  const media: MediaOptions = {};
  const iceAddresses = read(env, 'ROUNDTABLE_ICE_ADDRESSES');
  if (iceAddresses !== undefined) media.iceAddresses = parseAddressList('ROUNDTABLE_ICE_ADDRESSES', iceAddresses);
  const portRange = read(env, 'ROUNDTABLE_PORT_RANGE');
  if (portRange !== undefined) media.portRange = parsePortRange('ROUNDTABLE_PORT_RANGE', portRange);
  const announced = read(env, 'ROUNDTABLE_ANNOUNCED_ADDRESS');
  if (announced !== undefined) media.announcedAddress = parseIpAddress('ROUNDTABLE_ANNOUNCED_ADDRESS', announced);

  const host = read(env, 'ROUNDTABLE_HOST');
  const port = read(env, 'ROUNDTABLE_PORT');
  return {
    host: host === undefined ? DEFAULT_HOST : parseHost('ROUNDTABLE_HOST', host),
    port: port === undefined ? DEFAULT_PORT : parsePort('ROUNDTABLE_PORT', port, 0),
    media,
    kurento: loadKurento(env),
    signaling: loadSignaling(env),
  };
}

function loadSignaling(env: Readonly<Record<string, string | undefined>>): SignalingConfig {
  const iceServers = (read(env, 'ROUNDTABLE_ICE_SERVERS') ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  for (const url of iceServers) {
    if (!/^(stun|stuns|turn|turns):[^\s]+$/.test(url)) throw new ConfigError('ROUNDTABLE_ICE_SERVERS', `'${url}' is not a stun:, stuns:, turn: or turns: URL`);
  }
  const turnSecret = read(env, 'ROUNDTABLE_TURN_SECRET');
  if (iceServers.some((u) => u.startsWith('turn')) && !turnSecret) {
    throw new ConfigError('ROUNDTABLE_TURN_SECRET', 'a TURN server is configured in ROUNDTABLE_ICE_SERVERS: its shared secret is needed');
  }
  const ring = read(env, 'ROUNDTABLE_RING_TIMEOUT_MS');
  if (ring !== undefined && (!/^\d+$/.test(ring) || Number(ring) < 1000 || Number(ring) > 600_000)) {
    throw new ConfigError('ROUNDTABLE_RING_TIMEOUT_MS', `'${ring}' is not a ring timeout (1000-600000 ms)`);
  }
  const mediaUrl = read(env, 'ROUNDTABLE_MEDIA_URL');
  if (mediaUrl !== undefined && !/^wss?:\/\/[^\s]+$/.test(mediaUrl)) {
    throw new ConfigError('ROUNDTABLE_MEDIA_URL', `'${mediaUrl}' is not a ws:// or wss:// URL`);
  }
  const mediaSecret = read(env, 'ROUNDTABLE_MEDIA_SECRET');
  return {
    dbPath: read(env, 'ROUNDTABLE_DB') ?? '.roundtable/roundtable.db',
    iceServers,
    ...(turnSecret === undefined ? {} : { turnSecret }),
    ringTimeoutMs: ring === undefined ? 60_000 : Number(ring),
    ...(mediaUrl === undefined ? {} : { mediaUrl }),
    ...(mediaSecret === undefined ? {} : { mediaSecret }),
  };
}

function loadKurento(env: Readonly<Record<string, string | undefined>>): KurentoOptions | false {
  const switch_ = read(env, 'ROUNDTABLE_KURENTO')?.toLowerCase();
  if (switch_ !== undefined && !['on', 'off', 'true', 'false', '1', '0'].includes(switch_)) {
    throw new ConfigError('ROUNDTABLE_KURENTO', `'${switch_}' is not on or off`);
  }
  if (switch_ === 'off' || switch_ === 'false' || switch_ === '0') return false;
  const host = read(env, 'ROUNDTABLE_KURENTO_HOST');
  const port = read(env, 'ROUNDTABLE_KURENTO_PORT');
  const secret = read(env, 'ROUNDTABLE_KURENTO_SECRET');
  return {
    host: host === undefined ? DEFAULT_KURENTO_HOST : parseHost('ROUNDTABLE_KURENTO_HOST', host),
    port: port === undefined ? DEFAULT_KURENTO_PORT : parsePort('ROUNDTABLE_KURENTO_PORT', port, 0),
    ...(secret === undefined ? {} : { secret }),
  };
}

function read(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function parsePort(variable: string, text: string, min: number): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new ConfigError(variable, `'${text}' is not a port number (expected an integer ${min}-65535)`);
  }
  const port = Number(text);
  if (port < min || port > 65535) {
    throw new ConfigError(variable, `port ${port} is out of range (expected ${min}-65535)`);
  }
  return port;
}

function parsePortRange(variable: string, text: string): [number, number] {
  const match = /^(\d+)\s*-\s*(\d+)$/.exec(text);
  if (!match) throw new ConfigError(variable, `'${text}' is not a port range (expected MIN-MAX, e.g. 40000-49999)`);
  const min = parsePort(variable, match[1] ?? '', MIN_MEDIA_PORT);
  const max = parsePort(variable, match[2] ?? '', MIN_MEDIA_PORT);
  // Each WebRTC endpoint takes at least two ports, so a range needs MIN < MAX.
  if (min >= max) throw new ConfigError(variable, `range ${min}-${max} needs MIN below MAX`);
  return [min, max];
}

function parseIpAddress(variable: string, text: string): string {
  if (isIP(text) === 0) throw new ConfigError(variable, `'${text}' is not an IPv4 or IPv6 address`);
  return text;
}

function parseAddressList(variable: string, text: string): string[] {
  const addresses = text.split(',').map((part) => part.trim());
  if (addresses.some((address) => address === '')) {
    throw new ConfigError(variable, `'${text}' has an empty entry (expected a comma-separated list of IP addresses)`);
  }
  return addresses.map((address) => parseIpAddress(variable, address));
}

// A hostname as RFC 1123 allows it, or an IP address.
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

function parseHost(variable: string, text: string): string {
  if (isIP(text) !== 0 || HOSTNAME.test(text)) return text;
  throw new ConfigError(variable, `'${text}' is neither an IP address nor a hostname`);
}
