import { KurentoServer } from '@roundtable/kurento';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, hasRedisServer } from '../../testing/redisServer.js';
import { until } from '../../testing/wait.js';
import type { MediaServer } from '../MediaServer.js';
import { MediaNodeHeartbeat } from './MediaNodeHeartbeat.js';
import { MediaNodeRegistry, type MediaNodeLoad } from './MediaNodeRegistry.js';
import { MediaNodesServer } from './MediaNodesServer.js';

// Two media nodes in this process (Kurento Protocol servers, each with a heartbeat) on a
// real redis-server. UDP ports 63460-63499.
const tools = hasRedisServer();
let redis: RedisServer;
const open: Array<{ close(): Promise<void> | void }> = [];

beforeAll(async () => {
  if (tools) redis = await RedisServer.start();
});
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});
afterAll(async () => {
  await redis?.close();
});

interface TestNode {
  kurento: KurentoServer;
  url: string;
  heartbeat: MediaNodeHeartbeat;
  load: MediaNodeLoad;
}

async function mediaNode(id: string, ports: [number, number], load: MediaNodeLoad): Promise<TestNode> {
  const kurento = new KurentoServer({ port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: ports } });
  open.push(kurento);
  const { url } = await kurento.listen();
  const registry = await MediaNodeRegistry.connect({ url: redis.url });
  open.push(registry);
  const node: TestNode = { kurento, url, load, heartbeat: undefined as unknown as MediaNodeHeartbeat };
  node.heartbeat = await MediaNodeHeartbeat.start(registry, { id, url, load: () => node.load, intervalMs: 200, ttlMs: 600 });
  open.push(node.heartbeat);
  return node;
}

async function nodesServer(): Promise<MediaNodesServer> {
  const server = await MediaNodesServer.connect({ redisUrl: redis.url, pollMs: 200, missingGraceMs: 5000 });
  open.push(server);
  return server;
}

/** Which node holds pipelines: the objects on each Kurento server. */
const objects = (nodes: TestNode[]): number[] => nodes.map((n) => n.kurento.objectCount);

describe.skipIf(!tools)('MediaNodesServer', () => {
  it('createRoom() places a room on the least-loaded registered node', async () => {
    const busy = await mediaNode('busy', [63460, 63479], { rooms: 3, participants: 9, cpu: 0.8 });
    const idle = await mediaNode('idle', [63480, 63499], { rooms: 0, participants: 0, cpu: 0.1 });
    const server: MediaServer = await nodesServer();
    expect(server.kind).toBe('nodes');
    expect(await server.ready()).toBe(true);

    const first = await server.createRoom('one');
    expect(objects([busy, idle])).toEqual([0, 1]);
    await first.close();
  });

  it('rooms placed between two heartbeats of equal nodes go to each in turn', async () => {
    const nodes = [await mediaNode('left', [63460, 63479], { rooms: 0, participants: 0, cpu: 0 }), await mediaNode('right', [63480, 63499], { rooms: 0, participants: 0, cpu: 0 })];
    // Slow beats: both rooms are placed before either node reports them.
    for (const node of nodes) await node.heartbeat.close();
    const registry = await MediaNodeRegistry.connect({ url: redis.url });
    open.push(registry);
    for (const [i, node] of nodes.entries()) {
      const id = i === 0 ? 'left' : 'right';
      await registry.announce({ id, url: node.url, beat: 1, rooms: 0, participants: 0, cpu: 0 }, 60_000);
      open.push({ close: () => registry.withdraw(id) });
    }
    const server = await nodesServer();
    const rooms = [await server.createRoom('a'), await server.createRoom('b')];
    expect(objects(nodes)).toEqual([1, 1]);
    for (const room of rooms) await room.close();
  });

  it('a node whose heartbeat stops and whose connection drops loses its rooms (onClosed), and the next room goes to a node still alive', async () => {
    const doomed = await mediaNode('doomed', [63460, 63479], { rooms: 0, participants: 0, cpu: 0 });
    const kept = await mediaNode('kept', [63480, 63499], { rooms: 0, participants: 5, cpu: 0 });
    const server = await nodesServer();
    const room = await server.createRoom('moving');
    expect(objects([doomed, kept])).toEqual([1, 0]);
    const closed: string[] = [];
    room.onClosed((reason) => closed.push(reason));

    await doomed.heartbeat.close();
    await doomed.kurento.close();
    await until(() => closed.length === 1, 10_000);
    expect(closed[0]).toMatch(/media node doomed .* stopped: its heartbeat expired/);
    expect(server.knownNodes.map((n) => n.id)).toEqual(['kept']);

    const next = await server.createRoom('moved');
    expect(kept.kurento.objectCount).toBe(1);
    await next.close();
  });

  it('a node missing from a restarted (empty) Redis while its connection is up keeps its rooms, and is listed again once it beats', async () => {
    const node = await mediaNode('steady', [63460, 63479], { rooms: 0, participants: 0, cpu: 0 });
    const server = await nodesServer();
    const room = await server.createRoom('steady');
    const closed: string[] = [];
    room.onClosed((reason) => closed.push(reason));

    await redis.restart();
    const registry = await MediaNodeRegistry.connect({ url: redis.url });
    open.push(registry);
    const deadline = Date.now() + 10_000;
    while (!(await registry.list().catch(() => [])).some((n) => n.id === 'steady')) {
      if (Date.now() > deadline) throw new Error('the node did not register again within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Polls of the signaling side went by meanwhile (every 200 ms), some of them with the node missing.
    await new Promise((r) => setTimeout(r, 600));
    expect(closed).toEqual([]);
    expect(node.kurento.objectCount).toBe(1);
    expect(await server.ready()).toBe(true);
    await room.close();
  });

  it('createRoom() with no node registered rejects with MEDIA_ERROR', async () => {
    const server = await nodesServer();
    expect(await server.ready()).toBe(false);
    await expect(server.createRoom('nowhere')).rejects.toMatchObject({ code: 'MEDIA_ERROR', message: 'no media node is registered' });
  });
});
