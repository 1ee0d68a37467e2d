// Public surface of @roundtable/signaling. Test helpers (testing/) are imported by path, not from here.

// logging
export { silentLogger, type Logger } from './logger.js';

// persistence
export type { Store, StoreKind, StoredSession, StoredUser } from './store/Store.js';
export { SqliteStore, type SqliteStoreOptions } from './store/SqliteStore.js';
export { PostgresStore, type PostgresStoreOptions } from './store/PostgresStore.js';
export { openStore, type StoreOptions } from './store/openStore.js';
export { MIGRATIONS, type Migration, type MigrationReport } from './store/migrations.js';
export { StoreError, type StoreErrorCode } from './store/StoreError.js';

// accounts and device logins
export { AuthService, DEFAULT_LOGIN_LIMITS, DEFAULT_MAX_DEVICES_PER_USER, DEFAULT_TOKEN_TTL_MS, type AuthServiceOptions, type LoginInput, type LoginLimits, type LoginResult, type RegisterInput } from './auth/AuthService.js';
export { AttemptLimiter, type AttemptLimits } from './auth/AttemptLimiter.js';
export { DEFAULT_HASH_QUEUE, HashQueue, type HashQueueLimits } from './auth/HashQueue.js';
export { DEFAULT_SCRYPT_PARAMS, hashPassword, verifyPassword, type ScryptParams } from './auth/passwords.js';

// transport: WebSocket endpoint, handler tables, presence
export { SignalingError, type Handler, type HandlerTable, type RequestContext } from './net/Handlers.js';
export type { DeviceLink, Router } from './net/Router.js';
export type { LinkRegistry } from './net/LinkRegistry.js';
export { InMemoryRouter, type InMemoryRouterOptions } from './net/InMemoryRouter.js';
export { SignalingServer, type SignalingServerOptions } from './net/SignalingServer.js';
export { MessageQueue, type MessageQueueOptions } from './net/MessageQueue.js';
export { AddressLimiter, type AddressLimiterOptions } from './net/AddressLimiter.js';
export { TokenBucket } from './net/TokenBucket.js';
export { originAllowed, normalizeOrigin, FORBIDDEN_ORIGIN_RESPONSE } from './net/origin.js';
export type { HelloResult, LogoutResult, RegisterResult, ResultMap, ResultOf } from './results.js';

// IM
export { ImService, type ImServiceOptions } from './im/ImService.js';
export { imHandlers } from './im/imHandlers.js';

// ICE servers and TURN credentials
export { DEFAULT_TURN_TTL_MS, IceServers, turnCredentials, type IceServer, type IceServersOptions, type IceServersResult } from './ice/IceServers.js';
export { iceHandlers } from './ice/iceHandlers.js';

// calls, rooms and media
export { CallService, type CallPolicy, type CallServiceOptions, type ConversationDirectory } from './calls/CallService.js';
export { RoomService, DEFAULT_MAX_ROOMS_PER_USER, MAX_ROOM_MEMBERS, type RoomServiceOptions } from './calls/RoomService.js';
export type { MediaServer, MediaRoom, RoomCandidate } from './media/MediaServer.js';
export { InProcessMediaServer } from './media/InProcessMediaServer.js';
export { RemoteMediaServer, type RemoteMediaServerOptions } from './media/RemoteMediaServer.js';
export { MediaNodesServer, type MediaNodesServerOptions } from './media/nodes/MediaNodesServer.js';
export { MediaNodeRegistry, type MediaNodeRegistryOptions, type MediaNodeInfo, type MediaNodeLoad } from './media/nodes/MediaNodeRegistry.js';
export { MediaNodeRooms } from './media/nodes/MediaNodeRooms.js';
export { MediaNodeHeartbeat, type MediaNodeHeartbeatOptions } from './media/nodes/MediaNodeHeartbeat.js';
export { WorkerMediaServer, type WorkerMediaServerOptions, type MediaWorkerStats } from './media/workers/WorkerMediaServer.js';
export { splitMediaPorts, type WorkerPorts } from './media/workers/portSplit.js';

// the cluster of signaling nodes
export type { Cluster, OwnedKind } from './cluster/Cluster.js';
export { InMemoryCluster } from './cluster/InMemoryCluster.js';
export { RedisCluster, type RedisClusterOptions } from './cluster/RedisCluster.js';
export { ClusterRouter } from './cluster/ClusterRouter.js';

// the whole signaling server
export { DEFAULT_RECORDING_LIMITS, RecordingService, type RecordingLimits, type RecordingServiceOptions, type RecordableCall, type RecordableRoom } from './recording/RecordingService.js';
export { RecordingStore, type RecordingUpload } from './recording/RecordingStore.js';
export { Signaling, DEFAULT_DB_PATH, type SignalingOptions, type SignalingReadiness } from './Signaling.js';
