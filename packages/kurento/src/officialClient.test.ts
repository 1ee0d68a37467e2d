import type { KurentoClientInstance, KurentoElement } from 'kurento-client';
import { FakePublisher, createWeriftPeer } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { useKurentoHarness } from './testing/harness.js';
import { connectThroughKurento, receivedBy, until, viewerPeer, type Received } from './testing/kurentoPeers.js';


const RANGE: [number, number] = [49500, 49999];
const h = useKurentoHarness(RANGE);
const cleanup = h.cleanup;

const kurento = (): Promise<KurentoClientInstance> => h.officialClient();

function peer(): WeriftPeerConnection {
  const pc = createWeriftPeer(h.stunUrl);
  cleanup.push(() => pc.close());
  return pc;
}

function publisher(tag: number, direction: 'sendonly' | 'sendrecv'): { pc: WeriftPeerConnection; pub: FakePublisher; got: Received } {
  const pc = peer();
  const pub = new FakePublisher(tag);
  pub.attach(pc, direction);
  cleanup.push(() => pub.stop());
  return { pc, pub, got: receivedBy(pc) };
}

const tagsOf = (got: Received): Set<number> => new Set(got.video.map((p) => p.payload[2]!));
const count = (got: Received, tag: number): number => got.video.filter((p) => p.payload[2] === tag).length;

describe('the Kurento tutorials, driven by the official kurento-client', () => {
  it('hello world: a WebRtcEndpoint connected to itself returns the peer its own media', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const ep = await pipeline.create('WebRtcEndpoint');
    const me = publisher(1, 'sendrecv');
    await ep.connect(ep);
    await connectThroughKurento(me.pc, ep);
    me.pub.start();
    await until(() => me.got.video.length > 10 && me.got.audio.length > 10);
    expect(tagsOf(me.got)).toEqual(new Set([1]));
    await pipeline.release();
  });

  it('one-to-one call: two endpoints connected both ways; each peer receives the other', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const [caller, callee] = [await pipeline.create('WebRtcEndpoint'), await pipeline.create('WebRtcEndpoint')];
    const a = publisher(1, 'sendrecv');
    const b = publisher(2, 'sendrecv');
    await caller.connect(callee);
    await callee.connect(caller);
    await Promise.all([connectThroughKurento(a.pc, caller), connectThroughKurento(b.pc, callee)]);
    a.pub.start();
    b.pub.start();
    await until(() => a.got.video.length > 10 && b.got.video.length > 10 && a.got.audio.length > 10 && b.got.audio.length > 10);
    expect(tagsOf(a.got)).toEqual(new Set([2]));
    expect(tagsOf(b.got)).toEqual(new Set([1]));
    await pipeline.release();
  });

  it('one-to-many: a presenter feeds five viewers', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const presenterEp = await pipeline.create('WebRtcEndpoint');
    const presenter = publisher(9, 'sendonly');
    await connectThroughKurento(presenter.pc, presenterEp);
    const viewers: Received[] = [];
    for (let i = 0; i < 5; i++) {
      const ep = await pipeline.create('WebRtcEndpoint');
      const v = viewerPeer(h.stunUrl);
      cleanup.push(() => v.pc.close());
      await presenterEp.connect(ep);
      await connectThroughKurento(v.pc, ep);
      viewers.push(v.got);
    }
    presenter.pub.start();
    await until(() => viewers.every((g) => g.video.length > 10 && g.audio.length > 10));
    for (const g of viewers) expect(tagsOf(g)).toEqual(new Set([9]));
    const sinks = await presenterEp.getSinkConnections('VIDEO');
    expect(sinks).toHaveLength(5);
    await pipeline.release();
  });

  it('group call of 4: one outgoing and one incoming endpoint per other participant; a leaver is released, the rest go on', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const names = [1, 2, 3, 4];
    const outgoing = new Map<number, KurentoElement>();
    const publishers = new Map<number, ReturnType<typeof publisher>>();
    // incoming[receiver][sender]
    const incoming = new Map<number, Map<number, { ep: KurentoElement; got: Received }>>();
    for (const n of names) {
      const ep = await pipeline.create('WebRtcEndpoint');
      const p = publisher(n, 'sendonly');
      await connectThroughKurento(p.pc, ep);
      outgoing.set(n, ep);
      publishers.set(n, p);
      incoming.set(n, new Map());
    }
    for (const receiver of names) {
      for (const sender of names) {
        if (sender === receiver) continue;
        const ep = await pipeline.create('WebRtcEndpoint');
        const v = viewerPeer(h.stunUrl);
        cleanup.push(() => v.pc.close());
        await outgoing.get(sender)!.connect(ep);
        await connectThroughKurento(v.pc, ep);
        incoming.get(receiver)!.set(sender, { ep, got: v.got });
      }
    }
    for (const p of publishers.values()) p.pub.start();
    const everyone = () => [...incoming.values()].flatMap((m) => [...m.entries()]);
    await until(() => everyone().every(([, r]) => r.got.video.length > 5 && r.got.audio.length > 5), 30_000);
    for (const [receiver, m] of incoming) for (const [sender, r] of m) expect(tagsOf(r.got), `${receiver} from ${sender}`).toEqual(new Set([sender]));

    // Participant 1 leaves: its outgoing endpoint and its incoming endpoints are released.
    // Ports of the range (port-range mode) and registrations on the shared port (single-port mode, the default).
    const ports = h.server.engine.ports(RANGE[0], RANGE[1]);
    const held = (): number => ports.inUse + h.server.engine.sockets.all().reduce((n, mux) => n + mux.getStats().bindings, 0);
    const portsBefore = held();
    publishers.get(1)!.pub.stop();
    await outgoing.get(1)!.release();
    for (const r of incoming.get(1)!.values()) await r.ep.release();
    for (const receiver of [2, 3, 4]) {
      await incoming.get(receiver)!.get(1)!.ep.release();
    }
    expect(held()).toBeLessThanOrEqual(portsBefore - 7); // seven endpoints released, each held at least one
    const marks = new Map<string, number>();
    for (const receiver of [2, 3, 4]) for (const sender of [2, 3, 4]) if (sender !== receiver) marks.set(`${receiver}<${sender}`, count(incoming.get(receiver)!.get(sender)!.got, sender));
    await until(() =>
      [...marks].every(([key, before]) => {
        const [receiver, sender] = key.split('<').map(Number) as [number, number];
        return count(incoming.get(receiver)!.get(sender)!.got, sender) > before + 10;
      }),
    );
    const sinks = await outgoing.get(2)!.getSinkConnections('VIDEO');
    expect(sinks).toHaveLength(2);
    await pipeline.release();
  }, 90_000);
});

describe('WebRtcEndpoint events through the official client', () => {
  it('arrive in the order the Kurento documentation gives', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const ep = await pipeline.create('WebRtcEndpoint');
    const seen: string[] = [];
    const note = (name: string, detail?: (e: Record<string, unknown>) => string) => (e: Record<string, unknown>) => {
      seen.push(detail ? `${name}:${detail(e)}` : name);
    };
    ep.on('IceComponentStateChanged', note('IceComponentStateChange', (e) => String(e.state)));
    ep.on('IceGatheringDone', note('IceGatheringDone'));
    ep.on('NewCandidatePairSelected', note('NewCandidatePairSelected'));
    ep.on('MediaStateChanged', note('MediaStateChanged', (e) => String(e.newState)));
    ep.on('MediaFlowInStateChanged', note('MediaFlowInStateChange', (e) => `${String(e.mediaType)}:${String(e.state)}`));
    ep.on('MediaFlowOutStateChanged', note('MediaFlowOutStateChange', (e) => `${String(e.mediaType)}:${String(e.state)}`));
    const me = publisher(3, 'sendrecv');
    ep.on('IceCandidateFound', note('IceCandidateFound'));
    await ep.connect(ep);
    await connectThroughKurento(me.pc, ep);
    me.pub.start();
    await until(() => seen.includes('MediaFlowInStateChange:VIDEO:FLOWING') && seen.includes('MediaFlowOutStateChange:VIDEO:FLOWING') && seen.includes('IceComponentStateChange:READY'));
    const at = (name: string): number => {
      const i = seen.indexOf(name);
      expect(i, `${name} in ${seen.join(', ')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at('IceCandidateFound')).toBeLessThan(at('IceComponentStateChange:GATHERING'));
    expect(at('IceCandidateFound')).toBeLessThan(at('IceGatheringDone'));
    expect(at('IceComponentStateChange:GATHERING')).toBeLessThan(at('IceComponentStateChange:CONNECTING'));
    expect(at('IceComponentStateChange:CONNECTING')).toBeLessThan(at('NewCandidatePairSelected'));
    expect(at('NewCandidatePairSelected')).toBeLessThan(at('IceComponentStateChange:CONNECTED'));
    expect(at('IceComponentStateChange:CONNECTED')).toBeLessThan(at('IceComponentStateChange:READY'));
    expect(at('IceGatheringDone')).toBeLessThan(at('IceComponentStateChange:READY'));
    expect(at('IceComponentStateChange:CONNECTED')).toBeLessThan(at('MediaStateChanged:CONNECTED'));
    expect(at('MediaStateChanged:CONNECTED')).toBeLessThan(at('MediaFlowInStateChange:VIDEO:FLOWING'));
    expect(await ep.isMediaFlowingIn('VIDEO')).toBe(true);
    const stats = await ep.getStats('VIDEO');
    const inbound = Object.values(stats).find((s) => s.type === 'inboundrtp') as Record<string, unknown>;
    expect(Number(inbound.packetsReceived)).toBeGreaterThan(0);
    expect(Number(inbound.ssrc)).not.toBe(0);
    // The loopback's outbound stream: its own SSRC (the transport's consumer), not 0, and packets once its first keyframe went.
    const outbound = async (): Promise<Record<string, unknown>> => Object.values(await ep.getStats('VIDEO')).find((s) => s.type === 'outboundrtp') as Record<string, unknown>;
    expect(Number((await outbound()).ssrc)).not.toBe(0);
    let sent = 0;
    for (let i = 0; i < 50 && sent === 0; i++) {
      sent = Number((await outbound()).packetsSent);
      if (sent === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sent).toBeGreaterThan(0);
    await pipeline.release();
  });
});
