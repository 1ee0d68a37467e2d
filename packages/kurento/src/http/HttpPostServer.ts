import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { TypedEmitter, type HttpPostEndpoint, type MediaError } from '@roundtable/media';
import type { KurentoLogger } from '../KurentoServer.js';
import { MultipartFileExtractor, multipartBoundary } from './multipart.js';

export interface HttpPostServerOptions {
  /** Host put in the URLs instead of the listening address (needed when it is 0.0.0.0 / ::). Default: none. */
  announcedAddress?: string;
  /** Largest body accepted per POST (bytes); more is answered 413. Default 1073741824 (1 GiB). */
  maxBodyBytes?: number;
  /** A POST that sends nothing for this long while it is being read is ended (ms). Default 10000. */
  idleTimeoutMs?: number;
}

/** Path prefix of the URLs of HttpPostEndpoints on the Kurento Protocol server's port. */
export const HTTP_POST_PREFIX = '/kurento/http/';

export const DEFAULT_HTTP_POST_MAX_BYTES = 1024 * 1024 * 1024;

export interface HttpPostRegistrationEvents {
  [key: string]: unknown[];
  /** A POST arrived (KMS's MediaSessionStarted; once per session). */
  started: [];
  /** The URL expired: no new POST within the disconnection timeout after the last one (MediaSessionTerminated). */
  terminated: [];
}

/** One endpoint's URL: its id, its POST session and its disconnection timer. */
export class HttpPostRegistration extends TypedEmitter<HttpPostRegistrationEvents> {
  /** The request being read, if any. */
  active: IncomingMessage | undefined;
  sessionStarted = false;
  expired = false;
  expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly endpoint: HttpPostEndpoint,
    readonly disconnectionTimeoutMs: number,
    private readonly urlOf: (id: string) => string,
  ) {
    super();
  }

  /** The URL to POST to; '' once it has expired (as KMS's getUrl). */
  get url(): string {
    return this.expired ? '' : this.urlOf(this.id);
  }
}

/**
 * The HTTP side of HttpPostEndpoints, served on the Kurento Protocol server's own port
 * under /kurento/http/<id>: a POST body (a WebM/MKV file, or MP4 with its index first;
 * raw or as the file of a multipart/form-data upload) plays into the endpoint. Unknown
 * or expired ids answer 404, a second POST while one plays 409, a body over the cap
 * 413, a stalled body is ended after the idle timeout.
 */
export class HttpPostServer {
  private readonly registrations = new Map<string, HttpPostRegistration>();
  private readonly byEndpoint = new WeakMap<HttpPostEndpoint, HttpPostRegistration>();
  private origin = 'http://127.0.0.1';

  constructor(
    private readonly options: HttpPostServerOptions,
    private readonly log: KurentoLogger,
  ) {}

  /** Sets the URLs' origin from the address the server listens on. */
  listening(host: string, port: number): void {
    const name = this.options.announcedAddress ?? (isWildcard(host) ? firstExternalAddress() : host);
    this.origin = `http://${name.includes(':') ? `[${name}]` : name}:${String(port)}`;
  }

  /** Gives `endpoint` a URL; it expires `disconnectionTimeoutS` after a POST ends with no new one. */
  register(endpoint: HttpPostEndpoint, disconnectionTimeoutS: number): HttpPostRegistration {
    const reg = new HttpPostRegistration(randomUUID(), endpoint, disconnectionTimeoutS * 1000, (id) => `${this.origin}${HTTP_POST_PREFIX}${id}`);
    this.registrations.set(reg.id, reg);
    this.byEndpoint.set(endpoint, reg);
    endpoint.once('closed', () => this.unregister(reg));
    return reg;
  }

  registrationOf(endpoint: HttpPostEndpoint): HttpPostRegistration | undefined {
    return this.byEndpoint.get(endpoint);
  }

  /** Whether `req` is for this server (its path is under the prefix). */
  handles(req: IncomingMessage): boolean {
    return (req.url ?? '').startsWith(HTTP_POST_PREFIX);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const id = new URL(req.url ?? '/', 'http://localhost').pathname.slice(HTTP_POST_PREFIX.length);
    const reg = this.registrations.get(id);
    if (!reg || reg.expired || reg.endpoint.closed) {
      refuse(req, res, 404, 'no HttpPostEndpoint at this URL (unknown, released or expired)');
      return;
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type' }).end();
      return;
    }
    if (req.method !== 'POST') {
      refuse(req, res, 405, 'POST the media file to this URL', { allow: 'POST, OPTIONS' });
      return;
    }
    if (reg.active || reg.endpoint.busy) {
      refuse(req, res, 409, 'this HttpPostEndpoint is already receiving a stream');
      return;
    }
    const max = this.options.maxBodyBytes ?? DEFAULT_HTTP_POST_MAX_BYTES;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      refuse(req, res, 413, `the body is larger than ${String(max)} bytes`);
      return;
    }
    void this.receive(reg, req, res, max);
  }

  /** Unregisters every URL (the server closes). */
  close(): void {
    for (const reg of [...this.registrations.values()]) this.unregister(reg);
  }

  private async receive(reg: HttpPostRegistration, req: IncomingMessage, res: ServerResponse, max: number): Promise<void> {
    clearTimeout(reg.expiryTimer);
    reg.active = req;
    if (!reg.sessionStarted) {
      reg.sessionStarted = true;
      reg.emit('started');
    }
    this.log.info({ event: 'httpPostStarted', endpointId: reg.endpoint.id, contentType: req.headers['content-type'] }, 'HttpPostEndpoint receiving a stream');
    const limiter = new ByteLimit(max);
    const boundary = multipartBoundary(req.headers['content-type']);
    let body: Readable = req.pipe(limiter);
    if (boundary) body = body.pipe(new MultipartFileExtractor(boundary));
    // pipe() does not forward errors: the last stage fails with any of them.
    const failed = (error: Error): void => {
      body.destroy(error);
    };
    req.once('error', failed);
    req.once('close', () => {
      if (!req.complete) failed(new Error('the client closed the connection'));
    });
    limiter.once('error', failed);
    try {
      await reg.endpoint.play(body, { idleTimeoutMs: this.options.idleTimeoutMs ?? 10_000 });
      res.writeHead(200, { ...CORS, 'content-type': 'text/plain' }).end('received\n');
    } catch (error) {
      const message = (error as MediaError).message;
      const status = limiter.exceeded ? 413 : /not playable|neither audio nor video|multipart/.test(message) ? 415 : /sent nothing/.test(message) ? 408 : 400;
      this.log.warn({ event: 'httpPostFailed', endpointId: reg.endpoint.id, status, reason: message }, 'HttpPostEndpoint stream failed');
      refuse(req, res, status, message);
    } finally {
      reg.active = undefined;
      if (!reg.expired) reg.expiryTimer = setTimeout(() => this.expire(reg), reg.disconnectionTimeoutMs);
    }
  }

  private expire(reg: HttpPostRegistration): void {
    this.log.info({ event: 'httpPostExpired', endpointId: reg.endpoint.id }, 'HttpPostEndpoint URL expired (disconnection timeout)');
    this.unregister(reg);
  }

  private unregister(reg: HttpPostRegistration): void {
    if (reg.expired) return;
    reg.expired = true;
    clearTimeout(reg.expiryTimer);
    this.registrations.delete(reg.id);
    reg.active?.destroy();
    if (reg.sessionStarted) {
      reg.sessionStarted = false;
      reg.emit('terminated');
    }
  }
}

const CORS = { 'access-control-allow-origin': '*' };

/**
 * Answers an error and closes the connection. What the client still sends is read
 * and dropped for a moment (up to 1 MiB, 2 s), so that it sees the answer rather than
 * a reset; then the connection is cut.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    req.destroy();
    return;
  }
  res.writeHead(status, { ...CORS, ...headers, 'content-type': 'text/plain', connection: 'close' }).end(`${message}\n`);
  if (req.complete || req.destroyed) return;
  let dropped = 0;
  const cut = setTimeout(() => req.destroy(), 2000);
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DRAIN_BYTES) req.destroy();
  });
  req.once('close', () => clearTimeout(cut));
  req.resume();
}

const DRAIN_BYTES = 1024 * 1024;

/** Passes bytes through until `max` have passed; then fails. */
class ByteLimit extends Transform {
  private seen = 0;
  exceeded = false;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      this.exceeded = true;
      done(new Error(`the body is larger than ${String(this.max)} bytes`));
      return;
    }
    done(null, chunk);
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function firstExternalAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (info.family === 'IPv4' && !info.internal) return info.address;
  }
  return '127.0.0.1';
}
