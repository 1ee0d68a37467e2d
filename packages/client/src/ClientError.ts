import type { ErrorCode } from '@roundtable/protocol';

/**
 * Codes of client-side failures, besides the wire error codes a server answers with:
 * TIMEOUT (no response in time), DISCONNECTED (the socket dropped before the response),
 * CLOSED (the object was closed), NOT_AUTHENTICATED (no login yet), MEDIA (a peer
 * connection step failed).
 */
export type ClientErrorCode = ErrorCode | 'TIMEOUT' | 'DISCONNECTED' | 'CLOSED' | 'NOT_AUTHENTICATED' | 'MEDIA';

/** Every failure the SDK reports, with a stable code (wire codes pass through as they are). */
export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** The request type, when a request failed. */
    readonly requestType?: string,
    /** With TOO_MANY_ATTEMPTS and OVERLOADED: how long to wait before trying again (ms). */
    readonly retryAfterMs?: number,
  ) {
    super(requestType ? `${requestType}: ${code}: ${message}` : `${code}: ${message}`);
    this.name = 'ClientError';
  }
}
