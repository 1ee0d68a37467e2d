import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '@roundtable/kurento/testing';
import { StunServer, selfSignedCert, type TestCertificate } from '@roundtable/media/testing';
import type { CallId } from '@roundtable/protocol';
import { pumpSignals, SfuPeer, TestClient, until } from '@roundtable/signaling/testing';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ServerError } from './errors.js';
import { startServer, type RunningServer } from './startServer.js';
import { WsTestClient } from './testing/WsTestClient.js';


const logger = pino({ level: 'silent' });
// Free of every other test's media ports (tests run in parallel processes).
const MEDIA_ROLE_PORTS: [number, number] = [44800, 44899];

let dir: string;
let cert: TestCertificate;
const stun = new StunServer();
let stunUrl = '';
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roundtable-start-'));
  cert = selfSignedCert(dir);
  stunUrl = (await stun.listen()).url;
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(() => {
  stun.close();
  rmSync(dir, { recursive: true, force: true });
});

function track(server: RunningServer): RunningServer {
  cleanup.push(() => server.close());
  return server;
}

/** GET over HTTPS trusting the test certificate. */
function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/**
 * A loopback call through the server's media as `name`: the peer publishes a stream
 * tagged `tag` and gets it back; the ports of the server's ICE candidates are collected.
 */
async function loopbackCall(signalingUrl: string, name: string, tag: number): Promise<{ client: TestClient; callId: CallId; peer: SfuPeer; serverCandidatePorts: number[]; tag: number }> {
  const client = await TestClient.signIn(signalingUrl, name, { timeoutMs: 15_000 });
  cleanup.push(() => client.close());
  const { callId } = (await client.request('call.start', { audioOnly: false, topology: 'loopback' })) as { callId: CallId };
  const peer = new SfuPeer(client.userId, { send: (payload) => client.request('call.signal', { callId, payload }) }, stunUrl, tag, true);
  cleanup.push(() => peer.close());
  const serverCandidatePorts: number[] = [];
  cleanup.push(
    pumpSignals(client.notifications, 'call.signal', (payload) => {
      if (payload.type === 'iceCandidate') serverCandidatePorts.push(Number(payload.candidate.candidate.split(' ')[5]));
      return peer.handle(payload);
    }),
  );
  await peer.publish();
  return { client, callId, peer, serverCandidatePorts, tag };
}

describe('startServer() with TLS', () => {
  it('serves /healthz over HTTPS and /ws, /ws/loopback over wss://', async () => {
    const server = track(
      await startServer({
        host: '127.0.0.1',
        port: 0,
        tls: { cert: cert.cert, key: cert.key },
        media: { iceAddresses: ['127.0.0.1'], portRange: [44900, 44949] },
        signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000 },
        logger,
      }),
    );

    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.signalingUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(await httpsGet(`${server.url}healthz`, cert.cert)).toEqual({ status: 200, body: '{"status":"ok"}' });
    const signaling = await WsTestClient.connect(server.signalingUrl!, { ca: cert.cert });
    cleanup.push(() => signaling.close());
    signaling.send({ id: 1, type: 'register', username: 'tess', password: 'password-123' });
    expect(await signaling.next()).toMatchObject({ id: 1, ok: true });
    const loopback = await WsTestClient.connect(`${server.url.replace('https', 'wss')}ws/loopback`, { ca: cert.cert });
    cleanup.push(() => loopback.close());
    loopback.send({ id: 'stop' });
    expect(await loopback.staysQuiet(200)).toBe(true);
  });

  it('refuses a client that does not trust the certificate, and plain HTTP', async () => {
    const server = track(await startServer({ host: '127.0.0.1', port: 0, tls: { cert: cert.cert, key: cert.key }, media: { iceAddresses: ['127.0.0.1'] }, logger }));

    await expect(httpsGet(`${server.url}healthz`, '')).rejects.toThrow(/self-signed|certificate/);
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
  });
});

describe('startServer() role media', () => {
  it('serves the media engine over the Kurento Protocol, and only /healthz over HTTP', async () => {
    const media = track(await startServer({ role: 'media', host: '127.0.0.1', port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: MEDIA_ROLE_PORTS }, kurento: { host: '127.0.0.1', port: 0 }, logger }));

    expect(media.role).toBe('media');
    expect(media.signalingUrl).toBeUndefined();
    expect(await (await fetch(`${media.url}healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(media.url)).status).toBe(404);
    expect((await fetch(`${media.url}loopback.html`)).status).toBe(404);
    await expect(WsTestClient.connect(`${media.url.replace('http', 'ws')}ws/loopback`)).rejects.toThrow(/404/);
    const kurento = await RawClient.connect(media.kurentoUrl!);
    cleanup.push(() => kurento.close());
    expect(await kurento.value<string>('create', { type: 'MediaPipeline' })).toMatch(/_kurento\.MediaPipeline$/);
  });

  it('refuses to bind the Kurento Protocol beyond loopback without a secret, and to turn it off', async () => {
    const beyond = startServer({ role: 'media', host: '127.0.0.1', port: 0, kurento: { host: '0.0.0.0', port: 0 }, logger });
    await expect(beyond).rejects.toBeInstanceOf(ConfigError);
    await expect(beyond).rejects.toMatchObject({ setting: 'kurento.secret', message: expect.stringMatching(/beyond loopback: it needs a shared secret/) });
    await expect(startServer({ role: 'media', host: '127.0.0.1', port: 0, kurento: false, logger })).rejects.toMatchObject({ setting: 'kurento.enabled' });
  });

  it('holds the single media UDP port from start to shutdown, and refuses to start when the configured one is in use', async () => {
    const media = { iceAddresses: ['127.0.0.1'], portRange: [61090, 61097] as [number, number], udpPort: 61099 };
    const server = await startServer({ role: 'media', host: '127.0.0.1', port: 0, media, kurento: { host: '127.0.0.1', port: 0 }, logger });
    expect(server.engine.sockets.find('127.0.0.1', 61099)?.users).toBe(1);
    await server.close();
    expect(server.engine.sockets.find('127.0.0.1', 61099)).toBeUndefined();

    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(61099, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const start = startServer({ role: 'media', host: '127.0.0.1', port: 0, media, kurento: { host: '127.0.0.1', port: 0 }, logger });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toMatchObject({ setting: 'media.udpPort', message: expect.stringMatching(/UDP port 61099 on 127\.0\.0\.1 is already in use: set another port with media\.udpPort/) });
  });
});

describe('startServer() role signaling', () => {
  it('needs a media server, and says so when it cannot reach it', async () => {
    await expect(startServer({ role: 'signaling', host: '127.0.0.1', port: 0, signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000 }, logger })).rejects.toMatchObject({
      setting: 'media.url',
    });
    const unreachable = startServer({ role: 'signaling', host: '127.0.0.1', port: 0, signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000, mediaUrl: 'ws://127.0.0.1:1/kurento' }, logger });
    await expect(unreachable).rejects.toBeInstanceOf(ServerError);
    await expect(unreachable).rejects.toMatchObject({ code: 'MEDIA_UNREACHABLE', message: expect.stringMatching(/^cannot reach the media server at ws:\/\/127\.0\.0\.1:1\/kurento \(media\.url\)/) });
  });

  it('says so when the media secret is wrong', async () => {
    const media = track(await startServer({ role: 'media', host: '127.0.0.1', port: 0, kurento: { host: '127.0.0.1', port: 0, secret: 'right' }, logger }));

    const wrong = startServer({ role: 'signaling', host: '127.0.0.1', port: 0, signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000, mediaUrl: media.kurentoUrl!, mediaSecret: 'wrong' }, logger });

    await expect(wrong).rejects.toThrow(/401.*media\.secret is missing or is not the media server's kurento\.secret/);
  });

  it('split deployment: two users each get their loopback call back through the media-role process', async () => {
    const media = track(
      await startServer({ role: 'media', host: '127.0.0.1', port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: MEDIA_ROLE_PORTS }, kurento: { host: '127.0.0.1', port: 0, secret: 'media-secret' }, logger }),
    );
    const signaling = track(
      await startServer({
        role: 'signaling',
        host: '127.0.0.1',
        port: 0,
        // Ignored by this role: it has no media engine of its own.
        media: { iceAddresses: ['127.0.0.1'], portRange: [44950, 44999] },
        signaling: { dbPath: join(dir, 'split.db'), iceServers: [], ringTimeoutMs: 60_000, mediaUrl: media.kurentoUrl!, mediaSecret: 'media-secret' },
        logger,
      }),
    );
    expect(signaling.kurentoUrl).toBeUndefined();
    await expect(WsTestClient.connect(`${signaling.url.replace('http', 'ws')}ws/loopback`)).rejects.toThrow(/404/);
    expect((await fetch(`${signaling.url}loopback.html`)).status).toBe(200);

    const users = await Promise.all((['alice', 'bob'] as const).map((name, i) => loopbackCall(signaling.signalingUrl!, name, 50 + i)));

    await until(() => users.every((u) => u.peer.videoCount(u.client.userId) > 10));
    for (const user of users) {
      // Each gets back its own stream, and only it.
      expect(new Set(user.peer.videoFrom.get(user.client.userId)!.map((p) => p.payload[2]))).toEqual(new Set([user.tag]));
      // The media engine that answered is the media-role process's: its candidates are in that process's port range.
      expect(user.serverCandidatePorts.length).toBeGreaterThan(0);
      for (const port of user.serverCandidatePorts) expect(port >= MEDIA_ROLE_PORTS[0] && port <= MEDIA_ROLE_PORTS[1]).toBe(true);
      await user.client.request('call.bye', { callId: user.callId, reason: 'hangup' });
    }
  });
});

describe('startServer() with media workers', () => {
  // 61940-61959: a range with room for the main thread's engine and one worker only.
  const SMALL_RANGE: [number, number] = [61940, 61959];
  const signaling = { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000 };

  it('by default runs as many workers as the port range has room for (at most one per core), and says so in /metrics', async () => {
    const server = track(await startServer({ host: '127.0.0.1', port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: SMALL_RANGE }, signaling, logger }));
    const metrics = await (await fetch(server.metricsUrl!)).text();
    expect(metrics).toMatch(/^roundtable_media_workers 1$/m);
    expect((await fetch(`${server.url}readyz`)).status).toBe(200);
  });

  it('in single-port mode the main thread and the workers listen side by side from the start of the range: a loopback call answers from the worker\'s port', async () => {
    const server = track(await startServer({ host: '127.0.0.1', port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: SMALL_RANGE }, mediaWorkers: 1, signaling, logger }));
    // The main thread's port is held from the start.
    const probe = createSocket('udp4');
    const bound = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      probe.once('error', resolve);
      probe.bind({ address: '127.0.0.1', port: SMALL_RANGE[0], exclusive: true }, () => resolve(undefined));
    });
    probe.close();
    expect(bound?.code).toBe('EADDRINUSE');

    const { client, peer, serverCandidatePorts } = await loopbackCall(server.signalingUrl!, 'wendy', 60);
    await until(() => peer.videoCount(client.userId) > 10);
    expect(new Set(serverCandidatePorts)).toEqual(new Set([SMALL_RANGE[0] + 1]));
  });

  it('refuses more workers than the port range has room for, naming media.workers', async () => {
    const error = await startServer({ host: '127.0.0.1', port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: SMALL_RANGE }, mediaWorkers: 4, signaling, logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]).toMatchObject({ setting: 'media.workers' });
    expect((error as ConfigError).message).toMatch(/61940-61959 is too small for 5 media engines/);
  });
});
