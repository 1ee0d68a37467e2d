import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallId, ConversationInfo } from '@roundtable/protocol';
import { MIGRATIONS, SqliteStore } from '@roundtable/signaling';
import { TestClient } from '@roundtable/signaling/testing';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo, type CliOutcome } from './cli.js';
import { SETTINGS, SETTING_KEYS, type SettingSpec } from './settings.js';
import type { RunningServer } from './startServer.js';

const BIN = fileURLToPath(new URL('../bin/roundtable.mjs', import.meta.url));
const LATEST = MIGRATIONS.at(-1)!.version;

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

describe('roundtable migrate', () => {
  it('migrate --help names the database settings and exits 0', async () => {
    const { outcome, stdout } = await run(['migrate', '--help']);

    expect(exitCode(outcome)).toBe(0);
    expect(stdout).toMatch(/^Usage: roundtable migrate \[options\]/);
    expect(stdout).toContain('--db FILE');
    expect(stdout).toContain('--db-url URL');
    expect(stdout).not.toContain('--port PORT');
  });

  it('on the SQLite file: applies every migration and says which, then finds nothing to apply', async () => {
    const db = join(dir, 'migrate', 'roundtable.db');

    const first = await run(['migrate', '--db', db]);
    const second = await run(['migrate'], { ROUNDTABLE_DB: db });

    expect(exitCode(first.outcome)).toBe(0);
    expect(first.stdout).toBe(`SQLite database ${db}: applied ${MIGRATIONS.length} migrations, schema version 0 -> ${LATEST}:\n${MIGRATIONS.map((m) => `  ${m.version}  ${m.description}\n`).join('')}`);
    expect(exitCode(second.outcome)).toBe(0);
    expect(second.stdout).toBe(`SQLite database ${db}: up to date at schema version ${LATEST}; no migration applied\n`);
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

describe('roundtable start: graceful shutdown', () => {
  const running: ChildProcess[] = [];
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) {
      client.ws.resume();
      await client.close();
    }
    for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** `roundtable start` in its own process, on 127.0.0.1 with a free port, its SQLite file in `db`. */
  function startProcess(db: string) {
    const child = spawn(process.execPath, [BIN, 'start', '--host', '127.0.0.1', '--port', '0', '--kurento', 'off', '--db', db], {
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let stdout = '';
    const lineWaiters: Array<{ event: string; resolve: (line: Record<string, unknown>) => void }> = [];
    child.stdout.on('data', (chunk: Buffer) => {
      const before = stdout.length;
      stdout += chunk.toString('utf8');
      for (const text of stdout.slice(stdout.lastIndexOf('\n', before - 1) + 1).split('\n')) {
        if (!text.startsWith('{') || !text.endsWith('}')) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        for (const waiter of lineWaiters.filter((w) => w.event === line['event'])) {
          lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    /** Resolves with the first log line of `event` from now on. */
    const logged = (event: string) => new Promise<Record<string, unknown>>((resolve) => lineWaiters.push({ event, resolve }));
    const listening = logged('listening');
    const exited = new Promise<{ code: number | null; at: number; stdout: string }>((resolve) => child.on('exit', (code) => resolve({ code, at: Date.now(), stdout })));
    return {
      child,
      logged,
      exited,
      signalingUrl: async () => {
        const line = await Promise.race([listening, exited.then((e) => Promise.reject(new Error(`exited ${e.code} before listening: ${e.stdout}`)))]);
        return String(line['signaling']);
      },
    };
  }

  async function signIn(url: string, name: string): Promise<TestClient> {
    const client = await TestClient.signIn(url, name, { timeoutMs: 15_000 });
    clients.push(client);
    return client;
  }

  it('SIGTERM during a call: both sides get call.ended then session.ended, the process exits 0 within seconds, and the call is recorded', async () => {
    const db = join(dir, 'shutdown.db');
    const server = startProcess(db);
    const url = await server.signalingUrl();
    const alice = await signIn(url, 'alice');
    const bob = await signIn(url, 'bob');
    const conversation = (await alice.request('conversations.direct', { userId: bob.userId })) as ConversationInfo;
    const { callId } = (await alice.request('call.start', { conversationId: conversation.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await bob.waitFor('call.incoming');
    await bob.request('call.answer', { callId, audioOnly: true });
    await alice.waitFor('call.answered');

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    const exit = await server.exited;

    expect(exit.code).toBe(0);
    expect(exit.at - signalled).toBeLessThan(5000);
    for (const client of [alice, bob]) {
      // The server's hang-up: reason hangup, by nobody.
      expect(await client.waitFor('call.ended')).toMatchObject({ callId, reason: 'hangup', by: null });
      expect(await client.waitFor('session.ended')).toEqual({ type: 'session.ended', reason: 'serverShutdown' });
      const order = client.notifications.map((n) => n.type);
      expect(order.indexOf('call.ended')).toBeLessThan(order.indexOf('session.ended'));
    }
    expect(exit.stdout).toContain('"event":"shutdown"');
    expect(exit.stdout).toContain('"event":"closed"');
    const store = new SqliteStore({ path: db });
    try {
      expect((await store.callRecord(callId))?.record).toMatchObject({ callId, endReason: 'hangup', missed: false, participants: [alice.userId, bob.userId] });
    } finally {
      await store.close();
    }
  });

  it('a second signal during the shutdown exits at once with code 1', async () => {
    const server = startProcess(join(dir, 'forced.db'));
    const client = await signIn(await server.signalingUrl(), 'carol');
    // A client that never answers the close frame holds the shutdown for its grace period (1 s).
    client.ws.pause();

    server.child.kill('SIGTERM');
    await server.logged('shutdown');
    const second = Date.now();
    server.child.kill('SIGINT');
    const exit = await server.exited;

    expect(exit.code).toBe(1);
    expect(exit.at - second).toBeLessThan(900);
    expect(exit.stdout).toContain('"event":"forcedExit"');
    expect(exit.stdout).not.toContain('"event":"closed"');
  });
});
