import { z } from 'zod';
import { KurentoClientError } from './KurentoClientError.js';

const wireErrorSchema = z.object({ code: z.number(), message: z.string(), data: z.unknown().optional() });

const incomingSchema = z.union([
  z.object({
    jsonrpc: z.literal('2.0'),
    id: z.union([z.number(), z.string(), z.null()]),
    result: z.unknown().optional(),
    error: wireErrorSchema.optional(),
  }),
  z.object({ jsonrpc: z.literal('2.0'), method: z.string(), params: z.unknown().optional() }),
]);

export interface RequestOptions {
  /** How long to wait for the response, queueing included (ms). */
  timeoutMs: number;
  /**
   * Write even while the channel is paused: for the requests that bring a socket
   * into service (`connect` after a reconnect) and for `ping`. Default false.
   */
  urgent?: boolean;
}

export interface JsonRpcChannelHooks {
  /** Adds what every request carries (the session id) just before it is written. */
  decorate(method: string, params: Record<string, unknown>): Record<string, unknown>;
  onNotification(method: string, params: unknown): void;
  /** Something arrived that is not JSON-RPC. */
  onInvalidMessage(error: KurentoClientError): void;
  /** A response to no outstanding request: typically a late answer to one that timed out. */
  onStrayResponse(id: unknown): void;
}

interface Outstanding {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly urgent: boolean;
  sent: boolean;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: KurentoClientError) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The JSON-RPC 2.0 core of the client: request ids, one map of outstanding requests,
 * timeouts, and text frames. It outlives sockets: a request made while no socket is
 * in service waits here (its timeout running) and goes out once one is.
 */
export class JsonRpcChannel {
  private readonly outstanding = new Map<number, Outstanding>();
  private nextId = 1;
  private write: ((text: string) => boolean) | undefined;
  private paused = true;
  private closedWith: KurentoClientError | undefined;

  constructor(private readonly hooks: JsonRpcChannelHooks) {}

  /** Number of requests waiting for a response or for a socket. */
  get pending(): number {
    return this.outstanding.size;
  }

  /** Resolves with the response's `result`; rejects with a KurentoClientError. */
  request(method: string, params: Record<string, unknown>, options: RequestOptions): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.outstanding.delete(id);
        reject(new KurentoClientError('REQUEST_TIMEOUT', `no response to '${method}' within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      const entry: Outstanding = { method, params, urgent: options.urgent ?? false, sent: false, resolve, reject, timer };
      this.outstanding.set(id, entry);
      if (this.write && (!this.paused || entry.urgent)) this.send(id, entry);
    });
  }

  /**
   * A socket is open: urgent requests may use it, the rest wait for resume(). `write`
   * returns false when the socket can no longer send: the frame never left, so the
   * request stays queued for the next socket.
   */
  attach(write: (text: string) => boolean): void {
    this.write = write;
    this.paused = true;
    for (const [id, entry] of this.outstanding) if (entry.urgent && !entry.sent) this.send(id, entry);
  }

  /** The socket is in service: everything queued goes out, in the order it was asked. */
  resume(): void {
    if (!this.write) return;
    this.paused = false;
    for (const [id, entry] of this.outstanding) if (!entry.sent) this.send(id, entry);
  }

  /**
   * The socket is gone. Requests already written may or may not have run on the
   * server, so they fail with CONNECTION_LOST; requests not yet written keep waiting.
   */
  detach(): void {
    this.write = undefined;
    this.paused = true;
    for (const [id, entry] of [...this.outstanding]) {
      if (!entry.sent) continue;
      this.settle(id, entry);
      entry.reject(new KurentoClientError('CONNECTION_LOST', `the connection dropped before '${entry.method}' was answered`));
    }
  }

  /** Fails the requests not yet written (their context is gone, e.g. the session). */
  rejectQueued(error: KurentoClientError): void {
    for (const [id, entry] of [...this.outstanding]) {
      if (entry.sent) continue;
      this.settle(id, entry);
      entry.reject(error);
    }
  }

  /** Fails everything and refuses new requests. Idempotent. */
  close(error: KurentoClientError): void {
    if (this.closedWith) return;
    this.closedWith = error;
    this.write = undefined;
    for (const [id, entry] of [...this.outstanding]) {
      this.settle(id, entry);
      entry.reject(error);
    }
  }

  /** Handles one text frame from the server. */
  receive(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.hooks.onInvalidMessage(new KurentoClientError('INVALID_MESSAGE', `the server sent text that is not JSON: ${text.slice(0, 80)}`));
      return;
    }
    const checked = incomingSchema.safeParse(parsed);
    if (!checked.success) {
      this.hooks.onInvalidMessage(new KurentoClientError('INVALID_MESSAGE', `the server sent a message that is not JSON-RPC 2.0: ${text.slice(0, 80)}`));
      return;
    }
    const message = checked.data;
    if ('method' in message) {
      this.hooks.onNotification(message.method, message.params);
      return;
    }
    const entry = typeof message.id === 'number' ? this.outstanding.get(message.id) : undefined;
    if (!entry || typeof message.id !== 'number') {
      this.hooks.onStrayResponse(message.id);
      return;
    }
    this.settle(message.id, entry);
    if (message.error) entry.reject(KurentoClientError.fromWire(message.error));
    else if (message.result === undefined) entry.reject(new KurentoClientError('INVALID_MESSAGE', `the response to '${entry.method}' has neither result nor error`));
    else entry.resolve(message.result);
  }

  private send(id: number, entry: Outstanding): void {
    const write = this.write;
    if (!write) return;
    const params = this.hooks.decorate(entry.method, entry.params);
    try {
      entry.sent = write(JSON.stringify({ jsonrpc: '2.0', id, method: entry.method, params }));
    } catch {
      // Failed in the middle of sending: it may have left, so the socket's close fails it with CONNECTION_LOST.
      entry.sent = true;
    }
  }

  private settle(id: number, entry: Outstanding): void {
    clearTimeout(entry.timer);
    this.outstanding.delete(id);
  }
}
