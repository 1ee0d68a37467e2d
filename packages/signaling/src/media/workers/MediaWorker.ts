import { Worker } from 'node:worker_threads';
import { SignalingError } from '../../net/Handlers.js';
import type { RoomChannel, RoomEvent, RoomMethod, RoomParamsOf, RoomResultOf } from '../rooms/roomCalls.js';
import { deserializeError, type ParamsOf, type ResultOf, type WorkerInit, type WorkerMessage, type WorkerMethod, type WorkerRequest } from './rpc.js';

const ENTRY = new URL('./workerEntry.mjs', import.meta.url);
/** How long close() lets a worker close its rooms before ending the thread (ms). */
const SHUTDOWN_WAIT_MS = 15_000;

export interface MediaWorkerOptions {
  /**
   * A worker that leaves a ping unanswered this long (ms) is taken for hung (an endless
   * loop in the engine) and ended, as if it had crashed. Pings go out every quarter of
   * it. Default 15000; 0: no liveness check.
   */
  unresponsiveMs?: number;
}

const DEFAULT_UNRESPONSIVE_MS = 15_000;

export interface MediaWorkerHandlers {
  /** A room event from the worker (a candidate, a recording that ended). */
  onEvent(message: RoomEvent): void;
  /**
   * The thread stopped, or is stopping, without being asked to (crash, exit, out of
   * memory, hung). Called once, as soon as it is known: on the uncaught error, before the
   * thread has finished tearing down (its sockets may still be open: see `exited`).
   */
  onStopped(reason: string): void;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/**
 * One media worker thread as the main thread sees it: calls with pending answers, the
 * events it sends, and its end. When the thread stops, every pending call rejects with
 * "media worker N stopped: <reason>".
 */
export class MediaWorker {
  /** Resolves once the worker has loaded and answers calls; rejects if it stops first. */
  readonly started: Promise<void>;
  /** Resolves once the thread has ended and released its sockets (a replacement may bind the same ports). */
  readonly exited: Promise<void>;
  readonly startedAt = Date.now();
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private state: 'starting' | 'ready' | 'closing' | 'stopped' = 'starting';
  /** The first cause of death seen (an 'error' comes before its 'exit'). */
  private cause: string | undefined;
  private markStarted!: () => void;
  private failStart!: (error: Error) => void;
  private markExited!: () => void;

  private liveness: NodeJS.Timeout | undefined;
  /** When the ping still unanswered went out. */
  private pingSentAt: number | undefined;

  constructor(
    readonly index: number,
    init: WorkerInit,
    private readonly handlers: MediaWorkerHandlers,
    options: MediaWorkerOptions = {},
  ) {
    this.started = new Promise<void>((resolve, reject) => {
      this.markStarted = resolve;
      this.failStart = reject;
    });
    // A caller that only cares about the stop (onStopped) must not leave this unhandled.
    this.started.catch(() => undefined);
    this.exited = new Promise<void>((resolve) => (this.markExited = resolve));
    this.worker = new Worker(ENTRY, { workerData: init, name: `media-worker-${index}` });
    this.worker.on('message', (message: WorkerMessage) => this.onMessage(message));
    // An uncaught error ends the thread, but its teardown (closing the engine's sockets,
    // freeing the heap) takes a while, seconds on a busy machine: the rooms are lost now.
    this.worker.on('error', (error: Error) => {
      this.cause ??= error.message;
      this.lose();
    });
    this.worker.on('messageerror', (error: Error) => {
      this.cause ??= `unreadable message: ${error.message}`;
    });
    this.worker.on('exit', (code: number) => this.onExit(code));
    const unresponsiveMs = options.unresponsiveMs ?? DEFAULT_UNRESPONSIVE_MS;
    if (unresponsiveMs > 0) {
      this.liveness = setInterval(() => this.checkAlive(unresponsiveMs), Math.max(10, Math.floor(unresponsiveMs / 4)));
      this.liveness.unref();
    }
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  get alive(): boolean {
    return this.state === 'starting' || this.state === 'ready';
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  /** The worker's room calls, as a RoomProxy makes them. */
  readonly rooms: RoomChannel = {
    call: <M extends RoomMethod>(method: M, params: RoomParamsOf<M>): Promise<RoomResultOf<M>> =>
      this.call(method, params as ParamsOf<M>) as Promise<RoomResultOf<M>>,
  };

  call<M extends WorkerMethod>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
    if (!this.alive) return Promise.reject(this.stoppedError());
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, method, params } as WorkerRequest);
    });
  }

  /** Closes the worker's rooms (finishing recordings), then ends the thread. Idempotent. */
  async close(): Promise<void> {
    if (!this.alive) return this.exited;
    const wasReady = this.state === 'ready';
    this.state = 'closing';
    this.cause = 'closed';
    if (wasReady) {
      const id = this.nextId++;
      await new Promise<void>((resolve) => {
        // Finishing recordings takes a moment; a worker that hangs is ended anyway.
        const timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.pending.set(id, { resolve: done, reject: done });
        this.worker.postMessage({ id, method: 'shutdown', params: {} } satisfies WorkerRequest);
      });
    }
    await this.worker.terminate();
    await this.exited;
  }

  /**
   * Ends the thread at once, from outside, as the operating system would end a process:
   * nothing runs in it any more (no close, no shutdown). Handled as a crash with `reason`.
   */
  kill(reason: string): void {
    if (!this.alive) return;
    this.cause ??= reason;
    void this.worker.terminate();
  }

  private onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case 'ready':
        if (this.state === 'starting') this.state = 'ready';
        this.markStarted();
        return;
      case 'response': {
        const pending = this.pending.get(message.id);
        if (!pending) return;
        this.pending.delete(message.id);
        if (message.ok) pending.resolve(message.result);
        else pending.reject(deserializeError(message.error));
        return;
      }
      default:
        this.handlers.onEvent(message);
    }
  }

  /** Sends a ping when none is out; ends the thread when the one out is overdue. */
  private checkAlive(unresponsiveMs: number): void {
    if (this.state !== 'ready') return;
    if (this.pingSentAt === undefined) {
      this.pingSentAt = Date.now();
      this.call('ping', {}).then(
        () => (this.pingSentAt = undefined),
        () => undefined,
      );
      return;
    }
    const sentAt = this.pingSentAt;
    if (Date.now() - sentAt < unresponsiveMs) return;
    // The answer may be waiting to be read: after this thread's own event loop was blocked
    // (a busy machine, a burst of work), timers run before the messages that came in
    // meanwhile. Judge after those are read (setImmediate runs after the poll phase).
    setImmediate(() => {
      if (this.state !== 'ready' || this.pingSentAt !== sentAt) return;
      this.cause ??= `it did not answer for ${Math.round((Date.now() - sentAt) / 1000)} s (hung)`;
      this.lose();
      void this.worker.terminate();
    });
  }

  private onExit(code: number): void {
    this.cause ??= `the thread exited with code ${code}`;
    this.lose();
    this.markExited();
  }

  /** The thread is gone or going: pending calls reject, and the owner is told once (unless it asked for the end). */
  private lose(): void {
    if (this.state === 'stopped') return;
    if (this.liveness) clearInterval(this.liveness);
    const asked = this.state === 'closing';
    this.state = 'stopped';
    this.cause ??= 'unknown reason';
    const error = this.stoppedError();
    this.failStart(error);
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    if (!asked) this.handlers.onStopped(this.cause);
  }

  private stoppedError(): SignalingError {
    return new SignalingError('MEDIA_ERROR', `media worker ${this.index} stopped: ${this.cause ?? 'unknown reason'}`);
  }
}
