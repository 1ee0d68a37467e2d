import type { DeviceId, RequestOf, RequestType, ServerNotification, UserInfo } from '@roundtable/protocol';
import WebSocket from 'ws';
import type { ResultOf } from '../results.js';

/*
 * A signaling client for tests: requests matched to responses by id, notifications
 * collected in order and waited for by type, raw frames for malformed-input tests.
 * Every wait has a timeout, so a broken server fails a test instead of hanging it.
 * Test-only; not exported from the package.
 */

export type RequestFields<T extends RequestType> = Omit<RequestOf<T>, 'id' | 'type'>;
type NotificationType = ServerNotification['type'];
export type NotificationOf<T extends NotificationType> = Extract<ServerNotification, { type: T }>;

/** A response as it came over the wire. */
export type WireResponse = { id: number | null; ok: true; result: unknown } | { id: number | null; ok: false; error: { code: string; message: string } };

/** A request answered with `ok: false`. */
export class RequestFailed extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly requestType: string,
  ) {
    super(`${requestType} failed: ${code}: ${message}`);
    this.name = 'RequestFailed';
  }
}

export interface TestClientOptions {
  /** Default for every request and wait. Default 5000 ms. */
  timeoutMs?: number;
}

export interface SignInOptions extends TestClientOptions {
  /** Default 'password-123'. */
  password?: string;
  displayName?: string;
  deviceName?: string;
}

interface Pending {
  resolve(response: WireResponse): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface Waiter {
  matches(frame: unknown): boolean;
  resolve(frame: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class TestClient {
  /** Every frame received, in order (responses and notifications). */
  readonly frames: unknown[] = [];
  /** Every notification received, in order. */
  readonly notifications: ServerNotification[] = [];
  /** Set by `signIn()`. */
  user: UserInfo | undefined;
  deviceId: DeviceId | undefined;
  token: string | undefined;

  private readonly timeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  // Frames no request claimed (notifications, errors without a known id), not yet taken by a wait.
  private readonly unclaimed: unknown[] = [];
  private readonly waiters = new Set<Waiter>();
  private nextId = 1;
  private closeInfo: { code: number; reason: string } | undefined;
  private readonly closedPromise: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    options: TestClientOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    ws.on('message', (data, isBinary) => this.receive(isBinary ? { binary: true } : parseFrame(String(data))));
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        const error = new Error(`the socket closed (${code} ${this.closeInfo.reason})`);
        for (const pending of this.pending.values()) {
          clearTimeout(pending.timer);
          pending.reject(error);
        }
        this.pending.clear();
        for (const waiter of this.waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(error);
        }
        this.waiters.clear();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => undefined); // reported through 'close'
  }

  static async connect(url: string, options: TestClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not connect to ${url}`)), options.timeoutMs ?? 5000);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return new TestClient(ws, options);
  }

  /**
   * Connects as `username` on a new device: registers the user on first use (which opens
   * the first device), otherwise logs in (a new device each time); then sends hello.
   */
  static async signIn(url: string, username: string, options: SignInOptions = {}): Promise<TestClient> {
    const client = await TestClient.connect(url, options);
    try {
      const password = options.password ?? 'password-123';
      // Registering opens the account's first device; afterwards each sign-in logs in as a new one.
      const registered = await client.send('register', { username, password, ...(options.displayName ? { displayName: options.displayName } : {}) });
      if (!registered.ok && registered.error.code !== 'CONFLICT') throw new RequestFailed(registered.error.code, registered.error.message, 'register');
      const login = registered.ok
        ? (registered.result as ResultOf<'register'>)
        : await client.request('login', { username, password, ...(options.deviceName ? { deviceName: options.deviceName } : {}) });
      await client.request('hello', { token: login.token });
      client.user = login.user;
      client.deviceId = login.deviceId;
      client.token = login.token;
      return client;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** The user id of a signed-in client. */
  get userId(): UserInfo['id'] {
    if (!this.user) throw new Error('this client has not signed in');
    return this.user.id;
  }

  /** Sends a request; resolves with its result, rejects with `RequestFailed` on `ok: false`. */
  async request<T extends RequestType>(type: T, ...args: OptionalFields<T>): Promise<ResultOf<T>> {
    const response = await this.send(type, ...args);
    if (!response.ok) throw new RequestFailed(response.error.code, response.error.message, type);
    return response.result as ResultOf<T>;
  }

  /** Sends a request; resolves with the response whatever it says. */
  send<T extends RequestType>(type: T, ...args: OptionalFields<T>): Promise<WireResponse> {
    const id = this.nextId++;
    return this.sendWithId(id, { ...(args[0] ?? {}), id, type });
  }

  /** Sends `frame` as JSON with `id` set (see `takeId()`); resolves with the response to that id. */
  sendWithId(id: number, frame: Record<string, unknown>, timeoutMs = this.timeoutMs): Promise<WireResponse> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new Error('the socket is not open'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no response to request ${id} (${String(frame['type'])}) within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** A fresh request id, for frames built by hand. */
  takeId(): number {
    return this.nextId++;
  }

  /** Sends raw data (a string as a text frame, or binary); responses to it land with the unclaimed frames. */
  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.ws.send(data, { binary: options.binary ?? Buffer.isBuffer(data) });
  }

  /** The first notification of `type` (matching `predicate`) not taken by an earlier wait: already received, or arriving within the timeout. */
  async waitFor<T extends NotificationType>(type: T, predicate: (notification: NotificationOf<T>) => boolean = () => true, timeoutMs = this.timeoutMs): Promise<NotificationOf<T>> {
    const frame = await this.waitForFrame((f) => isNotification(f) && f.type === type && predicate(f as NotificationOf<T>), timeoutMs, `a '${type}' notification`);
    return frame as NotificationOf<T>;
  }

  /** The first unclaimed error response (id null, or an id no request is waiting for), optionally with `code`. */
  async waitForError(code?: string, timeoutMs = this.timeoutMs): Promise<WireResponse & { ok: false }> {
    const frame = await this.waitForFrame((f) => isErrorResponse(f) && (code === undefined || f.error.code === code), timeoutMs, `an error${code ? ` ${code}` : ''}`);
    return frame as WireResponse & { ok: false };
  }

  /** The first unclaimed frame matching `predicate`, taken so later waits do not see it again. */
  waitForFrame(predicate: (frame: unknown) => boolean, timeoutMs = this.timeoutMs, what = 'a matching frame'): Promise<unknown> {
    const index = this.unclaimed.findIndex(predicate);
    if (index >= 0) return Promise.resolve(this.unclaimed.splice(index, 1)[0]);
    if (this.closeInfo) return Promise.reject(new Error(`the socket is closed (${this.closeInfo.code}); no ${what}`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        matches: predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`no ${what} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves after `ms` if no matching notification arrived (or was waiting unclaimed); rejects as soon as one does. */
  async expectNo<T extends NotificationType>(type: T, predicate: (notification: NotificationOf<T>) => boolean = () => true, ms = 300): Promise<void> {
    let arrived: unknown;
    try {
      arrived = await this.waitFor(type, predicate, ms);
    } catch {
      return;
    }
    throw new Error(`unexpected '${type}' notification: ${JSON.stringify(arrived)}`);
  }

  /** Resolves with the close code and reason once the server (or we) closed the socket. */
  async waitForClose(timeoutMs = this.timeoutMs): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.closedPromise,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the socket did not close within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the socket (cutting it if the server does not answer within a second). Idempotent. */
  async close(): Promise<void> {
    if (this.closeInfo) return;
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close();
    try {
      await this.waitForClose(1000);
    } catch {
      this.ws.terminate();
      await this.closedPromise;
    }
  }

  private receive(frame: unknown): void {
    this.frames.push(frame);
    if (isNotification(frame)) this.notifications.push(frame);
    const id = responseId(frame);
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (pending && id !== undefined) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.resolve(frame as WireResponse);
      return;
    }
    for (const waiter of this.waiters) {
      if (!waiter.matches(frame)) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
      return;
    }
    this.unclaimed.push(frame);
  }
}

type OptionalFields<T extends RequestType> = object extends RequestFields<T> ? [fields?: RequestFields<T>] : [fields: RequestFields<T>];

function parseFrame(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { unparseable: text };
  }
}

function isNotification(frame: unknown): frame is ServerNotification {
  return typeof frame === 'object' && frame !== null && typeof (frame as { type?: unknown }).type === 'string' && !('ok' in frame);
}

function isErrorResponse(frame: unknown): frame is WireResponse & { ok: false } {
  return typeof frame === 'object' && frame !== null && (frame as { ok?: unknown }).ok === false;
}

function responseId(frame: unknown): number | undefined {
  if (typeof frame !== 'object' || frame === null || !('ok' in frame)) return undefined;
  const id = (frame as { id?: unknown }).id;
  return typeof id === 'number' ? id : undefined;
}
