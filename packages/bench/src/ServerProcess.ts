import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/**
 * A target's server, run as a child process whose output goes to a log file; its pid is
 * what the bench reads in /proc. `stop()` ends it by its pid (SIGTERM, then SIGKILL).
 */
export class ServerProcess {
  private exited = false;
  private exitInfo = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.exitInfo = `exit code ${String(code)}, signal ${String(signal)}`;
    });
  }

  static start(command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ServerProcess {
    const log = createWriteStream(logFile);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    return new ServerProcess(child, logFile);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`the server process did not start (see ${this.logFile})`);
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Throws when the process has gone. */
  check(): void {
    if (this.exited) throw new Error(`the server process ended (${this.exitInfo}); see ${this.logFile}`);
  }

  /** Polls `ready` until it says yes, failing early if the process dies. */
  async waitReady(ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.check();
      if (await ready().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the server was not ready after ${timeoutMs} ms; see ${this.logFile}`);
  }

  async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}
