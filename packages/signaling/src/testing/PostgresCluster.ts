/**
 * A throwaway PostgreSQL cluster for tests: Debian's server binaries (`apt-get install
 * postgresql`), a data folder under the system's temporary folder, trust authentication
 * on 127.0.0.1 and a free port, durability off (a test's data need not survive a crash).
 * It never touches the packaged cluster or its service.
 *
 * PostgreSQL refuses to run as root: as root, the server runs as the system user
 * `postgres` (which Debian's package creates; the helper creates a user of its own if it
 * is missing), through `runuser`. One cluster per test file: it takes a few seconds to
 * start; each test takes a database of its own (`createDatabase()`).
 *
 * When the binaries are missing, PostgreSQL tests fail under CI (`.ci/run` installs the
 * package) and are skipped, loudly, on a developer's machine.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

const DEBIAN_DIR = '/usr/lib/postgresql';
/** The system user the server runs as when the tests run as root. */
const SERVER_USER = 'postgres';
/** Created when `SERVER_USER` does not exist. */
const FALLBACK_USER = 'roundtable-pg';
/** The cluster's superuser (`initdb -U`); trust authentication, no password. */
const SUPERUSER = 'postgres';

export interface PostgresClusterOptions {
  /** How long `pg_ctl start` may wait for the server to take connections. Default 30 s. */
  startTimeoutSeconds?: number;
}

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** The folder of `initdb` and `pg_ctl`: Debian's newest version, else the PATH's. */
export function postgresBinDir(): string | undefined {
  if (existsSync(DEBIAN_DIR)) {
    const versions = readdirSync(DEBIAN_DIR)
      .filter((name) => /^\d+$/.test(name) && existsSync(join(DEBIAN_DIR, name, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(DEBIAN_DIR, versions[0], 'bin');
  }
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const initdb = join(dir, 'initdb');
    if (dir && existsSync(initdb) && existsSync(join(dir, 'pg_ctl'))) return dirname(realpathSync(initdb));
  }
  return undefined;
}

/**
 * True when PostgreSQL tests cannot run and should be skipped: the server binaries are
 * missing and this is not CI. Warns loudly when it says so. Under CI it returns false
 * even when they are missing, so that `PostgresCluster.start()` fails the tests.
 */
export function skipPostgresTests(suite: string): boolean {
  if (postgresBinDir() !== undefined || inCi()) return false;
  const line = '!'.repeat(78);
  console.warn(
    `\n${line}\n!! SKIPPING PostgreSQL tests "${suite}": no initdb/pg_ctl in ${DEBIAN_DIR}/*/bin or on PATH;\n!! install them with: apt-get install postgresql\n!! Under CI (CI set) these tests fail instead.\n${line}\n`,
  );
  return true;
}

export class PostgresCluster {
  readonly host = '127.0.0.1';
  private databases = 0;
  private running = true;
  private closing: Promise<void> | undefined;
  private readonly onExit = (): void => this.killNow();

  private constructor(
    private readonly bin: string,
    private readonly base: string,
    private readonly runAs: string | undefined,
    readonly port: number,
  ) {
    // A test process that dies without closing must not leave a server behind.
    process.on('exit', this.onExit);
  }

  /** initdb and start on a free port; resolves once the server takes connections. */
  static async start(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
    const bin = postgresBinDir();
    if (!bin) throw new Error(`PostgreSQL server binaries not found in ${DEBIAN_DIR}/*/bin or on PATH; install them with: apt-get install postgresql`);
    const runAs = process.getuid?.() === 0 ? serverUser() : undefined;
    // As root the server's user must reach the folder: /tmp, whatever TMPDIR says.
    const base = mkdtempSync(join(runAs ? '/tmp' : tmpdir(), 'roundtable-pg-'));
    try {
      chmodSync(base, 0o700);
      if (runAs) chownSync(base, ...idsOf(runAs));
      await exec(bin, runAs, base, 'initdb', ['-D', join(base, 'data'), '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
      // A free port can be taken by someone else before the server binds it: try another.
      for (let attempt = 1; ; attempt++) {
        const cluster = new PostgresCluster(bin, base, runAs, await freePort());
        try {
          await cluster.serverUp(options.startTimeoutSeconds ?? 30);
          return cluster;
        } catch (error) {
          process.off('exit', cluster.onExit);
          if (attempt >= 3 || !/already in use|could not bind/i.test(cluster.log())) throw error;
        }
      }
    } catch (error) {
      rmSync(base, { recursive: true, force: true });
      throw error;
    }
  }

  /** The URL of `database` for the superuser. */
  url(database = 'postgres'): string {
    return `postgres://${SUPERUSER}@${this.host}:${this.port}/${database}`;
  }

  /** A new, empty database; resolves with its URL. */
  async createDatabase(): Promise<string> {
    const name = `roundtable_${process.pid}_${++this.databases}`;
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  /**
   * A new, empty schema of the cluster's `postgres` database; resolves with a URL whose
   * connections work in it alone (`search_path`). As good as a new database for a test of
   * the store, and far quicker to make (a database is a copy of a template).
   */
  async createSchema(): Promise<string> {
    const name = `roundtable_${process.pid}_${++this.databases}`;
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${name}`);
    } finally {
      await client.end();
    }
    return `${this.url()}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
  }

  /** Stops the server (connections are cut), keeping its data, to test an outage; `resume()` starts it again on the same port. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.pgCtl(['-m', 'fast', '-w', 'stop']);
    this.running = false;
  }

  /** Starts the stopped server again, on the same port, with its data. */
  async resume(): Promise<void> {
    if (this.running) return;
    await this.serverUp(30);
  }

  /** Stops the server and removes its data. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      process.off('exit', this.onExit);
      if (this.running) await this.pgCtl(['-m', 'immediate', '-w', 'stop']);
      this.running = false;
      rmSync(this.base, { recursive: true, force: true });
    })();
    return this.closing;
  }

  /** The server's log so far, for failure messages. */
  log(): string {
    try {
      return readFileSync(join(this.base, 'log'), 'utf8');
    } catch (error) {
      return `(no log: ${error instanceof Error ? error.message : String(error)})`;
    }
  }

  private async serverUp(timeoutSeconds: number): Promise<void> {
    const settings = [
      `-c listen_addresses=${this.host}`,
      `-c port=${this.port}`,
      `-c unix_socket_directories=${this.base}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c shared_buffers=16MB',
    ].join(' ');
    try {
      await this.pgCtl(['-l', join(this.base, 'log'), '-o', settings, '-w', '-t', String(timeoutSeconds), 'start']);
    } catch (error) {
      throw new Error(`PostgreSQL did not start on port ${this.port}: ${error instanceof Error ? error.message : String(error)}\n${this.log()}`, { cause: error });
    }
    this.running = true;
  }

  private pgCtl(args: string[]): Promise<void> {
    return exec(this.bin, this.runAs, this.base, 'pg_ctl', ['-D', join(this.base, 'data'), ...args]);
  }

  /** At process exit: SIGQUIT to the postmaster (an immediate shutdown), and the data removed. */
  private killNow(): void {
    try {
      const pid = Number(readFileSync(join(this.base, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch (error) {
      console.warn(`PostgresCluster: could not stop the server at exit: ${error instanceof Error ? error.message : String(error)}`);
    }
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** Runs one of the server's programs, as `runAs` when set; rejects with its output when it fails. */
async function exec(bin: string, runAs: string | undefined, cwd: string, program: string, args: string[]): Promise<void> {
  const path = join(bin, program);
  const [file, argv] = runAs ? ['runuser', ['-u', runAs, '--', path, ...args]] : [path, args];
  try {
    await run(file, argv, { cwd, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' } });
  } catch (error) {
    const failed = error as Error & { stderr?: string; stdout?: string };
    throw new Error(`${program} failed: ${failed.message.trim()}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`, { cause: error });
  }
}

/** As root: `postgres` (Debian's package creates it), or a system user made for the purpose. */
function serverUser(): string {
  for (const user of [SERVER_USER, FALLBACK_USER]) {
    try {
      execFileSync('id', ['-u', user], { stdio: 'ignore' });
      return user;
    } catch {
      // not there: try the next, or create it below
    }
  }
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', FALLBACK_USER], { stdio: 'ignore' });
  return FALLBACK_USER;
}

function idsOf(user: string): [number, number] {
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  return [id('-u'), id('-g')];
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
