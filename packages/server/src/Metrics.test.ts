import { choosePacketCore } from '@roundtable/media';
import { StunServer } from '@roundtable/media/testing';
import type { CallId } from '@roundtable/protocol';
import { RemoteMediaServer } from '@roundtable/signaling';
import { SfuPeer, TestClient, until } from '@roundtable/signaling/testing';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer, type StartServerOptions } from './startServer.js';
import { serverVersion } from './version.js';

const logger = pino({ level: 'silent' });
// Free of every other test's media ports (tests run in parallel processes).
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [44400, 44449] as [number, number] };

const stun = new StunServer();
let stunUrl = '';
const cleanup: Array<() => unknown> = [];
beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(() => stun.close());

async function start(options: StartServerOptions = {}): Promise<RunningServer> {
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    media: MEDIA,
    kurento: { host: '127.0.0.1', port: 0 },
    signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000 },
    logger,
    ...options,
  });
  cleanup.push(() => server.close());
  return server;
}

async function signIn(server: RunningServer, name: string): Promise<TestClient> {
  const client = await TestClient.signIn(server.signalingUrl!, name, { timeoutMs: 15_000 });
  cleanup.push(() => client.close());
  return client;
}

/** The samples of a Prometheus text exposition, by series ('name{labels}') . */
async function scrape(server: RunningServer): Promise<Map<string, number>> {
  expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const response = await fetch(server.metricsUrl!);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

describe('GET /metrics', () => {
  it('counts signaling requests by type and errors by code, with connections, users, calls and the process', async () => {
    const server = await start();
    const alice = await signIn(server, 'alice');
    await signIn(server, 'bob');

    await alice.send('users.find', { username: 'nobody' });
    alice.sendRaw('not json');
    await alice.waitForError('BAD_REQUEST');
    const m = await scrape(server);

    expect(m.get(`roundtable_info{role="all",version="${serverVersion()}"}`)).toBe(1);
    expect(m.get('roundtable_signaling_requests_total{type="register"}')).toBe(2);
    expect(m.get('roundtable_signaling_requests_total{type="hello"}')).toBe(2);
    expect(m.get('roundtable_signaling_requests_total{type="users.find"}')).toBe(1);
    expect(m.get('roundtable_signaling_errors_total{type="users.find",code="NOT_FOUND"}')).toBe(1);
    expect(m.get('roundtable_signaling_errors_total{type="none",code="BAD_REQUEST"}')).toBe(1);
    expect(m.get('roundtable_signaling_connections')).toBe(2);
    expect(m.get('roundtable_users_online')).toBe(2);
    expect(m.get('roundtable_calls_active')).toBe(0);
    expect(m.get('roundtable_rooms_open')).toBe(0);
    expect(m.get('roundtable_participants{kind="call"}')).toBe(0);
    // One process, no Redis: a cluster of one.
    expect(m.get('roundtable_cluster_node{node="local"}')).toBe(1);
    expect(m.get('roundtable_cluster_nodes')).toBe(1);
    expect(m.get('roundtable_cluster_forwarded_requests')).toBe(0);
    expect(m.get('roundtable_kurento_sessions')).toBe(0);
    expect(m.get('roundtable_media_pipelines')).toBe(0);
    expect(m.get('roundtable_media_webrtc_endpoints{state="connected"}')).toBe(0);
    // No bundled call: no receiving transport keeps a downlink estimate.
    expect(m.get('roundtable_media_downlink_estimates')).toBe(0);
    expect(m.get('roundtable_media_downlink_estimate_bps{stat="median"}')).toBe(0);
    // The packet path of the engine's own transport: exactly one of the two is in use.
    const path = choosePacketCore().path;
    expect(m.get(`roundtable_media_packet_core{path="${path}"}`)).toBe(1);
    expect(m.get(`roundtable_media_packet_core{path="${path === 'native' ? 'typescript' : 'native'}"}`)).toBe(0);
    expect(m.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('after a loopback call: the media engine counts the call, its endpoint, and the packets and bytes each way', async () => {
    const server = await start();
    const me = await signIn(server, 'carol');
    const { callId } = (await me.request('call.start', { audioOnly: false, topology: 'loopback' })) as { callId: CallId };
    const peer = new SfuPeer(me.userId, { send: (payload) => me.request('call.signal', { callId, payload }) }, stunUrl, 7, true);
    cleanup.push(() => peer.close());
    let handled = 0;
    const pump = setInterval(() => {
      while (handled < me.notifications.length) {
        const n = me.notifications[handled++]!;
        if (n.type === 'call.signal') void peer.handle(n.payload);
      }
    }, 5);
    cleanup.push(() => clearInterval(pump));
    await peer.publish();
    await until(() => peer.videoCount(me.userId) > 20);

    const during = await scrape(server);
    await me.request('call.bye', { callId, reason: 'hangup' });
    const after = await scrape(server);

    expect(during.get('roundtable_calls_active')).toBe(1);
    expect(during.get('roundtable_participants{kind="call"}')).toBe(1);
    expect(during.get('roundtable_media_pipelines')).toBe(1);
    expect(during.get('roundtable_media_elements{type="WebRtcEndpoint"}')).toBe(1);
    expect(during.get('roundtable_media_webrtc_endpoints{state="connected"}')).toBe(1);
    for (const direction of ['in', 'out']) {
      expect(during.get(`roundtable_media_packets{kind="video",direction="${direction}"}`)).toBeGreaterThan(20);
      expect(during.get(`roundtable_media_bytes{kind="video",direction="${direction}"}`)).toBeGreaterThan(during.get(`roundtable_media_packets{kind="video",direction="${direction}"}`)!);
    }
    expect(during.has('roundtable_media_packets_lost{kind="video"}')).toBe(true);
    expect(during.has('roundtable_media_nacks_received{kind="video"}')).toBe(true);
    expect(during.has('roundtable_media_plis_received{kind="video"}')).toBe(true);
    // Single-port mode: the call's datagrams came through a shared socket.
    expect(during.get('roundtable_media_udp_shared_sockets')).toBeGreaterThanOrEqual(1);
    // One server-side connection: the call's endpoint.
    expect(during.get('roundtable_media_udp_bindings')).toBe(1);
    expect(during.get('roundtable_media_udp_datagrams')).toBeGreaterThan(20);
    expect(during.get('roundtable_media_udp_dropped{reason="unknown"}')).toBeGreaterThanOrEqual(0);
    expect(during.has('roundtable_media_udp_dropped{reason="unauthenticated"}')).toBe(true);
    expect(after.get('roundtable_calls_active')).toBe(0);
    expect(after.get('roundtable_media_pipelines')).toBe(0);
    // A type once seen stays, at 0.
    expect(after.get('roundtable_media_elements{type="WebRtcEndpoint"}')).toBe(0);
  });

  it('each server has its own registry: two in one process count apart', async () => {
    const first = await start();
    const second = await start({ kurento: false });
    await signIn(first, 'dave');

    expect((await scrape(first)).get('roundtable_signaling_requests_total{type="register"}')).toBe(1);
    expect((await scrape(second)).has('roundtable_signaling_requests_total{type="register"}')).toBe(false);
    expect((await scrape(second)).has('roundtable_kurento_sessions')).toBe(false);
  });

  it('a media-role process has the engine and the Kurento Protocol, and no signaling metrics', async () => {
    const media = await start({ role: 'media', signaling: false });

    const m = await scrape(media);

    expect(m.get(`roundtable_info{role="media",version="${serverVersion()}"}`)).toBe(1);
    expect(m.get('roundtable_media_pipelines')).toBe(0);
    expect(m.get('roundtable_kurento_sessions')).toBe(0);
    expect(m.has('roundtable_calls_active')).toBe(false);
    expect([m.get('roundtable_media_node_rooms'), m.get('roundtable_media_node_participants'), m.get('roundtable_media_node_connections')]).toEqual([0, 0, 0]);

    // A signaling node's room on it is counted there.
    const remote = await RemoteMediaServer.connect({ url: media.kurentoUrl! });
    try {
      const room = await remote.createRoom('counted');
      await room.join('ann');
      const after = await scrape(media);
      expect([after.get('roundtable_media_node_rooms'), after.get('roundtable_media_node_participants'), after.get('roundtable_media_pipelines')]).toEqual([1, 1, 1]);
      await room.close();
    } finally {
      await remote.close();
    }
  });

  it('with media workers: how many run, and rooms, participants and restarts per worker', async () => {
    const server = await start({ mediaWorkers: 2 });
    const m = await scrape(server);

    expect(m.get('roundtable_media_workers')).toBe(2);
    for (const worker of ['0', '1']) {
      expect(m.get(`roundtable_media_worker_rooms{worker="${worker}"}`)).toBe(0);
      expect(m.get(`roundtable_media_worker_participants{worker="${worker}"}`)).toBe(0);
      expect(m.get(`roundtable_media_worker_restarts{worker="${worker}"}`)).toBe(0);
    }
  });

  it('with rooms in the main thread (0 media workers) there are no worker metrics', async () => {
    const server = await start({ mediaWorkers: 0 });
    const m = await scrape(server);

    expect(m.has('roundtable_media_workers')).toBe(false);
    expect(m.get('roundtable_media_pipelines')).toBe(0);
  });

  it('is 404 on the public port, and with metrics off there is no metrics listener', async () => {
    const on = await start();
    const off = await start({ metrics: false });

    expect((await fetch(`${on.url}metrics`)).status).toBe(404);
    expect(off.metricsUrl).toBeUndefined();
    expect((await fetch(`${off.url}metrics`)).status).toBe(404);
  });
});
