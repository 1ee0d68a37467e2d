import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Engine } from '@roundtable/media';
import type { MediaOptions } from './config.js';
import { LoopbackEndpoint, type LoopbackLimits } from './LoopbackEndpoint.js';
import type { ReadinessReport } from './Readiness.js';
import { securityHeaders } from './securityHeaders.js';
import { StaticFiles } from './StaticFiles.js';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Folder served as static files. Default: none, only `/healthz` and `/readyz` answer. */
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
  /** The media engine of the loopback sessions (default: one of the loopback endpoint's own). */
  engine?: Engine;
  /** Limits of `/ws/loopback` (sessions, rates, origins); each field defaults as `DEFAULT_LOOPBACK_LIMITS` says. */
  loopback?: Partial<LoopbackLimits>;
  /**
   * How long a client may take to send a request's headers before it is cut (Node's
   * `headersTimeout`; slowloris). Default 10 s.
   */
  headersTimeoutMs?: number;
  /**
   * How long a client may take to send a whole request, body included, before it is
   * answered 408 and cut (Node's `requestTimeout`; slow bodies). Default 30 s.
   */
  requestTimeoutMs?: number;
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
}

export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

const WS_PATH = '/ws/loopback';
const HEALTH_PATH = '/healthz';
const READY_PATH = '/readyz';
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * The HTTP(S) server: static files, `/healthz` (the process is up), `/readyz` (it can take
 * clients), and the loopback WebSocket at `/ws/loopback` (`LoopbackEndpoint`). Every
 * answer carries the security headers (`securityHeaders`). Metrics are served by their
 * own listener (`MetricsServer`), not here.
 */
export class HttpServer {
  private readonly server: Server | HttpsServer;
  /** The web app's files first, then the server's own pages. */
  private readonly staticFiles: StaticFiles[];
  private readonly loopback: LoopbackEndpoint | undefined;
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
    const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // Node refuses a headers timeout longer than the request timeout, which covers the headers too.
    const headersTimeout = Math.min(options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
    // Node checks both timeouts every connectionsCheckingInterval (30 s by default): often enough that they hold as set.
    const timeouts = { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout, requestTimeout) };
    if (options.tls) {
      const https = createHttpsServer({ cert: options.tls.cert, key: options.tls.key, ...timeouts }, onRequest);
      // A failed handshake (a plain-HTTP client, a client that does not trust the certificate) is the client's problem.
      https.on('tlsClientError', (error) => options.logger.debug({ event: 'tlsClientError', err: error }, 'TLS handshake failed'));
      this.server = https;
    } else {
      this.server = createServer(timeouts, onRequest);
    }
    this.loopback = options.media ? new LoopbackEndpoint({ media: options.media, ...(options.engine ? { engine: options.engine } : {}), logger: options.logger, ...(options.loopback ? { limits: options.loopback } : {}) }) : undefined;
    this.server.on('upgrade', (request, socket, head) => this.handleUpgrade(request, socket, head));
  }

  /** Sessions open at `/ws/loopback`. */
  get loopbackSessionCount(): number {
    return this.loopback?.sessionCount ?? 0;
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
    await this.loopback?.close();
    this.server.closeAllConnections();
    await this.listenerClosed;
  }

  private async handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    for (const [name, value] of Object.entries(securityHeaders(request))) response.setHeader(name, value);
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
    if (pathname !== WS_PATH || !this.loopback) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.loopback.handleUpgrade(request, socket, head);
  }

  private checkHeartbeats(): void {
    this.loopback?.heartbeat();
  }
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
