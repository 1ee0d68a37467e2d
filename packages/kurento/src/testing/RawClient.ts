import WebSocket from 'ws';

export interface RpcResponse {
  id?: string | number | null;
  result?: { value?: unknown; sessionId?: string } & Record<string, unknown>;
  error?: { code: number; message: string; data?: { type?: string } };
}

export interface RpcNotification {
  method: string;
  params: { value: { type: string; object: string; data: Record<string, unknown> } };
}

/** A bare JSON-RPC client over one WebSocket, for protocol-level tests. */
export class RawClient {
  private nextId = 1;
  private readonly pending = new Map<string | number, (r: RpcResponse) => void>();
  readonly notifications: RpcNotification[] = [];
  readonly orphans: RpcResponse[] = [];
  sessionId: string | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as RpcResponse & Partial<RpcNotification>;
      if (msg.method) {
        this.notifications.push(msg as RpcNotification);
        return;
      }
      const resolve = msg.id !== undefined && msg.id !== null ? this.pending.get(msg.id) : undefined;
      if (resolve) {
        this.pending.delete(msg.id!);
        resolve(msg);
      } else {
        this.orphans.push(msg);
      }
    });
  }

  static async connect(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawClient(ws);
  }

  /** Sends a request and waits for its response; keeps the session id it gets back. */
  async request(method: string, params: Record<string, unknown> = {}, withSession = true): Promise<RpcResponse> {
    const id = this.nextId++;
    const body = { ...params, ...(withSession && this.sessionId && params.sessionId === undefined ? { sessionId: this.sessionId } : {}) };
    const response = await this.sendRaw(JSON.stringify({ jsonrpc: '2.0', id, method, params: body }), id);
    if (response.result?.sessionId) this.sessionId = response.result.sessionId;
    return response;
  }

  /** Sends any text; resolves with the response carrying `id` (or the next unmatched one). */
  sendRaw(text: string, id?: string | number, binary = false): Promise<RpcResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to ${text.slice(0, 80)}`)), 10_000);
      const done = (r: RpcResponse): void => {
        clearTimeout(timer);
        resolve(r);
      };
      if (id !== undefined) {
        this.pending.set(id, done);
      } else {
        const poll = setInterval(() => {
          const r = this.orphans.shift();
          if (r) {
            clearInterval(poll);
            done(r);
          }
        }, 10);
      }
      this.ws.send(binary ? Buffer.from(text) : text);
    });
  }

  async value<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const r = await this.request(method, params);
    if (r.error) throw new Error(`${method} failed: ${r.error.code} ${r.error.message}`);
    return r.result?.value as T;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  /** Drops the connection without a close handshake, like a network failure. */
  drop(): void {
    this.ws.terminate();
  }
}
