import { createServer } from 'node:net';
import type { CallId, ConversationInfo } from '@roundtable/protocol';
import { MIGRATIONS, PostgresStore } from '@roundtable/signaling';
import { PostgresCluster, TestClient, skipPostgresTests } from '@roundtable/signaling/testing';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from './cli.js';
import type { RunningServer } from './startServer.js';

const LATEST = MIGRATIONS.at(-1)!.version;

const servers: RunningServer[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Runs the CLI in this process with captured output and a silent logger; a started server is closed after the test. */
async function run(argv: string[], env: Record<string, string> = {}): Promise<{ exitCode: number | 'running'; stdout: string; stderr: string; server?: RunningServer }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { env, cwd: process.cwd(), stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), logger: pino({ level: 'silent' }) };
  const outcome = await runCli(argv, io);
  if ('exitCode' in outcome) return { exitCode: outcome.exitCode, stdout, stderr };
  servers.push(outcome.server);
  return { exitCode: 'running', stdout, stderr, server: outcome.server };
}

async function readyz(server: RunningServer): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const response = await fetch(`${server.url}readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
}

async function signIn(url: string, name: string): Promise<TestClient> {
  const client = await TestClient.signIn(url, name, { timeoutMs: 15_000 });
  clients.push(client);
  return client;
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe.skipIf(skipPostgresTests('roundtable start and migrate on PostgreSQL'))('roundtable on PostgreSQL (--db-url)', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await PostgresCluster.start();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('roundtable migrate applies every migration and says which; run again, it applies none', async () => {
    const url = await cluster.createDatabase();

    const first = await run(['migrate', '--db-url', url]);
    const second = await run(['migrate'], { ROUNDTABLE_DB_URL: url });

    const listed = MIGRATIONS.map((m) => `  ${m.version}  ${m.description}\n`).join('');
    expect(first).toEqual({ exitCode: 0, stdout: `PostgreSQL database ${url}: applied ${MIGRATIONS.length} migrations, schema version 0 -> ${LATEST}:\n${listed}`, stderr: '' });
    expect(second).toEqual({ exitCode: 0, stdout: `PostgreSQL database ${url}: up to date at schema version ${LATEST}; no migration applied\n`, stderr: '' });
  });

  it('roundtable migrate exits 1 when the database does not answer, and never prints its password', async () => {
    const url = `postgres://roundtable:s3cret-pw@127.0.0.1:${await freePort()}/roundtable`;

    const result = await run(['migrate', '--db-url', url]);

    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^roundtable: migrating the PostgreSQL database \(signaling\.dbUrl\) failed: .*ECONNREFUSED/);
    expect(result.stdout + result.stderr).not.toContain('s3cret-pw');
  });

  it('a --db-url that is not a postgres:// URL, or one given with --db, is a configuration error (exit 2)', async () => {
    const wrongScheme = await run(['migrate', '--db-url', 'mysql://root:hunter2@db/roundtable']);
    const both = await run(['start', '--db', 'x.db', '--db-url', cluster.url()]);

    expect(wrongScheme.exitCode).toBe(2);
    expect(wrongScheme.stderr).toContain('--db-url: not a postgres:// or postgresql:// URL');
    expect(wrongScheme.stderr).not.toContain('hunter2');
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toContain('--db-url: PostgreSQL is set here, and the SQLite file signaling.db too (--db)');
  });

  it('roundtable start --db-url: accounts, an IM message and a call record land in PostgreSQL; /readyz follows the database down and back up', async () => {
    const url = await cluster.createDatabase();
    const { server } = await run(['start', '--host', '127.0.0.1', '--port', '0', '--kurento', 'off', '--metrics', 'off', '--media-workers', '0', '--udp-port', 'off', '--db-url', url]);
    const signalingUrl = server!.signalingUrl!;
    const alice = await signIn(signalingUrl, 'alice');
    const bob = await signIn(signalingUrl, 'bob');
    const conversation = (await alice.request('conversations.direct', { userId: bob.userId })) as ConversationInfo;
    await alice.request('messages.send', { conversationId: conversation.id, text: 'hello over PostgreSQL' });
    await bob.waitFor('message', (n) => n.message.text === 'hello over PostgreSQL');
    const { callId } = (await alice.request('call.start', { conversationId: conversation.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await bob.waitFor('call.incoming', (n) => n.callId === callId);
    await bob.request('call.answer', { callId, audioOnly: true });
    await alice.waitFor('call.answered', (n) => n.callId === callId);
    await alice.request('call.bye', { callId, reason: 'hangup' });
    for (const client of [alice, bob]) await client.waitFor('message', (n) => n.message.kind === 'call' && n.message.call?.callId === callId);

    // What another signaling node on the same database reads.
    const other = await PostgresStore.open({ url });
    try {
      expect(other.migration.applied).toEqual([]);
      expect((await other.userByName('alice'))?.id).toBe(alice.userId);
      expect((await other.history(conversation.id, undefined, 10)).map((m) => [m.seq, m.kind, m.text ?? null])).toEqual([
        [1, 'text', 'hello over PostgreSQL'],
        [2, 'call', null],
      ]);
      expect((await other.callRecord(callId))?.record).toMatchObject({ callId, endReason: 'hangup', missed: false, participants: [alice.userId, bob.userId] });
    } finally {
      await other.close();
    }

    expect(await readyz(server!)).toEqual({ status: 200, body: { status: 'ready', checks: { engine: 'ok', database: 'ok', media: 'ok' } } });
    await cluster.stop();
    const down = await readyz(server!);
    await cluster.resume();
    const up = await readyz(server!);

    expect(down.status).toBe(503);
    expect(down.body.checks).toMatchObject({ engine: 'ok', media: 'ok' });
    expect(down.body.checks['database']).toContain(`the PostgreSQL database ${url} does not answer: `);
    expect(up).toEqual({ status: 200, body: { status: 'ready', checks: { engine: 'ok', database: 'ok', media: 'ok' } } });
    // The server's store is usable again: a new account, and the earlier conversation.
    const carol = await signIn(signalingUrl, 'carol');
    expect(await carol.request('users.find', { username: 'alice' })).toMatchObject({ id: alice.userId });
    expect((await bob.request('messages.history', { conversationId: conversation.id })).map((m) => m.seq)).toEqual([1, 2]);
  });
});
