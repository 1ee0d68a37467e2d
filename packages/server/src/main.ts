/**
 * Entry point (`npm start`): reads the configuration from the environment, starts the
 * server and closes it on SIGINT/SIGTERM.
 */
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { startServer } from './index.js';
import { createLogger } from './logger.js';

async function main(): Promise<void> {
  const logger = createLogger();
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`roundtable: invalid configuration: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }

  const server = await startServer({ ...config, logger });
  logger.info(
    { event: 'listening', url: server.url, loopback: `${server.url}loopback.html`, signaling: server.signalingUrl, kurento: server.kurentoUrl },
    `Roundtable listening on ${server.url}${server.kurentoUrl ? ` (Kurento Protocol on ${server.kurentoUrl})` : ''}`,
  );

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ event: 'forcedExit', signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ event: 'shutdown', signal }, 'shutting down');
    server.close().then(
      () => {
        logger.info({ event: 'closed' }, 'server closed');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ event: 'closeFailed', err: error }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error('roundtable: failed to start:', error);
  process.exit(1);
});
