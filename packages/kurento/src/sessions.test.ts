import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import kurentoClient from 'kurento-client';
import { afterEach, describe, expect, it } from 'vitest';
import { KurentoServer } from './KurentoServer.js';
import { RawClient } from './testing/RawClient.js';
import { until } from './testing/kurentoPeers.js';

const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [62250, 62299] as [number, number] };
const GRACE_MS = 400;
const MANAGER = 'manager_ServerManager';

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

async function server(): Promise<{ kurento: KurentoServer; url: string }> {
  const kurento = new KurentoServer({ port: 0, sessionGraceMs: GRACE_MS, media: MEDIA });
  const { url } = await kurento.listen();
  opened.push(kurento);
  return { kurento, url };
}

async function client(url: string): Promise<RawClient> {
  const c = await RawClient.connect(url);
  opened.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A session with a pipeline and two PassThroughs, subscribed to the first one's ElementConnected. */
async function owner(url: string): Promise<{ c: RawClient; sessionId: string; pipeline: string; a: string; b: string }> {
  const c = await client(url);
  const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
  const a = await c.value<string>('create', { type: 'PassThrough', constructorParams: { mediaPipeline: pipeline } });
  const b = await c.value<string>('create', { type: 'PassThrough', constructorParams: { mediaPipeline: pipeline } });
  await c.value('subscribe', { object: a, type: 'ElementConnected' });
  return { c, sessionId: c.sessionId!, pipeline, a, b };
}

describe('Kurento sessions: a connection acts only for its own session', () => {
  it('another connection naming a live session, or connecting to it, gets 40007 and changes nothing of it', async () => {
    const { kurento, url } = await server();
    const o = await owner(url);
    const intruder = await client(url);
    await intruder.value('create', { type: 'MediaPipeline' });
    const intruderSession = intruder.sessionId;
    const objects = kurento.objectCount;

    const attempts = [
      intruder.request('connect', { sessionId: o.sessionId }, false),
      intruder.request('invoke', { object: o.pipeline, operation: 'getName', sessionId: o.sessionId }, false),
      intruder.request('create', { type: 'PassThrough', constructorParams: { mediaPipeline: o.pipeline }, sessionId: o.sessionId }, false),
      intruder.request('subscribe', { object: o.b, type: 'ElementConnected', sessionId: o.sessionId }, false),
      intruder.request('release', { object: o.b, sessionId: o.sessionId }, false),
      intruder.request('describe', { object: o.a, sessionId: o.sessionId }, false),
      intruder.request('closeSession', { sessionId: o.sessionId }, false),
      intruder.request('transaction', { operations: [{ jsonrpc: '2.0', id: 0, method: 'release', params: { object: o.a } }], sessionId: o.sessionId }, false),
    ];
    for (const r of await Promise.all(attempts)) {
      expect(r.error?.code).toBe(40007);
      expect(r.error?.data?.type).toBe('INVALID_SESSION');
    }
    // Without the id, the owner's objects are not even visible.
    expect((await intruder.request('release', { object: o.a })).error?.code).toBe(40101);
    expect(intruder.sessionId).toBe(intruderSession);
    expect(kurento.objectCount).toBe(objects);

    // The intruder leaves: the owner's session does not start to expire, and its events still reach it.
    await intruder.close();
    await sleep(GRACE_MS * 2);
    expect(kurento.objectCount).toBe(objects - 1);
    expect(await o.c.value('invoke', { object: o.pipeline, operation: 'getName' })).toBe(o.pipeline);
    await o.c.value('invoke', { object: o.a, operation: 'connect', operationParams: { sink: o.b } });
    await until(() => o.c.notifications.some((n) => n.params.value.type === 'ElementConnected' && n.params.value.data.sink === o.b));
    expect(intruder.notifications).toEqual([]);

    // And it keeps its own expiry: once its owner drops, it ends after the grace period.
    o.c.drop();
    await until(() => kurento.sessionCount === 0, GRACE_MS * 5);
    expect(kurento.objectCount).toBe(0);
  });

  it('a dropped session is resumed within its grace period by its id, by connect or by any request', async () => {
    const { kurento, url } = await server();
    const o = await owner(url);
    o.c.drop();
    await sleep(50);
    const back = await client(url);
    expect((await back.request('connect', { sessionId: o.sessionId })).result?.sessionId).toBe(o.sessionId);
    // Now it is the resumer's: a third connection is refused.
    const third = await client(url);
    expect((await third.request('connect', { sessionId: o.sessionId })).error?.code).toBe(40007);
    back.drop();
    await sleep(50);
    expect((await third.request('invoke', { object: o.pipeline, operation: 'getName', sessionId: o.sessionId })).result?.value).toBe(o.pipeline);
    expect(third.sessionId).toBe(o.sessionId);
    expect(kurento.objectCount).toBe(3);
    // Events raised while it was dropped are delivered to whoever resumed it.
    await third.value('invoke', { object: o.a, operation: 'connect', operationParams: { sink: o.b } });
    await until(() => third.notifications.some((n) => n.params.value.type === 'ElementConnected'));
  });

  it('a connection that resumes another session leaves its own to expire', async () => {
    const { kurento, url } = await server();
    const o = await owner(url);
    o.c.drop();
    const other = await client(url);
    await other.value('create', { type: 'MediaPipeline' });
    expect(kurento.sessionCount).toBe(2);
    expect((await other.request('connect', { sessionId: o.sessionId })).result?.sessionId).toBe(o.sessionId);
    await until(() => kurento.sessionCount === 1, GRACE_MS * 5);
    expect(kurento.objectCount).toBe(3);
  });

  it('every session expires after its grace period, whoever touched it', async () => {
    const { kurento, url } = await server();
    const o = await owner(url);
    o.c.drop();
    await sleep(50);
    // A connection with a session of its own touches the dropped one (a request naming it), then leaves.
    const touch = await client(url);
    await touch.value('create', { type: 'MediaPipeline' });
    expect((await touch.request('invoke', { object: o.pipeline, operation: 'getName', sessionId: o.sessionId })).result?.sessionId).toBe(o.sessionId);
    await touch.close();
    const start = Date.now();
    await until(() => kurento.sessionCount === 0, GRACE_MS * 5);
    expect(Date.now() - start).toBeGreaterThanOrEqual(GRACE_MS - 50);
    expect(kurento.objectCount).toBe(0);
    const late = await client(url);
    expect((await late.request('connect', { sessionId: o.sessionId })).error?.code).toBe(40007);
    expect((await late.request('invoke', { object: o.pipeline, operation: 'getName', sessionId: o.sessionId })).error?.code).toBe(40007);
    expect(late.sessionId).toBeUndefined();
  });

  it('a bad sessionId gets the JSON-RPC or KMS code and opens nothing', async () => {
    const { kurento, url } = await server();
    const c = await client(url);
    expect((await c.request('connect', { sessionId: 42 })).error?.code).toBe(-32602);
    expect((await c.request('connect', { sessionId: 'no-such-session' })).error?.code).toBe(40007);
    expect((await c.request('create', { type: 'MediaPipeline', sessionId: 'no-such-session' })).error?.code).toBe(40007);
    expect(kurento.sessionCount).toBe(0);
    expect(kurento.objectCount).toBe(0);
  });
});

describe('Kurento sessions: the ServerManager shows each session only its own', () => {
  it('getSessions and getPipelines (and their properties) list the caller\'s own session and pipelines', async () => {
    const { url } = await server();
    const a = await client(url);
    const b = await client(url);
    const pa = await a.value<string>('create', { type: 'MediaPipeline' });
    const pb = await b.value<string>('create', { type: 'MediaPipeline' });
    await b.value('create', { type: 'PassThrough', constructorParams: { mediaPipeline: pb } });
    expect(await a.value('invoke', { object: MANAGER, operation: 'getSessions' })).toEqual([a.sessionId]);
    expect(await b.value('invoke', { object: MANAGER, operation: 'getSessions' })).toEqual([b.sessionId]);
    expect(await a.value('invoke', { object: MANAGER, operation: 'getPipelines' })).toEqual([pa]);
    expect(await b.value('invoke', { object: MANAGER, operation: 'getPipelines' })).toEqual([pb]);
    for (const pipeline of await a.value<string[]>('invoke', { object: MANAGER, operation: 'getPipelines' })) {
      expect((await a.request('describe', { object: pipeline })).result?.type).toBe('MediaPipeline');
    }
  });
});

/** A TCP relay to the server whose connections can all be cut at once. */
async function relay(targetPort: number): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const tcp = createServer((down) => {
    const up = tcpConnect(targetPort, '127.0.0.1');
    const end = (): void => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', end).on('close', end);
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(tcp.address() as AddressInfo).port}/kurento`,
    // Both ends see the connection end (FIN), as when a middlebox drops it.
    cut: () => {
      for (const s of [...sockets]) s.end();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of [...sockets]) s.end();
        tcp.close(() => resolve());
      }),
  };
}

describe('Kurento sessions: the official client', () => {
  it('after a network failure, kurento-client reconnects, resumes its session and its objects and events go on', async () => {
    const kurento = new KurentoServer({ port: 0, media: MEDIA });
    const { port } = await kurento.listen();
    opened.push(kurento);
    const net = await relay(port);
    opened.push(net);
    const client = await kurentoClient(net.url, { failAfter: 5 });
    opened.push({ close: () => client.close() });
    const pipeline = await client.create('MediaPipeline');
    const [a, b] = [await pipeline.create('PassThrough'), await pipeline.create('PassThrough')];
    const connected: Array<Record<string, unknown>> = [];
    a.on('ElementConnected', (event) => connected.push(event));
    // The subscription is sent before this request: once answered, it is in place.
    await (a.getName as () => Promise<string>)();
    const sessionId = client.sessionId;
    const reconnected = new Promise<unknown>((resolve) => client.on('reconnected', resolve));

    net.cut();

    expect(await reconnected).toBe(true);
    expect(client.sessionId).toBe(sessionId);
    await a.connect(b);
    await until(() => connected.length === 2);
    expect(connected.map((e) => [e.sink, e.mediaType])).toEqual([
      [b.id, 'AUDIO'],
      [b.id, 'VIDEO'],
    ]);
    expect(kurento.sessionCount).toBe(1);
  });
});
