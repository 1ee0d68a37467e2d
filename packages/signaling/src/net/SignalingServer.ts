import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuthService } from '../auth/AuthService.js';
import { silentLogger, type Logger } from '../logger.js';
import type { ErrorCode, RequestType } from '@roundtable/protocol';
import { AddressLimiter } from './AddressLimiter.js';
import type { SharedRateFactory } from './SharedRate.js';
import { Connection, SERVER_REQUESTS, type ConnectionHost, type ConnectionLimits } from './Connection.js';
import type { HandlerTable } from './Handlers.js';
import type { LinkRegistry } from './LinkRegistry.js';
import { mergeHandlerTables } from './mergeHandlerTables.js';
import { FORBIDDEN_ORIGIN_RESPONSE, originAllowed } from './origin.js';

export interface SignalingServerOptions {
  auth: AuthService;
  /** Where bound devices are registered (presence and delivery). */
  router: LinkRegistry;
  /** The modules' request handlers (IM, calls, rooms, ...), merged; a type claimed twice throws. Default: none. */
  handlers?: readonly HandlerTable[];
  /** URL path of the endpoint. Default '/ws'. */
  path?: string;
  /**
   * Largest request frame. A bigger one (up to 4x this) is answered with TOO_LARGE and the
   * socket closed with 1009; beyond 4x the socket is closed with 1009 without reading it.
   * Default 256 KiB.
   */
  maxFrameBytes?: number;
  /** Sustained requests per second per socket. Default 50. */
  ratePerSecond?: number;
  /** Requests a socket may send at once above the rate. Default 100. */
  rateBurst?: number;
  /**
   * Requests that may wait on a socket while one runs; more are answered RATE_LIMITED (and
   * count towards `closeAfterRefused`). Default 32.
   */
  maxQueuedRequests?: number;
  /**
   * Sustained requests per second of one remote address, over all its sockets (more are
   * answered RATE_LIMITED). Several users behind one NAT share an address; behind a reverse
   * proxy every client has the proxy's address: raise it there. Default 500.
   */
  addressRatePerSecond?: number;
  /** Requests one address may send at once above `addressRatePerSecond`. Default 1000. */
  addressBurst?: number;
  /** The address rate counted over every signaling node as well (the cluster's). Default: none, this node only. */
  sharedRate?: SharedRateFactory;
  /**
   * Origins (`https://app.example.com`) whose pages may open a socket, besides the
   * server's own (the Origin equal to the Host header); `*` allows any. Requests without
   * an Origin header (the Node SDK, scripts) are always allowed. Default: none.
   */
  allowedOrigins?: readonly string[];
  /** Refused requests in a row after which the socket is closed with 1008. Default 100. */
  closeAfterRefused?: number;
  /** A request still running after this is answered INTERNAL (and the socket's next request runs). Default 30 s. */
  requestTimeoutMs?: number;
  /** Ping period; a socket that did not answer the previous ping is terminated. Default 30 s. */
  pingIntervalMs?: number;
  /** Outgoing bytes a socket may have queued before it is cut as a slow consumer. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Sockets one account may have bound by `hello` at once (one more: QUOTA_EXCEEDED). Default 20. */
  maxSocketsPerUser?: number;
  /** How long close() waits for clients to answer the close handshake before cutting them. Default 1 s. */
  closeGraceMs?: number;
  /** Default: silent. */
  logger?: Logger;
  /**
   * Told about every answered request: its type and, if it failed, the error code
   * (metrics). A frame refused before it became a request (too large, over the rate
   * limit, not JSON, an unknown type) is told with type ''. Default: none.
   */
  observe?: (type: RequestType | '', errorCode: ErrorCode | undefined) => void;
  /**
   * Told when a device session was logged out on one of this server's sockets, after its
   * other sockets here were told: to end it on other signaling nodes too. Default: none.
   */
  onSessionLoggedOut?: (tokenHash: string) => void;
}

const DEFAULTS = {
  path: '/ws',
  maxFrameBytes: 256 * 1024,
  ratePerSecond: 50,
  rateBurst: 100,
  closeAfterRefused: 100,
  requestTimeoutMs: 30_000,
  pingIntervalMs: 30_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  closeGraceMs: 1000,
  maxQueuedRequests: 32,
  addressRatePerSecond: 500,
  addressBurst: 1000,
  maxSocketsPerUser: 20,
} as const;

/**
 * The signaling WebSocket endpoint: one socket per device, JSON requests answered by
 * id, notifications pushed through the router. Attach it to the HTTP server that
 * serves the web app (`attach`), or run it on its own port (`listen`, for tests).
 */
export class SignalingServer {
  private readonly wss: WebSocketServer;
  private readonly host: ConnectionHost;
  private readonly path: string;
  private readonly pingIntervalMs: number;
  private readonly closeGraceMs: number;
  private readonly allowedOrigins: readonly string[];
  private readonly connections = new Set<Connection>();
  private readonly attached = new Map<Server, (request: IncomingMessage, socket: Duplex, head: Buffer) => void>();
  private ownServer: Server | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: SignalingServerOptions) {
    const limits: ConnectionLimits = {
      maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
      ratePerSecond: options.ratePerSecond ?? DEFAULTS.ratePerSecond,
      burst: options.rateBurst ?? DEFAULTS.rateBurst,
      closeAfterRefused: options.closeAfterRefused ?? DEFAULTS.closeAfterRefused,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
      maxQueuedRequests: options.maxQueuedRequests ?? DEFAULTS.maxQueuedRequests,
      maxSocketsPerUser: options.maxSocketsPerUser ?? DEFAULTS.maxSocketsPerUser,
    };
    this.allowedOrigins = [...(options.allowedOrigins ?? [])];
    this.path = options.path ?? DEFAULTS.path;
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULTS.pingIntervalMs;
    this.closeGraceMs = options.closeGraceMs ?? DEFAULTS.closeGraceMs;
    const logger = options.logger ?? silentLogger;
    this.host = {
      auth: options.auth,
      router: options.router,
      handlers: mergeHandlerTables(options.handlers ?? [], SERVER_REQUESTS),
      logger,
      limits,
      addressLimiter: addressLimiter(options),
      ...(options.observe ? { observe: options.observe } : {}),
      sessionLoggedOut: (tokenHash) => {
        this.endSession(tokenHash);
        options.onSessionLoggedOut?.(tokenHash);
      },
    };
    // Frames up to 4x the limit are read so the client can be told why it is closed.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes * 4, perMessageDeflate: false, clientTracking: false });
    this.wss.on('connection', (ws: WebSocket, request: IncomingMessage) => this.handleConnection(ws, request));
  }

  /** A device session was logged out (on another node): its sockets here are told `session.ended {reason: 'loggedOut'}`. */
  endSession(tokenHash: string): void {
    for (const connection of this.connections) if (connection.session?.tokenHash === tokenHash) connection.endSession('loggedOut');
  }

  /** How many sockets are open. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Serves the endpoint on an existing HTTP server. Upgrades to other paths are left to
   * the server's other 'upgrade' listeners.
   */
  attach(server: Server): void {
    if (this.closing) throw new Error('the signaling server is closed');
    if (this.attached.has(server)) return;
    const listener = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      this.handleUpgrade(request, socket, head);
    };
    this.attached.set(server, listener);
    server.on('upgrade', listener);
    this.startHeartbeat();
  }

  /**
   * Takes an HTTP upgrade if it is for this endpoint's path; returns false (and leaves
   * the socket alone) otherwise. For servers that route upgrades themselves.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (pathOf(request) !== this.path) return false;
    if (this.closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return true;
    }
    if (!originAllowed(request, this.allowedOrigins)) {
      this.host.logger.info({ event: 'wsOriginRefused', origin: request.headers.origin, remoteAddress: request.socket.remoteAddress }, 'websocket from a foreign origin refused');
      socket.end(FORBIDDEN_ORIGIN_RESPONSE);
      return true;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.wss.emit('connection', ws, request));
    return true;
  }

  /** Runs on its own HTTP server (tests, or a signaling-only process). Port 0 picks a free port. */
  async listen(options: { host: string; port: number }): Promise<AddressInfo> {
    if (this.ownServer) throw new Error('the signaling server is already listening');
    const server = createServer((_request, response) => {
      response.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' });
      response.end(`this is a WebSocket endpoint: ${this.path}\n`);
    });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.handleUpgrade(request, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.ownServer = server;
    this.startHeartbeat();
    return server.address() as AddressInfo;
  }

  /**
   * Tells every client `session.ended {reason: 'serverShutdown'}`, closes the sockets
   * (cutting those that do not finish the handshake within `closeGraceMs`), detaches from
   * attached HTTP servers (without closing them) and closes its own. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const [server, listener] of this.attached) server.off('upgrade', listener);
    this.attached.clear();
    const connections = [...this.connections];
    for (const connection of connections) connection.shutdown();
    const allClosed = Promise.all(connections.map((connection) => connection.closed));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([allClosed, new Promise<void>((resolve) => (grace = setTimeout(resolve, this.closeGraceMs)))]);
    clearTimeout(grace);
    for (const connection of this.connections) connection.terminate();
    await allClosed;
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    const server = this.ownServer;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  }

  private handleConnection(ws: WebSocket, request: IncomingMessage): void {
    if (this.closing) {
      ws.terminate();
      return;
    }
    const connection = new Connection(ws, this.host, request.socket.remoteAddress);
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      for (const connection of this.connections) connection.heartbeat();
    }, this.pingIntervalMs);
    this.heartbeat.unref();
  }
}

function pathOf(request: IncomingMessage): string {
  try {
    return new URL(request.url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}

/** The per-address buckets of `/ws`, with the cluster's shared count when there is one. */
function addressLimiter(options: SignalingServerOptions): AddressLimiter {
  const ratePerSecond = options.addressRatePerSecond ?? DEFAULTS.addressRatePerSecond;
  const burst = options.addressBurst ?? DEFAULTS.addressBurst;
  const shared = options.sharedRate?.(ratePerSecond, burst);
  return new AddressLimiter({ ratePerSecond, burst, ...(shared ? { shared } : {}) });
}
