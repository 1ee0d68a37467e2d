import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { selfSignedCert } from '@roundtable/media/testing';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * One of Kurento's tutorial apps, run unmodified: copied to a temporary directory,
 * given a self-signed key and certificate in `keys/`, its dependencies linked from
 * Roundtable's own node_modules (nothing installed), and started as
 * `node server.js --as_uri=https://localhost:<port>/ --ws_uri=<Kurento URL>`.
 */
export class TutorialApp {
  private child: ChildProcess | undefined;
  private output = '';
  /** Set when the app's process ended before `stop()`. */
  exited: { code: number | null; signal: string | null } | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  /**
   * @param nodeModules Roundtable's node_modules; the app's own node_modules links to
   *   each of its entries, so nothing is installed.
   * @param kurentoClient the package the app's `require('kurento-client')` gets. When it
   *   is not `kurento-client`, node runs with --preserve-symlinks so that the client's own
   *   modules, which require 'kurento-client' again, get the same one.
   */
  static async start(appDir: string, kurentoUrl: string, nodeModules: string, kurentoClient = 'kurento-client'): Promise<TutorialApp> {
    const dir = await mkdtemp(join(tmpdir(), `kurento-tutorial-${basename(appDir)}-`));
    await cp(appDir, dir, { recursive: true, filter: (src) => !/[/\\](node_modules|bower_components|keys)([/\\]|$)/.test(src.slice(appDir.length)) });
    selfSignedCert(join(dir, 'keys'), { cert: 'server.crt', key: 'server.key' });
    await mkdir(join(dir, 'node_modules'));
    for (const entry of await readdir(nodeModules)) {
      if (entry.startsWith('.')) continue;
      await symlink(join(nodeModules, entry === 'kurento-client' ? kurentoClient : entry), join(dir, 'node_modules', entry), 'dir');
    }
    const app = new TutorialApp(basename(appDir), dir, await freePort());
    await app.launch(kurentoUrl, kurentoClient === 'kurento-client' ? [] : ['--preserve-symlinks']);
    return app;
  }

  /** The page's address, for the browser side: `wss://localhost:<port><path>`. */
  wsUrl(path: string): string {
    return `wss://localhost:${this.port}${path}`;
  }

  get log(): string {
    return this.output;
  }

  private async launch(kurentoUrl: string, nodeFlags: string[]): Promise<void> {
    const child = spawn(process.execPath, [...nodeFlags, 'server.js', `--as_uri=https://localhost:${this.port}/`, `--ws_uri=${kurentoUrl}`], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.on('exit', (code, signal) => {
      if (this.child) this.exited = { code, signal };
    });
    const deadline = Date.now() + 15_000;
    while (!this.output.includes('Kurento Tutorial started')) {
      if (this.exited) throw new Error(`${this.name} exited at start (code ${this.exited.code}):\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not start in 15 s:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(keepDir = false): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (!keepDir) await rm(this.dir, { recursive: true, force: true });
  }
}
