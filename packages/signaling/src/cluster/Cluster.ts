import type { ClientRequest, DeviceId, RequestType, UserId } from '@roundtable/protocol';
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

/** Where a device is connected: what a call or room saves of its participants' devices. */
export interface DeviceRef {
  node: string;
  /** The socket's key in the cluster registry. */
  key: string;
  userId: UserId;
  deviceId: DeviceId;
}

/**
 * A call or room of a signaling node found gone, that this node now owns: the state its
 * owner saved (`saveState`), to go on from.
 */
export interface Adopted {
  kind: OwnedKind;
  key: string;
  /** The node that owned it. */
  from: string;
  /** The fields saved, as written. */
  state: Record<string, string>;
}

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
  /** This node no longer owns it (the call ended, the room closed): its saved state goes too. */
  release(kind: OwnedKind, key: string): void;
  /**
   * Saves what a call or room this node owns needs to go on should this node die (a hash
   * in Redis whose fields are replaced whole, at every change). Not written once another
   * node owns it. A no-op in one process.
   */
  saveState(kind: OwnedKind, key: string, state: Record<string, string>): void;
  /** Where a device is, to save; undefined for a socket the cluster does not know. */
  deviceRef(link: DeviceLink): DeviceRef | undefined;
  /**
   * The link of a saved device: this node's socket, another live node's, or, for a device
   * that is gone, a link that reaches nobody (`online` false).
   */
  linkOf(ref: DeviceRef): { link: DeviceLink; online: boolean };
  /**
   * Told of each call and room of a gone node that this node took over (claimed in one
   * step in Redis, so no two nodes take the same one): it owns them from now on, with
   * their users' in-call and in-room entries. Returns an unsubscribe function.
   */
  onAdopted(listener: (adopted: Adopted) => void): () => void;
  /**
   * Told of each call and room this node owned that another node adopted meanwhile: this
   * node stalled so long that it was taken for gone. The service drops it without a word
   * (its adopter carries it on). Returns an unsubscribe function.
   */
  onDisowned(listener: (kind: OwnedKind, key: string) => void): () => void;
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
