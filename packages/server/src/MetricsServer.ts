import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export interface MetricsServerOptions {
  source: MetricsSource;
  /** Address to bind. Default '127.0.0.1': only this host (a local Prometheus or agent) can scrape. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** When set, a scrape needs `Authorization: Bearer <token>` (else 401). Default: none. */
  token?: string;
  logger: Logger;
}

const METRICS_PATH = '/metrics';

/**
 * Prometheus metrics on a listener of their own, apart from the public HTTP(S) port:
 * they tell who is online, how many calls run, the versions and the memory, which is
 * nobody's business on the public address. Plain HTTP, `GET`/`HEAD /metrics` only.
 */
export class MetricsServer {
  private readonly server: Server;
  private readonly token: Buffer | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: MetricsServerOptions) {
    this.token = options.token === undefined ? undefined : Buffer.from(options.token, 'utf8');
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        options.logger.error({ event: 'metricsError', err: error }, 'metrics request failed');
        if (!response.headersSent) send(response, 500, 'internal server error');
        else response.destroy();
      });
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  /** Starts listening; resolves with the URL of `/metrics`. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { address, port, family } = this.server.address() as AddressInfo;
    const host = address === '0.0.0.0' || address === '::' ? '127.0.0.1' : family === 'IPv6' ? `[${address}]` : address;
    return `http://${host}:${port}${METRICS_PATH}`;
  }

  /** Stops listening and cuts open connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname !== METRICS_PATH) {
      send(response, 404, 'not found');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(response, 405, 'method not allowed');
      return;
    }
    if (this.token && !this.authorized(request.headers.authorization)) {
      response.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      send(response, 401, 'a bearer token is needed (metrics.token)');
      return;
    }
    const body = await this.options.source.text();
    response.writeHead(200, { 'Content-Type': this.options.source.contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  private authorized(header: string | undefined): boolean {
    const token = this.token;
    if (!token || header === undefined) return false;
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match?.[1]) return false;
    const given = Buffer.from(match[1], 'utf8');
    return given.length === token.length && timingSafeEqual(given, token);
  }
}

function send(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
