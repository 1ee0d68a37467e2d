import type { AddressInfo } from 'node:net';
import { FakePublisher, StunServer, createWeriftPeer, waitForConnected } from '@roundtable/media/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';
import { WebSocketServer, type WebSocket } from 'ws';
import { KurentoServer } from '../KurentoServer.js';
import { RawClient } from '../testing/RawClient.js';
import { KurentoClient, type KurentoClientLogger, type KurentoClientOptions } from './KurentoClient.js';
import { KurentoClientError, KurentoClientErrorCode } from './KurentoClientError.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';
import type { IceComponentState } from './types.js';

const RANGE: [number, number] = [41500, 41999];
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: RANGE };
let server: KurentoServer;
let url = '';
const stun = new StunServer();
let stunUrl = '';
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  server = new KurentoServer({ port: 0, media: MEDIA });
  url = (await server.listen()).url;
  stunUrl = (await stun.listen()).url;
});
afterAll(async () => {
  await server.close();
  stun.close();
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  warnings.length = 0;
});

/** What the clients of a test logged as warnings (the console stays quiet). */
const warnings: string[] = [];
const logger: KurentoClientLogger = { info: () => undefined, debug: () => undefined, warn: (_obj, msg) => void warnings.push(msg ?? '') };

async function client(options: KurentoClientOptions = {}, target = url): Promise<KurentoClient> {
  const c = await KurentoClient.connect(target, { logger, ...options });
  cleanup.push(() => c.close());
  return c;
}

function peer(): WeriftPeerConnection {
  const pc = createWeriftPeer(stunUrl);
  cleanup.push(() => pc.close());
  return pc;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function nextEvent<T extends unknown[]>(register: (resolve: (...args: T) => void) => void, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('event did not come')), timeoutMs);
    register((...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Negotiates a werift peer with `ep` the Kurento way: offer, answer, candidates trickled both ways. */
async function negotiate(pc: WeriftPeerConnection, ep: WebRtcEndpoint): Promise<void> {
  await ep.on('IceCandidateFound', ({ candidate }) => {
    void pc.addIceCandidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex }).catch(() => undefined);
  });
  pc.onIceCandidate.subscribe((c) => {
    if (c) void ep.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 }).catch(() => undefined);
  });
  await pc.setLocalDescription(await pc.createOffer());
  const answer = await ep.processOffer(pc.localDescription!.sdp);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await ep.gatherCandidates();
  await waitForConnected(pc);
}

describe('KurentoClient against KurentoServer', () => {
  it('a WebRtcEndpoint connected to itself returns a werift peer its own media', async () => {
    const c = await client();
    const pipeline = await c.createMediaPipeline();
    const ep = await pipeline.createWebRtcEndpoint();
    await ep.connect(ep);
    const iceStates: IceComponentState[] = [];
    await ep.on('IceComponentStateChanged', (e) => iceStates.push(e.state));
    const pc = peer();
    const pub = new FakePublisher(7);
    pub.attach(pc, 'sendrecv');
    cleanup.push(() => pub.stop());
    const got: { audio: RtpPacket[]; video: RtpPacket[] } = { audio: [], video: [] };
    pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((p) => (track.kind === 'video' ? got.video : got.audio).push(p)));

    await negotiate(pc, ep);
    pub.start();

    await until(() => got.video.length > 10 && got.audio.length > 10);
    expect(new Set(got.video.map((p) => p.payload[2]))).toEqual(new Set([7]));
    await until(() => ep.isMediaFlowingIn('VIDEO'));
    const stats = await ep.getStats('VIDEO');
    const inbound = Object.values(stats).find((s) => s.type === 'inboundrtp');
    expect(inbound?.packetsReceived).toBeGreaterThan(0);
    expect(iceStates).toContain('CONNECTED');
    expect(await ep.getSinkConnections('VIDEO')).toEqual([expect.objectContaining({ source: ep.id, sink: ep.id, type: 'VIDEO' })]);
    await pipeline.release();
  });

  it('creates every element type of a pipeline, and hub ports through their hub', async () => {
    const c = await client();
    const pipeline = await c.createMediaPipeline();
    const [recv, pass, rtp] = [await pipeline.createWebRtcEndpoint({ recvonly: true }), await pipeline.createPassThrough(), await pipeline.createRtpEndpoint()];
    const dispatcher = await pipeline.createDispatcher();
    const [a, b] = [await dispatcher.createHubPort(), await dispatcher.createHubPort()];
    await dispatcher.connect(a, b);
    const one = await pipeline.createDispatcherOneToMany();
    const source = await one.createHubPort();
    await one.setSource(source);
    await one.removeSource();
    await recv.connect(pass, 'AUDIO');
    expect((await pass.getSourceConnections()).map((x) => [x.source, x.type])).toEqual([[recv.id, 'AUDIO']]);
    await recv.disconnect(pass);
    expect(await pass.getSourceConnections()).toEqual([]);
    expect((await c.describe(rtp.id)).type).toBe('RtpEndpoint');
    expect((await c.describe(a.id)).hierarchy).toContain('kurento.MediaElement');
    expect(a.parent).toBe(dispatcher);
    await pipeline.release();
    for (const obj of [recv, pass, rtp, dispatcher, a, b, one, source]) expect(obj.released).toBe(true);
  });

  it('properties go through get<Prop>/set<Prop>, tags through their methods', async () => {
    const c = await client();
    const pipeline = await c.createMediaPipeline();
    const ep = await pipeline.createWebRtcEndpoint();
    await ep.setStunServerAddress('127.0.0.1');
    await ep.setStunServerPort(3479);
    await ep.setTurnUrl('user:pass@127.0.0.1:3478?transport=udp');
    await ep.setExternalAddress('127.0.0.2');
    expect([await ep.getStunServerAddress(), await ep.getStunServerPort(), await ep.getTurnUrl(), await ep.getExternalAddress()]).toEqual([
      '127.0.0.1',
      3479,
      'user:pass@127.0.0.1:3478?transport=udp',
      '127.0.0.2',
    ]);
    await ep.setProperty('name', 'alice');
    expect(await ep.getProperty('name')).toBe('alice');
    await ep.addTag('room', 'r1');
    expect(await ep.getTag('room')).toBe('r1');
    expect(await ep.getTags()).toEqual([{ key: 'room', value: 'r1' }]);
    await ep.removeTag('room');
    await expect(ep.getTag('room')).rejects.toMatchObject({ code: 40110, type: 'MEDIA_OBJECT_TAG_KEY_NOT_FOUND' });
  });

  it('ServerManager reports server facts and announces this session\'s objects', async () => {
    const c = await client();
    const manager = c.getServerManager();
    expect(c.getServerManager()).toBe(manager);
    const created: string[] = [];
    const destroyed: string[] = [];
    await manager.on('ObjectCreated', (e) => created.push(e.object));
    await manager.on('ObjectDestroyed', (e) => destroyed.push(e.objectId));
    const pipeline = await c.createMediaPipeline();
    await pipeline.release();
    await until(() => destroyed.length > 0);
    expect(created).toEqual([pipeline.id]);
    expect(destroyed).toEqual([pipeline.id]);
    const info = await manager.getInfo();
    expect(info.modules.find((m) => m.name === 'elements')?.factories).toContain('WebRtcEndpoint');
    expect(await manager.getSessions()).toContain(c.sessionId);
    expect(Array.isArray(await manager.getPipelines())).toBe(true);
    expect(await manager.getCpuCount()).toBeGreaterThan(0);
    expect(await manager.getUsedCpu(20)).toBeGreaterThanOrEqual(0);
    expect(await manager.getUsedMemory()).toBeGreaterThan(1000);
    await expect(manager.release()).rejects.toMatchObject({ code: 40111 });
  });
});

describe('KurentoClient errors', () => {
  it('an unknown object rejects with KurentoClientError 40101 MEDIA_OBJECT_NOT_FOUND', async () => {
    const c = await client();
    const error = await c.describe('nope_kurento.MediaPipeline').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KurentoClientError);
    expect(error).toMatchObject({ code: 40101, type: 'MEDIA_OBJECT_NOT_FOUND' });
  });

  it('a bad SDP offer rejects with 40201 SDP_PARSE_ERROR and the endpoint stays usable', async () => {
    const c = await client();
    const pipeline = await c.createMediaPipeline();
    const ep = await pipeline.createWebRtcEndpoint();
    await expect(ep.processOffer('garbage')).rejects.toMatchObject({ code: 40201, type: 'SDP_PARSE_ERROR' });
    expect(await ep.getMediaState()).toBe('DISCONNECTED');
  });

  it('generateOffer() takes OfferOptions: without video it offers audio only; a second one rejects with 40208', async () => {
    const c = await client();
    const pipeline = await c.createMediaPipeline();
    const ep = await pipeline.createRtpEndpoint();

    const offer = await ep.generateOffer({ offerToReceiveVideo: false });

    expect(offer.split('\r\n').filter((l) => l.startsWith('m='))).toEqual([expect.stringMatching(/^m=audio \d+ RTP\/AVPF /)]);
    await expect(ep.generateOffer()).rejects.toMatchObject({ code: 40208, type: 'SDP_END_POINT_ALREADY_NEGOTIATED' });
  });

  it('a released object and its children reject locally with OBJECT_RELEASED; release() is idempotent', async () => {
    const c = await client();
    const pipeline = await c.createMediaPipeline();
    const ep = await pipeline.createWebRtcEndpoint();
    await pipeline.release();
    await pipeline.release();
    expect(ep.released).toBe(true);
    await expect(ep.generateOffer()).rejects.toMatchObject({ code: KurentoClientErrorCode.OBJECT_RELEASED, type: 'OBJECT_RELEASED' });
    await expect(pipeline.createPassThrough()).rejects.toMatchObject({ code: KurentoClientErrorCode.OBJECT_RELEASED });
  });

  it('a wrong access token fails connect() with CONNECTION_FAILED; the right one connects', async () => {
    const guarded = new KurentoServer({ port: 0, secret: 's3cret', media: MEDIA });
    const guardedUrl = (await guarded.listen()).url;
    try {
      await expect(KurentoClient.connect(guardedUrl, { accessToken: 'wrong' })).rejects.toMatchObject({ code: KurentoClientErrorCode.CONNECTION_FAILED, message: /401/ });
      const c = await client({ accessToken: 's3cret' }, guardedUrl);
      expect((await c.createMediaPipeline()).id).toMatch(/_kurento\.MediaPipeline$/);
      await c.close();
    } finally {
      await guarded.close();
    }
  });
});

describe('KurentoClient connection lifecycle', () => {
  it('after a dropped socket it reconnects, resumes the same session, and the pipeline and subscriptions still work', async () => {
    const c = await client({ reconnectDelayMs: 50 });
    const pipeline = await c.createMediaPipeline();
    const ep = await pipeline.createWebRtcEndpoint();
    const sessionId = c.sessionId;
    const connected: string[] = [];
    await ep.on('ElementConnected', (e) => connected.push(e.sink));
    const disconnected = nextEvent<[KurentoClientError]>((r) => c.once('disconnected', r));
    const reconnected = nextEvent<[string | undefined]>((r) => c.once('reconnected', r));

    c.dropConnectionForTest();
    // Asked while no socket is in service: waits for the new one.
    const queued = pipeline.createPassThrough();

    const [lost] = await disconnected;
    expect(lost.code).toBe(KurentoClientErrorCode.CONNECTION_LOST);
    expect(await reconnected).toEqual([sessionId]);
    expect(c.sessionId).toBe(sessionId);
    expect(c.connected).toBe(true);
    const pass = await queued;
    await ep.connect(pass);
    await until(() => connected.length > 0);
    expect(connected[0]).toBe(pass.id);
    expect(await pipeline.getName()).toBe(pipeline.id);
  });

  it('when the session expired before the reconnect, it emits sessionLost and marks the old objects released', async () => {
    const short = new KurentoServer({ port: 0, sessionGraceMs: 100, media: MEDIA });
    const shortUrl = (await short.listen()).url;
    try {
      const c = await client({ reconnectDelayMs: 800 }, shortUrl);
      const pipeline = await c.createMediaPipeline();
      const old = c.sessionId;
      const lost = nextEvent<[string]>((r) => c.once('sessionLost', r));

      c.dropConnectionForTest();

      expect(await lost).toEqual([old]);
      expect(pipeline.released).toBe(true);
      const again = await c.createMediaPipeline();
      expect(c.sessionId).toBeDefined();
      expect(c.sessionId).not.toBe(old);
      expect(again.id).not.toBe(pipeline.id);
      await c.close();
    } finally {
      await short.close();
    }
  });

  it('ping keeps a live connection in service', async () => {
    const c = await client({ pingIntervalMs: 200 });
    let drops = 0;
    c.on('disconnected', () => drops++);
    await until(() => c.lastPongAt !== undefined);
    const first = c.lastPongAt!;
    await until(() => c.lastPongAt! > first);
    await new Promise((r) => setTimeout(r, 500));
    expect(drops).toBe(0);
    expect(c.connected).toBe(true);
  });

  it('a server that stops answering pings counts as disconnected', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => silent.once('listening', r));
    try {
      const c = await client({ pingIntervalMs: 100, reconnect: false }, `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/kurento`);
      const [error] = await nextEvent<[KurentoClientError]>((r) => c.once('disconnected', r));
      expect(error.message).toMatch(/pings/);
      expect(warnings).toContain('disconnected from the media server');
      expect(c.closed).toBe(true);
      await expect(c.createMediaPipeline()).rejects.toMatchObject({ code: KurentoClientErrorCode.CONNECTION_LOST });
    } finally {
      await new Promise((r) => silent.close(r));
    }
  });

  it('close() closes the socket and releases nothing: the session and its objects remain for connect', async () => {
    const c = await client();
    const pipeline = await c.createMediaPipeline();
    await pipeline.createWebRtcEndpoint();
    const before = server.objectCount;
    const sessionId = c.sessionId!;

    await c.close();
    await c.close();

    expect(c.closed).toBe(true);
    expect(server.objectCount).toBe(before);
    await expect(pipeline.getName()).rejects.toMatchObject({ code: KurentoClientErrorCode.CLIENT_CLOSED });
    const raw = await RawClient.connect(url);
    cleanup.push(() => raw.close());
    expect((await raw.request('connect', { sessionId })).result?.sessionId).toBe(sessionId);
    expect(await raw.value('invoke', { object: pipeline.id, operation: 'getName' })).toBe(pipeline.id);
    await raw.value('release', { object: pipeline.id });
  });
});

const SILENCE = Symbol('no answer');

/** A stand-in server that records requests and answers each with `answer`, to check what goes on the wire. */
async function scriptedServer(answer: (req: { id: number; method: string; params: Record<string, unknown> }) => unknown = () => ({ value: 'ok', sessionId: 's1' })) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const requests: Array<{ method: string; params: Record<string, unknown> }> = [];
  const urls: string[] = [];
  let socket: WebSocket | undefined;
  wss.on('connection', (ws, req) => {
    socket = ws;
    urls.push(req.url ?? '');
    ws.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      const req = JSON.parse(String(data)) as { id: number; method: string; params: Record<string, unknown> };
      requests.push({ method: req.method, params: req.params });
      const result = answer(req);
      if (result !== SILENCE) ws.send(JSON.stringify({ jsonrpc: '2.0', id: req.id, result }));
    });
  });
  cleanup.push(() => new Promise((r) => wss.close(r)));
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/kurento`,
    requests,
    urls,
    notify: (value: unknown) => socket?.send(JSON.stringify({ jsonrpc: '2.0', method: 'onEvent', params: { value } })),
  };
}

describe('KurentoClient wire format', () => {
  it('sends text frames with the session id, the access token, IceCandidate complex values and setters named after the property', async () => {
    let n = 0;
    const s = await scriptedServer((req) => ({ value: req.method === 'create' ? `p${n++}_kurento.MediaPipeline` : undefined, sessionId: 'sess-1' }));
    const c = await client({ accessToken: 'tok' }, s.url);
    const pipeline = await c.createMediaPipeline();
    const ep = await pipeline.createWebRtcEndpoint({ sendonly: true });
    await ep.addIceCandidate({ candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 });
    await ep.setStunServerPort(3478);

    expect(s.urls[0]).toBe('/kurento?access_token=tok');
    expect(s.requests[0]).toEqual({ method: 'create', params: { type: 'MediaPipeline', constructorParams: {}, properties: {} } });
    expect(s.requests[1]!.params).toMatchObject({ type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline.id, sendonly: true }, sessionId: 'sess-1' });
    expect(s.requests[2]!.params).toEqual({
      object: ep.id,
      operation: 'addIceCandidate',
      operationParams: { candidate: { __module__: 'kurento', __type__: 'IceCandidate', candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } },
      sessionId: 'sess-1',
    });
    expect(s.requests[3]!.params).toMatchObject({ operation: 'setStunServerPort', operationParams: { stunServerPort: 3478 } });
  });

  it('subscribes on the first listener, unsubscribes with the last, and delivers 6.13 event names under the 7.x ones', async () => {
    let sub = 0;
    const s = await scriptedServer((req) => {
      if (req.method === 'create') return { value: req.params.type === 'MediaPipeline' ? 'p_kurento.MediaPipeline' : 'p_kurento.MediaPipeline/e_kurento.PassThrough', sessionId: 's' };
      if (req.method === 'subscribe') return { value: `sub-${sub++}`, sessionId: 's' };
      return { sessionId: 's' };
    });
    const c = await client({}, s.url);
    const pass = await (await c.createMediaPipeline()).createPassThrough();
    const got: string[] = [];
    const a = (e: { state: string }): void => void got.push(`a:${e.state}`);
    const b = (e: { state: string }): void => void got.push(`b:${e.state}`);
    await Promise.all([pass.on('MediaFlowInStateChanged', a), pass.on('MediaFlowInStateChanged', b)]);
    expect(s.requests.filter((r) => r.method === 'subscribe').map((r) => r.params.type)).toEqual(['MediaFlowInStateChanged']);

    s.notify({ object: pass.id, type: 'MediaFlowInStateChange', data: { source: pass.id, type: 'MediaFlowInStateChange', state: 'FLOWING', padName: 'default', mediaType: 'VIDEO' } });
    await until(() => got.length === 2);
    await pass.off('MediaFlowInStateChanged', a);
    expect(s.requests.some((r) => r.method === 'unsubscribe')).toBe(false);
    await pass.off('MediaFlowInStateChanged', b);

    expect(got).toEqual(['a:FLOWING', 'b:FLOWING']);
    expect(s.requests.filter((r) => r.method === 'unsubscribe').map((r) => r.params)).toEqual([{ object: pass.id, subscription: 'sub-0', sessionId: 's' }]);
    expect(pass.listenerCount('MediaFlowInStateChanged')).toBe(0);
  });

  it('a request unanswered within requestTimeoutMs rejects with REQUEST_TIMEOUT; a late answer is ignored', async () => {
    const s = await scriptedServer((req) => (req.params.object === 'slow' ? SILENCE : { type: 'MediaPipeline', hierarchy: ['kurento.MediaObject'], qualifiedType: 'kurento.MediaPipeline', sessionId: 's' }));
    const c = await client({ requestTimeoutMs: 100, pingIntervalMs: 0 }, s.url);
    const errors: KurentoClientError[] = [];
    c.on('error', (e) => errors.push(e));
    await expect(c.describe('slow')).rejects.toMatchObject({ code: KurentoClientErrorCode.REQUEST_TIMEOUT, type: 'REQUEST_TIMEOUT' });
    expect(await c.describe('fast')).toEqual({ type: 'MediaPipeline', hierarchy: ['kurento.MediaObject'], qualifiedType: 'kurento.MediaPipeline' });
    expect(errors).toEqual([]);
  });

  it('a malformed event is reported on the client, not to the listeners', async () => {
    const s = await scriptedServer((req) => ({ value: req.method === 'subscribe' ? 'sub' : 'p_kurento.MediaPipeline', sessionId: 's' }));
    const c = await client({}, s.url);
    const pipeline = await c.createMediaPipeline();
    const manager = c.getServerManager();
    const created: string[] = [];
    await manager.on('ObjectCreated', (e) => created.push(e.object));
    const error = nextEvent<[KurentoClientError]>((r) => c.once('error', r));
    s.notify({ object: manager.id, type: 'ObjectCreated', data: { source: manager.id, type: 'ObjectCreated', object: 42 } });
    expect((await error)[0].code).toBe(KurentoClientErrorCode.INVALID_MESSAGE);
    s.notify({ object: manager.id, type: 'ObjectCreated', data: { source: manager.id, type: 'ObjectCreated', object: pipeline.id } });
    await until(() => created.length === 1);
    expect(created).toEqual([pipeline.id]);
  });

  it('a listener that throws is logged and the other listeners still get the event', async () => {
    const s = await scriptedServer((req) => ({ value: req.method === 'subscribe' ? 'sub' : 'p_kurento.MediaPipeline', sessionId: 's' }));
    const c = await client({}, s.url);
    const pipeline = await c.createMediaPipeline();
    const manager = c.getServerManager();
    const seen: string[] = [];
    await manager.on('ObjectDestroyed', () => {
      throw new Error('bad listener');
    });
    await manager.on('ObjectDestroyed', (e) => seen.push(e.objectId));
    s.notify({ object: manager.id, type: 'ObjectDestroyed', data: { source: manager.id, type: 'ObjectDestroyed', objectId: pipeline.id } });
    await until(() => seen.length === 1);
    expect(warnings).toEqual(['a listener threw']);
  });
});
