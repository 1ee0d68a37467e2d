/**
 * `roundtable start` as a child process of a test (the cluster tests: signaling and
 * media nodes on Redis), resolved once it says it listens; `useRoundtableNodes` for a
 * file's nodes, their clean-up and a load balancer in front of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const BIN = fileURLToPath(new URL('../../packages/server/bin/roundtable.mjs', import.meta.url));

export interface RoundtableProcess {
  child: ChildProcess;
  /** Base URL (http://127.0.0.1:PORT/). */
  url: string;
  /** The endpoints it announced (those its role serves). */
  ws: string | undefined;
  kurento: string | undefined;
  metrics: string | undefined;
  /** Its stdout (log lines) so far. */
  log: () => string;
  exited: Promise<unknown>;
}

/** Runs `roundtable <args>` in `cwd` with only PATH in its environment; the child is added to `running` (for the file's clean-up). */
export function startRoundtable(args: string[], cwd: string, running: ChildProcess[]): Promise<RoundtableProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise<RoundtableProcess>((resolve, reject) => {
    let listening = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (listening) return;
      const line = stdout.split('\n').find((l) => l.includes('"event":"listening"'));
      if (!line) return;
      listening = true;
      const said = JSON.parse(line) as { url: string; signaling?: string; kurento?: string; metrics?: string };
      resolve({ child, url: said.url, ws: said.signaling, kurento: said.kurento, metrics: said.metrics, log: () => stdout, exited });
    });
    void exited.then(() => reject(new Error(`the node exited before listening: ${stdout}${stderr}`)));
  });
}

/** Signaling and media nodes (`roundtable start` processes) of one test file, on one SQLite file in a fresh folder. */
export interface RoundtableNodes {
  dir: string;
  db: string;
  /** `roundtable start` with these flags (after host, ports, metrics and log level); resolves once it listens. */
  start: (args: string[]) => Promise<RoundtableProcess>;
  /** A media node on Redis: its shared UDP port, then the next 29 ports as its range. */
  mediaNode: (redisUrl: string, udpPort: number) => Promise<RoundtableProcess>;
  /** A signaling node on Redis and the file's database; `nodeTtlMs` its heartbeat TTL (the default's if not given). */
  signalingNode: (redisUrl: string, nodeTtlMs?: number) => Promise<RoundtableProcess>;
  /** A load balancer in front of signaling nodes: each connection goes to the first backend that takes it (a killed node refuses, the next one gets the client). */
  balancer: (backends: string[]) => Promise<string>;
}

/**
 * The file's nodes, stopped after its tests: `first` (e.g. a Redis client's close) before
 * the processes are killed, `last` (e.g. the Redis server's) after, then the folder removed.
 */
export function useRoundtableNodes(name: string, stop: { first?: () => Promise<unknown> | undefined; last?: () => Promise<unknown> | undefined } = {}): RoundtableNodes {
  const dir = mkdtempSync(join(tmpdir(), `rt-${name}-`));
  const db = join(dir, 'roundtable.db');
  const running: ChildProcess[] = [];
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) server.close();
    await stop.first?.();
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stop.last?.();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = (args: string[]): Promise<RoundtableProcess> => startRoundtable(['start', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--log-level', 'info', ...args], dir, running);
  const mediaNode = (redisUrl: string, udpPort: number): Promise<RoundtableProcess> =>
    start(['--role', 'media', '--kurento-port', '0', '--redis-url', redisUrl, '--ice-addresses', '127.0.0.1', '--udp-port', String(udpPort), '--port-range', `${udpPort + 1}-${udpPort + 29}`]);
  const signalingNode = (redisUrl: string, nodeTtlMs?: number): Promise<RoundtableProcess> =>
    start(['--role', 'signaling', '--db', db, '--redis-url', redisUrl, ...(nodeTtlMs === undefined ? [] : ['--redis-node-ttl-ms', String(nodeTtlMs)])]);
  const balancer = async (backends: string[]): Promise<string> => {
    const ports = backends.map((url) => Number(new URL(url).port));
    const server = createServer((client: Socket) => {
      client.pause();
      const tryBackend = (i: number): void => {
        if (i >= ports.length) {
          client.destroy();
          return;
        }
        const backend = createConnection({ host: '127.0.0.1', port: ports[i]! });
        backend.once('error', () => tryBackend(i + 1));
        backend.once('connect', () => {
          backend.removeAllListeners('error');
          backend.on('error', () => client.destroy());
          client.on('error', () => backend.destroy());
          client.pipe(backend).pipe(client);
          client.resume();
        });
      };
      tryBackend(0);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('the balancer has no port');
    return `ws://127.0.0.1:${address.port}/ws`;
  };
  return { dir, db, start, mediaNode, signalingNode, balancer };
}
