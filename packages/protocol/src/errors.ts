/** Error codes of the signaling protocol, shared by server and clients. */
export const ERROR_CODES = [
  'BAD_REQUEST', // malformed frame, unknown type, invalid fields
  'TOO_LARGE', // frame over the size limit (the socket is closed)
  'RATE_LIMITED', // too many requests from one socket (the socket may be closed)
  'UNAUTHENTICATED', // no valid token on this socket, or the token expired
  'FORBIDDEN', // not a member / not invited / not the initiator
  'NOT_FOUND', // unknown user, conversation, call or room
  'CONFLICT', // e.g. username taken
  'INVALID_STATE', // e.g. answering a call that already ended
  'CALL_FULL', // the 9-participant cap
  'BUSY', // the callee is in another call
  'MEDIA_ERROR', // the media server refused (bad SDP, ...)
  'TOO_MANY_ATTEMPTS', // login or registration back-off for this account or address (error.retryAfterMs)
  'OVERLOADED', // the server is too busy for this request now, e.g. its password-hashing queue is full (error.retryAfterMs)
  'QUOTA_EXCEEDED', // a per-user or per-server quota: open rooms, recordings, sockets, recording disk space
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface WireError {
  code: ErrorCode;
  message: string;
  /** With TOO_MANY_ATTEMPTS and OVERLOADED: how long to wait before trying again (ms). */
  retryAfterMs?: number;
}
