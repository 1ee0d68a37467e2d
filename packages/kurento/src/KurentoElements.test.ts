import { FakePublisher, createWeriftPeer, waitForConnected } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { RawClient } from './testing/RawClient.js';
import { useKurentoHarness } from './testing/harness.js';
import { receivedBy, until, type Received } from './testing/kurentoPeers.js';

const RANGE: [number, number] = [40500, 40999];
const h = useKurentoHarness(RANGE);
const cleanup = h.cleanup;

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(h.url);
  cleanup.push(() => c.close());
  return c;
}

/** Negotiates a werift peer with a WebRtcEndpoint over raw JSON-RPC, trickling through events. */
async function attach(c: RawClient, ep: string, pc: WeriftPeerConnection): Promise<void> {
  await c.value('subscribe', { object: ep, type: 'IceCandidateFound' });
  const seen = new Set<unknown>();
  const poll = setInterval(() => {
    for (const n of c.notifications) {
      if (seen.has(n) || n.params.value.object !== ep || n.params.value.type !== 'IceCandidateFound') continue;
      seen.add(n);
      const cand = n.params.value.data.candidate as { candidate: string; sdpMid: string; sdpMLineIndex: number };
      void pc.addIceCandidate(cand).catch(() => undefined);
    }
  }, 10);
  cleanup.push(() => clearInterval(poll));
  pc.onIceCandidate.subscribe((cand) => {
    if (cand) {
      void c.request('invoke', {
        object: ep,
        operation: 'addIceCandidate',
        operationParams: { candidate: { __module__: 'kurento', __type__: 'IceCandidate', candidate: cand.candidate, sdpMid: cand.sdpMid, sdpMLineIndex: cand.sdpMLineIndex } },
      });
    }
  });
  await pc.setLocalDescription(await pc.createOffer());
  const answer = await c.value<string>('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: pc.localDescription!.sdp } });
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await c.value('invoke', { object: ep, operation: 'gatherCandidates' });
  await waitForConnected(pc);
}

function publisherPeer(tag: number): { pc: WeriftPeerConnection; pub: FakePublisher } {
  const pc = createWeriftPeer(h.stunUrl);
  const pub = new FakePublisher(tag);
  pub.attach(pc, 'sendonly');
  cleanup.push(() => pc.close(), () => pub.stop());
  return { pc, pub };
}

function viewer(): { pc: WeriftPeerConnection; got: Received } {
  const pc = createWeriftPeer(h.stunUrl);
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  cleanup.push(() => pc.close());
  return { pc, got: receivedBy(pc) };
}

const tags = (got: Received): number[] => [...new Set(got.video.map((p) => p.payload[2]!))];

describe('Kurento elements over the protocol', () => {
  it('the 6.13 event names and the deprecated aliases are delivered like the current ones', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const ep = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    await c.value('invoke', { object: ep, operation: 'connect', operationParams: { sink: ep } });
    for (const type of ['OnIceCandidate', 'OnIceGatheringDone', 'OnIceComponentStateChanged', 'IceComponentStateChange', 'MediaFlowInStateChange', 'MediaFlowOutStateChange', 'OnDataChannelOpened', 'OnDataChannelClosed']) {
      expect((await c.request('subscribe', { object: ep, type })).error, type).toBeUndefined();
    }
    const { pc, pub } = publisherPeer(5);
    await attach(c, ep, pc);
    pub.start();
    const types = (): Set<string> => new Set(c.notifications.filter((n) => n.params.value.object === ep).map((n) => n.params.value.type));
    await until(() => ['OnIceCandidate', 'OnIceGatheringDone', 'OnIceComponentStateChanged', 'IceComponentStateChange', 'MediaFlowInStateChange'].every((t) => types().has(t)));
    const alias = c.notifications.find((n) => n.params.value.type === 'OnIceCandidate')!;
    expect(alias.params.value.data).toMatchObject({ source: ep, type: 'OnIceCandidate', candidate: { __module__: 'kurento', __type__: 'IceCandidate' } });
    expect(typeof alias.params.value.data.timestampMillis).toBe('string');
  });

  it('PassThrough and connect with mediaType route only the chosen kind', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const src = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const pass = await c.value<string>('create', { type: 'PassThrough', constructorParams: { mediaPipeline: pipeline } });
    const out = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline, sendonly: true } });
    await c.value('invoke', { object: src, operation: 'connect', operationParams: { sink: pass } });
    await c.value('invoke', { object: pass, operation: 'connect', operationParams: { sink: out, mediaType: 'VIDEO' } });
    const sources = await c.value<Array<{ source: string; type: string }>>('invoke', { object: out, operation: 'getSourceConnections' });
    expect(sources).toEqual([expect.objectContaining({ source: pass, sink: out, type: 'VIDEO', __type__: 'ElementConnectionData' })]);
    const p = publisherPeer(6);
    const v = viewer();
    await attach(c, src, p.pc);
    await attach(c, out, v.pc);
    p.pub.start();
    await until(() => v.got.video.length > 10);
    expect(tags(v.got)).toEqual([6]);
    expect(v.got.audio).toHaveLength(0);
    // The pipeline updates its flowing states on a timer (every 500 ms): wait for the flag, then check it.
    const flowingIn = (): Promise<boolean> => c.value<boolean>('invoke', { object: pass, operation: 'isMediaFlowingIn', operationParams: { mediaType: 'VIDEO' } });
    for (const deadline = Date.now() + 15_000; !(await flowingIn()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(await flowingIn()).toBe(true);
    expect((await c.request('invoke', { object: pass, operation: 'connect', operationParams: { sink: pass } })).error?.code).toBe(40107);
  });

  it('Dispatcher routes one port to another, and DispatcherOneToMany one source to all other ports', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const dispatcher = await c.value<string>('create', { type: 'Dispatcher', constructorParams: { mediaPipeline: pipeline } });
    const one = await c.value<string>('create', { type: 'DispatcherOneToMany', constructorParams: { mediaPipeline: pipeline } });
    const portIn = await c.value<string>('create', { type: 'HubPort', constructorParams: { hub: dispatcher } });
    const portOut = await c.value<string>('create', { type: 'HubPort', constructorParams: { hub: dispatcher } });
    expect(portIn.startsWith(`${dispatcher}/`)).toBe(true);
    const src = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const out = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    await c.value('invoke', { object: src, operation: 'connect', operationParams: { sink: portIn } });
    await c.value('invoke', { object: portOut, operation: 'connect', operationParams: { sink: out } });
    await c.value('invoke', { object: dispatcher, operation: 'connect', operationParams: { source: portIn, sink: portOut } });
    // A port of another hub is refused.
    const foreign = await c.value<string>('create', { type: 'HubPort', constructorParams: { hub: one } });
    expect((await c.request('invoke', { object: dispatcher, operation: 'connect', operationParams: { source: foreign, sink: portOut } })).error?.code).toBe(40107);

    // DispatcherOneToMany: the source port feeds the other ports.
    const src2 = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const out2 = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const viewerPort = await c.value<string>('create', { type: 'HubPort', constructorParams: { hub: one } });
    await c.value('invoke', { object: src2, operation: 'connect', operationParams: { sink: foreign } });
    await c.value('invoke', { object: viewerPort, operation: 'connect', operationParams: { sink: out2 } });
    await c.value('invoke', { object: one, operation: 'setSource', operationParams: { source: foreign } });

    const [p1, p2, v1, v2] = [publisherPeer(7), publisherPeer(8), viewer(), viewer()];
    await attach(c, src, p1.pc);
    await attach(c, src2, p2.pc);
    await attach(c, out, v1.pc);
    await attach(c, out2, v2.pc);
    p1.pub.start();
    p2.pub.start();
    await until(() => v1.got.video.length > 10 && v2.got.video.length > 10);
    expect(tags(v1.got)).toEqual([7]);
    expect(tags(v2.got)).toEqual([8]);
    await c.value('invoke', { object: one, operation: 'removeSource' });
    await c.value('release', { object: dispatcher });
    expect((await c.request('invoke', { object: portIn, operation: 'getName' })).error?.code).toBe(40101);
  });

  it('RtpEndpoint negotiates plain RTP; two of them carry media between WebRTC peers', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const rtpA = await c.value<string>('create', { type: 'RtpEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const rtpB = await c.value<string>('create', { type: 'RtpEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const offer = await c.value<string>('invoke', { object: rtpA, operation: 'generateOffer' });
    expect(offer).toMatch(/RTP\/AVPF? /);
    const answer = await c.value<string>('invoke', { object: rtpB, operation: 'processOffer', operationParams: { offer } });
    await c.value('invoke', { object: rtpA, operation: 'processAnswer', operationParams: { answer } });
    const src = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const out = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    await c.value('invoke', { object: src, operation: 'connect', operationParams: { sink: rtpA } });
    await c.value('invoke', { object: rtpB, operation: 'connect', operationParams: { sink: out } });
    const p = publisherPeer(9);
    const v = viewer();
    await attach(c, src, p.pc);
    await attach(c, out, v.pc);
    p.pub.start();
    await until(() => v.got.video.length > 10 && v.got.audio.length > 10);
    expect(tags(v.got)).toEqual([9]);
    const crypto = await c.request('create', { type: 'RtpEndpoint', constructorParams: { mediaPipeline: pipeline, crypto: { crypto: 'AES_128_CM_HMAC_SHA1_80', key: '0123456789012345678901234567890' } } });
    expect(crypto.error?.code).toBe(40111);
  });

  it('a WebRtcEndpoint with useDataChannels connected to itself with DATA echoes its peer, and raises the DataChannel events', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const ep = await c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline, useDataChannels: true } });
    await c.value('invoke', { object: ep, operation: 'connect', operationParams: { sink: ep, mediaType: 'DATA' } });
    for (const type of ['DataChannelOpen', 'OnDataChannelOpened', 'DataChannelClose']) await c.value('subscribe', { object: ep, type });
    const pc = createWeriftPeer(h.stunUrl);
    cleanup.push(() => pc.close());
    pc.addTransceiver('audio', { direction: 'sendrecv' });
    const channel = pc.createDataChannel('chat');
    const echoed: string[] = [];
    channel.onMessage.subscribe((data) => echoed.push(data.toString()));
    const events = (type: string): Array<Record<string, unknown>> =>
      c.notifications.filter((n) => n.params.value.object === ep && n.params.value.type === type).map((n) => n.params.value.data);

    await attach(c, ep, pc);
    await until(() => events('DataChannelOpen').length === 1 && channel.readyState === 'open');
    channel.send('ping');
    await until(() => echoed.length === 1);

    expect(echoed).toEqual(['ping']);
    const channelId = events('DataChannelOpen')[0]!.channelId;
    expect(channelId).toBe(channel.id);
    expect(events('OnDataChannelOpened')[0]).toMatchObject({ channelId, type: 'OnDataChannelOpened' });

    await c.value('invoke', { object: ep, operation: 'createDataChannel', operationParams: { label: 'server', ordered: true, maxPacketLifeTime: -1, maxRetransmits: -1, protocol: '' } });
    await until(() => events('DataChannelOpen').length === 2);
    const serverChannel = events('DataChannelOpen')[1]!.channelId;
    await c.value('invoke', { object: ep, operation: 'closeDataChannel', operationParams: { channelId: serverChannel } });
    await until(() => events('DataChannelClose').length === 1);
    expect(events('DataChannelClose')[0]).toMatchObject({ channelId: serverChannel });

    const unknown = await c.request('invoke', { object: ep, operation: 'closeDataChannel', operationParams: { channelId: 999 } });
    expect(unknown.error?.code).toBe(40107);
  });

  it('connect without mediaType between WebRtcEndpoints with useDataChannels forwards data too', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const create = (): Promise<string> => c.value<string>('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline, useDataChannels: true } });
    const [a, b] = [await create(), await create()];
    await c.value('invoke', { object: a, operation: 'connect', operationParams: { sink: b } });
    const peers = [a, b].map(() => {
      const pc = createWeriftPeer(h.stunUrl);
      cleanup.push(() => pc.close());
      pc.addTransceiver('audio', { direction: 'sendrecv' });
      return { pc, channel: pc.createDataChannel('chat') };
    });
    const got: string[] = [];
    peers[1]!.channel.onMessage.subscribe((data) => got.push(data.toString()));

    await Promise.all([attach(c, a, peers[0]!.pc), attach(c, b, peers[1]!.pc)]);
    await until(() => peers.every((p) => p.channel.readyState === 'open'));
    peers[0]!.channel.send('to b');
    await until(() => got.length === 1);

    expect(got).toEqual(['to b']);
  });
});
