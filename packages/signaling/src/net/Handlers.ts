import type { ErrorCode, RequestOf, RequestType } from '@roundtable/protocol';
import type { DeviceLink } from './Router.js';

/** A request failed: the client gets `{ok: false, error: {code, message}}`. */
export class SignalingError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Sent as `error.retryAfterMs` (TOO_MANY_ATTEMPTS, OVERLOADED): when trying again may succeed. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SignalingError';
  }
}

/** Context of a request from an authenticated device. */
export interface RequestContext {
  link: DeviceLink;
}

export type Handler<T extends RequestType> = (request: RequestOf<T>, ctx: RequestContext) => Promise<unknown>;

/** A part of the table of request handlers; modules (IM, calls, rooms) each provide one. */
export type HandlerTable = { [T in RequestType]?: Handler<T> };
