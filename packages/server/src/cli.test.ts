import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo, type CliOutcome } from './cli.js';
import { SETTINGS, SETTING_KEYS, type SettingSpec } from './settings.js';
import type { RunningServer } from './startServer.js';

const BIN = fileURLToPath(new URL('../bin/roundtable.mjs', import.meta.url));

let dir: string;
const servers: RunningServer[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roundtable-cli-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in this process with captured output and a silent logger. */
async function run(argv: string[], env: Record<string, string> = {}): Promise<{ outcome: CliOutcome; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { env, cwd: dir, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), logger: pino({ level: 'silent' }) };
  const outcome = await runCli(argv, io);
  if ('server' in outcome) servers.push(outcome.server);
  return { outcome, stdout, stderr };
}

function exitCode(outcome: CliOutcome): number | 'running' {
  return 'exitCode' in outcome ? outcome.exitCode : 'running';
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('roundtable --help', () => {
  it.each([[['--help']], [['-h']], [['start', '--help']]])('%j lists every setting with its flag, variable, key and default, and exits 0', async (argv) => {
    const { outcome, stdout } = await run(argv);

    expect(exitCode(outcome)).toBe(0);
    expect(stdout).toContain('--config FILE');
    expect(stdout).toContain('ROUNDTABLE_CONFIG');
    for (const key of SETTING_KEYS) {
      const spec: SettingSpec = SETTINGS[key];
      const line = stdout.split('\n').findIndex((l) => l.startsWith(`  --${spec.flag} ${spec.arg}`));
      expect(line, `--${spec.flag} in the help`).toBeGreaterThanOrEqual(0);
      // Help lines and the "default | env | key" line follow the flag before the next flag.
      const block = stdout.split('\n').slice(line, line + 6).join(' ').replace(/\s+/g, ' ');
      expect(block).toContain(`default ${spec.default.replace(/\s+/g, ' ')}`);
      expect(block).toContain(`env ${spec.env}`);
      expect(block).toContain(`key ${key}`);
    }
  });

  it('--version prints the version', async () => {
    const { outcome, stdout } = await run(['--version']);

    expect(exitCode(outcome)).toBe(0);
    expect(stdout).toMatch(/^roundtable \d+\.\d+\.\d+\n$/);
  });
});

describe('roundtable command line errors exit 2 with a message on stderr', () => {
  it.each([
    [[], /no command given/],
    [['stop'], /unknown command 'stop'/],
    [['start', 'now'], /unexpected argument 'now'/],
    [['start', '--prot', '80'], /unknown option '--prot' \(did you mean --port\?\)/],
    [['start', '--port'], /option --port needs a value/],
    [['--port', '80'], /settings need a command/],
  ])('%j', async (argv, message) => {
    const { outcome, stdout, stderr } = await run(argv);

    expect(exitCode(outcome)).toBe(2);
    expect(stderr).toMatch(message);
    expect(stdout).toBe('');
  });
});

describe('roundtable start', () => {
  it('starts with flags over a config file, and the server answers', async () => {
    const config = join(dir, 'roundtable.yaml');
    writeFileSync(config, 'host: 127.0.0.1\nport: 1\nkurento:\n  enabled: off\nsignaling:\n  db: data/cli.db\n');

    const { outcome, stderr } = await run(['start', '--config', config, '--port', '0']);

    expect(stderr).toBe('');
    if (!('server' in outcome)) throw new Error('start did not leave a server running');
    expect(outcome.server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(outcome.server.kurentoUrl).toBeUndefined();
    expect(await (await fetch(`${outcome.server.url}healthz`)).json()).toEqual({ status: 'ok' });
  });

  it('exits 2 on a bad configuration, listing each problem with where it came from, and starts nothing', async () => {
    const port = await freePort();

    const { outcome, stderr } = await run(['start', '--host', '127.0.0.1', '--port', String(port), '--port-range', '49999-40000', '--role', 'signaling'], { ROUNDTABLE_ANNOUNCED_ADDRESS: 'nat.example.com' });

    expect(exitCode(outcome)).toBe(2);
    expect(stderr.split('\n')).toEqual([
      'roundtable: invalid configuration:',
      "  ROUNDTABLE_ANNOUNCED_ADDRESS: 'nat.example.com' is not an IPv4 or IPv6 address",
      '  --port-range: range 49999-40000 needs MIN below MAX',
      '',
    ]);
    // Nothing took the port.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('exits 1 when start-up fails, e.g. on a port in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const { outcome, stderr } = await run(['start', '--host', '127.0.0.1', '--port', String(port), '--kurento', 'off', '--db', ':memory:']);

      expect(exitCode(outcome)).toBe(1);
      expect(stderr).toMatch(/^roundtable: failed to start: .*EADDRINUSE/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe('the roundtable executable', () => {
  /** Runs bin/roundtable.mjs; resolves with its exit code and output once it exits. */
  function spawnCli(args: string[], env: Record<string, string> = {}, onStdout?: (text: string, stop: () => void) => void) {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      onStdout?.(stdout, () => child.kill('SIGTERM'));
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  }

  it('exits 2 on a bad setting, with the message on stderr', async () => {
    const result = await spawnCli(['start', '--port', 'eighty'], { ROUNDTABLE_ROLE: 'media' });

    expect(result.code).toBe(2);
    expect(result.stderr).toBe("roundtable: invalid configuration: --port: 'eighty' is not a port number (expected an integer 0-65535)\n");
    expect(result.stdout).toBe('');
  });

  it('start serves until SIGTERM, then exits 0', async () => {
    let healthz: Promise<unknown> | undefined;
    const result = await spawnCli(['start', '--host', '127.0.0.1', '--port', '0', '--kurento-port', '0'], { ROUNDTABLE_DB: join(dir, 'bin.db') }, (stdout, stop) => {
      const listening = /"event":"listening".*"url":"(http:[^"]+)"/.exec(stdout);
      if (listening && !healthz) healthz = fetch(`${listening[1]}healthz`).then((r) => r.json()).finally(stop);
    });

    expect(result.code).toBe(0);
    expect(await healthz).toEqual({ status: 'ok' });
    expect(result.stdout).toContain('"event":"closed"');
  });
});
