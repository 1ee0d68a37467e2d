import { WebSocket } from 'ws';

/** One message of a tutorial app's own protocol: `{ id: '...', ... }`. */
export type AppMessage = { id: string } & Record<string, unknown>;

/**
 * The browser's WebSocket to a tutorial app (`wss://host/<path>`), with the app's
 * self-signed certificate accepted as a user would accept it in the browser.
 * Messages are kept, so a scenario can wait for one that has already arrived.
 */
export class AppSocket {
  readonly received: AppMessage[] = [];
  readonly sent: AppMessage[] = [];
  private readonly listeners = new Set<(m: AppMessage) => void>();
  private closed = false;

  private constructor(private readonly ws: WebSocket, readonly label: string) {
    ws.on('message', (data) => {
      let message: AppMessage;
      try {
        message = JSON.parse(String(data)) as AppMessage;
      } catch {
        message = { id: '(not json)', raw: String(data) };
      }
      this.received.push(message);
      for (const fn of this.listeners) fn(message);
    });
    ws.on('close', () => {
      this.closed = true;
    });
  }

  static async open(url: string, label: string, timeoutMs = 10_000): Promise<AppSocket> {
    const ws = new WebSocket(url, { rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: no WebSocket to ${url} after ${timeoutMs} ms`)), timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    return new AppSocket(ws, label);
  }

  send(message: AppMessage): void {
    if (this.closed) return;
    this.sent.push(message);
    this.ws.send(JSON.stringify(message));
  }

  /** Calls `fn` for every message with this id, those already received first. */
  on(id: string, fn: (m: AppMessage) => void): void {
    for (const m of this.received) if (m.id === id) fn(m);
    this.listeners.add((m) => {
      if (m.id === id) fn(m);
    });
  }

  /** The first message with this id (already received or still to come). */
  waitFor(id: string, timeoutMs = 15_000): Promise<AppMessage> {
    const seen = this.received.find((m) => m.id === id);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        const got = this.received.map((m) => m.id).join(', ') || 'nothing';
        reject(new Error(`${this.label}: no '${id}' message after ${timeoutMs} ms (received: ${got})`));
      }, timeoutMs);
      const listener = (m: AppMessage): void => {
        if (m.id !== id) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(m);
      };
      this.listeners.add(listener);
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
      setTimeout(resolve, 2_000).unref();
    });
  }
}
