import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine, MediaObject, type MediaConfig } from '@roundtable/media';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CallContext, ClassDef, ServerFacade } from './ClassDef.js';
import { KURENTO_MODULES } from './ClassTable.js';
import { buildClasses } from './classes/index.js';
import { HttpPostServer, type HttpPostServerOptions } from './http/HttpPostServer.js';
import { kurentoErrorOf } from './classes/helpers.js';
import { Connection } from './Connection.js';
import { KurentoError } from './errors.js';
import type { ExtensionSession, KurentoExtensions } from './extensions.js';
import { parseRequest, type JsonRpcRequest } from './jsonrpc.js';
import { DEFAULT_KURENTO_LIMITS, WorkBudget, type KurentoLimits } from './limits.js';
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
  /**
   * The media engine its pipelines are made in (the process's, shared with its other
   * media users: one owner per UDP port). Default: an engine of the server's own, closed
   * with it.
   */
  engine?: Engine;
  /** HttpPostEndpoint URLs (announced address, body cap, idle timeout). */
  httpPost?: HttpPostServerOptions;
  /** Folder of the local copies of recordings to http(s) URIs. Default `<os.tmpdir()>/roundtable-recordings`. */
  recordingSpoolDir?: string;
  /** What one client, and all together, may take; each default is in `DEFAULT_KURENTO_LIMITS`. */
  limits?: Partial<KurentoLimits>;
  /** Methods of our own beside the protocol's (a media node's rooms). Default: none. */
  extensions?: KurentoExtensions;
  logger?: KurentoLogger;
}

const SERVER_MANAGER_ID = 'manager_ServerManager';
export const ROUNDTABLE_KMS_VERSION = '6.13.0';

type Handler = (req: RequestContext) => Promise<unknown>;

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
  /** The media engine of its pipelines. */
  readonly engine: Engine;
  private readonly classes = buildClasses();
  private readonly objects = new Map<string, RemoteObject>();
  private readonly idsByTarget = new WeakMap<object, string>();
  private readonly sessions = new Map<string, Session>();
  /** Each session as extension methods see it, made at its first extension call. */
  private readonly extensionSessions = new WeakMap<Session, ExtensionSession>();
  private readonly lifecycleListeners = new Set<{ owner: Session | undefined; fn: (e: 'created' | 'destroyed', id: string) => void }>();
  private readonly manager: RemoteObject;
  private readonly ctx: CallContext;
  private readonly log: KurentoLogger;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly graceMs: number;
  private readonly httpPost: HttpPostServer;
  readonly limits: Readonly<KurentoLimits>;
  /** Objects being created (counted against the server's limit meanwhile). */
  private reserved = 0;
  private cutCount = 0;

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
    this.engine = options.engine ?? new Engine();
    this.log = options.logger ?? silent;
    this.graceMs = options.sessionGraceMs ?? 240_000;
    this.httpPost = new HttpPostServer(options.httpPost ?? {}, this.log);
    this.limits = { ...DEFAULT_KURENTO_LIMITS, ...options.limits };
    for (const name of Object.keys(options.extensions ?? {})) {
      if (name in this.handlers || name === 'ping' || name === 'connect') throw new RangeError(`the extension method '${name}' is a method of the Kurento Protocol`);
    }
    const facade: ServerFacade = {
      idOf: (target) => this.idsByTarget.get(target),
      pipelinesOf: (owner) => [...this.objects.values()].filter((o) => o.type === 'MediaPipeline' && o.owner === owner),
      onObjectLifecycle: (owner, fn) => {
        const entry = { owner, fn };
        this.lifecycleListeners.add(entry);
        return () => this.lifecycleListeners.delete(entry);
      },
      mediaConfig: options.media ?? {},
      engine: this.engine,
      version: ROUNDTABLE_KMS_VERSION,
      httpPost: this.httpPost,
      recordingSpoolDir: options.recordingSpoolDir,
      classes: this.classes,
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
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes });
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
    if (!this.options.engine) this.engine.close();
  }

  /** Number of live remote objects (ServerManager excluded), for tests and metrics. */
  get objectCount(): number {
    return this.objects.size - 1;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Connections cut for leaving more than `maxUnreadBytes` unread. */
  get cutConnections(): number {
    return this.cutCount;
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
    const conn = new Connection(ws, this.limits, {
      handle: (c, text) => this.handleText(c, text),
      concurrent: (text) => this.isExtensionCall(text),
      cut: (c, unread) => {
        this.cutCount++;
        this.log.warn({ event: 'clientCut', connection: c.id, sessionId: c.session?.id, unreadBytes: unread }, 'Kurento client cut: it leaves its replies unread');
      },
    });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      conn.onFrame(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data), isBinary);
    });
    ws.on('close', () => {
      conn.close();
      const session = conn.session;
      if (session) this.detach(conn, session);
    });
    ws.on('error', () => undefined);
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
    const extension = Object.hasOwn(this.options.extensions ?? {}, request.method) ? this.options.extensions![request.method] : undefined;
    const handler = this.handlers[request.method];
    if (!handler && !extension) throw new KurentoError('METHOD_NOT_FOUND', `unknown method '${request.method}'`);
    const session = this.sessionFor(conn, params);
    const value = extension ? await extension(this.extensionSession(session), params) : await handler!({ conn, session, params });
    return resultOf(request.method, value, session.id);
  }

  /** Whether a request text calls an extension method (those run beside each other, as a media worker's calls do). */
  private isExtensionCall(text: string): boolean {
    const names = Object.keys(this.options.extensions ?? {});
    if (names.length === 0 || !names.some((name) => text.includes(`"${name}"`))) return false;
    try {
      const method = (JSON.parse(text) as { method?: unknown } | null)?.method;
      return typeof method === 'string' && names.includes(method);
    } catch {
      // Not JSON: the queue's handling answers it with a parse error.
      return false;
    }
  }

  private extensionSession(session: Session): ExtensionSession {
    let found = this.extensionSessions.get(session);
    if (!found) {
      found = {
        id: session.id,
        notify: (method, params) => session.send(JSON.stringify({ jsonrpc: '2.0', method, params })),
        onClose: (listener) =>
          session.onClose(() => {
            try {
              listener();
            } catch (error) {
              this.log.warn({ event: 'extensionCloseFailed', sessionId: session.id, err: error instanceof Error ? error.message : String(error) }, 'an extension failed to clean up after its session');
            }
          }),
      };
      this.extensionSessions.set(session, found);
    }
    return found;
  }

  private connect(conn: Connection, params: Record<string, unknown>): { value: string; sessionId: string } {
    const wanted = params.sessionId;
    if (wanted !== undefined && typeof wanted !== 'string') throw new KurentoError('INVALID_PARAMS', "parameter 'sessionId' must be a string");
    const session = wanted ? this.resume(conn, wanted) : (conn.session ?? this.openSession(conn));
    return { value: session.id, sessionId: session.id };
  }

  /**
   * The session a request acts for: the connection's own, or, named by its id, a
   * session the connection may resume. A request without one opens a session.
   */
  private sessionFor(conn: Connection, params: Record<string, unknown>): Session {
    const wanted = params.sessionId;
    if (typeof wanted === 'string' && wanted !== '') return this.resume(conn, wanted);
    return conn.session ?? this.openSession(conn);
  }

  /**
   * A connection may act only for the session it created or resumed. A dropped
   * session (within its grace period) is resumed by whoever knows its id; a session
   * whose owner is still connected is refused, and nothing of it changes.
   */
  private resume(conn: Connection, id: string): Session {
    if (conn.session?.id === id) return conn.session;
    const found = this.sessions.get(id);
    if (!found) throw new KurentoError('INVALID_SESSION', `session ${id} is unknown or expired`);
    if (found.attached) {
      this.log.warn({ event: 'sessionRefused', connection: conn.id, sessionId: id }, 'a connection named a session that another connection holds');
      throw new KurentoError('INVALID_SESSION', `session ${id} is held by another connection`);
    }
    // The session this connection had is dropped in turn: its grace period starts.
    if (conn.session) this.detach(conn, conn.session);
    this.bind(conn, found);
    this.log.info({ sessionId: id, connection: conn.id }, 'session resumed');
    return found;
  }

  private openSession(conn: Connection): Session {
    const session = new Session();
    this.sessions.set(session.id, session);
    this.bind(conn, session);
    this.log.info({ sessionId: session.id, connection: conn.id }, 'session opened');
    return session;
  }

  private bind(conn: Connection, session: Session): void {
    conn.session = session;
    session.attach(conn);
  }

  private detach(conn: Connection, session: Session): void {
    if (conn.session === session) conn.session = undefined;
    session.detach(conn, this.graceMs, () => {
      this.log.info({ sessionId: session.id }, 'session expired');
      this.endSession(session);
    });
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
    if (!def) throw new KurentoError('MEDIA_OBJECT_TYPE_NOT_FOUND', `unknown media object type '${name.slice(0, 100)}'`);
    return def;
  }

  private async create(r: RequestContext): Promise<string> {
    const p = this.params(r, r.params);
    const type = p.string('type');
    // KMS has a factory for each creatable class, under its bare and its qualified
    // name; any other name, abstract classes included, is "Factory not found".
    const def = this.classes.get(type);
    const create = def && !def.spec.abstract ? def.spec.create : undefined;
    if (!def || !create) {
      const what = def ? `${def.name} is abstract: ` : '';
      throw new KurentoError('MEDIA_OBJECT_NOT_AVAILABLE', `${what}Factory '${type.slice(0, 100)}' not found`);
    }
    const ctorParams = p.has('constructorParams') ? p.record('constructorParams') : {};
    const properties = p.has('properties') ? p.record('properties') : {};
    this.reserve(r.session);
    let created;
    try {
      created = await create(this.params(r, ctorParams), this.ctx);
    } finally {
      this.reserved--;
      r.session.reserved--;
    }
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

  /** Counts an object about to be made against the limits; KMS answers NOT_ENOUGH_RESOURCES at its own. */
  private reserve(session: Session): void {
    const { maxObjects, maxSessionObjects } = this.limits;
    if (this.objectCount + this.reserved >= maxObjects) {
      throw new KurentoError('NOT_ENOUGH_RESOURCES', `Reached the server's limit of ${maxObjects} media objects`);
    }
    if (session.objects.size + session.reserved >= maxSessionObjects) {
      throw new KurentoError('NOT_ENOUGH_RESOURCES', `Reached the session's limit of ${maxSessionObjects} media objects`);
    }
    this.reserved++;
    session.reserved++;
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
        if (kind === 'get' && prop.get) return this.propertyValue(r.session, obj, name, prop.get(obj, this.ctx));
        if (kind === 'set' && prop.set && !prop.readOnly) {
          prop.set(obj, args.has(name) ? args : this.params(r, { [name]: args.value(Object.keys(r.params.operationParams ?? {})[0] ?? name) }), this.ctx);
          return undefined;
        }
      }
    }
    throw new KurentoError('MEDIA_OBJECT_METHOD_NOT_FOUND', `${obj.type} has no operation '${operation}'`);
  }

  /** ServerManager's properties are computed from the server's state, as the caller's session may see it. */
  private propertyValue(session: Session, obj: RemoteObject, name: string, value: unknown): unknown {
    if (obj !== this.manager) return value;
    switch (name) {
      case 'info':
        return {
          __module__: 'kurento',
          __type__: 'ServerInfo',
          version: ROUNDTABLE_KMS_VERSION,
          modules: KURENTO_MODULES.map((name) => ({
            __module__: 'kurento',
            __type__: 'ModuleInfo',
            version: ROUNDTABLE_KMS_VERSION,
            name,
            generationTime: new Date(0).toISOString(),
            factories: this.classes.factoriesOf(name),
          })),
          type: 'KMS',
          capabilities: ['transactions'],
        };
      // Another session's ids are never shown: a session id is what resumes a session.
      case 'pipelines':
        return [...session.objects].filter((o) => o.type === 'MediaPipeline').map((o) => o.id);
      case 'sessions':
        return [session.id];
      default:
        return value;
    }
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
    return { type: obj.type, qualifiedType: obj.def.qualifiedName, hierarchy: obj.def.hierarchy };
  }

  private async transaction(r: RequestContext): Promise<unknown[]> {
    const ops = r.params.operations;
    if (!Array.isArray(ops)) throw new KurentoError('INVALID_PARAMS', "parameter 'operations' must be a list of requests");
    if (ops.length > this.limits.maxFrameRequests) {
      throw new KurentoError('NOT_ENOUGH_RESOURCES', `a transaction may hold at most ${this.limits.maxFrameRequests} operations (it has ${ops.length}): none was run`);
    }
    const results: unknown[] = [];
    const values: unknown[] = [];
    const budget = new WorkBudget();
    for (const op of ops) {
      await budget.yieldIfSpent();
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
