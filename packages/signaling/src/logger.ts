/**
 * The logging surface the signaling server needs: structured, one event per call,
 * `(fields, message)`. A pino logger fits as it is; the default logs nothing.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const ignore = (): void => undefined;

/** A logger that drops everything; the default of every option that takes a logger. */
export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
