import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface CpuHogOptions {
  /** Busy-looping child processes beside the test. Default: one per core. */
  processes?: number;
  /**
   * This process's event loop is blocked for `stallMs` every `everyMs` (a server whose
   * JavaScript is busy: the engine's timers and sockets run late). Default 250 / 1000;
   * 0 for none.
   */
  stallMs?: number;
  everyMs?: number;
}

/**
 * A busy machine as a test fixture: CPU-bound children on every core (at normal
 * priority, so they compete with the media children) and, optionally, stalls of this
 * process's own event loop. stop() ends both; the children are killed with it.
 */
export class CpuHog {
  private readonly children: ChildProcess[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: CpuHogOptions = {}) {
    const count = options.processes ?? availableParallelism();
    for (let i = 0; i < count; i++) this.children.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    const stallMs = options.stallMs ?? 250;
    if (stallMs > 0) {
      this.timer = setInterval(() => {
        const end = performance.now() + stallMs;
        while (performance.now() < end) {
          // Busy: nothing else of this process runs meanwhile.
        }
      }, options.everyMs ?? 1000);
      this.timer.unref();
    }
  }

  /** Stops the stalls and kills the children. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    for (const child of this.children) child.kill('SIGKILL');
  }
}
