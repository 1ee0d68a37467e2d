/**
 * The servers the bench measures: Roundtable (the real `roundtable start`, or the same
 * command from another git revision), Janus's VideoRoom (default threading, or
 * `event_loops = 2`), and the floor (a bare UDP relay). Each runs as its own process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TargetEndpoint } from './ipc.js';
import { JANUS_FIRST_ROOM } from './participants/JanusParticipant.js';
import { ServerProcess } from './ServerProcess.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BENCH_SRC = fileURLToPath(new URL('./', import.meta.url));
export const JANUS_BIN = '/usr/bin/janus';
export const JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus';

export type TargetFamily = 'roundtable' | 'janus' | 'floor';

export interface ServerMetrics {
  connections: number;
  rooms: number;
  loopDelayP99Ms: number;
}

export interface Target {
  /** Unique in a run, e.g. 'roundtable', 'roundtable@ba56623', 'janus', 'janus-el2', 'floor'. */
  readonly name: string;
  readonly family: TargetFamily;
  readonly description: string;
  /** Janus: participants subscribe once every publisher of the room published. */
  readonly subscribePhase: boolean;
  readonly pid: number;
  readonly logFile: string;
  start(): Promise<TargetEndpoint>;
  /** Throws when the server process has gone. */
  check(): void;
  /**
   * Roundtable: from its /metrics, the server's WebRTC connections (ICE agents on its
   * media sockets), its open rooms, and the p99 event-loop delay of its main thread since
   * the previous read (prom-client resets it at each scrape); a figure it does not give
   * (an older revision) is NaN.
   */
  serverMetrics?(): Promise<ServerMetrics>;
  stop(): Promise<void>;
}

export interface TargetContext {
  /** Folder for the target's files (config, database, log). */
  dir: string;
  /** Address every server binds to. */
  host: string;
  /** Whether the bench runs in its own network namespace. */
  netns: boolean;
}

/**
 * Ports. TCP ports and the floor stay in the bench's range 58000-59999. Media ranges: in
 * the bench's own namespace nobody else has ports, and Roundtable's Kurento model
 * takes 4 ports per endpoint (81 endpoints per 9-person room), so they are wide there;
 * without the namespace (no Janus then) Roundtable gets 58000-58999 (about 3 rooms).
 */
export const PORTS = {
  roundtableHttp: [58900, 58901, 58902, 58903],
  roundtableMetrics: [58910, 58911, 58912, 58913],
  janusWs: [59990, 59991],
  floor: 59995,
} as const;

export function roundtableMediaRange(slot: number, netns: boolean): string {
  if (!netns) return slot === 0 ? '58000-58899' : `${59000 + (slot - 1) * 200}-${59000 + (slot - 1) * 200 + 199}`;
  const start = 20000 + (slot % 4) * 5000;
  return `${start}-${start + 4999}`;
}

export function janusRtpRange(slot: number): string {
  const start = 40000 + (slot % 2) * 5000;
  return `${start}-${start + 4999}`;
}

abstract class ProcessTarget implements Target {
  protected server: ServerProcess | undefined;
  abstract readonly name: string;
  abstract readonly family: TargetFamily;
  abstract readonly description: string;
  readonly subscribePhase: boolean = false;

  get pid(): number {
    if (!this.server) throw new Error(`${this.name} is not started`);
    return this.server.pid;
  }

  get logFile(): string {
    return this.server?.logFile ?? '';
  }

  abstract start(): Promise<TargetEndpoint>;

  check(): void {
    this.server?.check();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}

/** Where a Roundtable target listens, when not the bench's own ports (the soak). */
export interface RoundtableListen {
  /** HTTP port. Default: the bench's port of the slot. */
  port?: number;
  /** Media UDP range `MIN-MAX`. Default: the bench's range of the slot. */
  portRange?: string;
  /** Serve /metrics on 127.0.0.1 at this port. Default: the bench's port of the slot. */
  metricsPort?: number;
  /** Longest wait for /readyz (tsx compiles the server at start: slow on a busy machine). Default 60 s. */
  readyTimeoutMs?: number;
}

/** `roundtable start` (signaling + in-process media) from `root`: this checkout, or an extracted git revision. */
export class RoundtableTarget extends ProcessTarget {
  readonly family = 'roundtable';

  constructor(
    private readonly context: TargetContext,
    readonly name: string,
    private readonly slot: number,
    private readonly root: string = REPO_ROOT,
    private readonly extraEnv: Record<string, string> = {},
    private readonly listen: RoundtableListen = {},
    /** For an extracted revision: which packet path it takes (extractRevision's `packetCore`). */
    private readonly packetCore?: string,
  ) {
    super();
  }

  private get metricsPort(): number {
    return this.listen.metricsPort ?? PORTS.roundtableMetrics[this.slot % PORTS.roundtableMetrics.length]!;
  }

  /** The metrics URL. */
  get metricsUrl(): string {
    return `http://127.0.0.1:${this.metricsPort}/metrics`;
  }

  async serverMetrics(): Promise<ServerMetrics> {
    const text = await fetch(this.metricsUrl).then((r) => r.text()).catch(() => '');
    return {
      connections: metricValue(text, 'roundtable_media_udp_bindings'),
      rooms: metricValue(text, 'roundtable_rooms_open'),
      loopDelayP99Ms: metricValue(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    };
  }

  get description(): string {
    const env = Object.entries(this.extraEnv).map(([k, v]) => `${k}=${v}`).join(' ');
    return `Roundtable \`roundtable start\` from ${this.root === REPO_ROOT ? 'this checkout' : this.name.slice(this.name.indexOf('@') + 1)}${env ? ` with ${env}` : ''} (engine defaults${this.packetCore ? `; ${this.packetCore}` : ''})`;
  }

  async start(): Promise<TargetEndpoint> {
    const { dir, host } = this.context;
    const port = this.listen.port ?? PORTS.roundtableHttp[this.slot % PORTS.roundtableHttp.length]!;
    const db = join(dir, `${safe(this.name)}.db`);
    for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
    const args = [
      // e.g. ROUNDTABLE_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (Node refuses --cpu-prof in NODE_OPTIONS)
      ...(process.env.ROUNDTABLE_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
      join(this.root, 'packages/server/bin/roundtable.mjs'),
      'start',
      '--host', host,
      '--port', String(port),
      '--port-range', this.listen.portRange ?? roundtableMediaRange(this.slot, this.context.netns),
      '--ice-addresses', host,
      '--db', db,
      '--kurento', 'off',
      // Metrics on (as by default in production): the bench reads the server's connections there.
      '--metrics', 'on', '--metrics-host', '127.0.0.1', '--metrics-port', String(this.metricsPort),
      '--log-level', 'warn',
    ];
    // Every simulated participant connects, and registers, from this one host: lift the per-address /ws rate and
    // registrations (docs/security.md). Environment variables, not flags, so that older revisions (which do not know
    // them) start with the same arguments.
    const env = { ROUNDTABLE_WS_RATE_PER_ADDRESS: '1000000', ROUNDTABLE_REGISTRATIONS_PER_HOUR: '1000000', ...process.env, ...this.extraEnv };
    this.server = ServerProcess.start(process.execPath, args, join(dir, `${safe(this.name)}.log`), env);
    await this.server.waitReady(async () => (await fetch(`http://${host}:${port}/readyz`)).ok, this.listen.readyTimeoutMs ?? 60_000);
    return { kind: 'roundtable', signalingUrl: `ws://${host}:${port}/ws` };
  }
}

/**
 * Extracts `packages/` of git revision `ref` into `dir` with a node_modules that maps
 * `@roundtable/*` to the extracted packages and everything else to this checkout's
 * installed dependencies, and builds its native packet core (as `npm install` does) where
 * the revision has one, so `roundtable start` of that revision runs as it was installed.
 * `packetCore` says which packet path it will take.
 */
export function extractRevision(ref: string, dir: string): { root: string; packetCore: string } {
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['-C', REPO_ROOT, 'archive', '--format=tar', ref, 'packages', 'package.json'], { maxBuffer: 512 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@roundtable'), { recursive: true });
  for (const entry of readdirSync(join(REPO_ROOT, 'node_modules'))) {
    if (entry === '@roundtable' || entry === '.bin' || entry.startsWith('.')) continue;
    symlinkSync(join(REPO_ROOT, 'node_modules', entry), join(modules, entry));
  }
  for (const pkg of readdirSync(join(dir, 'packages'))) {
    if (existsSync(join(dir, 'packages', pkg, 'package.json'))) symlinkSync(join(dir, 'packages', pkg), join(modules, '@roundtable', pkg));
  }
  const build = join(dir, 'packages/media/native/build.mjs');
  if (!existsSync(build)) return { root: dir, packetCore: 'TypeScript packet path (no native core in this revision)' };
  const built = spawnSync(process.execPath, [build], { encoding: 'utf8' });
  if (built.status !== 0) return { root: dir, packetCore: `TypeScript packet path (its native core did not build: ${(built.stdout + built.stderr).trim().split('\n').pop() ?? ''})` };
  return { root: dir, packetCore: 'native packet core' };
}

/** Janus 1.1 VideoRoom with a config the bench writes: only the VideoRoom plugin and the WebSocket transport. */
export class JanusTarget extends ProcessTarget {
  readonly family = 'janus';
  override readonly subscribePhase = true;

  constructor(
    private readonly context: TargetContext,
    readonly name: string,
    private readonly slot: number,
    /** `event_loops` in janus.jcfg; undefined: Janus's default (one loop thread per handle). */
    private readonly eventLoops: number | undefined,
    private readonly maxRooms: number,
    private readonly roomSize: number,
  ) {
    super();
  }

  get description(): string {
    return `Janus ${janusVersion()} VideoRoom, ${this.eventLoops ? `event_loops = ${this.eventLoops}` : 'default threading (a loop per handle)'}, one multistream subscription per participant`;
  }

  async start(): Promise<TargetEndpoint> {
    const { host } = this.context;
    const dir = join(this.context.dir, safe(this.name));
    const wsPort = PORTS.janusWs[this.slot % PORTS.janusWs.length]!;
    writeJanusConfig(dir, {
      host,
      wsPort,
      rtpRange: janusRtpRange(this.slot),
      eventLoops: this.eventLoops,
      rooms: this.maxRooms,
      roomSize: this.roomSize,
    });
    this.server = ServerProcess.start(JANUS_BIN, ['--configs-folder', dir, '--config', join(dir, 'janus.jcfg'), '--disable-colors'], join(this.context.dir, `${safe(this.name)}.log`));
    await this.server.waitReady(() => tcpOpen(host, wsPort), 30_000);
    return { kind: 'janus', wsUrl: `ws://${host}:${wsPort}/` };
  }
}

interface JanusConfig {
  host: string;
  wsPort: number;
  rtpRange: string;
  eventLoops: number | undefined;
  rooms: number;
  roomSize: number;
}

function writeJanusConfig(dir: string, c: JanusConfig): void {
  for (const sub of ['plugins', 'transports', 'events', 'loggers']) mkdirSync(join(dir, sub), { recursive: true });
  const link = (from: string, to: string) => {
    if (!existsSync(to)) symlinkSync(from, to);
  };
  link(join(JANUS_LIB, 'plugins/libjanus_videoroom.so'), join(dir, 'plugins/libjanus_videoroom.so'));
  link(join(JANUS_LIB, 'transports/libjanus_websockets.so'), join(dir, 'transports/libjanus_websockets.so'));
  writeFileSync(
    join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${dir}/plugins"
  transports_folder = "${dir}/transports"
  events_folder = "${dir}/events"
  loggers_folder = "${dir}/loggers"
  debug_level = 3
  server_name = "rtbench"
  interface = "${c.host}"
  session_timeout = 60
${c.eventLoops ? `  event_loops = ${c.eventLoops}\n` : ''}}
media: {
  ipv6 = false
  rtp_port_range = "${c.rtpRange}"
}
nat: {
  ice_enforce_list = "rtb0"
  ignore_mdns = true
}
plugins: {
}
transports: {
}
events: {
}
`,
  );
  writeFileSync(
    join(dir, 'janus.transport.websockets.jcfg'),
    `general: {
  json = "compact"
  ws = true
  ws_port = ${c.wsPort}
  ws_ip = "${c.host}"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
`,
  );
  const rooms = Array.from(
    { length: c.rooms },
    (_, r) => `room-${JANUS_FIRST_ROOM + r}: {
  description = "bench room ${r}"
  publishers = ${c.roomSize}
  audiocodec = "opus"
  videocodec = "vp8"
  notify_joining = false
}`,
  ).join('\n');
  writeFileSync(join(dir, 'janus.plugin.videoroom.jcfg'), `general: {\n}\n${rooms}\n`);
}

let janusVersionText: string | undefined;
export function janusVersion(): string {
  if (janusVersionText === undefined) {
    // `janus --version` prints the version and exits non-zero.
    const out = spawnSync(JANUS_BIN, ['--version'], { encoding: 'utf8' });
    janusVersionText = /\(([\d.]+)\)/.exec(`${out.stdout ?? ''}${out.stderr ?? ''}`)?.[1] ?? 'unknown';
  }
  return janusVersionText;
}

export function janusInstalled(): boolean {
  return existsSync(JANUS_BIN) && existsSync(join(JANUS_LIB, 'plugins/libjanus_videoroom.so'));
}

/** The bare UDP relay (floorRelay.ts) in its own process. */
export class FloorTarget extends ProcessTarget {
  readonly family = 'floor';
  readonly name = 'floor';
  readonly description = 'bare Node dgram relay (no ICE, no DTLS, no SRTP)';

  constructor(private readonly context: TargetContext) {
    super();
  }

  async start(): Promise<TargetEndpoint> {
    const { host, dir } = this.context;
    const port = PORTS.floor;
    this.server = ServerProcess.start(process.execPath, ['--import', 'tsx', join(BENCH_SRC, 'floorRelay.ts'), host, String(port)], join(dir, 'floor.log'));
    const logFile = this.server.logFile;
    await this.server.waitReady(async () => {
      const { readFileSync } = await import('node:fs');
      return readFileSync(logFile, 'utf8').includes('listening');
    }, 30_000);
    return { kind: 'floor', host, port };
  }
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The value of an unlabelled metric in the Prometheus text format; NaN when it is not there. */
function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1).split(' ')[0]);
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
