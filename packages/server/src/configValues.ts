/**
 * The value types of the configuration: one zod schema per kind of value. Each takes a
 * string (environment variables and flags are strings) and, where a config file has a
 * more natural form, that form too (a number, a list, a boolean). Messages quote the
 * value and say what would be right; the caller prefixes where the value came from.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export const ROLES = ['all', 'signaling', 'media'] as const;
/**
 * What one process runs: `all` the whole system (the embedded default), `signaling` the
 * web server and signaling with media on a media-role process, `media` the media engine
 * behind the Kurento Protocol.
 */
export type Role = (typeof ROLES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

/** Media ports below this are refused: they belong to system services. */
const MIN_MEDIA_PORT = 1024;

/** A value parser's verdict on a bad value; becomes the zod issue's message. */
class InvalidValue extends Error {}

/** `input` checks the type; `parse` checks and converts the value, throwing `InvalidValue`. */
function parsedBy<T extends z.ZodType, O>(input: T, parse: (value: z.output<T>) => O) {
  return input.transform((value, ctx) => {
    try {
      return parse(value);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      ctx.addIssue(error.message);
      return z.NEVER;
    }
  });
}

function quoted(text: string): string {
  return `'${text.length > 80 ? `${text.slice(0, 80)}...` : text}'`;
}

function oneOf<T extends string>(choices: readonly T[], text: string, what: string): T {
  const found = choices.find((choice) => choice === text);
  if (found === undefined) throw new InvalidValue(`${quoted(text)} is not ${what} (expected ${choices.join(', ')})`);
  return found;
}

function parsePort(text: string, min: number): number {
  if (!/^\d{1,5}$/.test(text)) throw new InvalidValue(`${quoted(text)} is not a port number (expected an integer ${min}-65535)`);
  const port = Number(text);
  if (port < min || port > 65535) throw new InvalidValue(`port ${port} is out of range (expected ${min}-65535)`);
  return port;
}

function portRange(minText: string, maxText: string): [number, number] {
  const min = parsePort(minText, MIN_MEDIA_PORT);
  const max = parsePort(maxText, MIN_MEDIA_PORT);
  // Each WebRTC endpoint takes at least two ports, so a range needs MIN < MAX.
  if (min >= max) throw new InvalidValue(`range ${min}-${max} needs MIN below MAX`);
  return [min, max];
}

function parsePortRange(text: string): [number, number] {
  const match = /^(\d+)\s*-\s*(\d+)$/.exec(text);
  if (!match) throw new InvalidValue(`${quoted(text)} is not a port range (expected MIN-MAX, e.g. 40000-49999)`);
  return portRange(match[1] ?? '', match[2] ?? '');
}

function parseIpAddress(text: string): string {
  if (isIP(text) === 0) throw new InvalidValue(`${quoted(text)} is not an IPv4 or IPv6 address`);
  return text;
}

// A hostname as RFC 1123 allows it, or an IP address.
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

function parseHost(text: string): string {
  if (isIP(text) !== 0 || HOSTNAME.test(text)) return text;
  throw new InvalidValue(`${quoted(text)} is neither an IP address nor a hostname`);
}

/** A list from a file (an array) or from a string (comma-separated); blank entries are refused. */
function listOf(value: string | string[], what: string): string[] {
  const entries = typeof value === 'string' ? value.split(',').map((part) => part.trim()) : value.map((part) => part.trim());
  if (entries.some((entry) => entry === '')) {
    throw new InvalidValue(`${quoted(typeof value === 'string' ? value : value.join(','))} has an empty entry (expected a comma-separated list of ${what})`);
  }
  return entries;
}

const SWITCH_ON = ['on', 'true', 'yes', '1'];
const SWITCH_OFF = ['off', 'false', 'no', '0'];

function parseSwitch(text: string): boolean {
  const word = text.trim().toLowerCase();
  if (SWITCH_ON.includes(word)) return true;
  if (SWITCH_OFF.includes(word)) return false;
  throw new InvalidValue(`${quoted(text)} is not on or off`);
}

const ICE_URL = /^(stun|stuns|turn|turns):[^\s]+$/;
const MIN_RING_TIMEOUT_MS = 1000;
const MAX_RING_TIMEOUT_MS = 600_000;

function parseRingTimeout(text: string): number {
  const ms = Number(text);
  if (!/^\d+$/.test(text) || ms < MIN_RING_TIMEOUT_MS || ms > MAX_RING_TIMEOUT_MS) {
    throw new InvalidValue(`${quoted(text)} is not a ring timeout (${MIN_RING_TIMEOUT_MS}-${MAX_RING_TIMEOUT_MS} ms)`);
  }
  return ms;
}

function parseWsUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'ws:' && url.protocol !== 'wss:') || /\s/.test(text)) {
    throw new InvalidValue(`${quoted(text)} is not a ws:// or wss:// URL`);
  }
  return text;
}

/** The value itself is never quoted back: it may hold a password. */
function parsePostgresUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || /\s/.test(text)) {
    throw new InvalidValue('not a postgres:// or postgresql:// URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
  }
  return text;
}

function parseRedisUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || /\s/.test(text) || url.hostname === '') {
    throw new InvalidValue(`${quoted(redactPassword(text))} is not a redis:// or rediss:// URL`);
  }
  return text;
}

/** A URL as it may be shown: its password replaced by ***. */
export function redactPassword(text: string): string {
  return text.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function nonEmpty(text: string, what: string): string {
  if (text.trim() === '') throw new InvalidValue(`${what} must not be empty`);
  return text;
}

const numberOrString = (expected: string) => z.union([z.number(), z.string()], { error: `expected ${expected}` });
const listInput = (expected: string) => z.union([z.array(z.string()), z.string()], { error: `expected ${expected}: a list, or a comma-separated string` });

/** A TCP port; 0 picks a free one. */
export const portValue = parsedBy(numberOrString('a port number (0-65535)'), (value) => parsePort(String(value).trim(), 0));

/** A UDP port range for media: 'MIN-MAX' or [MIN, MAX], 1024 <= MIN < MAX <= 65535. */
export const portRangeValue = parsedBy(
  z.union([z.string(), z.tuple([z.number(), z.number()])], { error: "expected a port range: 'MIN-MAX' or [MIN, MAX]" }),
  (value) => (typeof value === 'string' ? parsePortRange(value.trim()) : portRange(String(value[0]), String(value[1]))),
);

/** An address to bind: an IP address or a hostname. */
export const hostValue = parsedBy(z.string({ error: 'expected an IP address or a hostname' }), (value) => parseHost(value.trim()));

/** One IPv4 or IPv6 address. */
export const ipAddressValue = parsedBy(z.string({ error: 'expected an IPv4 or IPv6 address' }), (value) => parseIpAddress(value.trim()));

/** IP addresses; an empty list means none given. */
export const ipAddressListValue = parsedBy(listInput('IP addresses'), (value) => listOf(value, 'IP addresses').map(parseIpAddress));

/** STUN/TURN URLs. */
export const iceServersValue = parsedBy(listInput('stun:/turn: URLs'), (value) =>
  listOf(value, 'stun:/turn: URLs').map((url) => {
    if (!ICE_URL.test(url)) throw new InvalidValue(`${quoted(url)} is not a stun:, stuns:, turn: or turns: URL`);
    return url;
  }),
);

/** A ws:// or wss:// URL. */
export const wsUrlValue = parsedBy(z.string({ error: 'expected a ws:// or wss:// URL' }), (value) => parseWsUrl(value.trim()));

/** A PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://), with libpq-style parameters. */
export const postgresUrlValue = parsedBy(z.string({ error: 'expected a postgres:// URL' }), (value) => parsePostgresUrl(value.trim()));
/** The URL of the cluster's Redis (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS). */
export const redisUrlValue = parsedBy(z.string({ error: 'expected a redis:// or rediss:// URL' }), (value) => parseRedisUrl(value.trim()));

/** An http:// or https:// URL (a recordings upload folder). */
export const httpUrlValue = parsedBy(z.string({ error: 'expected an http:// or https:// URL' }), (value) => {
  const text = value.trim();
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || /\s/.test(text)) throw new InvalidValue(`${quoted(text)} is not an http:// or https:// URL`);
  return text;
});

/** A shared secret; kept as written. */
export const secretValue = parsedBy(z.string({ error: 'expected a string (quote it in YAML if it looks like a number)' }), (value) => nonEmpty(value, 'a secret'));

/** A file path; relative paths in a config file are relative to that file's folder. */
export const pathValue = parsedBy(z.string({ error: 'expected a file path' }), (value) => nonEmpty(value, 'a path').trim());

/** The media engine's single UDP port: a port 1024-65535, or off (false) for the port range. */
export const udpPortValue = parsedBy(z.union([z.number(), z.boolean(), z.string()], { error: 'expected a UDP port (1024-65535) or off' }), (value) => {
  if (value === false || (typeof value === 'string' && SWITCH_OFF.includes(value.trim().toLowerCase()))) return false;
  const text = String(value).trim();
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1024 || port > 65535) throw new InvalidValue(`${quoted(text)} is not a UDP port (1024-65535) or off`);
  return port;
});

/** on/off (also true/false, yes/no, 1/0, or a YAML/JSON boolean). */
export const switchValue = parsedBy(z.union([z.boolean(), z.string()], { error: 'expected on or off' }), (value) => (typeof value === 'boolean' ? value : parseSwitch(value)));

/**
 * media.fastPath: `on` is what every server does since the werift packet path, which
 * `off` chose, was removed (issue #18, 2026-12-08). Files and flags that name the setting
 * still load; `off` is refused rather than ignored.
 */
export const fastPathValue = parsedBy(z.union([z.boolean(), z.string()], { error: 'expected on' }), (value) => {
  if (typeof value === 'boolean' ? value : parseSwitch(value)) return true as const;
  throw new InvalidValue("off is no longer possible: the werift packet path was removed (issue #18), every endpoint forwards on Roundtable's own transport; leave media.fastPath out or set it on");
});

export const roleValue = parsedBy(z.string({ error: `expected a role (${ROLES.join(', ')})` }), (value) => oneOf(ROLES, value.trim(), 'a role'));

export const PACKET_CORES = ['auto', 'native', 'typescript'] as const;

export const packetCoreValue = parsedBy(z.string({ error: `expected a packet core (${PACKET_CORES.join(', ')})` }), (value) => oneOf(PACKET_CORES, value.trim().toLowerCase(), 'a packet core'));

export const logLevelValue = parsedBy(z.string({ error: `expected a log level (${LOG_LEVELS.join(', ')})` }), (value) => oneOf(LOG_LEVELS, value.trim().toLowerCase(), 'a log level'));

const MAX_MEDIA_WORKERS = 256;

function parseWorkerCount(text: string): number {
  if (!/^\d{1,3}$/.test(text) || Number(text) > MAX_MEDIA_WORKERS) {
    throw new InvalidValue(`${quoted(text)} is not a number of media workers (0-${MAX_MEDIA_WORKERS}; 0: rooms in the main thread)`);
  }
  return Number(text);
}

/** A number of media worker threads, 0-256 (0: rooms run in the main thread). */
export const workerCountValue = parsedBy(numberOrString('a number of media workers'), (value) => parseWorkerCount(String(value).trim()));

function parseByteCount(text: string): number {
  const bytes = Number(text);
  if (!/^\d+$/.test(text) || bytes < 1024 || !Number.isSafeInteger(bytes)) throw new InvalidValue(`${quoted(text)} is not a number of bytes (an integer, at least 1024)`);
  return bytes;
}

/** A size in bytes (an integer, at least 1024). */
export const byteCountValue = parsedBy(numberOrString('a number of bytes'), (value) => parseByteCount(String(value).trim()));

/** How long a call rings, in ms (1000-600000). */
export const ringTimeoutValue = parsedBy(numberOrString('a number of milliseconds'), (value) => parseRingTimeout(String(value).trim()));

function parseOrigin(text: string): string {
  if (text === '*') return text;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  const bare = url !== undefined && url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && !/\/\/.*\/./.test(text);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !bare) {
    throw new InvalidValue(`${quoted(text)} is not an origin (expected scheme://host[:port], e.g. https://app.example.com, or *)`);
  }
  return url.origin;
}

/** Origins (`https://app.example.com`) whose pages may open WebSockets, or `*`. */
export const originListValue = parsedBy(listInput('origins'), (value) => listOf(value, 'origins').map((item) => parseOrigin(item)));

function parseCount(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d{1,9}$/.test(text) || n < min || n > max) throw new InvalidValue(`${quoted(text)} is not ${what} (${min}-${max})`);
  return n;
}

/** A whole number from `min` to `max`; `what` names it in messages ("a number of rooms"). */
export function countValue(what: string, min: number, max: number) {
  return parsedBy(numberOrString(what), (value) => parseCount(String(value).trim(), what, min, max));
}

/** A bitrate in bits/s (10000-1000000000): the bandwidth estimate's settings. */
export const bitrateValue = countValue('a bitrate in bits/s', 10_000, 1_000_000_000);

/** An HTTP timeout in ms (1000-3600000). */
export const httpTimeoutValue = countValue('a number of milliseconds', 1000, 3_600_000);

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

function parseQuotaBytes(text: string): number {
  const match = /^(\d+)\s*([kmgt]?)(?:i?b)?$/i.exec(text);
  const bytes = match ? Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(bytes)) throw new InvalidValue(`${quoted(text)} is not a size (bytes, or with K, M, G or T: 500M, 5G; 0: no limit)`);
  return bytes;
}

/** A disk quota: bytes, or a number with K, M, G or T (powers of 1024: '5G'); 0: no limit. */
export const quotaBytesValue = parsedBy(numberOrString('a size (bytes, or 500M, 5G; 0: no limit)'), (value) => parseQuotaBytes(String(value).trim()));
