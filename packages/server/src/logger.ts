import { pino, type Logger } from 'pino';

/** The server's root logger: pino, one JSON event per line. Level from `LOG_LEVEL`, default 'info'. */
export function createLogger(level: string = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ name: 'roundtable', level });
}
