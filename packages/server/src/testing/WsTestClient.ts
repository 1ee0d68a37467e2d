import WebSocket, { type ClientOptions } from 'ws';

/**
 * A WebSocket client for tests: connects, sends JSON and hands out the server's
 * messages in order. Test-only; not exported from the package.
 */
export class WsTestClient {
  private readonly inbox: unknown[] = [];
  private readonly waiters: ((message: unknown) => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const message: unknown = isBinary ? data : JSON.parse(String(data));
      const waiter = this.waiters.shift();
      if (waiter) waiter(message);
      else this.inbox.push(message);
    });
  }

  /** `options`: e.g. `{ ca }` to trust a test certificate for wss://. */
  static async connect(url: string, options: ClientOptions = {}): Promise<WsTestClient> {
    const ws = new WebSocket(url, options);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new WsTestClient(ws);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The next message from the server; rejects after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<unknown> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (message: unknown): void => {
        clearTimeout(timer);
        resolve(message);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no message from the server within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next message whose id is `id`, skipping others (e.g. trickled candidates). */
  async nextWithId(id: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.next(Math.max(1, deadline - Date.now()));
      if (typeof message === 'object' && message !== null && (message as Record<string, unknown>)['id'] === id) {
        return message as Record<string, unknown>;
      }
    }
  }

  /** Resolves true if no message with this id arrives within `ms` (others are consumed). */
  async receivesNoMessageWithId(id: string, ms: number): Promise<boolean> {
    try {
      await this.nextWithId(id, ms);
      return false;
    } catch {
      return true;
    }
  }

  /** Resolves true if no message arrives within `ms`. */
  async staysQuiet(ms: number): Promise<boolean> {
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
