/** Test helpers for packages that build on the Kurento server (not part of the product API). */
export { RawClient, type RpcResponse, type RpcNotification } from './RawClient.js';
