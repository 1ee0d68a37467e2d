// Public surface of @roundtable/server.
export {
  loadConfig,
  ROLES,
  LOG_LEVELS,
  type ConfigSources,
  type ServerConfig,
  type MediaOptions,
  type KurentoOptions,
  type SignalingConfig,
  type TlsConfig,
  type MetricsListenConfig,
  type HttpLimitsConfig,
  type LoopbackConfig,
  type Role,
  type LogLevel,
} from './config.js';
export { ServerError, ConfigError, MessageError, type ConfigProblem } from './errors.js';
export type { TlsOptions } from './HttpServer.js';
export { DEFAULT_LOOPBACK_LIMITS, type LoopbackLimits } from './LoopbackEndpoint.js';
export type { ServerMessage, ClientMessage } from './loopbackProtocol.js';
export { startServer, PUBLIC_DIR, WEB_DIST_DIR, type StartServerOptions, type RunningServer, type MetricsListenOptions, type HttpLimitsOptions } from './startServer.js';
