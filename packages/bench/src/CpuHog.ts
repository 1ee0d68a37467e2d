import { spawn, type ChildProcess } from 'node:child_process';
import { readProc } from './proc.js';

/**
 * `--busy N`: N processes that spin on a core each, beside the bench, to measure with
 * the machine busy (issue 18: tail latency while other work runs). They start once,
 * stopped (SIGSTOP), and run (SIGCONT) only during the busy measurements, so quiet and
 * busy runs alternate within one invocation. Ordinary priority, like any other work.
 */
export class CpuHog {
  private readonly children: ChildProcess[] = [];
  private running = false;

  private constructor(readonly count: number) {}

  static start(count: number): CpuHog {
    const hog = new CpuHog(count);
    for (let i = 0; i < count; i++) {
      const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
      if (child.pid !== undefined) process.kill(child.pid, 'SIGSTOP');
      hog.children.push(child);
    }
    return hog;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /** CPU time of every hog process, µs. */
  cpuUs(): number {
    return this.pids.reduce((n, pid) => n + (readProc(pid)?.cpuUs ?? 0), 0);
  }

  resume(): void {
    if (this.running) return;
    this.running = true;
    this.signal('SIGCONT');
  }

  pause(): void {
    if (!this.running) return;
    this.running = false;
    this.signal('SIGSTOP');
  }

  /** Ends every hog process (by its pid). */
  stop(): void {
    this.signal('SIGKILL');
    this.children.length = 0;
  }

  private signal(signal: NodeJS.Signals): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }
}
