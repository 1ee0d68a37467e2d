import type { ClientRequest, RequestType, UserId } from '@roundtable/protocol';
import type { AttemptCounter } from '../auth/AttemptCounter.js';
import type { AttemptLimits } from '../auth/AttemptLimiter.js';
import type { LinkRegistry } from '../net/LinkRegistry.js';
import type { SharedRate } from '../net/SharedRate.js';
import type { AnyHandler } from '../net/mergeHandlerTables.js';
import type { DeviceLink } from '../net/Router.js';

/** What /metrics shows of the cluster. */
export interface ClusterStats {
  /** Nodes this one knows of with devices online, itself included. */
  nodes: number;
  /** Requests this node sent to the owner of their call or room. */
  forwarded: number;
  /** Requests other nodes sent here. */
  served: number;
}

/** What a node owns: a call (by id) or an open room (by name). */
export type OwnedKind = 'call' | 'room';

/**
 * What the signaling nodes of one deployment share (docs/architecture.md, "Cluster").
 * `InMemoryCluster`: one process, nothing shared (the embedded default).
 * `RedisCluster`: any number of nodes on one Redis.
 *
 * The design: a call or a room lives on one node, its owner (the node that started the
 * call, the node that opened the room); requests about it that reach another node are
 * forwarded to the owner, and the owner's notifications reach devices on other nodes
 * through the router. What every node must see at once (which devices are online where,
 * who is in a call, who owns what, quotas) is in Redis.
 */
export interface Cluster {
  /** This node's id (unique per process start). */
  readonly nodeId: string;
  /**
   * Whether other nodes share the users (Redis). When false, the services skip every
   * cluster look-up and run exactly as in one process.
   */
  readonly shared: boolean;
  /** Presence and delivery over every node's devices. */
  readonly router: LinkRegistry & { readonly onlineUserCount: number };
  /** The live node that owns the call or room; undefined when none does. */
  ownerOf(kind: OwnedKind, key: string): Promise<string | undefined>;
  /**
   * Makes this node the owner unless a live node owns it already; resolves with the owner.
   * Used when opening a room.
   */
  claim(kind: OwnedKind, key: string): Promise<string>;
  /** This node owns it from now on (a fresh call id). Ordered before what this node sends next. */
  own(kind: OwnedKind, key: string): void;
  /** This node no longer owns it (the call ended, the room closed). */
  release(kind: OwnedKind, key: string): void;
  /** `user` is in `callId` (a call this node owns). */
  setInCall(user: UserId, callId: string): void;
  /** `user` left `callId`. */
  clearInCall(user: UserId, callId: string): void;
  /** The call `user` is in, owned by a live node other than this one. */
  inCallElsewhere(user: UserId): Promise<{ callId: string; node: string } | undefined>;
  /** `user` is in `room` (on this node) / no longer: for the rooms-per-user quota over the cluster. */
  setInRoom(user: UserId, room: string): void;
  clearInRoom(user: UserId, room: string): void;
  /** Rooms `user` is in on other live nodes. */
  roomsElsewhere(user: UserId): Promise<string[]>;
  /**
   * Runs a request on `node` as the device `link` (a device of this node, or one this node
   * knows of another): the answer, or the `SignalingError` it failed with.
   */
  forward(node: string, type: RequestType, request: ClientRequest, link: DeviceLink): Promise<unknown>;
  /** The handlers that run requests forwarded to this node. */
  serve(handlers: ReadonlyMap<RequestType, AnyHandler>): void;
  /** A device session was logged out on this node: the other nodes end it on their sockets. */
  sessionLoggedOut(tokenHash: string): void;
  /** Told when a device session was logged out on another node. Returns an unsubscribe function. */
  onSessionLoggedOut(listener: (tokenHash: string) => void): () => void;
  /**
   * The counter of one kind of login attempt (`name`: 'account', 'address',
   * 'registration'): in this process, or in Redis over every node.
   */
  attemptCounter(name: string, limits: AttemptLimits, now: () => number): AttemptCounter;
  /** The per-address message rate counted over every node (undefined in one process). Closed with the cluster. */
  sharedRate(ratePerSecond: number, burst: number): SharedRate | undefined;
  /** How many other nodes are alive now. */
  peers(): Promise<number>;
  /** Counts for /metrics. */
  stats(): ClusterStats;
  /** Whether the shared state is reachable (for /readyz); never throws. */
  ready(): Promise<boolean>;
  /** Leaves the cluster: this node's devices and claims are withdrawn. Idempotent. */
  close(): Promise<void>;
}
