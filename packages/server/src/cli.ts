/**
 * The `roundtable` command (`npm start` runs `roundtable start`):
 *
 *   roundtable start [options]   reads the configuration, starts the server, shuts it down on SIGINT/SIGTERM
 *   roundtable migrate [options] applies the database migrations (PostgreSQL or the SQLite file), says which, exits
 *   roundtable --help            every setting, with its default, variable and flag
 *
 * Exit codes: 0 after a clean shutdown (or migration), 1 when start-up fails (or a shutdown
 * is cut short by a second signal or does not finish in time, or a migration fails), 2 for
 * a bad command line or configuration (then nothing has been started).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Logger } from 'pino';
import { openStore, type MigrationReport, type Store } from '@roundtable/signaling';
import { loadConfig, type ServerConfig } from './config.js';
import { ConfigError } from './errors.js';
import { helpText } from './help.js';
import { startServer, type RunningServer, type StartServerOptions } from './startServer.js';
import { createLogger } from './logger.js';
import { CONFIG_FILE_SETTING, SETTINGS, SETTING_KEYS, type SettingSpec } from './settings.js';
import { serverVersion } from './version.js';

export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  /** Folder a relative `--config` path is relative to. */
  cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
  /** The server's logger. Default: pino on stdout at the configured log level. */
  logger?: Logger;
}

/** How a command ended, or the server `start` left running (its owner closes it). */
export type CliOutcome = { exitCode: number } | { server: RunningServer; logger: Logger };

const COMMANDS = ['start', 'migrate'] as const;
type Command = (typeof COMMANDS)[number];
const USAGE_ERROR = 2;
/**
 * How long a shutdown may take before the process exits anyway (code 1), with a log line
 * saying so. A clean one takes a second or two; this is below the 10 s that `docker stop`
 * waits before SIGKILL, and far below systemd's TimeoutStopSec in deploy/.
 */
const SHUTDOWN_TIMEOUT_MS = 8000;

class UsageError extends Error {}

/** Runs one command line (without `node` and the script). Never exits the process. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<CliOutcome> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`roundtable: ${error.message} (see roundtable --help)\n`);
    return { exitCode: USAGE_ERROR };
  }
  if (parsed.version) {
    io.stdout(`roundtable ${serverVersion()}\n`);
    return { exitCode: 0 };
  }
  if (parsed.help) {
    io.stdout(helpText(parsed.command));
    return { exitCode: 0 };
  }
  if (parsed.command === undefined) {
    io.stderr('roundtable: no command given (usage: roundtable start [options]; see roundtable --help)\n');
    return { exitCode: USAGE_ERROR };
  }
  return parsed.command === 'migrate' ? migrate(parsed.flags, io) : start(parsed.flags, io);
}

/** Opens the configured store, which applies the migrations it has not had, and says which. */
async function migrate(flags: Record<string, string>, io: CliIo): Promise<CliOutcome> {
  let config: ServerConfig;
  try {
    config = loadConfig({ env: io.env, flags, cwd: io.cwd });
  } catch (error) {
    if (error instanceof ConfigError) return configFailure(error, io);
    throw error;
  }
  const { dbPath, dbUrl } = config.signaling;
  let store: Store;
  try {
    store = await openStore(dbUrl === undefined ? { dbPath } : { dbUrl });
  } catch (error) {
    const which = dbUrl === undefined ? `the SQLite file ${dbPath}` : 'the PostgreSQL database (signaling.dbUrl)';
    io.stderr(`roundtable: migrating ${which} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return { exitCode: 1 };
  }
  try {
    io.stdout(migrationText(store.description, store.migration));
  } finally {
    await store.close();
  }
  return { exitCode: 0 };
}

function migrationText(database: string, { from, to, applied }: MigrationReport): string {
  if (applied.length === 0) return `${database}: up to date at schema version ${to}; no migration applied\n`;
  const lines = applied.map((m) => `  ${m.version}  ${m.description}\n`).join('');
  return `${database}: applied ${applied.length} migration${applied.length === 1 ? '' : 's'}, schema version ${from} -> ${to}:\n${lines}`;
}

async function start(flags: Record<string, string>, io: CliIo): Promise<CliOutcome> {
  let config: ServerConfig;
  try {
    config = loadConfig({ env: io.env, flags, cwd: io.cwd });
  } catch (error) {
    if (error instanceof ConfigError) return configFailure(error, io);
    throw error;
  }
  const logger = io.logger ?? createLogger(config.logLevel);
  let server: RunningServer;
  try {
    server = await startServer(startOptions(config, logger));
  } catch (error) {
    if (error instanceof ConfigError) return configFailure(error, io);
    io.stderr(`roundtable: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    return { exitCode: 1 };
  }
  logger.info(
    { event: 'listening', role: server.role, url: server.url, signaling: server.signalingUrl, kurento: server.kurentoUrl, metrics: server.metricsUrl },
    `Roundtable (role ${server.role}) listening on ${server.url}${server.kurentoUrl ? ` (Kurento Protocol on ${server.kurentoUrl})` : ''}`,
  );
  return { server, logger };
}

function startOptions(config: ServerConfig, logger: Logger): StartServerOptions {
  return {
    role: config.role,
    host: config.host,
    port: config.port,
    media: config.media,
    ...(config.mediaWorkers === undefined ? {} : { mediaWorkers: config.mediaWorkers }),
    kurento: config.kurento,
    signaling: config.signaling,
    ...(config.role === 'media' && config.signaling.redisUrl !== undefined ? { mediaNode: { redisUrl: config.signaling.redisUrl } } : {}),
    metrics: config.metrics ? config.metricsListen : false,
    http: config.http,
    loopback: config.loopback,
    logger,
    ...(config.tls ? { tls: config.tls } : {}),
  };
}

function configFailure(error: ConfigError, io: CliIo): CliOutcome {
  const lines = error.problems.map((p) => `${p.where}: ${p.reason}`);
  io.stderr(lines.length === 1 ? `roundtable: invalid configuration: ${lines[0]}\n` : `roundtable: invalid configuration:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  return { exitCode: USAGE_ERROR };
}

function parseCommandLine(argv: readonly string[]): { command: Command | undefined; help: boolean; version: boolean; flags: Record<string, string> } {
  const options: NonNullable<ParseArgsConfig['options']> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
    [CONFIG_FILE_SETTING.flag]: { type: 'string' },
  };
  for (const key of SETTING_KEYS) {
    const spec: SettingSpec = SETTINGS[key];
    options[spec.flag] = { type: 'string' };
  }
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }));
  } catch (error) {
    throw new UsageError(usageProblem(error, Object.keys(options)));
  }
  const [command, extra] = positionals;
  if (command !== undefined && !COMMANDS.some((c) => c === command)) throw new UsageError(`unknown command '${command}' (commands: ${COMMANDS.join(', ')})`);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const flags: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) if (typeof value === 'string') flags[name] = value;
  if (command === undefined && Object.keys(flags).length > 0 && values['help'] !== true) {
    throw new UsageError(`settings need a command: roundtable start ${argv.join(' ')}`);
  }
  return { command: COMMANDS.find((c) => c === command), help: values['help'] === true, version: values['version'] === true, flags };
}

/** parseArgs's message, shorter, with the nearest known flag for a typo. */
function usageProblem(error: unknown, known: string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /^Unknown option '(-{1,2})([^']*)'/.exec(message);
  if (!unknown) return message.replace(/^Option '(--[^ ]+) <value>' argument missing$/, 'option $1 needs a value');
  const name = unknown[2] ?? '';
  // A one-letter typo is too short to guess from.
  const nearest = known.filter((flag) => name.length > 2 && editDistance(flag, name) <= 2).sort((a, b) => editDistance(a, name) - editDistance(b, name))[0];
  return `unknown option '${unknown[1]}${name}'${nearest ? ` (did you mean --${nearest}?)` : ''}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The process entry point: runs the command line, and for `start` stays up until a signal. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const outcome = await runCli(argv, {
    env: process.env,
    cwd: process.cwd(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
  if ('exitCode' in outcome) {
    process.exitCode = outcome.exitCode;
    return;
  }
  const { server, logger } = outcome;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ event: 'forcedExit', signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ event: 'shutdown', signal }, 'shutting down (a second signal exits at once)');
    // A shutdown that hangs (a peer that never lets go) must not keep the process forever.
    setTimeout(() => {
      logger.error({ event: 'forcedExit', afterMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown did not finish in time, exiting now');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
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

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().catch((error: unknown) => {
    console.error('roundtable: failed to start:', error);
    process.exit(1);
  });
}
