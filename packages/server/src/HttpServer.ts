import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { MediaOptions } from './config.js';
import { LoopbackSession } from './LoopbackSession.js';
import { MAX_MESSAGE_BYTES, type ServerMessage } from './loopbackProtocol.js';
import type { ReadinessReport } from './Readiness.js';
import { StaticFiles } from './StaticFiles.js';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Folder served as static files. Default: none, only `/healthz`, `/readyz` and `/metrics` answer. */
  publicDir?: string;
  /**
   * The built web app (`packages/web/dist`), served before `publicDir`: its `index.html`
   * answers `/`. A missing folder is skipped (then `publicDir` answers). Default: none.
   */
  webDir?: string;
  /**
   * Settings of the media engine for the loopback sessions at `/ws/loopback`. Default:
   * none, and no `/ws/loopback` (a process without the media engine).
   */
  media?: MediaOptions;
  /** Serve HTTPS (and wss://) with this PEM certificate chain and key. Default: plain HTTP. */
  tls?: TlsOptions;
  logger: Logger;
  /** How often idle WebSockets are pinged; one missed pong closes the session. Default 30 s. */
  heartbeatIntervalMs?: number;
  /**
   * Other WebSocket endpoints (the signaling server at `/ws`): asked first, each returns
   * true when it took the upgrade. Default: none.
   */
  upgradeHandlers?: Array<(request: IncomingMessage, socket: Duplex, head: Buffer) => boolean>;
  /**
   * Other GET/HEAD routes (the recordings at `/recordings/<id>`): asked before the static
   * files, each resolves true when it answered. Default: none.
   */
  requestHandlers?: Array<(request: IncomingMessage, response: ServerResponse) => Promise<boolean>>;
  /** What `/readyz` reports (200 when ready, 503 otherwise). Default: always ready. */
  readiness?: () => Promise<ReadinessReport>;
  /** Prometheus metrics at `/metrics`. Default: none, `/metrics` is 404. */
  metrics?: MetricsSource;
}

export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

const WS_PATH = '/ws/loopback';
const HEALTH_PATH = '/healthz';
const READY_PATH = '/readyz';
const METRICS_PATH = '/metrics';
const CLOSE_GRACE_MS = 1000;

/**
 * The HTTP(S) server: static files, `/healthz` (the process is up), `/readyz` (it can take
 * clients), `/metrics`, and the loopback WebSocket at `/ws/loopback`. Each WebSocket
 * owns one `LoopbackSession`, closed with the socket.
 */
export class HttpServer {
  private readonly server: Server | HttpsServer;
  private readonly wss: WebSocketServer;
  /** The web app's files first, then the server's own pages. */
  private readonly staticFiles: StaticFiles[];
  private readonly sessions = new Map<WebSocket, LoopbackSession>();
  private readonly alive = new WeakSet<WebSocket>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Set by drain(): resolves once the listener is closed and every connection has ended. */
  private listenerClosed: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: HttpServerOptions) {
    this.staticFiles = [options.webDir, options.publicDir].filter((dir): dir is string => dir !== undefined).map((dir) => new StaticFiles(dir));
    const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
      this.handleRequest(request, response).catch((error: unknown) => {
        options.logger.error({ event: 'httpError', err: error, url: request.url }, 'request failed');
        if (!response.headersSent) sendText(response, 500, 'internal server error');
        else response.destroy();
      });
    };
    if (options.tls) {
      const https = createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest);
      // A failed handshake (a plain-HTTP client, a client that does not trust the certificate) is the client's problem.
      https.on('tlsClientError', (error) => options.logger.debug({ event: 'tlsClientError', err: error }, 'TLS handshake failed'));
      this.server = https;
    } else {
      this.server = createServer(onRequest);
    }
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
    this.server.on('upgrade', (request, socket, head) => this.handleUpgrade(request, socket, head));
    this.wss.on('connection', (ws) => this.handleConnection(ws));
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const interval = this.options.heartbeatIntervalMs ?? 30_000;
    this.heartbeat = setInterval(() => this.checkHeartbeats(), interval);
    this.heartbeat.unref();
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * The first step of a shutdown: stops accepting connections and WebSocket upgrades
   * (answered 503) and closes idle keep-alive connections; open WebSockets and requests in
   * flight go on until close(). Idempotent.
   */
  drain(): void {
    if (this.listenerClosed) return;
    this.listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
  }

  /** Closes every session and socket, then the listener. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.drain();
    clearInterval(this.heartbeat);
    for (const [ws, session] of this.sessions) {
      session.close();
      ws.close(1001, 'server shutting down');
    }
    this.sessions.clear();
    // Give clients a moment to answer the close frame, then cut whoever has not.
    const wssClosed = new Promise<void>((resolve) => this.wss.close(() => resolve()));
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([wssClosed, new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(graceTimer);
    for (const ws of this.wss.clients) ws.terminate();
    await wssClosed;
    this.server.closeAllConnections();
    await this.listenerClosed;
  }

  private async handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      sendText(response, 405, 'method not allowed');
      return;
    }
    if (pathname === HEALTH_PATH) {
      sendJson(request, response, 200, { status: 'ok' });
      return;
    }
    if (pathname === READY_PATH) {
      const report = this.options.readiness ? await this.options.readiness() : { ready: true, checks: {} };
      sendJson(request, response, report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not ready', checks: report.checks });
      return;
    }
    if (pathname === METRICS_PATH && this.options.metrics) {
      const body = await this.options.metrics.text();
      response.writeHead(200, { 'Content-Type': this.options.metrics.contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
      response.end(request.method === 'HEAD' ? undefined : body);
      return;
    }
    for (const handler of this.options.requestHandlers ?? []) if (await handler(request, response)) return;
    for (const files of this.staticFiles) if (await files.serve(request, response, pathname)) return;
    sendText(response, 404, 'not found');
  }

  private handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.listenerClosed) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    for (const handler of this.options.upgradeHandlers ?? []) if (handler(request, socket, head)) return;
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname !== WS_PATH || !this.options.media) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.wss.emit('connection', ws, request));
  }

  private handleConnection(ws: WebSocket): void {
    const logger = this.options.logger.child({ sessionId: randomUUID() });
    const send = (message: ServerMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const session = new LoopbackSession({ media: this.options.media ?? {}, send, logger });
    this.sessions.set(ws, session);
    this.alive.add(ws);
    logger.info({ event: 'wsOpen' }, 'websocket connected');

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        send({ id: 'error', message: 'binary messages are not supported; send JSON text' });
        return;
      }
      session.receive(rawToString(data));
    });
    ws.on('pong', () => this.alive.add(ws));
    ws.on('error', (error) => logger.warn({ event: 'wsError', err: error }, 'websocket error'));
    ws.on('close', (code) => {
      session.close();
      this.sessions.delete(ws);
      logger.info({ event: 'wsClose', code }, 'websocket closed');
    });
  }

  // A client that vanished without a close frame would otherwise hold its pipeline forever.
  private checkHeartbeats(): void {
    for (const ws of this.sessions.keys()) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function sendJson(request: IncomingMessage, response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
