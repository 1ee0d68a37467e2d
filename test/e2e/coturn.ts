/**
 * A private coturn (`turnserver`, Debian's `coturn` package) for end-to-end tests: its
 * own config file in a temp dir, TURN REST API shared secret (`use-auth-secret`), and
 * every socket on 127.0.0.1 (listener on a free port, relays in a small port range).
 * It never reads /etc/turnserver.conf and does not care whether the packaged service
 * runs: it is started with `-c <own file>` on its own ports.
 *
 * When turnserver is missing, TURN tests fail under CI (CI must have installed it:
 * `.ci/run` does) and are skipped, loudly, on a developer's machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TURNSERVER_PATH = '/usr/bin/turnserver';

export interface CoturnOptions {
  /** The TURN REST API secret (`static-auth-secret`). Default: 24 random bytes, hex. */
  secret?: string;
  /** Default 'roundtable.test'. */
  realm?: string;
  /** Ports coturn relays from (`min-port`/`max-port`). Default [52000, 52999]. */
  relayPorts?: readonly [number, number];
  /** How long to wait for coturn to answer STUN after spawning it. Default 10000 ms. */
  startTimeoutMs?: number;
}

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

function missingMessage(): string {
  return `coturn not found at ${TURNSERVER_PATH}; install it with: apt-get install coturn`;
}

/**
 * True when TURN tests cannot run and should be skipped: turnserver is missing and this
 * is not CI. Warns loudly when it says so. Under CI it returns false even when
 * turnserver is missing, so that `Coturn.start()` fails the tests.
 */
export function skipTurnTests(suite: string): boolean {
  if (existsSync(TURNSERVER_PATH) || inCi()) return false;
  const line = '!'.repeat(78);
  console.warn(`\n${line}\n!! SKIPPING TURN tests "${suite}": ${missingMessage()}.\n!! Under CI (CI set) these tests fail instead.\n${line}\n`);
  return true;
}

export class Coturn {
  private output = '';
  private exited = false;
  private exit!: Promise<void>;
  private closing: Promise<void> | undefined;

  private constructor(
    private child: ChildProcess,
    private readonly dir: string,
    /** Listening port, UDP and TCP, on 127.0.0.1. */
    readonly port: number,
    readonly secret: string,
    readonly realm: string,
  ) {
    this.watch(child);
  }

  /**
   * Kills turnserver (SIGKILL: its allocations are gone, as in a crash) and starts it
   * again on the same port with the same configuration; resolves once it answers.
   */
  async restart(timeoutMs = 10_000): Promise<void> {
    if (this.closing) throw new Error('coturn is closed');
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await this.exit;
    }
    this.exited = false;
    this.watch(spawn(TURNSERVER_PATH, ['-c', join(this.dir, 'turnserver.conf')], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] }));
    await this.waitUntilReady(timeoutMs);
  }

  private watch(child: ChildProcess): void {
    this.child = child;
    const append = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exit = new Promise((resolve) => {
      const gone = (): void => {
        this.exited = true;
        resolve();
      };
      child.once('exit', gone);
      // A child that could not be spawned emits 'error' and maybe never 'exit'.
      child.once('error', (error) => {
        this.output += `\n[spawn error] ${error.message}\n`;
        gone();
      });
    });
  }

  /** Spawns turnserver and resolves once it answers a STUN binding request over UDP and accepts TCP. */
  static async start(options: CoturnOptions = {}): Promise<Coturn> {
    if (!existsSync(TURNSERVER_PATH)) throw new Error(missingMessage());
    const secret = options.secret ?? randomBytes(24).toString('hex');
    const realm = options.realm ?? 'roundtable.test';
    const [minPort, maxPort] = options.relayPorts ?? [52000, 52999];
    const port = await freePort(minPort, maxPort);
    const dir = mkdtempSync(join(tmpdir(), 'roundtable-coturn-'));
    const config = join(dir, 'turnserver.conf');
    writeFileSync(
      config,
      [
        'listening-ip=127.0.0.1',
        'relay-ip=127.0.0.1',
        `listening-port=${port}`,
        `min-port=${minPort}`,
        `max-port=${maxPort}`,
        'use-auth-secret',
        `static-auth-secret=${secret}`,
        `realm=${realm}`,
        'fingerprint',
        // Peers here are other processes on 127.0.0.1, which coturn refuses by default.
        'allow-loopback-peers',
        'no-multicast-peers',
        'no-tls',
        'no-dtls',
        'no-cli',
        'no-rfc5780',
        'no-tcp-relay',
        // Keep the (empty) user database out of /var/lib/turn: that needs root and is the service's.
        `userdb=${join(dir, 'turndb')}`,
        `pidfile=${join(dir, 'turnserver.pid')}`,
        // Verbose: sessions and allocations are logged, which the tests read.
        'verbose',
        'log-file=stdout',
        'simple-log',
        '',
      ].join('\n'),
    );
    const child = spawn(TURNSERVER_PATH, ['-c', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const coturn = new Coturn(child, dir, port, secret, realm);
    try {
      await coturn.waitUntilReady(options.startTimeoutMs ?? 10_000);
    } catch (error) {
      await coturn.close();
      throw error;
    }
    return coturn;
  }

  /** A `turn:` URL for this server, e.g. `turn:127.0.0.1:40123?transport=udp`. */
  url(transport: 'udp' | 'tcp' = 'udp'): string {
    return `turn:127.0.0.1:${this.port}?transport=${transport}`;
  }

  /** Everything coturn printed so far (its log goes to stdout). */
  get log(): string {
    return this.output;
  }

  /** Resolves once the log has a line matching `pattern`; rejects (with the log) after `timeoutMs`. */
  async waitForLog(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.output.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new Error(`coturn logged nothing matching ${pattern} within ${timeoutMs} ms; its log:\n${this.output}`);
      await sleep(50);
    }
  }

  /** SIGTERM, then SIGKILL after two seconds; removes the temp dir. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.exited && this.child.exitCode === null) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
        await this.exit;
        clearTimeout(timer);
      }
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exited) {
      if ((await stunBindingAnswered(this.port, 200)) && (await tcpAccepts(this.port))) return;
      if (Date.now() > deadline) throw new Error(`coturn did not answer on 127.0.0.1:${this.port} within ${timeoutMs} ms; its log:\n${this.output}`);
      await sleep(100);
    }
    throw new Error(`coturn exited (code ${String(this.child.exitCode)}, signal ${String(this.child.signalCode)}); its log:\n${this.output}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The media engine's default UDP range, which the other test suites carve their port ranges from. */
const MEDIA_TEST_PORTS: readonly [number, number] = [40000, 49999];

/** A port free for both TCP and UDP on 127.0.0.1, outside the relay range and the media tests' ports. */
async function freePort(relayMin: number, relayMax: number): Promise<number> {
  const reserved = (port: number): boolean => (port >= relayMin && port <= relayMax) || (port >= MEDIA_TEST_PORTS[0] && port <= MEDIA_TEST_PORTS[1]);
  for (let attempt = 0; attempt < 50; attempt++) {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
    const udp = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (udpFree && !reserved(port)) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

const STUN_MAGIC_COOKIE = 0x2112a442;

/** Sends one STUN Binding request (RFC 5389) over UDP; true if a success response with our transaction id comes back. */
function stunBindingAnswered(port: number, timeoutMs: number): Promise<boolean> {
  const transactionId = randomBytes(12);
  const request = Buffer.alloc(20);
  request.writeUInt16BE(0x0001, 0); // Binding request
  request.writeUInt16BE(0, 2); // no attributes
  request.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  transactionId.copy(request, 8);
  const socket = createSocket('udp4');
  return new Promise((resolve) => {
    const done = (answered: boolean): void => {
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('message', (msg) => {
      if (msg.length >= 20 && msg.readUInt16BE(0) === 0x0101 && msg.subarray(8, 20).equals(transactionId)) done(true);
    });
    socket.send(request, port, '127.0.0.1');
  });
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
