/** What one client, and all of them together, may take of a Kurento Protocol server. */
export interface KurentoLimits {
  /** Media objects of all sessions together (the ServerManager not counted). Default 20000. */
  maxObjects: number;
  /** Media objects of one session. Default 5000. */
  maxSessionObjects: number;
  /**
   * Requests handled from one WebSocket frame (the official client's binary frames may
   * hold several), and operations in one `transaction`. Default 500.
   */
  maxFrameRequests: number;
  /** Requests of one connection waiting their turn. Default 1000. */
  maxQueuedRequests: number;
  /** Bytes of replies and events a client leaves unread before it is cut. Default 16 MiB. */
  maxUnreadBytes: number;
  /**
   * Bytes of one WebSocket frame; a bigger one closes the connection (1009), as the
   * work of receiving it cannot be sliced. Default 1 MiB.
   */
  maxFrameBytes: number;
}

export const DEFAULT_KURENTO_LIMITS: Readonly<KurentoLimits> = {
  maxObjects: 20_000,
  maxSessionObjects: 5_000,
  maxFrameRequests: 500,
  maxQueuedRequests: 1_000,
  maxUnreadBytes: 16 * 1024 * 1024,
  maxFrameBytes: 1024 * 1024,
};

/**
 * Cooperative time slicing: long runs of work check `spent` and `yield` to the event
 * loop, so that other clients (and /healthz) are served in between. A slice is 1 ms by
 * default: the yield costs some microseconds, and on a busy machine a slice of CPU
 * stretches to several times its length in wall time.
 */
export class WorkBudget {
  private since = performance.now();
  constructor(private readonly sliceMs = 1) {}

  get spent(): boolean {
    return performance.now() - this.since > this.sliceMs;
  }

  /** Lets the event loop run (I/O included) before going on. */
  async yield(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }

  async yieldIfSpent(): Promise<void> {
    if (this.spent) await this.yield();
  }
}
