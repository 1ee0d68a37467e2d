import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Engine } from '@roundtable/media';
import { AddressLimiter, FORBIDDEN_ORIGIN_RESPONSE, TokenBucket, originAllowed } from '@roundtable/signaling';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { MediaOptions } from './config.js';
import { LoopbackSession } from './LoopbackSession.js';
import { MAX_MESSAGE_BYTES, type ServerMessage } from './loopbackProtocol.js';

/** Limits of `/ws/loopback`, an endpoint anyone may open: each session can hold a media pipeline. */
export interface LoopbackLimits {
  /** Sessions (sockets) open at once, from everyone. Default 32. */
  maxSessions: number;
  /** Sessions open at once from one remote address. Default 4. */
  maxSessionsPerAddress: number;
  /** Sustained messages per second per socket. Default 20. */
  ratePerSecond: number;
  /** Messages a socket may send at once above the rate (an offer and its candidates). Default 50. */
  burst: number;
  /** Sustained messages per second of one address over all its sockets. Default 50. */
  addressRatePerSecond: number;
  /** Messages one address may send at once above its rate. Default 100. */
  addressBurst: number;
  /** Messages that may wait on a socket while one is handled. Default 32. */
  maxQueuedMessages: number;
  /** Refused messages in a row after which the socket is closed with 1008. Default 50. */
  closeAfterRefused: number;
  /**
   * Origins (`https://app.example.com`) whose pages may open a session besides the
   * server's own; `*` allows any. No Origin header (not a browser): allowed. Default: none.
   */
  allowedOrigins: readonly string[];
}

export const DEFAULT_LOOPBACK_LIMITS: Readonly<LoopbackLimits> = {
  maxSessions: 32,
  maxSessionsPerAddress: 4,
  ratePerSecond: 20,
  burst: 50,
  addressRatePerSecond: 50,
  addressBurst: 100,
  maxQueuedMessages: 32,
  closeAfterRefused: 50,
  allowedOrigins: [],
};

export const LOOPBACK_CLOSE_CODES = {
  goingAway: 1001,
  policyViolation: 1008,
  tryAgainLater: 1013,
} as const;

export interface LoopbackEndpointOptions {
  media: MediaOptions;
  /** The process's media engine (default: one of its own, closed with it). */
  engine?: Engine;
  logger: Logger;
  limits?: Partial<LoopbackLimits>;
}

interface Client {
  session: LoopbackSession;
  address: string;
  bucket: TokenBucket;
  refusedInARow: number;
  alive: boolean;
  closing: boolean;
}

const CLOSE_GRACE_MS = 1000;

/**
 * The loopback WebSocket at `/ws/loopback`: each socket owns one `LoopbackSession`,
 * closed with the socket. Anyone may open one (it needs no account), so the endpoint
 * checks the Origin, caps sessions per address and in total (a session over the cap is
 * told why and closed with 1013), and rate-limits messages per socket and per address
 * (a socket that keeps being refused is closed with 1008).
 */
export class LoopbackEndpoint {
  private readonly wss: WebSocketServer;
  private readonly limits: LoopbackLimits;
  private readonly clients = new Map<WebSocket, Client>();
  private readonly perAddress = new Map<string, number>();
  private readonly addressLimiter: AddressLimiter;
  private closing: Promise<void> | undefined;
  private readonly engine: Engine;

  constructor(private readonly options: LoopbackEndpointOptions) {
    this.engine = options.engine ?? new Engine();
    this.limits = { ...DEFAULT_LOOPBACK_LIMITS, ...options.limits };
    this.addressLimiter = new AddressLimiter({ ratePerSecond: this.limits.addressRatePerSecond, burst: this.limits.addressBurst });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
    this.wss.on('connection', (ws: WebSocket, request: IncomingMessage) => this.handleConnection(ws, request));
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.clients.size;
  }

  /** Takes an upgrade for `/ws/loopback` (the caller checked the path). A foreign Origin is refused with 403. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!originAllowed(request, this.limits.allowedOrigins)) {
      this.options.logger.info({ event: 'wsOriginRefused', origin: request.headers.origin, remoteAddress: request.socket.remoteAddress }, 'loopback websocket from a foreign origin refused');
      socket.end(FORBIDDEN_ORIGIN_RESPONSE);
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.wss.emit('connection', ws, request));
  }

  /** Pings every socket; one that did not answer the previous ping is cut (it would hold its pipeline forever). */
  heartbeat(): void {
    for (const [ws, client] of this.clients) {
      if (!client.alive) {
        ws.terminate();
        continue;
      }
      client.alive = false;
      ws.ping();
    }
  }

  /** Closes every session and socket. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    for (const [ws, client] of this.clients) {
      client.session.close();
      ws.close(LOOPBACK_CLOSE_CODES.goingAway, 'server shutting down');
    }
    // Give clients a moment to answer the close frame, then cut whoever has not.
    const wssClosed = new Promise<void>((resolve) => this.wss.close(() => resolve()));
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([wssClosed, new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(graceTimer);
    for (const ws of this.wss.clients) ws.terminate();
    await wssClosed;
    if (!this.options.engine) this.engine.close();
  }

  private handleConnection(ws: WebSocket, request: IncomingMessage): void {
    const address = request.socket.remoteAddress ?? 'unknown';
    const logger = this.options.logger.child({ sessionId: randomUUID() });
    const refusal = this.closing ? undefined : this.sessionRefusal(address);
    if (this.closing || refusal) {
      if (refusal) {
        logger.warn({ event: 'loopbackRefused', remoteAddress: address, reason: refusal }, 'loopback session refused');
        ws.send(JSON.stringify({ id: 'error', message: refusal } satisfies ServerMessage));
      }
      ws.close(this.closing ? LOOPBACK_CLOSE_CODES.goingAway : LOOPBACK_CLOSE_CODES.tryAgainLater, this.closing ? 'server shutting down' : 'too many loopback sessions');
      return;
    }
    const send = (message: ServerMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const session = new LoopbackSession({ media: this.options.media, engine: this.engine, send, logger, maxQueuedMessages: this.limits.maxQueuedMessages });
    const client: Client = { session, address, bucket: new TokenBucket(this.limits.ratePerSecond, this.limits.burst), refusedInARow: 0, alive: true, closing: false };
    this.clients.set(ws, client);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    logger.info({ event: 'wsOpen', remoteAddress: address }, 'websocket connected');

    ws.on('message', (data: RawData, isBinary: boolean) => this.receive(ws, client, data, isBinary, logger));
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('error', (error) => logger.warn({ event: 'wsError', err: error }, 'websocket error'));
    ws.on('close', (code) => {
      session.close();
      this.clients.delete(ws);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
      logger.info({ event: 'wsClose', code }, 'websocket closed');
    });
  }

  /** Why a new session from `address` is refused, or undefined when it may open. */
  private sessionRefusal(address: string): string | undefined {
    if (this.clients.size >= this.limits.maxSessions) return `the server runs its maximum of ${this.limits.maxSessions} loopback sessions; try again later`;
    if ((this.perAddress.get(address) ?? 0) >= this.limits.maxSessionsPerAddress) {
      return `at most ${this.limits.maxSessionsPerAddress} loopback sessions per address; close one first`;
    }
    return undefined;
  }

  private receive(ws: WebSocket, client: Client, data: RawData, isBinary: boolean, logger: Logger): void {
    if (client.closing) return;
    const send = (message: string): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: 'error', message } satisfies ServerMessage));
    };
    if (!client.bucket.take()) {
      this.refuse(ws, client, `too many messages: at most ${this.limits.ratePerSecond} per second, bursts of ${this.limits.burst}`, send, logger);
      return;
    }
    if (!this.addressLimiter.take(client.address)) {
      this.refuse(ws, client, 'too many messages from this address', send, logger);
      return;
    }
    if (isBinary) {
      send('binary messages are not supported; send JSON text');
      return;
    }
    if (!client.session.receive(rawToString(data))) {
      this.refuse(ws, client, `too many messages waiting: at most ${this.limits.maxQueuedMessages} while one is handled`, send, logger);
      return;
    }
    client.refusedInARow = 0;
  }

  private refuse(ws: WebSocket, client: Client, message: string, send: (message: string) => void, logger: Logger): void {
    client.refusedInARow++;
    send(message);
    if (client.refusedInARow >= this.limits.closeAfterRefused) {
      logger.warn({ event: 'rateLimitClose', remoteAddress: client.address, refused: client.refusedInARow }, 'closing a loopback socket that keeps exceeding its limits');
      client.closing = true;
      client.session.close();
      ws.close(LOOPBACK_CLOSE_CODES.policyViolation, 'rate limit exceeded');
    }
  }
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
