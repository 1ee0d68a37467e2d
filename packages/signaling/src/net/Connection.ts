import { randomUUID } from 'node:crypto';
import type { ClientRequest, ErrorCode, RequestOf, RequestType, ServerNotification, UserId } from '@roundtable/protocol';
import { WebSocket, type RawData } from 'ws';
import type { AuthService } from '../auth/AuthService.js';
import type { Logger } from '../logger.js';
import type { HelloResult, LogoutResult, RegisterResult } from '../results.js';
import type { StoredSession } from '../store/Store.js';
import { decodeFrame, peekId, validateRequest, type Envelope } from './frames.js';
import { SignalingError } from './Handlers.js';
import type { AddressLimiter } from './AddressLimiter.js';
import type { LinkRegistry } from './LinkRegistry.js';
import type { AnyHandler } from './mergeHandlerTables.js';
import { MessageQueue } from './MessageQueue.js';
import { SocketLink } from './SocketLink.js';
import { TokenBucket } from './TokenBucket.js';

/** Requests the server answers itself, before any module's handler table. */
export const SERVER_REQUESTS: ReadonlySet<RequestType> = new Set<RequestType>(['register', 'login', 'hello', 'logout']);
/** The only requests a socket may send before `hello`. */
const OPEN_REQUESTS: ReadonlySet<RequestType> = new Set<RequestType>(['register', 'login', 'hello']);

export interface ConnectionLimits {
  maxFrameBytes: number;
  ratePerSecond: number;
  burst: number;
  closeAfterRefused: number;
  requestTimeoutMs: number;
  maxBufferedBytes: number;
  /** Requests that may wait while one runs; more are refused with RATE_LIMITED. */
  maxQueuedRequests: number;
  /** Sockets one account may have bound (by `hello`) at once, over all its devices. */
  maxSocketsPerUser: number;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly auth: AuthService;
  readonly router: LinkRegistry;
  readonly handlers: ReadonlyMap<RequestType, AnyHandler>;
  readonly logger: Logger;
  readonly limits: ConnectionLimits;
  /** The rate of each remote address over all its sockets. Default: none. */
  readonly addressLimiter?: AddressLimiter;
  /** A device session was logged out from one socket: end it on the others that use it. */
  sessionLoggedOut(tokenHash: string): void;
  /**
   * Told about every answered request (for metrics): its type, and the error code if it
   * failed. A frame refused before it became a request (too large, over the rate, not
   * JSON, unknown type) is told with type ''.
   */
  observe?(type: RequestType | '', errorCode: ErrorCode | undefined): void;
}

interface Binding {
  session: StoredSession;
  link: SocketLink;
}

export const CLOSE_CODES = {
  goingAway: 1001,
  policyViolation: 1008,
  tooLarge: 1009,
  tryAgainLater: 1013,
} as const;

/**
 * One client WebSocket: reads frames, enforces size and rate limits, keeps the
 * socket's login (`hello` binds it to a device session and registers it with the
 * router), and runs its requests one at a time, in the order they arrived, so a
 * client's requests never overtake each other. Waiting requests sit in a bounded queue:
 * beyond `maxQueuedRequests` a request is refused, and a socket that keeps being
 * refused (over the rate, over the queue) is closed with 1008.
 */
export class Connection {
  readonly id = randomUUID().slice(0, 8);
  /** Resolves once the socket has closed and the device is unregistered. */
  readonly closed: Promise<void>;
  private readonly bucket: TokenBucket;
  private refusedInARow = 0;
  private readonly queue: MessageQueue<Envelope>;
  private binding: Binding | undefined;
  private alive = true;
  private closing = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly host: ConnectionHost,
    private readonly remoteAddress: string | undefined,
  ) {
    this.bucket = new TokenBucket(host.limits.ratePerSecond, host.limits.burst);
    // process() never rejects.
    this.queue = new MessageQueue({ capacity: host.limits.maxQueuedRequests, handle: (envelope) => this.process(envelope) });
    ws.on('message', (data: RawData, isBinary: boolean) => this.receive(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('error', (error) => this.log('warn', { event: 'wsError', err: error }, 'websocket error'));
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number) => {
        this.closing = true;
        this.queue.close();
        this.unbind();
        this.log('info', { event: 'wsClose', code }, 'websocket closed');
        resolve();
      });
    });
    this.log('info', { event: 'wsOpen', remoteAddress }, 'websocket connected');
  }

  /** The device session bound by `hello`, if any. */
  get session(): StoredSession | undefined {
    return this.binding?.session;
  }

  get userId(): UserId | undefined {
    return this.binding?.session.userId;
  }

  /** Tells the client its session ended and forgets it; the socket stays open for a new login. */
  endSession(reason: 'expired' | 'loggedOut'): void {
    if (!this.binding) return;
    this.send({ type: 'session.ended', reason } satisfies ServerNotification);
    this.unbind();
  }

  /** Server shutdown: tell the client, then close. */
  shutdown(): void {
    if (this.closing) return;
    this.send({ type: 'session.ended', reason: 'serverShutdown' } satisfies ServerNotification);
    this.close(CLOSE_CODES.goingAway, 'server shutting down');
  }

  /** Cuts the socket without a closing handshake. */
  terminate(): void {
    this.closing = true;
    this.ws.terminate();
  }

  /**
   * One heartbeat tick: a socket that did not answer the previous ping is cut (a peer
   * that vanished without a close frame would otherwise stay "online" forever); a bound
   * session past its expiry is ended.
   */
  heartbeat(): void {
    if (!this.alive) {
      this.log('info', { event: 'wsDead' }, 'no pong since the last ping; terminating');
      this.terminate();
      return;
    }
    this.alive = false;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
    if (this.binding && this.host.auth.isExpired(this.binding.session)) this.endSession('expired');
  }

  // --- inbound ---------------------------------------------------------------------

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    const { limits } = this.host;
    const size = byteLength(data);
    if (size > limits.maxFrameBytes) {
      this.refuseFrame(null, 'TOO_LARGE', `frames are limited to ${limits.maxFrameBytes} bytes; this one has ${size}`);
      this.close(CLOSE_CODES.tooLarge, 'frame too large');
      return;
    }
    const text = isBinary ? undefined : rawToString(data);
    if (!this.bucket.take()) {
      this.refuse(text, `too many requests: at most ${limits.ratePerSecond} per second, bursts of ${limits.burst}`);
      return;
    }
    if (this.remoteAddress !== undefined && this.host.addressLimiter && !this.host.addressLimiter.take(this.remoteAddress)) {
      this.refuse(text, 'too many requests from this address');
      return;
    }
    if (text === undefined) {
      this.refuseFrame(null, 'BAD_REQUEST', 'binary frames are not accepted; send JSON text frames');
      return;
    }
    const decoded = decodeFrame(text);
    if (!decoded.ok) {
      this.refuseFrame(decoded.error.id, 'BAD_REQUEST', decoded.error.message);
      return;
    }
    if (!this.queue.push(decoded.envelope)) {
      this.refuse(text, `too many requests waiting: at most ${limits.maxQueuedRequests} while one runs`);
      return;
    }
    this.refusedInARow = 0;
  }

  private refuse(text: string | undefined, message: string): void {
    const { limits } = this.host;
    this.refusedInARow++;
    this.refuseFrame(text === undefined ? null : peekId(text), 'RATE_LIMITED', message);
    if (this.refusedInARow >= limits.closeAfterRefused) {
      this.log('warn', { event: 'rateLimitClose', refused: this.refusedInARow }, 'closing a socket that keeps exceeding the rate limit');
      this.close(CLOSE_CODES.policyViolation, 'rate limit exceeded');
    }
  }

  private async process(envelope: Envelope): Promise<void> {
    if (this.closing) return;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RequestTimeout()), this.host.limits.requestTimeoutMs);
    });
    try {
      const result = await Promise.race([this.handle(envelope), timeout]);
      this.send({ id: envelope.id, ok: true, result: result === undefined ? {} : result });
      this.host.observe?.(envelope.type, undefined);
    } catch (error) {
      this.respondWithError(envelope, error);
      this.host.observe?.(envelope.type, error instanceof SignalingError ? error.code : 'INTERNAL');
    } finally {
      clearTimeout(timer);
      this.log('debug', { event: 'request', type: envelope.type, requestId: envelope.id, ms: Math.round(performance.now() - started) }, 'request handled');
    }
  }

  private async handle(envelope: Envelope): Promise<unknown> {
    // Checked before the fields: a socket without a session learns only that it must log in.
    if (OPEN_REQUESTS.has(envelope.type)) return this.handleOpen(validate(envelope));
    const binding = this.requireBinding();
    const request = validate(envelope);
    if (request.type === 'logout') return this.logout(binding);
    const handler = this.host.handlers.get(request.type);
    if (!handler) throw new SignalingError('BAD_REQUEST', `'${request.type}' requests are not served by this server`);
    return handler(request, { link: binding.link });
  }

  private async handleOpen(request: ClientRequest): Promise<unknown> {
    switch (request.type) {
      case 'register': {
        const user = await this.host.auth.register({ username: request.username, password: request.password, displayName: request.displayName, address: this.remoteAddress });
        return this.host.auth.openSession(user) satisfies Promise<RegisterResult>;
      }
      case 'login':
        return this.host.auth.login({ username: request.username, password: request.password, deviceName: request.deviceName, address: this.remoteAddress });
      case 'hello':
        return this.hello(request);
      default:
        throw new Error(`'${request.type}' is not an open request`);
    }
  }

  private requireBinding(): Binding {
    const binding = this.binding;
    if (!binding) throw new SignalingError('UNAUTHENTICATED', 'log in and send hello first');
    if (this.host.auth.isExpired(binding.session)) {
      this.endSession('expired');
      throw new SignalingError('UNAUTHENTICATED', 'the token has expired; log in again');
    }
    return binding;
  }

  private async hello(request: RequestOf<'hello'>): Promise<HelloResult> {
    const session = await this.host.auth.authenticate(request.token);
    const user = await this.host.auth.user(session.userId);
    if (this.closing) throw new SignalingError('INVALID_STATE', 'the socket is closing');
    if (this.binding?.session.tokenHash !== session.tokenHash) {
      // A socket serves one device at a time: a hello with another token switches it.
      const bound = this.host.router.devicesOf(session.userId).filter((link) => link !== this.binding?.link).length;
      if (bound >= this.host.limits.maxSocketsPerUser) {
        throw new SignalingError('QUOTA_EXCEEDED', `this account has ${bound} sockets open, the most at once (${this.host.limits.maxSocketsPerUser}); close one first`);
      }
      this.unbind();
      const link = new SocketLink(session.userId, session.deviceId, (frame) => this.send(frame));
      this.binding = { session, link };
      this.host.router.addLink(link);
      this.log('info', { event: 'hello', deviceId: session.deviceId }, 'device online');
    }
    return { userId: session.userId, deviceId: session.deviceId, expiresAt: session.expiresAt, user };
  }

  private async logout(binding: Binding): Promise<LogoutResult> {
    await this.host.auth.endSession(binding.session.tokenHash);
    // This socket learns from the response; other sockets of the same device get session.ended.
    this.unbind();
    this.host.sessionLoggedOut(binding.session.tokenHash);
    return {};
  }

  private unbind(): void {
    const binding = this.binding;
    if (!binding) return;
    this.binding = undefined;
    this.host.router.removeLink(binding.link);
  }

  // --- outbound --------------------------------------------------------------------

  private respondWithError(envelope: Envelope, error: unknown): void {
    if (error instanceof SignalingError) {
      this.sendError(envelope.id, error.code, error.message, error.retryAfterMs);
      return;
    }
    if (error instanceof RequestTimeout) {
      this.log('warn', { event: 'requestTimeout', type: envelope.type, requestId: envelope.id }, 'request timed out');
      this.sendError(envelope.id, 'INTERNAL', 'the request timed out');
      return;
    }
    this.log('error', { event: 'requestFailed', type: envelope.type, requestId: envelope.id, err: error }, 'request failed');
    this.sendError(envelope.id, 'INTERNAL', 'internal error');
  }

  /** Answers a frame that never became a request. */
  private refuseFrame(id: number | null, code: ErrorCode, message: string): void {
    this.sendError(id, code, message);
    this.host.observe?.('', code);
  }

  private sendError(id: number | null, code: ErrorCode, message: string, retryAfterMs?: number): void {
    this.send({ id, ok: false, error: retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs: Math.ceil(retryAfterMs) } });
  }

  private send(frame: object): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    // A client that stops reading must not make the server buffer without bound.
    if (this.ws.bufferedAmount > this.host.limits.maxBufferedBytes) {
      this.log('warn', { event: 'slowConsumer', buffered: this.ws.bufferedAmount }, 'client is not reading; terminating');
      this.terminate();
      return;
    }
    this.ws.send(JSON.stringify(frame));
  }

  private close(code: number, reason: string): void {
    this.closing = true;
    this.queue.close();
    this.ws.close(code, reason);
  }

  private log(level: keyof Logger, fields: Record<string, unknown>, message: string): void {
    this.host.logger[level]({ connectionId: this.id, userId: this.binding?.session.userId, deviceId: this.binding?.session.deviceId, ...fields }, message);
  }
}

function validate(envelope: Envelope): ClientRequest {
  const validated = validateRequest(envelope);
  if (!validated.ok) throw new SignalingError('BAD_REQUEST', validated.error.message);
  return validated.request;
}

class RequestTimeout extends Error {
  constructor() {
    super('request timed out');
    this.name = 'RequestTimeout';
  }
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.length, 0);
  return data.byteLength;
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
