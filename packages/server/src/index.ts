import { fileURLToPath } from 'node:url';
import { isIPv6 } from 'node:net';
import { resolveMediaConfig, type MediaConfig } from '@roundtable/media';
import type { Logger } from 'pino';
import { KurentoServer } from '@roundtable/kurento';
import { DEFAULT_HOST, DEFAULT_PORT, type KurentoOptions } from './config.js';
import { HttpServer } from './HttpServer.js';
import { createLogger } from './logger.js';

export { loadConfig, type ServerConfig, type MediaOptions, type KurentoOptions } from './config.js';
export { ServerError, ConfigError, MessageError } from './errors.js';
export type { ServerMessage, ClientMessage } from './loopbackProtocol.js';

export interface StartServerOptions {
  /** Address to bind. Default '0.0.0.0'. */
  host?: string;
  /** HTTP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Settings for every session's MediaPipeline. Default: the media engine's defaults. */
  media?: Partial<MediaConfig>;
  /** Default: a pino logger at `LOG_LEVEL` (default 'info'). */
  logger?: Logger;
  /** Folder of static files. Default: this package's `public/`. */
  publicDir?: string;
  /** Serve the Kurento Protocol too. Default: off (`main()` turns it on from the config). */
  kurento?: KurentoOptions | false;
}

export interface RunningServer {
  /** Base URL with a trailing slash, e.g. 'http://127.0.0.1:8080/'. */
  readonly url: string;
  readonly port: number;
  /** The Kurento Protocol URL, when that endpoint is on. */
  readonly kurentoUrl: string | undefined;
  /** Closes every session, socket and the listener. Idempotent. */
  close(): Promise<void>;
}

export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

/** Starts the HTTP + WebSocket server and resolves once it listens. */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const media = options.media ?? {};
  // Fail at start-up, not at the first call, when the media settings are wrong.
  resolveMediaConfig(media);
  const logger = options.logger ?? createLogger();
  const server = new HttpServer({
    host,
    port: options.port ?? DEFAULT_PORT,
    publicDir: options.publicDir ?? PUBLIC_DIR,
    media,
    logger,
  });
  const port = await server.listen();
  let kurento: KurentoServer | undefined;
  let kurentoUrl: string | undefined;
  if (options.kurento) {
    kurento = new KurentoServer({ ...options.kurento, media, logger: logger.child({ component: 'kurento' }) });
    try {
      kurentoUrl = (await kurento.listen()).url;
    } catch (error) {
      await server.close();
      throw error;
    }
  }
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(host)}:${port}/`,
    port,
    kurentoUrl,
    close: () => (closing ??= Promise.all([server.close(), kurento?.close()]).then(() => undefined)),
  };
}

// A wildcard bind is reachable on localhost, which browsers also treat as a secure
// context (getUserMedia needs one).
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return isIPv6(host) ? `[${host}]` : host;
}
