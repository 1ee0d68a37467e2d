import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MediaObject, type MediaConfig } from '@roundtable/media';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CallContext, ClassDef, ServerFacade } from './ClassDef.js';
import { buildClasses } from './classes/index.js';
import { HttpPostServer, type HttpPostServerOptions } from './http/HttpPostServer.js';
import { FILTER_CLASSES } from './classes/filters.js';
import { kurentoErrorOf } from './classes/helpers.js';
import { KurentoError } from './errors.js';
import { JsonStreamSplitter, parseRequest, type JsonRpcRequest } from './jsonrpc.js';
import { Params } from './Params.js';
import { RemoteObject } from './RemoteObject.js';
import { Session } from './Session.js';

export interface KurentoLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface KurentoServerOptions {
  /** Address to bind. Default '127.0.0.1'. */
  host?: string;
  /** TCP port. Default 8888; 0 picks a free one. */
  port?: number;
  /** WebSocket path. Default '/kurento'. */
  path?: string;
  /** Shared secret clients must send as `?access_token=` (or a Bearer header). Default: none. */
  secret?: string;
  /** How long a session outlives its socket, for `connect` (ms). Default 240000 (4 minutes). */
  sessionGraceMs?: number;
  /** Settings of the pipelines created through this server. */
  media?: Partial<MediaConfig>;
  /** HttpPostEndpoint URLs (announced address, body cap, idle timeout). */
  httpPost?: HttpPostServerOptions;
  /** Folder of the local copies of recordings to http(s) URIs. Default `<os.tmpdir()>/roundtable-recordings`. */
  recordingSpoolDir?: string;
  logger?: KurentoLogger;
}

const SERVER_MANAGER_ID = 'manager_ServerManager';
export const ROUNDTABLE_KMS_VERSION = '6.13.0';

type Handler = (req: RequestContext) => Promise<unknown>;

interface Connection {
  session: Session | undefined;
  deliver: (message: string) => void;
  queue: Promise<void>;
}

interface RequestContext {
  conn: Connection;
  session: Session;
  params: Record<string, unknown>;
  /** Results of earlier operations of the current transaction (for `newref:N`). */
  txResults?: unknown[];
}

const silent: KurentoLogger = { info: () => undefined, warn: () => undefined, debug: () => undefined };

/**
 * The Kurento Protocol (JSON-RPC 2.0 over WebSocket) in front of Roundtable's media
 * engine, so that Kurento applications and the official clients drive it unchanged.
 */
export class KurentoServer {
  private readonly classes = buildClasses();
  private readonly objects = new Map<string, RemoteObject>();
  private readonly idsByTarget = new WeakMap<object, string>();
  private readonly sessions = new Map<string, Session>();
  private readonly lifecycleListeners = new Set<{ owner: Session | undefined; fn: (e: 'created' | 'destroyed', id: string) => void }>();
  private readonly manager: RemoteObject;
  private readonly ctx: CallContext;
  private readonly log: KurentoLogger;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly graceMs: number;
  private readonly httpPost: HttpPostServer;

  private readonly handlers: Record<string, Handler> = {
    create: (r) => this.create(r),
    invoke: (r) => this.invoke(r),
    subscribe: (r) => this.subscribe(r),
    unsubscribe: (r) => this.unsubscribe(r),
    release: (r) => this.release(r),
    describe: (r) => this.describe(r),
    transaction: (r) => this.transaction(r),
    closeSession: async () => undefined,
  };

  constructor(private readonly options: KurentoServerOptions = {}) {
    this.log = options.logger ?? silent;
    this.graceMs = options.sessionGraceMs ?? 240_000;
    this.httpPost = new HttpPostServer(options.httpPost ?? {}, this.log);
    const facade: ServerFacade = {
      idOf: (target) => this.idsByTarget.get(target),
      sessionIds: () => [...this.sessions.keys()],
      pipelinesOf: (owner) => [...this.objects.values()].filter((o) => o.type === 'MediaPipeline' && o.owner === owner),
      onObjectLifecycle: (owner, fn) => {
        const entry = { owner, fn };
        this.lifecycleListeners.add(entry);
        return () => this.lifecycleListeners.delete(entry);
      },
      mediaConfig: options.media ?? {},
      version: ROUNDTABLE_KMS_VERSION,
      httpPost: this.httpPost,
      recordingSpoolDir: options.recordingSpoolDir,
    };
    this.ctx = { server: facade };
    this.manager = new RemoteObject(SERVER_MANAGER_ID, this.classDef('ServerManager'), {}, undefined, undefined);
    this.objects.set(this.manager.id, this.manager);
  }

  async listen(): Promise<{ url: string; port: number }> {
    const http = createServer((req, res) => {
      if (this.httpPost.handles(req)) return this.httpPost.handle(req, res);
      res.writeHead(426, { 'content-type': 'text/plain' }).end('Kurento Protocol: connect with a WebSocket\n');
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
    http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== (this.options.path ?? '/kurento')) {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      if (!this.authorized(req, url)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    // Media POSTs are paced by playback and may outlast Node's 5-minute request limit; HttpPostServer has its own idle timeout.
    http.requestTimeout = 0;
    this.http = http;
    this.wss = wss;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.options.port ?? 8888, host, () => resolve());
    });
    const port = (http.address() as AddressInfo).port;
    this.httpPost.listening(host, port);
    if (!isLoopback(host) && !this.options.secret) {
      this.log.warn({ host }, 'Kurento Protocol listens beyond loopback without a shared secret');
    }
    const url = `ws://${host.includes(':') ? `[${host}]` : host}:${port}${this.options.path ?? '/kurento'}`;
    this.log.info({ url }, 'Kurento Protocol server listening');
    return { url, port };
  }

  /** Stops listening, closes every socket and releases every object. */
  async close(): Promise<void> {
    await Promise.all(
      [...(this.wss?.clients ?? [])].map(
        (client) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              client.terminate();
              resolve();
            }, 1000);
            client.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            client.close(1001, 'server shutting down');
          }),
      ),
    );
    this.httpPost.close(); // ends uploads in progress, which would hold http.close() up
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    this.http = undefined;
    for (const session of [...this.sessions.values()]) this.endSession(session);
  }

  /** Number of live remote objects (ServerManager excluded), for tests and metrics. */
  get objectCount(): number {
    return this.objects.size - 1;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Handles one JSON-RPC text; returns the response text, if any. Exposed for tests. */
  async handleText(conn: Connection, text: string): Promise<string | undefined> {
    let request: JsonRpcRequest;
    try {
      request = parseRequest(text);
    } catch (error) {
      const err = kurentoErrorOf(error);
      return JSON.stringify({ jsonrpc: '2.0', id: null, error: err.toJson() });
    }
    const { id } = request;
    try {
      const result = await this.dispatch(conn, request);
      return id === undefined ? undefined : JSON.stringify({ jsonrpc: '2.0', id, result });
    } catch (error) {
      const err = kurentoErrorOf(error);
      this.log.debug({ event: 'requestFailed', sessionId: conn.session?.id, method: request.method, code: err.code, message: err.message }, 'request failed');
      return id === undefined ? undefined : JSON.stringify({ jsonrpc: '2.0', id, error: err.toJson() });
    }
  }

  // --- connections and sessions ------------------------------------------------

  private onSocket(ws: WebSocket): void {
    const conn: Connection = {
      session: undefined,
      deliver: (message) => {
        if (ws.readyState === ws.OPEN) ws.send(message);
      },
      queue: Promise.resolve(),
    };
    const splitter = new JsonStreamSplitter();
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      // Browsers send one request per text frame; the official client streams binary
      // frames that may hold several requests, or part of one.
      for (const message of isBinary ? splitter.push(text) : [text]) this.enqueue(conn, message);
    });
    ws.on('close', () => {
      const session = conn.session;
      if (!session) return;
      session.detach(conn.deliver, this.graceMs, () => {
        this.log.info({ sessionId: session.id }, 'session expired');
        this.endSession(session);
      });
    });
    ws.on('error', () => undefined);
  }

  private enqueue(conn: Connection, text: string): void {
    // Pings are answered at once, even while a long request is running.
    if (isPing(text)) {
      void this.handleText(conn, text).then((out) => out && conn.deliver(out));
      return;
    }
    conn.queue = conn.queue.then(async () => {
      const out = await this.handleText(conn, text);
      if (out) conn.deliver(out);
    });
  }

  private authorized(req: IncomingMessage, url: URL): boolean {
    const secret = this.options.secret;
    if (!secret) return true;
    const header = req.headers.authorization;
    return url.searchParams.get('access_token') === secret || header === `Bearer ${secret}`;
  }

  private async dispatch(conn: Connection, request: JsonRpcRequest): Promise<unknown> {
    const params = request.params ?? {};
    if (request.method === 'ping') {
      const sessionId = conn.session?.id;
      return sessionId ? { value: 'pong', sessionId } : { value: 'pong' };
    }
    if (request.method === 'connect') return this.connect(conn, params);
    const handler = this.handlers[request.method];
    if (!handler) throw new KurentoError('METHOD_NOT_FOUND', `unknown method '${request.method}'`);
    const session = this.sessionFor(conn, params);
    const value = await handler({ conn, session, params });
    return resultOf(request.method, value, session.id);
  }

  private connect(conn: Connection, params: Record<string, unknown>): { value: string; sessionId: string } {
    const wanted = params.sessionId;
    if (wanted !== undefined && typeof wanted !== 'string') throw new KurentoError('INVALID_PARAMS', "parameter 'sessionId' must be a string");
    let session: Session;
    if (wanted) {
      const found = this.sessions.get(wanted);
      if (!found) throw new KurentoError('INVALID_SESSION', `session ${wanted} is unknown or expired`);
      session = found;
    } else {
      session = conn.session ?? this.newSession();
    }
    this.bind(conn, session);
    return { value: session.id, sessionId: session.id };
  }

  private sessionFor(conn: Connection, params: Record<string, unknown>): Session {
    const wanted = params.sessionId;
    if (typeof wanted === 'string' && wanted !== '') {
      const found = this.sessions.get(wanted);
      if (!found) throw new KurentoError('INVALID_SESSION', `session ${wanted} is unknown or expired`);
      if (conn.session !== found) this.bind(conn, found);
      return found;
    }
    if (conn.session) return conn.session;
    const session = this.newSession();
    this.bind(conn, session);
    return session;
  }

  private newSession(): Session {
    const session = new Session();
    this.sessions.set(session.id, session);
    this.log.info({ sessionId: session.id }, 'session opened');
    return session;
  }

  private bind(conn: Connection, session: Session): void {
    conn.session = session;
    session.attach(conn.deliver);
  }

  private endSession(session: Session): void {
    for (const obj of [...session.objects]) if (!obj.parent || obj.parent.owner !== session) this.releaseObject(obj);
    session.close();
    this.sessions.delete(session.id);
  }

  // --- methods -------------------------------------------------------------------

  private params(r: RequestContext, raw: Record<string, unknown>): Params {
    return new Params(raw, (id) => this.resolve(r, id));
  }

  private resolve(r: RequestContext, id: string): RemoteObject {
    const ref = /^newref:(\d+)$/.exec(id);
    if (ref && r.txResults) {
      const created = r.txResults[Number(ref[1])];
      if (typeof created === 'string') return this.resolve({ ...r, txResults: undefined }, created);
    }
    const obj = this.objects.get(id);
    // Objects of other sessions are invisible: sessions are isolated.
    if (!obj || obj.released || (obj.owner !== undefined && obj.owner !== r.session)) {
      throw new KurentoError('MEDIA_OBJECT_NOT_FOUND', `object '${id}' not found`);
    }
    return obj;
  }

  private classDef(name: string): ClassDef {
    const def = this.classes.get(name);
    if (!def) throw new KurentoError('MEDIA_OBJECT_TYPE_NOT_FOUND', `unknown media object type '${name}'`);
    return def;
  }

  private async create(r: RequestContext): Promise<string> {
    const p = this.params(r, r.params);
    const def = this.classDef(p.string('type'));
    if (def.spec.abstract || !def.spec.create) {
      throw new KurentoError('MEDIA_OBJECT_CONSTRUCTOR_NOT_FOUND', `${def.name} is abstract and cannot be created`);
    }
    const ctorParams = p.has('constructorParams') ? p.record('constructorParams') : {};
    const properties = p.has('properties') ? p.record('properties') : {};
    const created = await def.spec.create(this.params(r, ctorParams), this.ctx);
    const base = `${randomUUID()}_kurento.${def.name}`;
    const id = created.parent ? `${created.parent.id}/${base}` : base;
    const obj = new RemoteObject(id, def, created.target, r.session, created.parent);
    this.register(obj);
    try {
      for (const [name, value] of Object.entries(properties)) {
        const prop = def.findProperty(name);
        if (!prop?.set || prop.readOnly) throw new KurentoError('INVALID_PARAMS', `${def.name} has no settable property '${name}'`);
        prop.set(obj, this.params(r, { [name]: value }), this.ctx);
      }
    } catch (error) {
      // Nothing half-made stays behind.
      this.releaseObject(obj);
      throw error;
    }
    this.notifyLifecycle(r.session, 'created', id);
    this.log.debug({ event: 'objectCreated', sessionId: r.session.id, objectId: id }, 'object created');
    return id;
  }

  private register(obj: RemoteObject): void {
    this.objects.set(obj.id, obj);
    this.idsByTarget.set(obj.target, obj.id);
    obj.owner?.objects.add(obj);
    obj.parent?.children.add(obj);
    obj.def.spec.onCreated?.(obj);
    if (obj.target instanceof MediaObject) {
      // The engine may close an object on its own (its pipeline closed): follow it.
      obj.target.once('closed', () => this.forget(obj));
    }
  }

  private async invoke(r: RequestContext): Promise<unknown> {
    const p = this.params(r, r.params);
    const obj = p.object('object');
    const operation = p.string('operation');
    const args = this.params(r, p.has('operationParams') ? p.record('operationParams') : {});
    const method = obj.def.findMethod(operation);
    if (method) return method(obj, args, this.ctx);
    const accessor = /^(get|set)(.+)$/.exec(operation);
    if (accessor) {
      const [, kind, rest] = accessor as unknown as [string, 'get' | 'set', string];
      const name = [rest.charAt(0).toLowerCase() + rest.slice(1), rest].find((n) => obj.def.findProperty(n));
      const prop = name ? obj.def.findProperty(name) : undefined;
      if (prop && name) {
        if (kind === 'get' && prop.get) return this.propertyValue(obj, name, prop.get(obj, this.ctx));
        if (kind === 'set' && prop.set && !prop.readOnly) {
          prop.set(obj, args.has(name) ? args : this.params(r, { [name]: args.value(Object.keys(r.params.operationParams ?? {})[0] ?? name) }), this.ctx);
          return undefined;
        }
      }
    }
    throw new KurentoError('MEDIA_OBJECT_METHOD_NOT_FOUND', `${obj.type} has no operation '${operation}'`);
  }

  /** ServerManager's properties are computed from the server's own state. */
  private propertyValue(obj: RemoteObject, name: string, value: unknown): unknown {
    if (obj !== this.manager) return value;
    switch (name) {
      case 'info':
        return {
          __module__: 'kurento',
          __type__: 'ServerInfo',
          version: ROUNDTABLE_KMS_VERSION,
          modules: ['core', 'elements', 'filters'].map((name) => ({
            __module__: 'kurento',
            __type__: 'ModuleInfo',
            version: ROUNDTABLE_KMS_VERSION,
            name,
            generationTime: new Date(0).toISOString(),
            factories: this.factoriesOf(name),
          })),
          type: 'KMS',
          capabilities: ['transactions'],
        };
      case 'pipelines':
        return [...this.objects.values()].filter((o) => o.type === 'MediaPipeline').map((o) => o.id);
      case 'sessions':
        return [...this.sessions.keys()];
      default:
        return value;
    }
  }

  /** Creatable classes per Kurento module. */
  private factoriesOf(module: string): string[] {
    const CORE = ['MediaPipeline', 'PassThrough', 'HubPort'];
    const creatable = [...this.classes.values()].filter((d) => d.spec.create && !d.spec.abstract && !d.spec.unsupported).map((d) => d.name);
    if (module === 'core') return creatable.filter((n) => CORE.includes(n));
    if (module === 'filters') return creatable.filter((n) => FILTER_CLASSES.includes(n));
    if (module === 'elements') return creatable.filter((n) => !CORE.includes(n) && !FILTER_CLASSES.includes(n));
    return [];
  }

  private async subscribe(r: RequestContext): Promise<string> {
    const p = this.params(r, r.params);
    const obj = p.object('object');
    const type = p.string('type');
    const binder = obj.def.findEvent(type);
    if (!binder) throw new KurentoError('MEDIA_OBJECT_EVENT_NOT_SUPPORTED', `${obj.type} has no event '${type}'`);
    const id = randomUUID();
    const session = r.session;
    const owner = obj.owner ?? session;
    const scoped = obj === this.manager ? Object.assign(Object.create(obj) as RemoteObject, { owner }) : obj;
    const detach = binder(
      scoped,
      (data) => {
        const now = Date.now();
        const value = {
          data: {
            source: obj.id,
            tags: obj.sendTagsInEvents ? [...obj.tags].map(([key, v]) => ({ key, value: v })) : [],
            timestamp: String(Math.floor(now / 1000)),
            timestampMillis: String(now),
            type,
            ...data,
          },
          object: obj.id,
          type,
        };
        session.send(JSON.stringify({ jsonrpc: '2.0', method: 'onEvent', params: { value } }));
      },
      this.ctx,
    );
    session.subscriptions.set(id, { id, object: obj, type, detach });
    return id;
  }

  private async unsubscribe(r: RequestContext): Promise<undefined> {
    const p = this.params(r, r.params);
    p.string('object');
    const id = p.string('subscription');
    // The official client unsubscribes after releasing an object, whose subscriptions
    // are gone with it: that is not an error.
    const sub = r.session.subscriptions.get(id);
    sub?.detach();
    r.session.subscriptions.delete(id);
    return undefined;
  }

  private async release(r: RequestContext): Promise<undefined> {
    const obj = this.params(r, r.params).object('object');
    if (obj === this.manager) throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', 'the ServerManager cannot be released');
    this.releaseObject(obj);
    return undefined;
  }

  private async describe(r: RequestContext): Promise<Record<string, unknown>> {
    const obj = this.params(r, r.params).object('object');
    return { type: obj.type, hierarchy: obj.def.hierarchy, qualifiedType: `kurento.${obj.type}` };
  }

  private async transaction(r: RequestContext): Promise<unknown[]> {
    const ops = r.params.operations;
    if (!Array.isArray(ops)) throw new KurentoError('INVALID_PARAMS', "parameter 'operations' must be a list of requests");
    const results: unknown[] = [];
    const values: unknown[] = [];
    for (const op of ops) {
      const req = op as Partial<JsonRpcRequest> | null;
      try {
        if (!req || typeof req !== 'object' || typeof req.method !== 'string') {
          throw new KurentoError('INVALID_REQUEST', 'each operation must be a request with a method');
        }
        const handler = req.method === 'transaction' ? undefined : this.handlers[req.method];
        if (!handler) throw new KurentoError('METHOD_NOT_FOUND', `unknown method '${req.method}' in transaction`);
        const value = await handler({ ...r, params: (req.params as Record<string, unknown> | undefined) ?? {}, txResults: values });
        values.push(value);
        results.push({ jsonrpc: '2.0', id: req.id ?? null, result: resultOf(req.method, value, r.session.id) });
      } catch (error) {
        values.push(undefined);
        results.push({ jsonrpc: '2.0', id: req?.id ?? null, error: kurentoErrorOf(error).toJson() });
      }
    }
    return results;
  }

  // --- object lifecycle ------------------------------------------------------------

  private releaseObject(obj: RemoteObject): void {
    if (obj.released) return;
    for (const child of [...obj.children]) this.releaseObject(child);
    this.forget(obj);
    if (obj.target instanceof MediaObject) obj.target.close();
  }

  private forget(obj: RemoteObject): void {
    if (obj.released) return;
    obj.released = true;
    for (const child of [...obj.children]) this.forget(child);
    obj.owner?.unsubscribeAll(obj);
    obj.owner?.objects.delete(obj);
    obj.parent?.children.delete(obj);
    this.objects.delete(obj.id);
    this.notifyLifecycle(obj.owner, 'destroyed', obj.id);
    this.log.debug({ event: 'objectReleased', sessionId: obj.owner?.id, objectId: obj.id }, 'object released');
  }

  private notifyLifecycle(owner: Session | undefined, event: 'created' | 'destroyed', id: string): void {
    for (const l of this.lifecycleListeners) {
      if (l.owner === owner) {
        try {
          l.fn(event, id);
        } catch {
          // a subscriber's failure must not break object management
        }
      }
    }
  }
}

/** KMS answers `describe` with the description itself, every other method with `{value}`. */
function resultOf(method: string, value: unknown, sessionId: string): Record<string, unknown> {
  if (method === 'describe' && typeof value === 'object' && value !== null) return { ...value, sessionId };
  return value === undefined ? { sessionId } : { value, sessionId };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

function isPing(text: string): boolean {
  if (text.length > 512 || !text.includes('"ping"')) return false;
  try {
    return (JSON.parse(text) as { method?: unknown } | null)?.method === 'ping';
  } catch {
    return false;
  }
}
