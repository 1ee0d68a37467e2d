import WebSocket from 'ws';

/** A WebSocket carrying JSON frames: connect, send, and one handler for every frame received. */
export class JsonSocket {
  private constructor(private readonly ws: WebSocket) {}

  static async open(url: string, protocol: string | undefined, onFrame: (frame: Record<string, unknown>) => void, timeoutMs = 10_000): Promise<JsonSocket> {
    const ws = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`could not connect to ${url}`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    ws.on('error', () => undefined); // a broken socket shows as missing media, reported by the run
    ws.on('message', (data) => {
      let frame: unknown;
      try {
        frame = JSON.parse(String(data));
      } catch {
        return;
      }
      if (frame && typeof frame === 'object') onFrame(frame as Record<string, unknown>);
    });
    return new JsonSocket(ws);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: unknown): void {
    if (this.isOpen) this.ws.send(JSON.stringify(frame));
  }

  close(): void {
    this.ws.close();
  }
}

/** Request/response matching by a key (`id` or `transaction`), with a timeout. */
export class PendingRequests<K> {
  private readonly pending = new Map<K, { resolve(frame: Record<string, unknown>): void; reject(error: Error): void; timer: NodeJS.Timeout }>();

  wait(key: K, what: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new Error(`${what}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(key, { resolve, reject, timer });
    });
  }

  /** Settles the request `key` with `frame`; false when nobody waits for it. */
  settle(key: K, frame: Record<string, unknown>): boolean {
    const p = this.pending.get(key);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(key);
    p.resolve(frame);
    return true;
  }

  rejectAll(error: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
  }
}
