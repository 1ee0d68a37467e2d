import { FakePublisher, createWeriftPeer } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import { RawClient } from './testing/RawClient.js';
import { KurentoServer } from './KurentoServer.js';
import { useKurentoHarness } from './testing/harness.js';


const RANGE: [number, number] = [41000, 41499];
const h = useKurentoHarness(RANGE);
const clients: RawClient[] = [];
h.cleanup.push(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function client(target = h.url): Promise<RawClient> {
  const c = await RawClient.connect(target);
  clients.push(c);
  return c;
}

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Offer from a werift peer to an endpoint over raw JSON-RPC, candidates both ways. */
async function negotiateRaw(c: RawClient, ep: string, pc: ReturnType<typeof createWeriftPeer>): Promise<void> {
  await c.value('subscribe', { object: ep, type: 'IceCandidateFound' });
  const seen = new Set<unknown>();
  const poll = setInterval(() => {
    for (const n of c.notifications) {
      if (seen.has(n) || n.params.value.type !== 'IceCandidateFound') continue;
      seen.add(n);
      void pc.addIceCandidate(n.params.value.data.candidate as { candidate: string; sdpMid: string; sdpMLineIndex: number }).catch(() => undefined);
    }
  }, 10);
  pc.onIceCandidate.subscribe((cand) => {
    if (cand) void c.request('invoke', { object: ep, operation: 'addIceCandidate', operationParams: { candidate: { candidate: cand.candidate, sdpMid: cand.sdpMid, sdpMLineIndex: cand.sdpMLineIndex } } });
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await c.value<string>('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: pc.localDescription!.sdp } });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await c.value('invoke', { object: ep, operation: 'gatherCandidates' });
    await waitUntil(() => pc.connectionState === 'connected');
  } finally {
    clearInterval(poll);
  }
}

async function offerSdp(): Promise<string> {
  const pc = createWeriftPeer(h.stunUrl);
  new FakePublisher(1).attach(pc, 'sendrecv');
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription!.sdp;
  await pc.close();
  return sdp;
}

describe('Kurento Protocol: requests and errors', () => {
  it('ping answers pong without opening a session', async () => {
    const c = await client();
    const r = await c.request('ping', { interval: 240000 });
    expect(r.result?.value).toBe('pong');
    expect(h.server.sessionCount).toBe(0);
  });

  it('create opens a session, names objects like KMS and describe tells their class', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} });
    expect(pipeline).toMatch(/^[0-9a-f-]{36}_kurento\.MediaPipeline$/);
    expect(c.sessionId).toBeDefined();
    const ep = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    expect(ep.startsWith(`${pipeline}/`)).toBe(true);
    expect(ep).toMatch(/_kurento\.WebRtcEndpoint$/);
    const d = await c.request('describe', { object: ep });
    expect(d.result).toMatchObject({ type: 'WebRtcEndpoint', qualifiedType: 'kurento.WebRtcEndpoint' });
    expect(d.result?.hierarchy).toEqual([
      'kurento.BaseRtpEndpoint',
      'kurento.SdpEndpoint',
      'kurento.SessionEndpoint',
      'kurento.Endpoint',
      'kurento.MediaElement',
      'kurento.MediaObject',
    ]);
    expect(await c.value('invoke', { object: ep, operation: 'getMediaPipeline' })).toBe(pipeline);
    expect(await c.value('invoke', { object: pipeline, operation: 'getChildren' })).toEqual([ep]);
  });

  it('answers malformed input with the JSON-RPC codes and changes nothing', async () => {
    const c = await client();
    expect((await c.sendRaw('{not json')).error?.code).toBe(-32700);
    expect((await c.sendRaw('[1,2]')).error?.code).toBe(-32600);
    expect((await c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'fly' }), 'x')).error?.code).toBe(-32601);
    const before = h.server.objectCount;
    const badType = await c.request('create', { type: 'MediaPipeline', properties: 'nope' });
    expect(badType.error?.code).toBe(-32602);
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const badParent = await c.request('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: 42 } });
    expect(badParent.error?.code).toBe(-32602);
    const badOffer = await c.request('invoke', { object: pipeline, operation: 'getName', operationParams: [] });
    expect(badOffer.error?.code).toBe(-32602);
    expect(h.server.objectCount).toBe(before + 1);
  });

  it('unknown objects, types, operations and events get the Kurento codes', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    expect((await c.request('invoke', { object: 'nope_kurento.MediaPipeline', operation: 'getName' })).error?.code).toBe(40101);
    expect((await c.request('create', { type: 'NoSuchFilter', constructorParams: { mediaPipeline: pipeline } })).error?.code).toBe(40108);
    expect((await c.request('invoke', { object: pipeline, operation: 'fly' })).error?.code).toBe(40105);
    expect((await c.request('subscribe', { object: pipeline, type: 'Nonsense' })).error?.code).toBe(40106);
    expect((await c.request('create', { type: 'MediaElement', constructorParams: { mediaPipeline: pipeline } })).error?.code).toBe(40108);
    expect((await c.request('create', { type: 'kurento.MediaElement', constructorParams: { mediaPipeline: pipeline } })).error?.code).toBe(40108);
  });

  it('Mixer and AlphaBlending answer a clear "not supported"; Composite is created', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    expect(await c.value<string>('create', { type: 'Composite', constructorParams: { mediaPipeline: pipeline } })).toMatch(/_kurento\.Composite$/);
    for (const type of ['Mixer', 'AlphaBlending']) {
      const r = await c.request('create', { type, constructorParams: { mediaPipeline: pipeline, uri: 'file:///tmp/x.webm' } });
      expect(r.error?.code).toBe(40111);
      expect(r.error?.message).toMatch(/not supported by Roundtable yet/);
    }
  });

  it('a bad SDP offer gets an SDP error and the endpoint can still negotiate', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const ep = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const bad = await c.request('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: 'garbage' } });
    expect(bad.error?.code).toBe(40201);
    expect((await c.request('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: 5 } })).error?.code).toBe(-32602);
    const answer = await c.value<string>('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: await offerSdp() } });
    expect(answer).toMatch(/^v=0/);
  });

  it('properties are read and written with get<Prop>/set<Prop>, and tags with their methods', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const ep = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline }, properties: { name: 'alice' } });
    expect(await c.value('invoke', { object: ep, operation: 'getName' })).toBe('alice');
    await c.value('invoke', { object: ep, operation: 'setStunServerAddress', operationParams: { stunServerAddress: '127.0.0.1' } });
    await c.value('invoke', { object: ep, operation: 'setStunServerPort', operationParams: { stunServerPort: 3478 } });
    await c.value('invoke', { object: ep, operation: 'setTurnUrl', operationParams: { turnUrl: 'user:pass@127.0.0.1:3478?transport=udp' } });
    expect(await c.value('invoke', { object: ep, operation: 'getStunServerAddress' })).toBe('127.0.0.1');
    expect(await c.value('invoke', { object: ep, operation: 'getTurnUrl' })).toBe('user:pass@127.0.0.1:3478?transport=udp');
    const badTurn = await c.request('invoke', { object: ep, operation: 'setTurnUrl', operationParams: { turnUrl: 'not a h.url' } });
    expect(badTurn.error?.code).toBe(40107);
    await c.value('invoke', { object: ep, operation: 'addTag', operationParams: { key: 'room', value: 'r1' } });
    expect(await c.value('invoke', { object: ep, operation: 'getTag', operationParams: { key: 'room' } })).toBe('r1');
    expect(await c.value('invoke', { object: ep, operation: 'getTags' })).toEqual([{ __module__: 'kurento', __type__: 'Tag', key: 'room', value: 'r1' }]);
    expect((await c.request('invoke', { object: ep, operation: 'getTag', operationParams: { key: 'none' } })).error?.code).toBe(40110);
    expect((await c.request('invoke', { object: ep, operation: 'setMediaState', operationParams: { mediaState: 'CONNECTED' } })).error?.code).toBe(40105);
    expect(await c.value('invoke', { object: ep, operation: 'getMediaState' })).toBe('DISCONNECTED');
  });

  it('transaction runs its operations in order and resolves newref: references', async () => {
    const c = await client();
    await c.request('ping');
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const results = await c.value<Array<{ result?: { value?: unknown }; error?: { code: number } }>>('transaction', {
      operations: [
        { jsonrpc: '2.0', id: 0, method: 'create', params: { type: 'PassThrough', constructorParams: { mediaPipeline: pipeline } } },
        { jsonrpc: '2.0', id: 1, method: 'create', params: { type: 'PassThrough', constructorParams: { mediaPipeline: pipeline } } },
        { jsonrpc: '2.0', id: 2, method: 'invoke', params: { object: 'newref:0', operation: 'connect', operationParams: { sink: 'newref:1' } } },
        { jsonrpc: '2.0', id: 3, method: 'invoke', params: { object: 'nope', operation: 'getName' } },
      ],
    });
    expect(results).toHaveLength(4);
    const [a, b] = [results[0]!.result!.value as string, results[1]!.result!.value as string];
    expect(results[2]!.error).toBeUndefined();
    expect(results[3]!.error?.code).toBe(40101);
    const sinks = await c.value<Array<{ sink: string; type: string }>>('invoke', { object: a, operation: 'getSinkConnections' });
    expect(sinks.map((s) => [s.sink, s.type])).toEqual([
      [b, 'AUDIO'],
      [b, 'VIDEO'],
    ]);
  });

  it('accepts requests in binary frames as well as text', async () => {
    const c = await client();
    const r = await c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'create', params: { type: 'MediaPipeline' } }), 7, true);
    expect(r.result?.value).toMatch(/_kurento\.MediaPipeline$/);
  });
});

describe('Kurento Protocol: sessions', () => {
  it('sessions are isolated: one cannot see or release the objects of another', async () => {
    const a = await client();
    const b = await client();
    const pipeline = await a.value<string>('create', { type: 'MediaPipeline' });
    await b.request('ping');
    await b.value('create', { type: 'MediaPipeline' });
    expect((await b.request('release', { object: pipeline })).error?.code).toBe(40101);
    expect(await a.value('invoke', { object: pipeline, operation: 'getName' })).toBe(pipeline);
    expect(a.sessionId).not.toBe(b.sessionId);
  });

  it('a dropped socket keeps its session for connect; the objects live on', async () => {
    const a = await client();
    const pipeline = await a.value<string>('create', { type: 'MediaPipeline' });
    const sessionId = a.sessionId!;
    a.drop();
    await new Promise((r) => setTimeout(r, 100));
    const again = await client();
    const r = await again.request('connect', { sessionId });
    expect(r.result?.sessionId).toBe(sessionId);
    expect(await again.value('invoke', { object: pipeline, operation: 'getName' })).toBe(pipeline);
    expect((await again.request('connect', { sessionId: 'no-such-session' })).error?.code).toBe(40007);
  });

  it('events raised while a session has no socket are delivered when it comes back', async () => {
    const a = await client();
    const pipeline = await a.value<string>('create', { type: 'MediaPipeline' });
    const ep = await a.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    await a.value('invoke', { object: ep, operation: 'connect', operationParams: { sink: ep } });
    await a.value('subscribe', { object: ep, type: 'MediaFlowInStateChange' });
    const pc = createWeriftPeer(h.stunUrl);
    const pub = new FakePublisher(4);
    pub.attach(pc, 'sendrecv');
    try {
      await negotiateRaw(a, ep, pc);
      pub.start();
      await waitUntil(() => a.notifications.some((n) => n.params.value.data.state === 'FLOWING'));
      const sessionId = a.sessionId!;
      a.drop();
      pub.stop();
      await new Promise((r) => setTimeout(r, 3000)); // NOT_FLOWING is raised meanwhile
      const again = await client();
      await again.request('connect', { sessionId });
      await waitUntil(() => again.notifications.some((n) => n.params.value.data.state === 'NOT_FLOWING'));
    } finally {
      pub.stop();
      await pc.close();
    }
  });

  it('a session not resumed within the grace period is ended and its objects released', async () => {
    const short = new KurentoServer({ port: 0, sessionGraceMs: 200, media: { iceAddresses: ['127.0.0.1'], portRange: RANGE }, engine: h.server.engine });
    const shortUrl = (await short.listen()).url;
    try {
      const a = await client(shortUrl);
      const pipeline = await a.value<string>('create', { type: 'MediaPipeline' });
      const ep = await a.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
      await a.value('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: await offerSdp() } });
      const sessionId = a.sessionId!;
      expect(short.objectCount).toBe(2);
      a.drop();
      await new Promise((r) => setTimeout(r, 600));
      expect(short.objectCount).toBe(0);
      const again = await client(shortUrl);
      expect((await again.request('connect', { sessionId })).error?.code).toBe(40007);
    } finally {
      await short.close();
    }
  });

  it('releasing a pipeline releases its elements and frees every port they held', async () => {
    const c = await client();
    // Ports of the range (port-range mode) and registrations on the shared port (single-port mode, the default).
    const ports = h.server.engine.ports(RANGE[0], RANGE[1]);
    const held = (): number => ports.inUse + h.server.engine.sockets.all().reduce((n, mux) => n + mux.getStats().bindings, 0);
    const before = held();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const eps: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ep = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
      await c.value('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: await offerSdp() } });
      eps.push(ep);
    }
    expect(held()).toBeGreaterThanOrEqual(before + 3);
    await c.value('release', { object: pipeline });
    expect(held()).toBe(before);
    for (const ep of eps) expect((await c.request('invoke', { object: ep, operation: 'getName' })).error?.code).toBe(40101);
  });

  it('ServerManager reports server facts and announces created and destroyed objects', async () => {
    const c = await client();
    await c.request('ping');
    const info = await c.value<{ modules: Array<{ name: string; factories: string[] }> }>('invoke', { object: 'manager_ServerManager', operation: 'getInfo' });
    expect(info.modules.map((m) => m.name)).toEqual(['core', 'elements', 'filters']);
    expect(info.modules[1]!.factories).toContain('WebRtcEndpoint');
    expect(info.modules[1]!.factories).toContain('Composite');
    expect(info.modules[1]!.factories).not.toContain('Mixer');
    expect(info.modules[1]!.factories).not.toContain('ZBarFilter');
    expect([...info.modules[2]!.factories].sort()).toEqual(['FaceOverlayFilter', 'GStreamerFilter', 'ImageOverlayFilter', 'ZBarFilter']);
    expect(await c.value('invoke', { object: 'manager_ServerManager', operation: 'getCpuCount' })).toBeGreaterThan(0);
    expect(await c.value('invoke', { object: 'manager_ServerManager', operation: 'getUsedMemory' })).toBeGreaterThan(1000);
    const used = await c.value<number>('invoke', { object: 'manager_ServerManager', operation: 'getUsedCpu', operationParams: { interval: 50 } });
    expect(used).toBeGreaterThanOrEqual(0);
    await c.value('subscribe', { object: 'manager_ServerManager', type: 'ObjectCreated' });
    await c.value('subscribe', { object: 'manager_ServerManager', type: 'ObjectDestroyed' });
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    await c.value('release', { object: pipeline });
    await new Promise((r) => setTimeout(r, 50));
    const types = c.notifications.map((n) => [n.params.value.type, n.params.value.data.object ?? n.params.value.data.objectId]);
    expect(types).toEqual([
      ['ObjectCreated', pipeline],
      ['ObjectDestroyed', pipeline],
    ]);
    const sessions = await c.value<string[]>('invoke', { object: 'manager_ServerManager', operation: 'getSessions' });
    expect(sessions).toContain(c.sessionId);
  });

  it('with a shared secret, only clients that present it may connect', async () => {
    const guarded = new KurentoServer({ port: 0, secret: 's3cret', media: { iceAddresses: ['127.0.0.1'], portRange: RANGE }, engine: h.server.engine });
    const guardedUrl = (await guarded.listen()).url;
    try {
      await expect(RawClient.connect(guardedUrl)).rejects.toThrow(/401/);
      const ok = await client(`${guardedUrl}?access_token=s3cret`);
      expect((await ok.request('ping')).result?.value).toBe('pong');
    } finally {
      await guarded.close();
    }
  });
});
