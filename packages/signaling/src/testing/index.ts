/** Test helpers for packages that build on the signaling server (not part of the product API). */
export { TestClient, RequestFailed, type SignInOptions, type TestClientOptions, type WireResponse, type NotificationOf } from './TestClient.js';
export { SfuPeer, roomPeer, type SignalChannel } from './sfuPeer.js';
export { BundledPeer } from './bundledPeer.js';
export { until, pumpSignals } from './wait.js';
export { flood, type FloodReport } from './flooder.js';
export { PostgresCluster, postgresBinDir, skipPostgresTests, type PostgresClusterOptions } from './PostgresCluster.js';
export { RedisServer, hasRedisServer } from './redisServer.js';
export { MediaNodeHarness } from './mediaNode.js';
