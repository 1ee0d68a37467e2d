import { KurentoServer } from '@roundtable/kurento';
import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { CallId, RequestOf, RequestType, SignalPayload } from '@roundtable/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaNodeHeartbeat } from '../media/nodes/MediaNodeHeartbeat.js';
import { MediaNodeRegistry } from '../media/nodes/MediaNodeRegistry.js';
import { MediaNodesServer } from '../media/nodes/MediaNodesServer.js';
import type { HandlerTable } from '../net/Handlers.js';
import { FakeRouter, MemoryDirectory, type FakeLink } from '../testing/fakes.js';
import { RedisServer, hasRedisServer } from '../testing/redisServer.js';
import { SfuPeer } from '../testing/sfuPeer.js';
import { until } from '../testing/wait.js';
import { CallService } from './CallService.js';

// Calls on two media nodes in this process (Kurento Protocol servers with heartbeats) on a
// real redis-server; the call's node stops mid-call. UDP ports 58060-58119.
const peerEnv = useTestPeerEnvironment();
const cleanup = peerEnv.cleanup;
const tools = hasRedisServer();
let redis: RedisServer;

beforeAll(async () => {
  if (tools) redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.close();
});

interface TestNode {
  kurento: KurentoServer;
  heartbeat: MediaNodeHeartbeat;
}

async function mediaNode(id: string, ports: [number, number]): Promise<TestNode> {
  const kurento = new KurentoServer({ port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: ports } });
  const { url } = await kurento.listen();
  const registry = await MediaNodeRegistry.connect({ url: redis.url });
  const heartbeat = await MediaNodeHeartbeat.start(registry, { id, url, load: () => ({ rooms: 0, participants: 0, cpu: 0 }), intervalMs: 200, ttlMs: 600 });
  cleanup.push(
    () => kurento.close(),
    () => registry.close(),
    () => heartbeat.close(),
  );
  return { kurento, heartbeat };
}

type Body<T extends RequestType> = Omit<RequestOf<T>, 'id' | 'type'>;

/**
 * An SFU participant that follows the call's moves: on call.moved its peer connections
 * go and a fresh SfuPeer answers the existingParticipants that follows, as the SDK does.
 */
class MovingPeer {
  peer: SfuPeer;
  private handled = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly link: FakeLink,
    private readonly send: (payload: SignalPayload) => Promise<unknown>,
    private readonly tag: number,
  ) {
    this.peer = this.fresh();
    this.timer = setInterval(() => this.pump(), 5);
    cleanup.push(() => this.close());
  }

  /** Video packets from `sender` on the current peer connections. */
  videoCount(sender: string): number {
    return this.peer.videoCount(sender);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.peer.close();
  }

  private fresh(): SfuPeer {
    return new SfuPeer(this.link.userId, { send: this.send }, peerEnv.stunUrl, this.tag);
  }

  private pump(): void {
    while (this.handled < this.link.received.length) {
      const n = this.link.received[this.handled++]!;
      if (n.type === 'call.moved') {
        void this.peer.close();
        this.peer = this.fresh();
      } else if (n.type === 'call.signal') {
        // Signals of the old peer connections may still reach the room that is gone: refused, as they should be.
        this.peer.handle(n.payload).catch(() => undefined);
      }
    }
  }
}

/** The call service on media nodes (only `first` at first), with fakes around it. */
async function setup() {
  const first = await mediaNode('first', [58060, 58089]);
  const nodes = await MediaNodesServer.connect({ redisUrl: redis.url, pollMs: 200, missingGraceMs: 5000 });
  const router = new FakeRouter();
  const directory = new MemoryDirectory();
  const service = new CallService(router, nodes, directory);
  cleanup.push(
    () => nodes.close(),
    () => service.close(),
  );
  const table: HandlerTable = service.handlers();
  let nextId = 1;
  const request = async <T extends RequestType>(link: FakeLink, type: T, body: Body<T>): Promise<unknown> => {
    const handler = table[type] as (r: RequestOf<T>, ctx: { link: FakeLink }) => Promise<unknown>;
    return handler({ id: nextId++, type, ...body } as unknown as RequestOf<T>, { link });
  };
  const peerOf = (link: FakeLink, tag: number, callId: () => CallId) => new MovingPeer(link, (payload) => request(link, 'call.signal', { callId: callId(), payload }), tag);
  /** The first node stops: its heartbeat and its connections. */
  const killFirst = async (): Promise<void> => {
    await first.heartbeat.close();
    await first.kurento.close();
  };
  return { first, router, directory, service, request, peerOf, killFirst };
}

describe.skipIf(!tools)('calls through media nodes', () => {
  it("a group call whose media node stops moves to the other node: its participants get call.moved and media again there, an invitee still ringing answers onto the new node, and the call's record ends as hung up; a P2P call meanwhile is not touched", async () => {
    const { first, router, directory, service, request, peerOf, killFirst } = await setup();
    const [alice, bob, carol] = [router.connect('alice'), router.connect('bob'), router.connect('carol')];
    const conv = directory.add('group', ['alice', 'bob', 'carol']);
    // A peer-to-peer call beside it: its media never reaches a media node.
    const [dave, erin] = [router.connect('dave'), router.connect('erin')];
    const p2p = ((await request(dave, 'call.start', { conversationId: directory.add('direct', ['dave', 'erin']).id, audioOnly: true, topology: 'p2p' })) as { callId: CallId }).callId;
    await request(erin, 'call.answer', { callId: p2p, audioOnly: true });

    let callId = '' as CallId;
    const pa = peerOf(alice, 1, () => callId);
    const started = (await request(alice, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu', invitees: ['bob', 'carol'] } as Body<'call.start'>)) as { callId: CallId };
    callId = started.callId;
    const pb = peerOf(bob, 2, () => callId);
    await request(bob, 'call.answer', { callId, audioOnly: false });
    await until(() => pa.videoCount('bob') > 10 && pb.videoCount('alice') > 10, 30_000);
    // The other node comes up once the call is on the first one.
    const second = await mediaNode('second', [58090, 58119]);
    expect([first.kurento.objectCount > 0, second.kurento.objectCount]).toEqual([true, 0]);
    await request(bob, 'call.state', { callId, audioMuted: true });

    await killFirst();
    await Promise.all([alice.waitFor('call.moved', (n) => n.callId === callId, 15_000), bob.waitFor('call.moved', (n) => n.callId === callId, 15_000)]);
    await until(() => pa.videoCount('bob') > 10 && pb.videoCount('alice') > 10, 30_000);
    expect(second.kurento.objectCount).toBeGreaterThan(0);

    // Carol, rung before the move, answers onto the new node.
    const pc = peerOf(carol, 3, () => callId);
    await request(carol, 'call.answer', { callId, audioOnly: false });
    // Bob's mute, announced before the move, is still what the call holds.
    await carol.waitFor('call.participantState', (n) => n.userId === 'bob' && n.state.audioMuted);
    await until(() => pc.videoCount('alice') > 10 && pc.videoCount('bob') > 10 && pa.videoCount('carol') > 10, 30_000);
    expect(carol.received.some((n) => n.type === 'call.moved')).toBe(false);
    expect([alice, bob, carol].some((l) => l.has('call.ended'))).toBe(false);
    // The P2P call heard nothing of it and still relays its signals.
    expect([dave, erin].some((l) => l.has('call.moved') || l.has('call.ended'))).toBe(false);
    await request(dave, 'call.signal', { callId: p2p, payload: { type: 'offer', sdp: 'v=0 after the media node stopped' } });
    await erin.waitFor('call.signal', (n) => n.callId === p2p && n.payload.type === 'offer');
    expect(service.find(p2p)?.phase).toBe('active');

    await request(alice, 'call.bye', { callId, reason: 'hangup' });
    await bob.waitFor('call.ended');
    await until(() => directory.records.some((r) => r.record.callId === callId));
    expect(directory.records.at(-1)?.record).toMatchObject({ callId, endReason: 'hangup', missed: false, participants: ['alice', 'bob', 'carol'] });
  }, 90_000);

  it('a 1:1 call through the media server moves too and goes on; with no other node to take it, it ends with mediaError', async () => {
    const { router, directory, request, peerOf, killFirst } = await setup();
    const [alice, bob] = [router.connect('alice'), router.connect('bob')];
    const conv = directory.add('direct', ['alice', 'bob']);
    let callId = '' as CallId;
    const pa = peerOf(alice, 1, () => callId);
    callId = ((await request(alice, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { callId: CallId }).callId;
    const pb = peerOf(bob, 2, () => callId);
    await request(bob, 'call.answer', { callId, audioOnly: false });
    await until(() => pa.videoCount('bob') > 10 && pb.videoCount('alice') > 10, 30_000);

    const second = await mediaNode('second', [58090, 58119]);
    await killFirst();
    await Promise.all([alice.waitFor('call.moved', () => true, 15_000), bob.waitFor('call.moved', () => true, 15_000)]);
    await until(() => pa.videoCount('bob') > 10 && pb.videoCount('alice') > 10, 30_000);
    expect([alice.has('call.ended'), bob.has('call.ended')]).toEqual([false, false]);

    // The node it moved to stops too, and none is left: the call ends, recorded as such.
    await second.heartbeat.close();
    await second.kurento.close();
    expect(await alice.waitFor('call.ended', () => true, 15_000)).toMatchObject({ reason: 'mediaError', by: null });
    await bob.waitFor('call.ended', (n) => n.reason === 'mediaError');
    await until(() => directory.records.length > 0);
    expect(directory.records.at(-1)?.record).toMatchObject({ callId, endReason: 'mediaError' });
  }, 90_000);
});
