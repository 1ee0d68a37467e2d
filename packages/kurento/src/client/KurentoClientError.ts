import { KurentoErrorCode, type KurentoErrorName } from '../errors.js';

/**
 * Codes of failures the client detects itself, outside the wire's ranges (JSON-RPC's
 * -32xxx and Kurento's 40xxx), so that a caller can tell them apart by `code` alone.
 */
export const KurentoClientErrorCode = {
  /** The WebSocket could not be opened (refused, timed out, rejected with an HTTP status). */
  CONNECTION_FAILED: -1,
  /** The socket dropped after the request was sent: it may or may not have run. */
  CONNECTION_LOST: -2,
  /** No response within `requestTimeoutMs`. */
  REQUEST_TIMEOUT: -3,
  /** The client was closed. */
  CLIENT_CLOSED: -4,
  /** The remote object was released (or its session lost): it can no longer be used. */
  OBJECT_RELEASED: -5,
  /** The server sent something that is not what the protocol promises. */
  INVALID_MESSAGE: -6,
} as const;

export type KurentoClientErrorName = keyof typeof KurentoClientErrorCode;

/** A wire error as the server sends it: `{code, message, data: {type}}`. */
export interface WireError {
  code: number;
  message: string;
  data?: unknown;
}

const NAMES_BY_CODE = new Map<number, string>(
  [...Object.entries(KurentoErrorCode), ...Object.entries(KurentoClientErrorCode)].map(([name, code]) => [code, name]),
);

/**
 * An error of the Kurento Protocol client. `code` is the wire code (40101, -32602, ...)
 * or one of `KurentoClientErrorCode`; `type` is its name (`MEDIA_OBJECT_NOT_FOUND`,
 * `REQUEST_TIMEOUT`, ...), as the server sent it in `data.type` when it did.
 */
export class KurentoClientError extends Error {
  readonly code: number;
  readonly type: string;

  constructor(type: KurentoClientErrorName | KurentoErrorName, message: string);
  constructor(type: string, message: string, code: number);
  constructor(type: string, message: string, code?: number) {
    super(message);
    this.name = 'KurentoClientError';
    this.type = type;
    this.code = code ?? codeOf(type);
  }

  /** The error a response carried. */
  static fromWire(error: WireError): KurentoClientError {
    const data = error.data;
    const wireType = typeof data === 'object' && data !== null ? (data as Record<string, unknown>).type : undefined;
    const type = typeof wireType === 'string' && wireType !== '' ? wireType : (NAMES_BY_CODE.get(error.code) ?? 'UNKNOWN');
    return new KurentoClientError(type, error.message, error.code);
  }
}

function codeOf(type: string): number {
  const known: Record<string, number> = { ...KurentoErrorCode, ...KurentoClientErrorCode };
  const code = known[type];
  if (code === undefined) throw new TypeError(`unknown Kurento error type '${type}'`);
  return code;
}

export function isKurentoClientError(error: unknown, code?: number): error is KurentoClientError {
  return error instanceof KurentoClientError && (code === undefined || error.code === code);
}
