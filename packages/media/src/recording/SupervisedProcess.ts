import { spawn, type ChildProcess } from 'node:child_process';
import { TypedEmitter } from '../core/TypedEmitter.js';

/**
 * Runs the command under a small shell guard that turns "our stdin closed" into
 * SIGINT for the command. Node keeps the guard's stdin open; when this process ends
 * in any way (even SIGKILL) the pipe closes and the command stops cleanly (GStreamer
 * with -e and FFmpeg finish their files on SIGINT), so no child outlives us.
 * Background jobs of a non-interactive shell get stdin from /dev/null, hence fd 3.
 */
const GUARD = `exec 3<&0
"$@" </dev/null &
child=$!
{ cat <&3 >/dev/null; kill -INT "$child" 2>/dev/null; } &
watcher=$!
trap 'kill -INT "$child" 2>/dev/null' INT TERM
while :; do
  wait "$child"; rc=$?
  kill -0 "$child" 2>/dev/null || break
done
kill "$watcher" 2>/dev/null
exit "$rc"`;

export interface SupervisedProcessOptions {
  /** Name in logs and errors, e.g. "recorder 1234". */
  name: string;
  command: string;
  /** Arguments of run `run` (1, 2, ...), asked at each (re)start so a restart can use new ports or files. */
  args: (run: number) => string[];
  /** Restarts after unexpected exits before giving up. Default 3. */
  maxRestarts?: number;
  /** Wait before a restart (ms). Default 300. */
  restartDelayMs?: number;
  /** Treat exit code 0 as a normal end (no restart): players reaching the end. Default true. */
  zeroIsEnd?: boolean;
}

export interface SupervisedProcessEvents {
  [key: string]: unknown[];
  /** A line the command wrote to stdout. */
  output: [line: string];
  /** A run started (first start or restart). */
  started: [pid: number, run: number];
  /** The command ended by itself with code 0 (only when zeroIsEnd). */
  ended: [];
  /** An unexpected exit; a restart follows. */
  restarting: [reason: string, attempt: number];
  /** Gave up: too many unexpected exits, or the command could not be started. */
  failed: [error: Error];
}

const STDERR_LINES = 20;

/**
 * A child process that is supervised: restarted when it exits unexpectedly (up to
 * `maxRestarts` times), stopped gracefully (SIGINT, then SIGKILL after a grace time)
 * or killed with its whole process group, and never left behind when Node exits.
 */
export class SupervisedProcess extends TypedEmitter<SupervisedProcessEvents> {
  private static readonly live = new Set<SupervisedProcess>();
  private child: ChildProcess | undefined;
  private exitPromise: Promise<void> | undefined;
  private stopping = false;
  private closed = false;
  private restarts = 0;
  private runs = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly stderrTail: string[] = [];
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(private readonly options: SupervisedProcessOptions) {
    super();
  }

  /** Process ids of every supervised child alive in this process (for tests and metrics). */
  static runningPids(): number[] {
    const pids: number[] = [];
    for (const p of SupervisedProcess.live) if (p.pid !== undefined) pids.push(p.pid);
    return pids;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /**
   * How the last run ended (undefined while none has): code 0 after a clean stop; a
   * signal, or the guard's 128 + n for a command killed by signal n, when it was cut.
   */
  get lastExit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exit;
  }

  /** The last lines the command wrote to stderr, for error messages. */
  get stderr(): string {
    return this.stderrTail.join('\n');
  }

  start(): void {
    if (this.closed) throw new Error(`${this.options.name} is closed`);
    if (this.child) return;
    this.stopping = false;
    this.launch();
  }

  /**
   * Asks the command to finish (SIGINT: files are finalised) and waits for it; kills
   * the process group after `graceMs`. No restart follows.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    this.clearRestart();
    const child = this.child;
    const exited = this.exitPromise;
    if (!child || !exited) return;
    // Closing the guard's stdin makes it send exactly one SIGINT (a second one would
    // make gst-launch quit without finishing the file).
    child.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        signalGroup(child, 'SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([exited, timeout]);
    clearTimeout(timer);
    await exited;
  }

  /** Kills the command and its group at once; no restart follows. Idempotent. */
  kill(): void {
    this.stopping = true;
    this.clearRestart();
    if (this.child) signalGroup(this.child, 'SIGKILL');
  }

  /** Stops for good: kills what runs, no more starts. */
  close(): void {
    this.closed = true;
    this.kill();
    if (!this.child) SupervisedProcess.live.delete(this);
  }

  /** Resolves when the current run (if any) has exited. */
  async exited(): Promise<void> {
    await this.exitPromise;
  }

  private launch(): void {
    const run = ++this.runs;
    const args = this.options.args(run);
    let child: ChildProcess;
    try {
      child = spawn('sh', ['-c', GUARD, 'sh', this.options.command, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true, // own process group, so kill() reaches the command behind the guard
      });
    } catch (error) {
      this.emit('failed', new Error(`${this.options.name}: cannot start ${this.options.command}: ${(error as Error).message}`));
      return;
    }
    this.child = child;
    SupervisedProcess.live.add(this);
    child.stdin?.on('error', () => undefined); // EPIPE when the guard is gone already
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim() !== '') this.emit('output', line);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (line.trim() === '') continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
      }
    });
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.child = undefined;
        this.exit = { code, signal };
        if (this.closed) SupervisedProcess.live.delete(this);
        this.onExit(code, signal);
        resolve();
      });
    });
    child.once('error', (error) => {
      // spawn failures (ENOENT for sh) arrive here; 'exit' may not follow.
      if (this.child === child) {
        this.child = undefined;
        this.emit('failed', new Error(`${this.options.name}: ${error.message}`));
      }
    });
    if (child.pid !== undefined) this.emit('started', child.pid, run);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || this.closed) {
      SupervisedProcess.live.delete(this);
      return;
    }
    if (code === 0 && (this.options.zeroIsEnd ?? true)) {
      SupervisedProcess.live.delete(this);
      this.emit('ended');
      return;
    }
    const reason = `${this.options.command} exited with ${signal ?? `code ${String(code)}`}${this.stderr ? `: ${this.stderr.split('\n').slice(-3).join(' | ')}` : ''}`;
    if (this.restarts >= (this.options.maxRestarts ?? 3)) {
      SupervisedProcess.live.delete(this);
      this.emit('failed', new Error(`${this.options.name}: ${reason}`));
      return;
    }
    this.restarts++;
    this.emit('restarting', reason, this.restarts);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping && !this.closed) this.launch();
    }, this.options.restartDelayMs ?? 300);
  }

  private clearRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}
