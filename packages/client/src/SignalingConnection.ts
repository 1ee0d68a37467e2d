import type { RequestOf, RequestType, ServerNotification, UserInfo } from '@roundtable/protocol';
import { ERROR_CODES, type ErrorCode } from '@roundtable/protocol';
import { ClientError } from './ClientError.js';
import { parseServerFrame, type InboundFrame } from './frames.js';
import { globalWebSocket, SOCKET_OPEN, type WebSocketConstructor, type WebSocketLike } from './platform.js';
import type { ClientResultMap, SessionResult } from './results.js';
import { TypedEmitter, type ListenerErrorReporter } from './TypedEmitter.js';

export type RequestFields<T extends RequestType> = Omit<RequestOf<T>, 'id' | 'type'>;
export type ResultOf<T extends RequestType> = T extends keyof ClientResultMap ? ClientResultMap[T] : unknown;
type FieldsArg<T extends RequestType> = object extends RequestFields<T> ? [fields?: RequestFields<T>] : [fields: RequestFields<T>];

export interface ReconnectOptions {
  /** First delay before reconnecting (ms). Default 250. */
  initialDelayMs?: number;
  /** Longest delay between attempts (ms). Default 10000. */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt. Default 2. */
  factor?: number;
}

export interface SignalingConnectionOptions {
  /** The signaling endpoint, e.g. 'wss://example.com/ws'. */
  url: string;
  /** Default: the global WebSocket (browsers, Node 22+). In Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  /** How long a request waits for its response (ms). Default 10000. */
  requestTimeoutMs?: number;
  /** How long opening the socket may take (ms). Default 10000. */
  connectTimeoutMs?: number;
  /** Reconnect after an unexpected drop (once signed in). `false` turns it off. Default: on, with the defaults of ReconnectOptions. */
  reconnect?: ReconnectOptions | false;
  /** Where listener errors go. Default console.error. */
  onListenerError?: ListenerErrorReporter;
}

export type SignalingConnectionEvents = {
  notification: ServerNotification;
  /** The socket dropped; the next attempt starts after `delayMs`. */
  reconnecting: { attempt: number; delayMs: number };
  /** A new socket is open and re-authenticated with the session token. */
  reconnected: { attempts: number };
  /** Closed for good: by close(), or because the session cannot be resumed. */
  closed: { reason: 'closed' | 'sessionEnded' | 'reconnectDisabled' };
};

interface Pending {
  type: string;
  resolve(result: unknown): void;
  reject(error: ClientError): void;
  timer: ReturnType<typeof setTimeout>;
}

type Phase = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * One WebSocket to the signaling server: requests matched to responses by id (each with
 * a timeout), notifications as typed events, sign-in, and reconnection with backoff
 * that re-sends `hello` with the session token. Requests made while the socket is down
 * fail at once with DISCONNECTED (signaling is not queued: a stale offer is worse than none).
 */
export class SignalingConnection extends TypedEmitter<SignalingConnectionEvents> {
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnect: Required<ReconnectOptions> | false;
  private socket: WebSocketLike | undefined;
  private phase: Phase = 'idle';
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private token: string | undefined;
  private session: SessionResult | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;

  constructor(private readonly options: SignalingConnectionOptions) {
    super(options.onListenerError);
    const impl = options.WebSocket ?? globalWebSocket();
    if (!impl) throw new ClientError('CLOSED', 'no WebSocket implementation: pass options.WebSocket');
    this.WebSocketImpl = impl;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.reconnect = options.reconnect === false ? false : { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, ...options.reconnect };
  }

  get isOpen(): boolean {
    return this.phase === 'open';
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** The signed-in user, after login()/register()/hello(). */
  get user(): UserInfo | undefined {
    return this.session?.user;
  }

  /** Opens the socket. */
  async connect(): Promise<void> {
    if (this.phase === 'closed') throw new ClientError('CLOSED', 'the connection is closed');
    if (this.phase === 'open') return;
    this.phase = 'connecting';
    this.socket = await this.open();
    this.phase = 'open';
  }

  /** Registers a new account (its first device) and binds this socket to it. */
  async register(username: string, password: string, displayName?: string): Promise<SessionResult> {
    return this.signIn(await this.request('register', { username, password, ...(displayName ? { displayName } : {}) }));
  }

  /** Logs in as a new device and binds this socket to it. */
  async login(username: string, password: string, deviceName?: string): Promise<SessionResult> {
    return this.signIn(await this.request('login', { username, password, ...(deviceName ? { deviceName } : {}) }));
  }

  /** The token of the signed-in device session (login, register or resume), if any. */
  get sessionToken(): string | null {
    return this.session ? this.token ?? null : null;
  }

  /** Binds this socket to an existing device session (a stored token) and signs in as its user, as login() does. */
  async hello(token: string): Promise<ClientResultMap['hello']> {
    const result = await this.request('hello', { token });
    this.token = token;
    this.session = { ...result, token };
    return result;
  }

  /**
   * Resumes a device session from a stored token (after a page reload): hello() with the
   * result shaped as login()'s. Rejects with UNAUTHENTICATED for an expired or logged-out token.
   */
  async resume(token: string): Promise<SessionResult> {
    const result = await this.hello(token);
    return { ...result, token };
  }

  /** Ends the device session on the server (its token stops working) and forgets it here; the socket stays open, signed out. */
  async logout(): Promise<void> {
    try {
      await this.request('logout');
    } finally {
      this.token = undefined;
      this.session = undefined;
    }
  }

  /** Sends a request; resolves with its result, rejects with a ClientError (the wire code, TIMEOUT or DISCONNECTED). */
  request<T extends RequestType>(type: T, ...args: FieldsArg<T>): Promise<ResultOf<T>> {
    return this.sendFrame(type, { ...(args[0] ?? {}) }) as Promise<ResultOf<T>>;
  }

  /** Like request(), for callers that hold the fields of a generic request type. */
  send<T extends RequestType>(type: T, fields: RequestFields<T>): Promise<unknown> {
    return this.sendFrame(type, fields);
  }

  /** Closes the socket for good and fails pending requests with CLOSED. Idempotent. */
  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    clearTimeout(this.reconnectTimer);
    this.failPending('CLOSED', 'the connection was closed');
    this.detach(this.socket)?.close(1000, 'client closed');
    this.socket = undefined;
    this.emit('closed', { reason: 'closed' });
  }

  // --- internals ---------------------------------------------------------------------

  private async signIn(session: SessionResult): Promise<SessionResult> {
    await this.hello(session.token);
    this.session = session;
    return session;
  }

  private sendFrame(type: string, fields: object): Promise<unknown> {
    const socket = this.socket;
    if (this.phase === 'closed') return Promise.reject(new ClientError('CLOSED', 'the connection is closed', type));
    if (!socket || socket.readyState !== SOCKET_OPEN) return Promise.reject(new ClientError('DISCONNECTED', 'the socket is not open', type));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ClientError('TIMEOUT', `no response within ${this.requestTimeoutMs} ms`, type));
      }, this.requestTimeoutMs);
      this.pending.set(id, { type, resolve, reject, timer });
      socket.send(JSON.stringify({ ...fields, id, type }));
    });
  }

  private open(): Promise<WebSocketLike> {
    return new Promise((resolve, reject) => {
      const socket = new this.WebSocketImpl(this.options.url);
      const timer = setTimeout(() => {
        this.detach(socket)?.close();
        reject(new ClientError('TIMEOUT', `could not connect to ${this.options.url} within ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      socket.onerror = () => undefined; // reported through onclose
      socket.onclose = () => {
        clearTimeout(timer);
        this.detach(socket);
        reject(new ClientError('DISCONNECTED', `could not connect to ${this.options.url}`));
      };
      socket.onopen = () => {
        clearTimeout(timer);
        socket.onmessage = (event) => this.receive(parseServerFrame(event.data));
        socket.onclose = () => this.onDrop(socket);
        resolve(socket);
      };
    });
  }

  private detach(socket: WebSocketLike | undefined): WebSocketLike | undefined {
    if (!socket) return undefined;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = () => undefined;
    return socket;
  }

  private receive(frame: InboundFrame | undefined): void {
    if (!frame) return;
    if (frame.kind === 'notification') {
      if (frame.notification.type === 'session.ended' && frame.notification.reason !== 'serverShutdown') this.token = undefined;
      this.emit('notification', frame.notification);
      return;
    }
    const pending = frame.id === null ? undefined : this.pending.get(frame.id);
    if (!pending || frame.id === null) return;
    this.pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.ok) pending.resolve(frame.result);
    else pending.reject(new ClientError(wireCode(frame.error.code), frame.error.message, pending.type, frame.error.retryAfterMs));
  }

  private onDrop(socket: WebSocketLike): void {
    if (socket !== this.socket || this.phase === 'closed') return;
    this.detach(socket);
    this.socket = undefined;
    this.failPending('DISCONNECTED', 'the socket closed before the response');
    // Dropped while re-authenticating: tryReconnect() sees the failed hello and schedules the next attempt.
    if (this.phase === 'reconnecting') return;
    if (!this.token) {
      this.phase = 'idle';
      return;
    }
    if (!this.reconnect) {
      this.phase = 'closed';
      this.emit('closed', { reason: 'reconnectDisabled' });
      return;
    }
    this.phase = 'reconnecting';
    this.attempt = 0;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.phase !== 'reconnecting' || !this.reconnect) return;
    const { initialDelayMs, maxDelayMs, factor } = this.reconnect;
    const base = Math.min(maxDelayMs, initialDelayMs * factor ** this.attempt);
    // Jitter so that many clients dropped by one server restart do not come back in step.
    const delayMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => void this.tryReconnect(), delayMs);
  }

  private async tryReconnect(): Promise<void> {
    if (this.phase !== 'reconnecting') return;
    let socket: WebSocketLike;
    try {
      socket = await this.open();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.phase !== 'reconnecting') {
      this.detach(socket)?.close();
      return;
    }
    this.socket = socket;
    const token = this.token;
    try {
      if (!token) throw new ClientError('UNAUTHENTICATED', 'no session to resume');
      await this.sendFrame('hello', { token });
    } catch (error) {
      if (error instanceof ClientError && error.code === 'UNAUTHENTICATED') {
        // The session is gone (expired or logged out): reconnecting cannot fix that.
        this.phase = 'closed';
        this.detach(socket)?.close(1000, 'session ended');
        this.socket = undefined;
        this.emit('closed', { reason: 'sessionEnded' });
        return;
      }
      if (this.socket === socket) {
        this.detach(socket)?.close();
        this.socket = undefined;
      }
      if (this.phase === 'reconnecting') this.scheduleReconnect();
      return;
    }
    this.phase = 'open';
    const attempts = this.attempt;
    this.attempt = 0;
    this.emit('reconnected', { attempts });
  }

  private failPending(code: 'CLOSED' | 'DISCONNECTED', message: string): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new ClientError(code, message, pending.type));
    }
    this.pending.clear();
  }
}

function wireCode(code: string): ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'INTERNAL';
}
