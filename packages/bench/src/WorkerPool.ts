import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ParentMessage, WorkerMessage, WorkerReport } from './ipc.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** The load generator's worker processes (each runs several participants); their pids are read in /proc too. */
export class WorkerPool {
  private readonly waiters = new Map<ChildProcess, Array<{ type: WorkerMessage['type']; resolve(m: WorkerMessage): void; reject(e: Error): void }>>();
  private closed = false;

  private constructor(readonly workers: ChildProcess[]) {
    for (const w of workers) {
      this.waiters.set(w, []);
      w.on('message', (m) => this.dispatch(w, m as WorkerMessage));
      w.once('exit', (code, signal) => {
        const list = this.waiters.get(w) ?? [];
        for (const waiter of list.splice(0)) waiter.reject(new Error(`a load-generator worker ended (code ${String(code)}, signal ${String(signal)})`));
      });
    }
  }

  /** `readyTimeoutMs`: longest wait for the workers to start (tsx compiles them: slow on a busy machine). Default 60 s. */
  static async start(count: number, readyTimeoutMs = 60_000): Promise<WorkerPool> {
    const workers = Array.from({ length: count }, () => fork(WORKER, [], { execArgv: ['--import', 'tsx', ...(process.env['RTBENCH_WORKER_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '')], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    const pool = new WorkerPool(workers);
    try {
      await Promise.all(workers.map((w) => pool.next(w, 'ready', readyTimeoutMs)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid ?? -1);
  }

  send(worker: ChildProcess, message: ParentMessage): void {
    if (worker.connected) worker.send(message);
  }

  broadcast(message: ParentMessage): void {
    for (const w of this.workers) this.send(w, message);
  }

  /** Sends `message` to every worker and waits for each one's `reply`. */
  async ask<T extends WorkerMessage['type']>(message: ParentMessage, reply: T, timeoutMs: number): Promise<Array<Extract<WorkerMessage, { type: T }>>> {
    const answers = this.workers.map((w) => this.next(w, reply, timeoutMs));
    this.broadcast(message);
    return Promise.all(answers);
  }

  next<T extends WorkerMessage['type']>(worker: ChildProcess, type: T, timeoutMs: number): Promise<Extract<WorkerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(worker) ?? [];
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        reject(new Error(`a load-generator worker did not answer '${type}' in ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        type,
        resolve: (m: WorkerMessage) => {
          clearTimeout(timer);
          resolve(m as Extract<WorkerMessage, { type: T }>);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.get(worker)?.push(waiter);
    });
  }

  async reports(timeoutMs = 30_000): Promise<WorkerReport[]> {
    return (await this.ask({ type: 'collect' }, 'report', timeoutMs)).map((m) => m.report);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            const timer = setTimeout(() => w.kill('SIGKILL'), 10_000);
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            this.send(w, { type: 'exit' });
          }),
      ),
    );
  }

  private dispatch(worker: ChildProcess, message: WorkerMessage): void {
    const list = this.waiters.get(worker) ?? [];
    const i = list.findIndex((w) => w.type === message.type);
    if (i < 0) return;
    const [waiter] = list.splice(i, 1);
    waiter?.resolve(message);
  }
}
