import { fileURLToPath } from 'node:url';
import { isIPv6 } from 'node:net';
import { resolveMediaConfig, type MediaConfig } from '@roundtable/media';
import type { Logger } from 'pino';
import { KurentoServer } from '@roundtable/kurento';
import { InProcessMediaServer, RemoteMediaServer, Signaling } from '@roundtable/signaling';
import { DEFAULT_HOST, DEFAULT_PORT, type KurentoOptions, type SignalingConfig } from './config.js';
import { HttpServer } from './HttpServer.js';
import { createLogger } from './logger.js';

export { loadConfig, type ServerConfig, type MediaOptions, type KurentoOptions, type SignalingConfig } from './config.js';
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
  /** Serve the signaling server at `/ws`. Default: off (`main()` turns it on from the config). */
  signaling?: SignalingConfig | false;
}

export interface RunningServer {
  /** Base URL with a trailing slash, e.g. 'http://127.0.0.1:8080/'. */
  readonly url: string;
  readonly port: number;
  /** The Kurento Protocol URL, when that endpoint is on. */
  readonly kurentoUrl: string | undefined;
  /** The signaling WebSocket URL, when that endpoint is on. */
  readonly signalingUrl: string | undefined;
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
  const opened: Array<{ close(): Promise<void> }> = [];
  const closeAll = async () => {
    for (const part of opened.reverse()) await part.close().catch((error: unknown) => logger.error({ event: 'closeFailed', err: error }, 'close failed'));
  };
  try {
    let signaling: Signaling | undefined;
    if (options.signaling) {
      const config = options.signaling;
      const mediaServer = config.mediaUrl
        ? await RemoteMediaServer.connect({ url: config.mediaUrl, ...(config.mediaSecret ? { accessToken: config.mediaSecret } : {}) })
        : new InProcessMediaServer(media);
      opened.push(mediaServer);
      signaling = await Signaling.open({
        dbPath: config.dbPath,
        media: mediaServer,
        iceServers: { urls: config.iceServers, ...(config.turnSecret ? { sharedSecret: config.turnSecret } : {}) },
        ringTimeoutMs: config.ringTimeoutMs,
        logger: logger.child({ component: 'signaling' }),
      });
      opened.push(signaling);
    }
    const server = new HttpServer({
      host,
      port: options.port ?? DEFAULT_PORT,
      publicDir: options.publicDir ?? PUBLIC_DIR,
      media,
      logger,
      ...(signaling ? { upgradeHandlers: [(req, socket, head) => signaling.handleUpgrade(req, socket, head)] } : {}),
    });
    const port = await server.listen();
    opened.push(server);
    let kurentoUrl: string | undefined;
    if (options.kurento) {
      const kurento = new KurentoServer({ ...options.kurento, media, logger: logger.child({ component: 'kurento' }) });
      kurentoUrl = (await kurento.listen()).url;
      opened.push(kurento);
    }
    const url = `http://${urlHost(host)}:${port}/`;
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      kurentoUrl,
      signalingUrl: signaling ? `${url.replace(/^http/, 'ws')}ws` : undefined,
      close: () => (closing ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

// A wildcard bind is reachable on localhost, which browsers also treat as a secure
// context (getUserMedia needs one).
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return isIPv6(host) ? `[${host}]` : host;
}
