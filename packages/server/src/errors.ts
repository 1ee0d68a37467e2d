/**
 * Error classes of the server. Each has a stable code so that callers (and the wire)
 * can tell the cases apart without parsing messages.
 */
export type ServerErrorCode = 'INVALID_CONFIG' | 'INVALID_MESSAGE' | 'INVALID_STATE' | 'INTERNAL_ERROR';

export class ServerError extends Error {
  constructor(
    readonly code: ServerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

/** A configuration value is missing or malformed; `variable` names the setting. */
export class ConfigError extends ServerError {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super('INVALID_CONFIG', `${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** An inbound message could not be parsed or validated. */
export class MessageError extends ServerError {
  constructor(message: string) {
    super('INVALID_MESSAGE', message);
    this.name = 'MessageError';
  }
}
