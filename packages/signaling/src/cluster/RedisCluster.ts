import { randomUUID } from 'node:crypto';
import type { CallId, ClientRequest, DeviceId, ErrorCode, RequestType, RoomName, ServerNotification, UserId } from '@roundtable/protocol';
import { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../logger.js';
import { SignalingError } from '../net/Handlers.js';
import type { AnyHandler } from '../net/mergeHandlerTables.js';
import type { DeviceLink } from '../net/Router.js';
import type { AttemptCounter } from '../auth/AttemptCounter.js';
import type { AttemptLimits } from '../auth/AttemptLimiter.js';
import type { Adopted, Cluster, ClusterStats, DeviceRef, OwnedKind } from './Cluster.js';
import { RedisAttemptCounter } from './RedisAttemptCounter.js';
import { RedisSharedRate } from './RedisSharedRate.js';
import { ClusterRouter, type DeviceEntry } from './ClusterRouter.js';
import { RemoteLink } from './RemoteLink.js';

export interface RedisClusterOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Prefix of every key and channel, so that several deployments can share one Redis. Default 'roundtable:'. */
  keyPrefix?: string;
  /**
   * A node that has not refreshed its registration for this long is missing (ms); once
   * it has been missing twice as long again, its devices go offline for the others and
   * its calls and rooms end (a Redis restart leaves every node that long to register
   * again). Heartbeats run every third of it. Default 10000.
   */
  nodeTtlMs?: number;
  /** A request forwarded to another node that has no answer by then fails with OVERLOADED (ms). Default 10000. */
  forwardTimeoutMs?: number;
  /** How long `connect` waits for Redis (ms). Default 5000. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** Messages to a node's inbox. */
type InboxMessage =
  | { t: 'n'; k: string; n: ServerNotification }
  | { t: 'q'; id: number; from: string; type: RequestType; request: ClientRequest; link: DeviceEntry }
  | { t: 'r'; id: number; ok: true; result: unknown }
  | { t: 'r'; id: number; ok: false; code: ErrorCode; message: string; retryAfterMs?: number };

/** Messages to every node. */
type ClusterEvent = { t: 'add'; e: DeviceEntry } | { t: 'rm'; e: DeviceEntry } | { t: 'out'; node: string; h: string };

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

// GET the owner; it counts only while its node is alive.
const LIVE_VALUE = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
local node = string.match(v, '^[^|]+')
if redis.call('EXISTS', ARGV[1] .. node) == 1 then return v end
return false`;

// SET unless a live node holds it, or a gone node not yet found gone holds it with a saved
// state (KEYS[3]; the node that finds it gone adopts it); returns the holder.
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v and redis.call('EXISTS', ARGV[1] .. v) == 1 then return v end
if v and v ~= ARGV[2] and redis.call('EXISTS', KEYS[3]) == 1 and redis.call('SISMEMBER', KEYS[4], v) == 1 then return v end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return ARGV[2]`;

// DEL if the value is still ours.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], KEYS[1])
return 1`;

// DEL the owner key and the saved state if they are still ours.
const RELEASE_OWNED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('DEL', KEYS[3])
end
redis.call('SREM', KEYS[2], KEYS[1])
return 1`;

// Replaces the saved state of a call or room (KEYS[2]) while this node (ARGV[1]) owns it (KEYS[1]).
const SAVE_STATE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'owner', ARGV[1], unpack(ARGV, 2))
return 1`;

// Writes again a key (ARGV[2] empty) or hash field (ARGV[2]) this node (ARGV[3]) holds with
// value ARGV[1], after its registration had expired or Redis came back, unless another node
// has it now (the value names another node: it adopted the call or room meanwhile). Returns
// that other value, or nil when written.
const REASSERT = `
local field = ARGV[2]
local v
if field ~= '' then v = redis.call('HGET', KEYS[1], field) else v = redis.call('GET', KEYS[1]) end
if v and v ~= ARGV[1] and string.match(v, '^[^|]+') ~= ARGV[3] then return v end
if field ~= '' then
  redis.call('HSET', KEYS[1], field, ARGV[1])
  redis.call('SADD', KEYS[2], KEYS[1] .. '\t' .. field)
else
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SADD', KEYS[2], KEYS[1])
end
return false`;

// HDEL if the field is still ours.
const RELEASE_FIELD = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('SREM', KEYS[2], KEYS[1] .. '\t' .. ARGV[1])
return 1`;

// A gone node (ARGV[1]) taken over by this one (ARGV[2]), in one step, by the first node
// that finds it gone. Each call or room it owned with a saved state (ARGV[4] .. 'call:<id>')
// is this node's from now on: its owner key, the state's owner, and the in-call and
// in-room entries of its users name this node (and are in this node's owned set, KEYS[4]).
// The rest of its keys and fields is deleted where they still name it. With ARGV[2] empty
// nobody adopts: everything is deleted (a node withdrawing itself). Returns {deleted,
// adopted}: deleted as 'key\tfield\tvalue' (field empty for a key), once: to the node that
// got there first; adopted as 'call:<id>' / 'room:<name>'.
const ADOPT_NODE = `
local entries = redis.call('SMEMBERS', KEYS[1])
local ownerPrefix, statePrefix, inCallPrefix = ARGV[3], ARGV[4], ARGV[5]
local deleted, adopted, taken = {}, {}, {}
for _, entry in ipairs(entries) do
  if not string.find(entry, '\t', 1, true) and string.sub(entry, 1, #ownerPrefix) == ownerPrefix then
    local v = redis.call('GET', entry)
    if v == ARGV[1] then
      local what = string.sub(entry, #ownerPrefix + 1)
      if ARGV[2] ~= '' and redis.call('EXISTS', statePrefix .. what) == 1 then
        redis.call('SET', entry, ARGV[2])
        redis.call('SADD', KEYS[4], entry)
        redis.call('HSET', statePrefix .. what, 'owner', ARGV[2])
        table.insert(adopted, what)
        taken[what] = true
      else
        redis.call('DEL', entry)
        table.insert(deleted, entry .. '\t\t' .. v)
      end
    end
  end
end
for _, entry in ipairs(entries) do
  local tab = string.find(entry, '\t', 1, true)
  if tab then
    local key = string.sub(entry, 1, tab - 1)
    local field = string.sub(entry, tab + 1)
    local v = redis.call('HGET', key, field)
    if v == ARGV[1] then
      if taken['room:' .. field] then
        redis.call('HSET', key, field, ARGV[2])
        redis.call('SADD', KEYS[4], entry)
      else
        redis.call('HDEL', key, field)
        table.insert(deleted, key .. '\t' .. field .. '\t' .. v)
      end
    end
  elseif string.sub(entry, 1, #ownerPrefix) ~= ownerPrefix then
    local v = redis.call('GET', entry)
    if v and string.match(v, '^[^|]+') == ARGV[1] then
      local callId = string.match(v, '|(.*)$')
      if callId and string.sub(entry, 1, #inCallPrefix) == inCallPrefix and taken['call:' .. callId] then
        redis.call('SET', entry, ARGV[2] .. '|' .. callId)
        redis.call('SADD', KEYS[4], entry)
      else
        redis.call('DEL', entry)
        table.insert(deleted, entry .. '\t\t' .. v)
      end
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return {deleted, adopted}`;

/**
 * The cluster on Redis (docs/architecture.md, "Cluster"):
 * - `<p>node:<id>`: this node is alive (a key with expiry, refreshed every `nodeTtlMs / 3`);
 *   `<p>nodes`: the set of nodes;
 * - `<p>devices:<id>`: a hash of the node's sockets (key -> user, device), with the node's expiry;
 * - `<p>owner:call:<id>`, `<p>owner:room:<name>`: the owning node;
 * - `<p>incall:<user>`: `node|callId` of the call the user is in;
 * - `<p>rooms:<user>`: a hash room -> node of the rooms the user is in;
 * - `<p>state:call:<id>`, `<p>state:room:<name>`: what the owner saved of a call or room
 *   (a hash: `owner` and the service's fields), for the node that adopts it should the
 *   owner die;
 * - `<p>owned:<id>`: what the node wrote, for whoever finds it gone to clean up or adopt;
 * - channels `<p>events` (devices online / gone, to every node) and `<p>inbox:<id>`
 *   (notifications for the node's sockets, forwarded requests and their answers).
 * Values that name a node count only while that node is alive. Everything this node
 * wrote is kept in memory too and written again when Redis comes back (a restart loses it).
 */
export class RedisCluster implements Cluster {
  readonly nodeId: string;
  readonly shared = true;
  /** The shared message rates handed out, closed with the cluster. */
  private readonly rates: RedisSharedRate[] = [];
  readonly router: ClusterRouter;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly forwardTimeoutMs: number;
  private readonly logger: Logger;
  /** Keys this node set (owner, incall) and their value; hash fields as `hash\tfield`. */
  private readonly written = new Map<string, string>();
  /** The states this node saved (state key -> fields), written again when Redis comes back. */
  private readonly states = new Map<string, Record<string, string>>();
  private readonly adoptedListeners = new Set<(adopted: Adopted) => void>();
  private readonly disownedListeners = new Set<(kind: OwnedKind, key: string) => void>();
  /**
   * Whether this node's key was written (a registration went through): a heartbeat sent
   * after that which finds the key gone checks what this node still owns. (Not "a
   * heartbeat went through": a node whose key is lost before its first heartbeat, which
   * comes a third of the TTL after it starts, would take that heartbeat for its first.)
   */
  private keyWritten = false;
  private readonly pending = new Map<number, Pending>();
  private readonly missingSince = new Map<string, number>();
  private served: ReadonlyMap<RequestType, AnyHandler> = new Map();
  private readonly logoutListeners = new Set<(tokenHash: string) => void>();
  private heartbeat: NodeJS.Timeout | undefined;
  private rpcSeq = 0;
  private forwardedCount = 0;
  private servedCount = 0;
  private ticking = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly cmd: Redis,
    private readonly sub: Redis,
    options: RedisClusterOptions,
  ) {
    this.nodeId = randomUUID();
    this.prefix = options.keyPrefix ?? 'roundtable:';
    this.ttlMs = options.nodeTtlMs ?? 10_000;
    this.forwardTimeoutMs = options.forwardTimeoutMs ?? 10_000;
    this.logger = withFields(options.logger ?? silentLogger, { component: 'cluster', nodeId: this.nodeId });
    this.router = new ClusterRouter(
      this.nodeId,
      {
        registered: (entry) => this.registered(entry),
        unregistered: (entry) => this.unregistered(entry),
        deliver: (node, key, notification) => this.publish(this.inbox(node), { t: 'n', k: key, n: notification }),
      },
      { logger: this.logger },
    );
  }

  /** Connects to Redis, registers this node and reads the others' devices. Rejects when Redis does not answer in time. */
  static async connect(options: RedisClusterOptions): Promise<RedisCluster> {
    const redisOptions = {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      // Commands given while Redis is away fail soon; what matters is written again on reconnect.
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
    };
    const cmd = new Redis(options.url, redisOptions);
    const sub = new Redis(options.url, redisOptions);
    const cluster = new RedisCluster(cmd, sub, options);
    try {
      await cluster.start(options.connectTimeoutMs ?? 5000);
      return cluster;
    } catch (error) {
      cmd.disconnect();
      sub.disconnect();
      throw new Error(`cannot reach Redis at ${redactUrl(options.url)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  private async start(timeoutMs: number): Promise<void> {
    for (const client of [this.cmd, this.sub]) {
      client.on('error', (error: Error) => this.logger.warn({ event: 'redisError', err: error }, 'Redis connection error'));
    }
    this.cmd.on('ready', () => void this.reassert('reconnected'));
    this.sub.on('ready', () => void this.tick());
    this.cmd.on('close', () => {
      if (!this.closing) this.logger.warn({ event: 'redisDisconnected' }, 'lost Redis; reconnecting');
    });
    this.sub.on('message', (channel: string, message: string) => this.receive(channel, message));
    await withTimeout(Promise.all([this.cmd.connect(), this.sub.connect()]), timeoutMs, 'no connection');
    await withTimeout(this.sub.subscribe(this.eventsChannel(), this.inbox(this.nodeId)), timeoutMs, 'could not subscribe');
    await this.reassert('connected');
    await this.reconcile();
    this.heartbeat = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.heartbeat.unref();
    this.logger.info({ event: 'clusterJoined' }, 'joined the signaling cluster');
  }

  // --- ownership, calls, rooms ----------------------------------------------------------

  async ownerOf(kind: OwnedKind, key: string): Promise<string | undefined> {
    const value = await this.cmd.eval(LIVE_VALUE, 1, this.ownerKey(kind, key), this.key('node:'));
    return typeof value === 'string' ? value : undefined;
  }

  async claim(kind: OwnedKind, key: string): Promise<string> {
    const redisKey = this.ownerKey(kind, key);
    const owner = await this.cmd.eval(CLAIM, 4, redisKey, this.ownedKey(this.nodeId), this.stateKey(kind, key), this.key('nodes'), this.key('node:'), this.nodeId);
    if (owner === this.nodeId) this.written.set(redisKey, this.nodeId);
    return String(owner);
  }

  own(kind: OwnedKind, key: string): void {
    this.set(this.ownerKey(kind, key), this.nodeId);
  }

  release(kind: OwnedKind, key: string): void {
    const redisKey = this.ownerKey(kind, key);
    const stateKey = this.stateKey(kind, key);
    if (this.written.get(redisKey) === this.nodeId) this.written.delete(redisKey);
    this.states.delete(stateKey);
    this.run('release', this.cmd.eval(RELEASE_OWNED, 3, redisKey, this.ownedKey(this.nodeId), stateKey, this.nodeId));
  }

  saveState(kind: OwnedKind, key: string, state: Record<string, string>): void {
    const stateKey = this.stateKey(kind, key);
    this.states.set(stateKey, state);
    this.run('saveState', this.cmd.eval(SAVE_STATE, 2, this.ownerKey(kind, key), stateKey, this.nodeId, ...Object.entries(state).flat()));
  }

  deviceRef(link: DeviceLink): DeviceRef | undefined {
    const key = link instanceof RemoteLink ? link.key : this.router.keyOf(link);
    if (key === undefined) return undefined;
    return { node: link instanceof RemoteLink ? link.node : this.nodeId, key, userId: link.userId, deviceId: link.deviceId };
  }

  linkOf(ref: DeviceRef): { link: DeviceLink; online: boolean } {
    return this.router.linkOf(ref);
  }

  onAdopted(listener: (adopted: Adopted) => void): () => void {
    const subscription = (adopted: Adopted): void => listener(adopted);
    this.adoptedListeners.add(subscription);
    return () => {
      this.adoptedListeners.delete(subscription);
    };
  }

  onDisowned(listener: (kind: OwnedKind, key: string) => void): () => void {
    const subscription = (kind: OwnedKind, key: string): void => listener(kind, key);
    this.disownedListeners.add(subscription);
    return () => {
      this.disownedListeners.delete(subscription);
    };
  }

  setInCall(user: UserId, callId: string): void {
    this.set(this.key(`incall:${user}`), `${this.nodeId}|${callId}`);
  }

  clearInCall(user: UserId, callId: string): void {
    this.unset(this.key(`incall:${user}`), `${this.nodeId}|${callId}`);
  }

  async inCallElsewhere(user: UserId): Promise<{ callId: string; node: string } | undefined> {
    const value = await this.cmd.eval(LIVE_VALUE, 1, this.key(`incall:${user}`), this.key('node:'));
    if (typeof value !== 'string') return undefined;
    const [node, callId] = value.split('|') as [string, string];
    return node === this.nodeId ? undefined : { node, callId };
  }

  setInRoom(user: UserId, room: string): void {
    const hash = this.key(`rooms:${user}`);
    this.written.set(`${hash}\t${room}`, this.nodeId);
    this.run('setInRoom', this.cmd.multi().hset(hash, room, this.nodeId).sadd(this.ownedKey(this.nodeId), `${hash}\t${room}`).exec());
  }

  clearInRoom(user: UserId, room: string): void {
    const hash = this.key(`rooms:${user}`);
    this.written.delete(`${hash}\t${room}`);
    this.run('clearInRoom', this.cmd.eval(RELEASE_FIELD, 2, hash, this.ownedKey(this.nodeId), room, this.nodeId));
  }

  async roomsElsewhere(user: UserId): Promise<string[]> {
    const rooms = await this.cmd.hgetall(this.key(`rooms:${user}`));
    const nodes = [...new Set(Object.values(rooms))].filter((node) => node !== this.nodeId);
    if (nodes.length === 0) return [];
    const alive = new Set<string>();
    for (const node of nodes) if ((await this.cmd.exists(this.key(`node:${node}`))) === 1) alive.add(node);
    return Object.entries(rooms)
      .filter(([, node]) => alive.has(node))
      .map(([room]) => room);
  }

  // --- forwarded requests -----------------------------------------------------------------

  serve(handlers: ReadonlyMap<RequestType, AnyHandler>): void {
    this.served = handlers;
  }

  async forward(node: string, type: RequestType, request: ClientRequest, link: DeviceLink): Promise<unknown> {
    const entry: DeviceEntry | undefined = this.deviceRef(link);
    if (entry === undefined) throw new SignalingError('INTERNAL', 'this socket is not registered with the cluster');
    const id = ++this.rpcSeq;
    this.forwardedCount++;
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalingError('OVERLOADED', `the signaling node that holds this did not answer within ${this.forwardTimeoutMs} ms`, 1000));
      }, this.forwardTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
    let receivers: number;
    try {
      receivers = await this.cmd.publish(this.inbox(node), JSON.stringify({ t: 'q', id, from: this.nodeId, type, request, link: entry } satisfies InboxMessage));
    } catch (error) {
      this.settle(id);
      throw new SignalingError('OVERLOADED', `the cluster's Redis is not reachable: ${error instanceof Error ? error.message : String(error)}`, 1000);
    }
    if (receivers === 0) {
      this.settle(id);
      throw new SignalingError('NOT_FOUND', 'the signaling node that held this is gone');
    }
    return answer;
  }

  // --- health and lifecycle -------------------------------------------------------------

  sessionLoggedOut(tokenHash: string): void {
    this.publish(this.eventsChannel(), { t: 'out', node: this.nodeId, h: tokenHash });
  }

  onSessionLoggedOut(listener: (tokenHash: string) => void): () => void {
    const subscription = (tokenHash: string): void => listener(tokenHash);
    this.logoutListeners.add(subscription);
    return () => {
      this.logoutListeners.delete(subscription);
    };
  }

  async peers(): Promise<number> {
    const nodes = (await this.cmd.smembers(this.key('nodes'))).filter((node) => node !== this.nodeId);
    let alive = 0;
    for (const node of nodes) if ((await this.cmd.exists(this.key(`node:${node}`))) === 1) alive++;
    return alive;
  }

  stats(): ClusterStats {
    return { nodes: 1 + this.router.remoteNodes().size, forwarded: this.forwardedCount, served: this.servedCount };
  }

  sharedRate(ratePerSecond: number, burst: number): RedisSharedRate {
    const rate = new RedisSharedRate(this.cmd, this.key('rate:'), ratePerSecond, burst, this.logger);
    this.rates.push(rate);
    return rate;
  }

  attemptCounter(name: string, limits: AttemptLimits, now: () => number): AttemptCounter {
    return new RedisAttemptCounter(this.cmd, this.key(`attempts:${name}:`), limits, now, this.logger);
  }

  async ready(): Promise<boolean> {
    if (this.cmd.status !== 'ready' || this.sub.status !== 'ready') return false;
    try {
      return (await withTimeout(this.cmd.ping(), 1000, 'no answer')) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Withdraws this node: its devices, claims and calls are deleted from Redis, the connections closed. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      clearInterval(this.heartbeat);
      for (const rate of this.rates) rate.close();
      for (const id of [...this.pending.keys()]) this.settle(id, new SignalingError('INTERNAL', 'this signaling node is shutting down'));
      try {
        if (this.cmd.status === 'ready') {
          await withTimeout(
            this.cmd.eval(ADOPT_NODE, 4, ...this.nodeKeys(this.nodeId), this.nodeId, '', this.key('owner:'), this.key('state:'), this.key('incall:')).then(() =>
              // A state left (its call or room not ended) would be adopted by nobody.
              this.cmd.del(this.key(`node:${this.nodeId}`), ...this.states.keys()),
            ),
            1000,
            'no answer',
          );
        }
      } catch (error) {
        this.logger.warn({ event: 'clusterLeaveFailed', err: error }, 'could not withdraw this node from Redis; it expires');
      }
      this.sub.disconnect();
      this.cmd.disconnect();
    })());
  }

  // --- internals ------------------------------------------------------------------------

  private registered(entry: DeviceEntry): void {
    const hash = this.key(`devices:${this.nodeId}`);
    this.run(
      'register',
      this.cmd
        .multi()
        .hset(hash, entry.key, JSON.stringify({ u: entry.userId, d: entry.deviceId }))
        .pexpire(hash, this.ttlMs * 3)
        .publish(this.eventsChannel(), JSON.stringify({ t: 'add', e: entry } satisfies ClusterEvent))
        .exec(),
    );
  }

  private unregistered(entry: DeviceEntry): void {
    this.run(
      'unregister',
      this.cmd
        .multi()
        .hdel(this.key(`devices:${this.nodeId}`), entry.key)
        .publish(this.eventsChannel(), JSON.stringify({ t: 'rm', e: entry } satisfies ClusterEvent))
        .exec(),
    );
  }

  private set(redisKey: string, value: string): void {
    this.written.set(redisKey, value);
    this.run('set', this.cmd.multi().set(redisKey, value).sadd(this.ownedKey(this.nodeId), redisKey).exec());
  }

  private unset(redisKey: string, value: string): void {
    if (this.written.get(redisKey) === value) this.written.delete(redisKey);
    this.run('unset', this.cmd.eval(RELEASE, 2, redisKey, this.ownedKey(this.nodeId), value));
  }

  /**
   * Writes everything this node holds (after connecting, after Redis came back, and after
   * this node's registration had expired). What another node has taken meanwhile is not
   * written back: a call or room whose owner key names another node is dropped here (told
   * to the services), and the in-call and in-room entries naming another node are
   * forgotten. `why` goes into the log.
   */
  private async reassert(why: 'connected' | 'reconnected' | 'stalled'): Promise<void> {
    const owned = this.ownedKey(this.nodeId);
    const hash = this.key(`devices:${this.nodeId}`);
    const multi = this.cmd.multi().set(this.key(`node:${this.nodeId}`), String(Date.now()), 'PX', this.ttlMs).sadd(this.key('nodes'), this.nodeId).del(hash);
    const devices = this.router.localEntries();
    for (const entry of devices) multi.hset(hash, entry.key, JSON.stringify({ u: entry.userId, d: entry.deviceId }));
    multi.pexpire(hash, this.ttlMs * 3);
    // The replies to the entries below start after set, sadd, del, the devices and pexpire.
    const first = 4 + devices.length;
    const entries = [...this.written];
    for (const [key, value] of entries) {
      const tab = key.indexOf('\t');
      if (tab >= 0) multi.eval(REASSERT, 2, key.slice(0, tab), owned, value, key.slice(tab + 1), this.nodeId);
      else multi.eval(REASSERT, 2, key, owned, value, '', this.nodeId);
    }
    // A saved state is written only while its owner key (written just before) is this node's.
    for (const [key, state] of this.states) multi.eval(SAVE_STATE, 2, this.ownerKeyOfState(key), key, this.nodeId, ...Object.entries(state).flat());
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await multi.exec();
    } catch (error) {
      this.logger.warn({ event: 'clusterRegisterFailed', err: error, why }, 'could not register this node with Redis');
      return;
    }
    this.keyWritten = true;
    const ownerPrefix = this.key('owner:');
    const lost: Array<[OwnedKind, string]> = [];
    entries.forEach(([redisKey, value], i) => {
      const [error, other] = replies?.[first + i] ?? [null, null];
      if (error !== null || typeof other !== 'string') return;
      // Another node's now: forget it (unless this node wrote it anew meanwhile).
      if (this.written.get(redisKey) === value) this.written.delete(redisKey);
      if (!redisKey.startsWith(ownerPrefix)) return;
      const what = redisKey.slice(ownerPrefix.length);
      const colon = what.indexOf(':');
      const kind = what.slice(0, colon) as OwnedKind;
      const key = what.slice(colon + 1);
      this.states.delete(this.stateKey(kind, key));
      lost.push([kind, key]);
    });
    const disowned = lost.map(([kind, key]) => `${kind}:${key}`);
    if (why === 'stalled') this.logger.warn({ event: 'clusterNodeStalled', disowned }, "this node's registration had expired: registered again");
    else if (lost.length > 0) this.logger.warn({ event: 'clusterDisowned', disowned, why }, 'calls or rooms another node took over while this node was away from Redis: dropped here');
    this.logger.info({ event: 'clusterRegistered', devices: devices.length, keys: this.written.size, why }, 'registered this node with Redis');
    for (const [kind, key] of lost) {
      for (const listener of [...this.disownedListeners]) {
        try {
          listener(kind, key);
        } catch (error) {
          this.logger.error({ event: 'disownedListenerFailed', err: error, kind, key }, 'a disowned listener threw');
        }
      }
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closing || this.cmd.status !== 'ready') return;
    this.ticking = true;
    const keyWritten = this.keyWritten;
    try {
      const replies = await this.cmd
        .multi()
        .exists(this.key(`node:${this.nodeId}`))
        .set(this.key(`node:${this.nodeId}`), String(Date.now()), 'PX', this.ttlMs)
        .sadd(this.key('nodes'), this.nodeId)
        .pexpire(this.key(`devices:${this.nodeId}`), this.ttlMs * 3)
        .exec();
      // This node's key had expired: it stalled (or Redis restarted empty). Others may have taken it for gone.
      if (keyWritten && replies?.[0]?.[1] === 0) await this.reassert('stalled');
      await this.reconcile();
    } catch (error) {
      this.logger.warn({ event: 'heartbeatFailed', err: error }, 'cluster heartbeat failed');
    } finally {
      this.ticking = false;
    }
  }

  /** Reads every node's devices and makes the mirror match; forgets nodes gone for longer than their TTL. */
  private async reconcile(): Promise<void> {
    const mark = this.router.mark();
    const listed = (await this.cmd.smembers(this.key('nodes'))).filter((node) => node !== this.nodeId);
    const nodes = [...new Set([...listed, ...this.router.remoteNodes()])];
    const reads = this.cmd.multi();
    for (const node of nodes) reads.exists(this.key(`node:${node}`)).hgetall(this.key(`devices:${node}`));
    const results = (await reads.exec()) ?? [];
    const snapshot: DeviceEntry[] = [];
    const keep = new Set<string>();
    const gone: string[] = [];
    const now = Date.now();
    nodes.forEach((node, i) => {
      const alive = results[2 * i]?.[1] === 1;
      const devices = asRecord(results[2 * i + 1]?.[1]);
      if (alive) {
        this.missingSince.delete(node);
        for (const [key, json] of Object.entries(devices)) {
          const parsed = parseDevice(json);
          if (parsed) snapshot.push({ node, key, userId: parsed.u, deviceId: parsed.d });
        }
        return;
      }
      // Missing: after a Redis restart every node needs a moment to register again.
      const since = this.missingSince.get(node) ?? now;
      this.missingSince.set(node, since);
      if (now - since < 2 * this.ttlMs) keep.add(node);
      else gone.push(node);
    });
    this.router.reconcile(snapshot, mark, keep);
    for (const node of gone) {
      this.missingSince.delete(node);
      const result = await this.cmd.eval(ADOPT_NODE, 4, ...this.nodeKeys(node), node, this.nodeId, this.key('owner:'), this.key('state:'), this.key('incall:'));
      const [deleted, adopted] = Array.isArray(result) ? (result as unknown[]).map((list) => (Array.isArray(list) ? list.map(String) : [])) : [];
      this.logger.warn(
        { event: 'clusterNodeGone', node, adopted: adopted ?? [], lost: (deleted ?? []).length },
        'a signaling node stopped heartbeating: its devices are offline, its calls and rooms adopted by this node (those with a saved state) or forgotten',
      );
      this.tellLost(deleted ?? []);
      for (const what of adopted ?? []) await this.adopt(node, what);
    }
  }

  /** Reads the saved state of a call or room this node took over from `from`, and tells the services. */
  private async adopt(from: string, what: string): Promise<void> {
    const colon = what.indexOf(':');
    const kind = what.slice(0, colon) as OwnedKind;
    const key = what.slice(colon + 1);
    // Ours now: written again should Redis restart before the service saves it.
    this.written.set(this.ownerKey(kind, key), this.nodeId);
    const { owner: _owner, ...state } = await this.cmd.hgetall(this.stateKey(kind, key));
    this.states.set(this.stateKey(kind, key), state);
    this.logger.info({ event: 'clusterAdopted', kind, key, from }, 'took over a call or room of a gone signaling node');
    for (const listener of [...this.adoptedListeners]) {
      try {
        listener({ kind, key, from, state });
      } catch (error) {
        this.logger.error({ event: 'adoptedListenerFailed', err: error, kind, key }, 'an adoption listener threw');
      }
    }
  }

  /**
   * The calls and rooms of a gone node are over: whoever was in them (on any node) is told
   * `call.ended {reason: 'signalError', by: null}` / `room.ended {reason: 'signalError'}`,
   * and may call or join again at once. Their call records are lost with the node.
   */
  private tellLost(deleted: string[]): void {
    const inCall = this.key('incall:');
    const inRooms = this.key('rooms:');
    for (const entry of deleted) {
      const [key = '', field = '', value = ''] = entry.split('\t');
      if (key.startsWith(inCall)) {
        const user = key.slice(inCall.length) as UserId;
        const callId = value.split('|')[1] as CallId;
        this.router.sendToUser(user, { type: 'call.ended', callId, reason: 'signalError', by: null, sentAt: Date.now() });
      } else if (key.startsWith(inRooms) && field !== '') {
        this.router.sendToUser(key.slice(inRooms.length) as UserId, { type: 'room.ended', room: field as RoomName, reason: 'signalError' });
      }
    }
  }

  private receive(channel: string, raw: string): void {
    let message: InboxMessage | ClusterEvent;
    try {
      message = JSON.parse(raw) as InboxMessage | ClusterEvent;
    } catch (error) {
      this.logger.warn({ event: 'clusterMessageInvalid', channel, err: error }, 'a cluster message that is not JSON');
      return;
    }
    switch (message.t) {
      case 'add':
        if (message.e.node !== this.nodeId) this.router.remoteAdded(message.e);
        return;
      case 'rm':
        if (message.e.node !== this.nodeId) this.router.remoteRemoved(message.e.key);
        return;
      case 'out':
        if (message.node === this.nodeId) return;
        for (const listener of [...this.logoutListeners]) {
          try {
            listener(message.h);
          } catch (error) {
            this.logger.error({ event: 'logoutListenerFailed', err: error }, 'a logout listener threw');
          }
        }
        return;
      case 'n':
        this.router.deliverLocal(message.k, message.n);
        return;
      case 'q':
        void this.answer(message);
        return;
      case 'r':
        if (message.ok) this.settle(message.id, undefined, message.result);
        else this.settle(message.id, new SignalingError(message.code, message.message, message.retryAfterMs));
        return;
    }
  }

  /** Runs a request forwarded from another node and sends the answer back. */
  private async answer(message: Extract<InboxMessage, { t: 'q' }>): Promise<void> {
    let reply: InboxMessage;
    this.servedCount++;
    const handler = this.served.get(message.type);
    try {
      if (!handler) throw new SignalingError('BAD_REQUEST', `'${message.type}' is not forwarded between nodes`);
      const link = this.router.remoteAdded(message.link);
      reply = { t: 'r', id: message.id, ok: true, result: (await handler(message.request, { link })) ?? {} };
    } catch (error) {
      if (error instanceof SignalingError) {
        reply = { t: 'r', id: message.id, ok: false, code: error.code, message: error.message, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) };
      } else {
        this.logger.error({ event: 'forwardedRequestFailed', err: error, type: message.type, from: message.from }, 'a forwarded request failed');
        reply = { t: 'r', id: message.id, ok: false, code: 'INTERNAL', message: 'internal error' };
      }
    }
    this.publish(this.inbox(message.from), reply);
  }

  private settle(id: number, error?: Error, result?: unknown): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(result);
  }

  private publish(channel: string, message: InboxMessage | ClusterEvent): void {
    this.run('publish', this.cmd.publish(channel, JSON.stringify(message)));
  }

  /** A write nobody waits for: its failure is logged (what matters is written again when Redis is back). */
  private run(what: string, promise: Promise<unknown>): void {
    promise.catch((error: unknown) => this.logger.warn({ event: 'redisWriteFailed', what, err: error }, 'a Redis write failed'));
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  private ownerKey(kind: OwnedKind, key: string): string {
    return this.key(`owner:${kind}:${key}`);
  }

  private stateKey(kind: OwnedKind, key: string): string {
    return this.key(`state:${kind}:${key}`);
  }

  private ownerKeyOfState(stateKey: string): string {
    return this.key(`owner:${stateKey.slice(this.key('state:').length)}`);
  }

  /** ADOPT_NODE's keys for a gone (or withdrawing) node: its owned set, its devices, the node set, this node's owned set. */
  private nodeKeys(node: string): [string, string, string, string] {
    return [this.ownedKey(node), this.key(`devices:${node}`), this.key('nodes'), this.ownedKey(this.nodeId)];
  }

  private ownedKey(node: string): string {
    return this.key(`owned:${node}`);
  }

  private inbox(node: string): string {
    return this.key(`inbox:${node}`);
  }

  private eventsChannel(): string {
    return this.key('events');
  }
}

/** An HGETALL reply: an object, or (untransformed, in some pipelines) a flat list of field, value. */
function asRecord(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) {
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = String(reply[i + 1]);
    return record;
  }
  return reply !== null && typeof reply === 'object' ? (reply as Record<string, string>) : {};
}

function parseDevice(json: string): { u: UserId; d: DeviceId } | undefined {
  try {
    const value = JSON.parse(json) as { u?: unknown; d?: unknown };
    return typeof value.u === 'string' && typeof value.d === 'string' ? { u: value.u as UserId, d: value.d as DeviceId } : undefined;
  } catch {
    return undefined;
  }
}

/** A logger that adds `fields` to every line. */
function withFields(logger: Logger, fields: object): Logger {
  return {
    debug: (obj, msg) => logger.debug({ ...fields, ...obj }, msg),
    info: (obj, msg) => logger.info({ ...fields, ...obj }, msg),
    warn: (obj, msg) => logger.warn({ ...fields, ...obj }, msg),
    error: (obj, msg) => logger.error({ ...fields, ...obj }, msg),
  };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
