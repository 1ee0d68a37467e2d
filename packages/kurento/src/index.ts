export { KurentoServer, ROUNDTABLE_KMS_VERSION, type KurentoServerOptions, type KurentoLogger } from './KurentoServer.js';
export type { ExtensionMethod, ExtensionSession, KurentoExtensions } from './extensions.js';
export { DEFAULT_KURENTO_LIMITS, type KurentoLimits } from './limits.js';
export { KurentoError, KurentoErrorCode, type KurentoErrorName } from './errors.js';
export { parseTurnUrl } from './classes/endpoints.js';
export * from './client/index.js';
