export { KurentoServer, ROUNDTABLE_KMS_VERSION, type KurentoServerOptions, type KurentoLogger } from './KurentoServer.js';
export { KurentoError, KurentoErrorCode, type KurentoErrorName } from './errors.js';
export { parseTurnUrl } from './classes/endpoints.js';
export * from './client/index.js';
