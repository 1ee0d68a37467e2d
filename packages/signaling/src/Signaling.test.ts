import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePublisher, StunServer, createWeriftPeer, waitForConnected } from '@roundtable/media/testing';
import type { CallId, ChatMessage, ConversationInfo, SignalPayload } from '@roundtable/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RtpPacket } from 'werift';
import { InProcessMediaServer } from './media/InProcessMediaServer.js';
import type { MediaServer } from './media/MediaServer.js';
import { Signaling, type SignalingOptions } from './Signaling.js';
import { SfuPeer } from './testing/sfuPeer.js';
import { pumpSignals, until } from './testing/wait.js';
import { TestClient } from './testing/TestClient.js';

const stun = new StunServer();
let stunUrl = '';
let dir = '';
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
  dir = mkdtempSync(join(tmpdir(), 'roundtable-signaling-'));
});
afterAll(() => {
  stun.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** The whole signaling server on a real WebSocket and a real SQLite file. */
async function start(dbPath = join(dir, `db-${Date.now()}-${Math.random()}.sqlite`), ringTimeoutMs?: number, options: Partial<SignalingOptions> = {}) {
  const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: [41000, 41999] });
  const signaling = await Signaling.open({ ...options, dbPath, media: options.media ?? media, ...(ringTimeoutMs ? { ringTimeoutMs } : {}) });
  const address = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${address.port}/ws`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await signaling.close();
    await media.close();
  };
  cleanup.push(close);
  const signIn = async (name: string, deviceName?: string) => {
    const client = await TestClient.signIn(url, name, { timeoutMs: 15_000, ...(deviceName ? { deviceName } : {}) });
    cleanup.push(() => client.close());
    return client;
  };
  return { signaling, media, url, dbPath, close, signIn };
}

/** An SFU participant speaking call.signal over its own socket. */
function sfu(client: TestClient, callId: () => CallId, tag: number, intervalMs = 20): SfuPeer {
  const peer = new SfuPeer(client.userId, { send: (payload: SignalPayload) => client.request('call.signal', { callId: callId(), payload }) }, stunUrl, tag, false, intervalMs);
  cleanup.push(() => peer.close());
  cleanup.push(pumpSignals(client.notifications, 'call.signal', (p) => peer.handle(p)));
  return peer;
}


describe('signaling end to end (WebSocket, SQLite, media engine, Node WebRTC peers)', () => {
  it('a 1:1 video call through the media server: both decode each other, the record lands in both timelines', async () => {
    const env = await start();
    const alice = await env.signIn('alice');
    const bob = await env.signIn('bob');
    const conv = (await alice.request('conversations.direct', { userId: bob.userId })) as ConversationInfo;
    const { callId } = (await alice.request('call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { callId: CallId };
    await bob.waitFor('call.incoming', (n) => n.callId === callId);
    const pa = sfu(alice, () => callId, 1);
    const pb = sfu(bob, () => callId, 2);
    await bob.request('call.answer', { callId, audioOnly: false });
    await until(() => pa.videoCount(bob.userId) > 10 && pb.videoCount(alice.userId) > 10 && (pa.audioFrom.get(bob.userId)?.length ?? 0) > 10);
    await new Promise((r) => setTimeout(r, 1100)); // a call of at least one second
    await alice.request('call.bye', { callId, reason: 'hangup' });
    await bob.waitFor('call.ended', (n) => n.callId === callId && n.reason === 'remoteHangup');
    for (const c of [alice, bob]) {
      const m = await c.waitFor('message', (n) => n.message.kind === 'call');
      expect(m.message.call).toMatchObject({ callId, topology: 'sfu', missed: false, endReason: 'hangup' });
      expect(m.message.call!.duration).toBeGreaterThanOrEqual(1);
    }
    expect(env.media.roomCount).toBe(0);
  });

  it('a 1:1 voice call peer to peer: offer, answer and candidates relayed, media straight between the peers', async () => {
    const env = await start();
    const alice = await env.signIn('carol');
    const bob = await env.signIn('dave');
    const conv = (await alice.request('conversations.direct', { userId: bob.userId })) as ConversationInfo;
    const { callId } = (await alice.request('call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await bob.waitFor('call.incoming', (n) => n.callId === callId && n.topology === 'p2p');
    await bob.request('call.answer', { callId, audioOnly: true, transparent: true });
    await alice.waitFor('call.answered', (n) => n.callId === callId);
    const [pcA, pcB] = [createWeriftPeer(stunUrl), createWeriftPeer(stunUrl)];
    cleanup.push(() => pcA.close(), () => pcB.close());
    const pub = new FakePublisher(7);
    pub.attach(pcA);
    cleanup.push(() => pub.stop());
    const got: RtpPacket[] = [];
    pcB.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((p) => got.push(p)));
    for (const [client, pc] of [[alice, pcA], [bob, pcB]] as const) {
      pc.onIceCandidate.subscribe((c) => {
        if (c) void client.request('call.signal', { callId, payload: { type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } }).catch(() => undefined);
      });
      let handled = 0;
      const pump = setInterval(() => {
        while (handled < client.notifications.length) {
          const n = client.notifications[handled++]!;
          if (n.type !== 'call.signal') continue;
          const p = n.payload;
          if (p.type === 'offer') {
            void (async () => {
              await pc.setRemoteDescription({ type: 'offer', sdp: p.sdp });
              await pc.setLocalDescription(await pc.createAnswer());
              await client.request('call.signal', { callId, payload: { type: 'answer', sdp: pc.localDescription!.sdp } });
            })();
          } else if (p.type === 'answer') {
            void pc.setRemoteDescription({ type: 'answer', sdp: p.sdp });
          } else if (p.type === 'candidate') {
            void pc.addIceCandidate({ candidate: p.candidate, sdpMid: p.sdpMid ?? undefined, sdpMLineIndex: p.sdpMLineIndex ?? undefined }).catch(() => undefined);
          }
        }
      }, 5);
      cleanup.push(() => clearInterval(pump));
    }
    await pcA.setLocalDescription(await pcA.createOffer());
    await alice.request('call.signal', { callId, payload: { type: 'offer', sdp: pcA.localDescription!.sdp } });
    await waitForConnected(pcA);
    pub.start();
    await until(() => got.length > 20);
    expect(env.media.roomCount).toBe(0); // the media server is not involved
    await bob.request('call.bye', { callId, reason: 'hangup' });
    await alice.waitFor('call.ended', (n) => n.callId === callId && n.reason === 'remoteHangup');
    expect((await alice.waitFor('message', (n) => n.message.kind === 'call')).message.call).toMatchObject({ topology: 'p2p', audioOnly: true, missed: false });
  });

  it('a 9-person group call over the WebSocket: every participant receives all eight others; a tenth member is refused', async () => {
    const env = await start();
    const clients: TestClient[] = [];
    for (let i = 1; i <= 10; i++) clients.push(await env.signIn(`member${i}`));
    const conv = (await clients[0]!.request('conversations.createGroup', { name: 'all hands', memberIds: clients.slice(1).map((c) => c.userId) })) as ConversationInfo;
    const tooMany = await clients[0]!.send('call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu', invitees: clients.slice(1).map((c) => c.userId) });
    expect(tooMany.ok ? null : tooMany.error.code).toBe('CALL_FULL');
    const nine = clients.slice(0, 9);
    const { callId } = (await nine[0]!.request('call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu', invitees: nine.slice(1).map((c) => c.userId) })) as { callId: CallId };
    const peers = nine.map((c, i) => sfu(c, () => callId, i + 1, 100));
    for (const c of nine.slice(1)) {
      await c.waitFor('call.incoming', (n) => n.callId === callId);
      await c.request('call.answer', { callId, audioOnly: false });
    }
    const outsider = await clients[9]!.send('call.answer', { callId, audioOnly: false });
    expect(outsider.ok ? null : outsider.error.code).toBe('FORBIDDEN');
    const ids = nine.map((c) => c.userId);
    await until(() => peers.every((p, i) => ids.every((id, j) => i === j || p.videoCount(id) > 3)), 90_000);
    for (const [i, p] of peers.entries()) for (const [j, id] of ids.entries()) if (i !== j) expect(new Set(p.videoFrom.get(id)!.map((x) => x.payload[2]))).toEqual(new Set([j + 1]));
    await nine[0]!.request('call.bye', { callId, reason: 'hangup' });
    await nine[8]!.waitFor('call.ended', (n) => n.callId === callId);
  }, 150_000);

  it('a user outside the call cannot signal into it or receive its media', async () => {
    const env = await start();
    const [a, b, eve] = [await env.signIn('anna'), await env.signIn('bert'), await env.signIn('eve')];
    expect(b.userId).not.toBe(eve.userId);
    const conv = (await a.request('conversations.direct', { userId: b.userId })) as ConversationInfo;
    const { callId } = (await a.request('call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { callId: CallId };
    const spy = await eve.send('call.signal', { callId, payload: { type: 'receiveVideoFrom', sender: a.userId, sdpOffer: 'v=0\r\n' } });
    expect(spy.ok ? null : spy.error.code).toBe('FORBIDDEN');
    const join = await eve.send('call.answer', { callId, audioOnly: false });
    expect(join.ok ? null : join.error.code).toBe('FORBIDDEN');
    await eve.expectNo('call.incoming');
  });

  it('messages and call records survive a restart of the server', async () => {
    const first = await start(undefined, 150);
    const alice = await first.signIn('alice2');
    const bob = await first.signIn('bob2');
    const conv = (await alice.request('conversations.direct', { userId: bob.userId })) as ConversationInfo;
    await alice.request('messages.send', { conversationId: conv.id, text: 'are you there?' });
    await alice.request('call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' });
    await alice.waitFor('call.ended', (n) => n.reason === 'timeout');
    await alice.waitFor('message', (n) => n.message.kind === 'call');
    await first.close();

    const second = await start(first.dbPath);
    const again = await second.signIn('alice2');
    const history = (await again.request('messages.history', { conversationId: conv.id })) as ChatMessage[];
    expect(history.map((m) => m.kind)).toEqual(['text', 'call']);
    expect(history[0]!.text).toBe('are you there?');
    expect(history[1]!.call).toMatchObject({ missed: true, endReason: 'timeout', audioOnly: true, topology: 'p2p' });
    expect(((await again.request('conversations.list')) as ConversationInfo[]).map((c) => c.id)).toContain(conv.id);
  });

  it('an unauthenticated socket gets nothing but UNAUTHENTICATED for calls and rooms', async () => {
    const env = await start();
    const anon = await TestClient.connect(env.url);
    cleanup.push(() => anon.close());
    for (const [type, body] of [
      ['call.start', { audioOnly: true, topology: 'loopback' }],
      ['room.join', { room: 'lobby' }],
      ['ice.servers', {}],
    ] as const) {
      const r = await (anon.send as (t: string, b: object) => ReturnType<TestClient['send']>)(type, body);
      expect(r.ok ? null : r.error.code).toBe('UNAUTHENTICATED');
    }
    expect(env.signaling.calls.activeCalls).toBe(0);
  });
});

describe('Signaling operations hooks', () => {
  it('observe is told the type of every answered request, with the error code of those that failed', async () => {
    const seen: Array<[string, string | undefined]> = [];
    const env = await start(undefined, undefined, { observe: (type, code) => void seen.push([type, code]) });
    const alice = await env.signIn('alice3');

    await alice.send('users.find', { username: 'nobody' });
    alice.sendRaw('{"id": 99, "type": "no.such.type"}');
    await alice.waitForError('BAD_REQUEST');

    expect(seen).toEqual([
      ['register', undefined],
      ['hello', undefined],
      ['users.find', 'NOT_FOUND'],
      ['', 'BAD_REQUEST'],
    ]);
  });

  it('readiness() says which of the database and the media server is not usable (the cluster of one process always is)', async () => {
    let mediaReady = true;
    const media: MediaServer = { kind: 'remote', createRoom: () => Promise.reject(new Error('not in this test')), ready: async () => mediaReady, close: async () => undefined };
    const env = await start(undefined, undefined, { media });
    expect(await env.signaling.readiness()).toEqual({ database: true, media: true, cluster: true });
    expect(await env.signaling.ready()).toBe(true);

    mediaReady = false;
    expect(await env.signaling.readiness()).toEqual({ database: true, media: false, cluster: true });
    await env.signaling.store.close();

    expect(await env.signaling.readiness()).toEqual({ database: false, media: false, cluster: true });
    expect(await env.signaling.ready()).toBe(false);
  });

  it('close() ends a call in progress as the server\'s hang-up, records it, then ends every session with serverShutdown', async () => {
    const env = await start();
    const alice = await env.signIn('alice4');
    const bob = await env.signIn('bob4');
    const conv = (await alice.request('conversations.direct', { userId: bob.userId })) as ConversationInfo;
    const { callId } = (await alice.request('call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await bob.waitFor('call.incoming');
    await bob.request('call.answer', { callId, audioOnly: true });

    await env.close();

    for (const client of [alice, bob]) {
      const types = client.notifications.map((n) => n.type).filter((t) => t === 'call.ended' || t === 'session.ended');
      expect(types).toEqual(['call.ended', 'session.ended']);
      expect(client.notifications).toContainEqual(expect.objectContaining({ type: 'call.ended', callId, reason: 'hangup', by: null }));
      expect(client.notifications).toContainEqual({ type: 'session.ended', reason: 'serverShutdown' });
    }
    const { SqliteStore } = await import('./store/SqliteStore.js');
    const store = new SqliteStore({ path: env.dbPath });
    cleanup.push(() => store.close());
    expect((await store.callRecord(callId))?.record).toMatchObject({ callId, endReason: 'hangup', missed: false, participants: [alice.userId, bob.userId] });
  });
});
