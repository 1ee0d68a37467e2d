import type WebSocket from 'ws';
import { z } from 'zod';
import { KurentoErrorCode } from '../errors.js';
import { TypedEmitter, type EventMap } from '@roundtable/media/events';
import { normalizeEventName } from './events.js';
import { Heartbeat } from './Heartbeat.js';
import { JsonRpcChannel } from './JsonRpcChannel.js';
import { isKurentoClientError, KurentoClientError } from './KurentoClientError.js';
import { MediaPipeline } from './MediaPipeline.js';
import { openSocket } from './openSocket.js';
import type { ObjectHost, RemoteMediaObject } from './RemoteMediaObject.js';
import { ServerManager } from './ServerManager.js';
import { describeSchema, type ObjectDescription } from './types.js';

/** Structured logger (pino's shape). */
export interface KurentoClientLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface KurentoClientOptions {
  /** Shared secret of the server, sent as `?access_token=`. Default: none. */
  accessToken?: string;
  /** How long a request may wait for its response, time spent waiting for a socket included (ms). Default 20000. */
  requestTimeoutMs?: number;
  /**
   * Ping period (ms). A ping still unanswered when the next is due marks the socket
   * dead: it is dropped (and, with `reconnect`, replaced). Default 5000; 0 turns pings off.
   */
  pingIntervalMs?: number;
  /**
   * On a dropped socket, reconnect with backoff and resume the session with
   * `connect {sessionId}`. Requests made meanwhile wait for the new socket. Default true.
   */
  reconnect?: boolean;
  /** Delay before the first reconnect attempt (ms), doubled per failed attempt (with jitter). Default 250. */
  reconnectDelayMs?: number;
  /** Longest delay between reconnect attempts (ms). Default 5000. */
  maxReconnectDelayMs?: number;
  /** Default: warnings to the console, nothing else. */
  logger?: KurentoClientLogger;
}

export interface KurentoClientEvents extends EventMap {
  /** The socket dropped or stopped answering pings. With `reconnect` the client is now reconnecting; without, it is closed. */
  disconnected: [error: KurentoClientError];
  /** A new socket is in service and the session, if one was open, is resumed with its objects and subscriptions. */
  reconnected: [sessionId: string | undefined];
  /**
   * A new socket is in service but the server no longer knows the session (its grace
   * period ran out): the session's objects are gone and marked released, requests
   * waiting for the socket failed with INVALID_SESSION, and the next request opens a
   * new session.
   */
  sessionLost: [sessionId: string];
  /** A notification of a server's own methods (anything but the protocol's `onEvent`), e.g. a Roundtable media node's room events. */
  notification: [method: string, params: unknown];
  /** Trouble no request is waiting for: malformed messages or events from the server. */
  error: [error: KurentoClientError];
}

const resultSchema = z.looseObject({ sessionId: z.string().optional(), value: z.unknown().optional() });
const eventNotificationSchema = z.object({ value: z.object({ data: z.unknown(), object: z.string(), type: z.string() }) });

type Result = z.infer<typeof resultSchema>;

const defaultLogger: KurentoClientLogger = {
  info: () => undefined,
  debug: () => undefined,
  warn: (obj, msg) => console.warn(`[kurento-client] ${msg ?? ''}`, obj),
};

/**
 * A client of the Kurento Protocol (JSON-RPC 2.0 over one WebSocket) for Node: the way
 * Roundtable's signaling drives a media server that runs as a separate process. It
 * keeps one session, resumes it after a dropped socket, and hands out typed proxies of
 * the remote objects (`createMediaPipeline()`, `getServerManager()`).
 */
export class KurentoClient extends TypedEmitter<KurentoClientEvents> {
  private readonly url: string;
  private readonly accessToken: string | undefined;
  private readonly requestTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly reconnectEnabled: boolean;
  private readonly reconnectDelayMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly log: KurentoClientLogger;
  private readonly channel: JsonRpcChannel;
  private readonly heartbeat: Heartbeat;
  private readonly host: ObjectHost;
  /** Live proxies by id, for event delivery and for marking them released when the session is lost. */
  private readonly objects = new Map<string, RemoteMediaObject>();
  private manager: ServerManager | undefined;
  private ws: WebSocket | undefined;
  private session: string | undefined;
  /** A socket is open and its session resumed: requests go out at once. */
  private inService = false;
  private isClosed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private pongAt: number | undefined;

  /** Opens the socket; rejects with CONNECTION_FAILED if it cannot (no retry for the first one). */
  static async connect(url: string, options: KurentoClientOptions = {}): Promise<KurentoClient> {
    const client = new KurentoClient(url, options);
    const ws = await openSocket(url, options.accessToken, client.requestTimeoutMs);
    client.adopt(ws);
    client.enterService();
    return client;
  }

  private constructor(url: string, options: KurentoClientOptions) {
    const log = options.logger ?? defaultLogger;
    super((error, event) => log.warn({ event, err: error instanceof Error ? error.message : String(error) }, 'a listener threw'));
    this.log = log;
    this.url = url;
    this.accessToken = options.accessToken;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 20_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 5_000;
    this.reconnectEnabled = options.reconnect ?? true;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 250;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 5_000;
    this.channel = new JsonRpcChannel({
      decorate: (_method, params) => (this.session !== undefined && params.sessionId === undefined ? { ...params, sessionId: this.session } : params),
      onNotification: (method, params) => this.onNotification(method, params),
      onInvalidMessage: (error) => this.emit('error', error),
      onStrayResponse: (id) => this.log.debug({ id }, 'response to no outstanding request (timed out?)'),
    });
    this.heartbeat = new Heartbeat(
      this.pingIntervalMs,
      (timeoutMs) => this.request('ping', { interval: this.pingIntervalMs }, { urgent: true, timeoutMs }),
      () => {
        this.pongAt = Date.now();
      },
      () => this.dropSocket('the server stopped answering pings'),
    );
    this.host = {
      request: async (method, params) => (await this.request(method, params)).value,
      register: (obj) => this.objects.set(obj.id, obj),
      unregister: (obj) => {
        if (this.objects.get(obj.id) === obj) this.objects.delete(obj.id);
      },
      reportError: (error) => this.emit('error', error),
      onListenerError: (error, event) => this.log.warn({ event, err: error instanceof Error ? error.message : String(error) }, 'a listener threw'),
    };
  }

  /** The session id, once the server opened a session (on the first request that needs one). */
  get sessionId(): string | undefined {
    return this.session;
  }

  /** Whether a socket is in service (false while reconnecting, and once closed). */
  get connected(): boolean {
    return this.inService;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** When the last pong arrived (ms since the epoch), for health checks. */
  get lastPongAt(): number | undefined {
    return this.pongAt;
  }

  async createMediaPipeline(): Promise<MediaPipeline> {
    const { value: id } = await this.request('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} });
    if (typeof id !== 'string') throw new KurentoClientError('INVALID_MESSAGE', 'create MediaPipeline returned no object id');
    return new MediaPipeline(this.host, id, 'MediaPipeline', undefined);
  }

  /** The server's ServerManager (one per client; no round trip). */
  getServerManager(): ServerManager {
    this.manager ??= new ServerManager(this.host, ServerManager.ID, 'ServerManager', undefined);
    return this.manager;
  }

  /**
   * A method of the server's own beside the protocol's (a Roundtable media node's
   * rooms), in the client's session; resolves with the response's `value`. A server
   * without it rejects with METHOD_NOT_FOUND (-32601).
   */
  async call(method: string, params: Record<string, unknown>): Promise<unknown> {
    return (await this.request(method, params)).value;
  }

  /** What the server says an object is (its class and hierarchy). */
  async describe(objectId: string): Promise<ObjectDescription> {
    const result = await this.request('describe', { object: objectId });
    const checked = describeSchema.safeParse(result);
    if (!checked.success) throw new KurentoClientError('INVALID_MESSAGE', `describe ${objectId} returned no description`);
    return checked.data;
  }

  /**
   * Closes the socket and stops reconnecting. Releases nothing: the server keeps the
   * session for its grace period. Requests still waiting fail with CLIENT_CLOSED.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.inService = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.heartbeat.stop();
    this.channel.close(new KurentoClientError('CLIENT_CLOSED', 'the client was closed'));
    const ws = this.ws;
    this.ws = undefined;
    if (ws) await closeSocket(ws);
  }

  /**
   * For tests only: drops the socket without a close handshake, as a network failure
   * would. The client then behaves as after a real drop (reconnects if enabled).
   */
  dropConnectionForTest(): void {
    this.dropSocket('dropped by dropConnectionForTest()');
  }

  // --- requests ---------------------------------------------------------------------

  private async request(method: string, params: Record<string, unknown>, options: { urgent?: boolean; timeoutMs?: number } = {}): Promise<Result> {
    const sentIn = this.session;
    let raw: unknown;
    try {
      raw = await this.channel.request(method, params, { timeoutMs: options.timeoutMs ?? this.requestTimeoutMs, urgent: options.urgent ?? false });
    } catch (error) {
      // The server forgot the session under a live socket: same as finding out on reconnect.
      if (method !== 'connect' && sentIn !== undefined && sentIn === this.session && isKurentoClientError(error, KurentoErrorCode.INVALID_SESSION)) {
        this.loseSession();
      }
      throw error;
    }
    const checked = resultSchema.safeParse(raw);
    if (!checked.success) throw new KurentoClientError('INVALID_MESSAGE', `the result of '${method}' is not an object`);
    if (checked.data.sessionId !== undefined) this.session = checked.data.sessionId;
    return checked.data;
  }

  private onNotification(method: string, params: unknown): void {
    if (method !== 'onEvent') {
      this.emit('notification', method, params);
      return;
    }
    const checked = eventNotificationSchema.safeParse(params);
    if (!checked.success) {
      this.emit('error', new KurentoClientError('INVALID_MESSAGE', 'an onEvent notification without value {data, object, type}'));
      return;
    }
    const { object, type, data } = checked.data.value;
    this.objects.get(object)?.dispatchEvent(normalizeEventName(type), data);
  }

  // --- sockets, reconnection and the session ------------------------------------------

  private adopt(ws: WebSocket): void {
    this.ws = ws;
    ws.on('message', (data: WebSocket.RawData) => this.channel.receive(textOf(data)));
    ws.on('close', (code: number) => this.onSocketClosed(ws, code));
    ws.on('error', (error: Error) => this.log.debug({ err: error.message }, 'socket error'));
    this.channel.attach((text) => {
      if (ws.readyState !== ws.OPEN) return false;
      ws.send(text);
      return true;
    });
  }

  private enterService(): void {
    this.inService = true;
    this.reconnectAttempt = 0;
    this.channel.resume();
    this.heartbeat.start();
  }

  /** Drops the socket and handles it as closed at once (its own 'close' comes later and is ignored). */
  private dropSocket(reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    ws.terminate();
    this.onSocketClosed(ws, 1006, reason);
  }

  private onSocketClosed(ws: WebSocket, code: number, reason = `the socket closed (${code})`): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.heartbeat.stop();
    this.channel.detach();
    if (this.isClosed) return;
    const error = new KurentoClientError('CONNECTION_LOST', `connection to ${this.url} lost: ${reason}`);
    const wasInService = this.inService;
    this.inService = false;
    if (!this.reconnectEnabled) {
      this.isClosed = true;
      this.channel.close(error);
    }
    if (wasInService) {
      this.log.warn({ url: this.url, sessionId: this.session, reason }, 'disconnected from the media server');
      this.emit('disconnected', error);
    }
    if (!this.isClosed) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const ceiling = Math.min(this.maxReconnectDelayMs, this.reconnectDelayMs * 2 ** this.reconnectAttempt);
    const delay = Math.round(ceiling * (0.5 + Math.random() / 2));
    this.reconnectAttempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    let ws: WebSocket;
    try {
      ws = await openSocket(this.url, this.accessToken, this.requestTimeoutMs);
    } catch (error) {
      if (this.isClosed) return;
      this.log.info({ url: this.url, attempt: this.reconnectAttempt, err: (error as Error).message }, 'reconnect attempt failed');
      this.scheduleReconnect();
      return;
    }
    if (this.isClosed) {
      ws.terminate();
      return;
    }
    this.adopt(ws);
    const sessionId = this.session;
    let lost = false;
    if (sessionId !== undefined) {
      try {
        await this.request('connect', { sessionId }, { urgent: true });
      } catch (error) {
        if (this.isClosed || this.ws !== ws) return;
        if (!isKurentoClientError(error, KurentoErrorCode.INVALID_SESSION)) {
          // No answer on a fresh socket: drop it; its close schedules the next attempt.
          this.log.info({ url: this.url, err: (error as Error).message }, 'resuming the session failed');
          this.dropSocket(`resuming the session failed: ${(error as Error).message}`);
          return;
        }
        lost = true;
      }
    }
    if (this.isClosed || this.ws !== ws) return;
    // Before entering service, so that requests queued for the lost session fail rather than go out.
    if (lost) this.loseSession();
    this.enterService();
    this.log.info({ url: this.url, sessionId: this.session, resumed: !lost }, 'reconnected to the media server');
    if (!lost) this.emit('reconnected', sessionId);
  }

  private loseSession(): void {
    const lost = this.session;
    if (lost === undefined) return;
    this.session = undefined;
    this.channel.rejectQueued(new KurentoClientError('INVALID_SESSION', `session ${lost} is unknown to the server (its grace period ran out?)`));
    for (const obj of [...this.objects.values()]) {
      if (obj === this.manager) obj.dropSubscriptions();
      else obj.markReleased();
    }
    this.log.warn({ url: this.url, sessionId: lost }, 'the media server lost the session');
    this.emit('sessionLost', lost);
  }
}

function textOf(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(new Uint8Array(data)).toString('utf8');
  return data.toString('utf8');
}

function closeSocket(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === ws.CLOSED) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 1000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(1000, 'client closed');
  });
}
