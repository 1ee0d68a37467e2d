/**
 * Error classes of the media engine. Each has a stable code; the Kurento Protocol
 * layer maps them onto its wire error codes.
 */
export type MediaErrorCode =
  | 'OBJECT_CLOSED'
  | 'INVALID_SDP'
  | 'NO_COMMON_CODEC'
  | 'INVALID_STATE'
  | 'INVALID_ARGUMENT'
  | 'INVALID_CANDIDATE'
  | 'NOT_CONNECTED'
  | 'NO_PORT_AVAILABLE'
  /** A filter this machine cannot run: a GStreamer element (or its data) is missing. */
  | 'FILTER_UNAVAILABLE'
  /** A GStreamerFilter command that does not make one usable element. */
  | 'INVALID_FILTER_COMMAND'
  /** A TURN server refused an allocation or request, or did not answer. */
  | 'TURN_FAILED';

export class MediaError extends Error {
  constructor(
    readonly code: MediaErrorCode,
    message: string,
    /** `cause`: the error beneath (a socket's errno error, say), for a caller that decides on it. */
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'MediaError';
  }
}

export class ClosedError extends MediaError {
  constructor(what: string) {
    super('OBJECT_CLOSED', `${what} is closed`);
    this.name = 'ClosedError';
  }
}

export class SdpError extends MediaError {
  constructor(message: string, code: 'INVALID_SDP' | 'NO_COMMON_CODEC' = 'INVALID_SDP') {
    super(code, message);
    this.name = 'SdpError';
  }
}
