import { createWeriftPeer, useTestPeerEnvironment, waitForConnected } from '@roundtable/media/testing';
import type { CallId, RequestOf, RequestType, ServerSignalPayload, SignalPayload, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';
import { InProcessMediaServer } from '../media/InProcessMediaServer.js';
import { SignalingError, type HandlerTable } from '../net/Handlers.js';
import { FakeLink, FakeRouter, MemoryDirectory } from '../testing/fakes.js';
import { SfuPeer } from '../testing/sfuPeer.js';
import { pumpSignals, until } from '../testing/wait.js';
import { CallService, type CallServiceOptions } from './CallService.js';

const peerEnv = useTestPeerEnvironment();
const cleanup = peerEnv.cleanup;

type Body<T extends RequestType> = Omit<RequestOf<T>, 'id' | 'type'>;

/** The call service with fakes around it and real media inside. */
function setup(options: CallServiceOptions = {}) {
  const router = new FakeRouter();
  const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: [43200, 43999] });
  const directory = new MemoryDirectory();
  const service = new CallService(router, media, directory, { ringTimeoutMs: 60_000, ...options });
  const table: HandlerTable = service.handlers();
  cleanup.push(() => service.close(), () => media.close());
  let nextId = 1;
  const call = async <T extends RequestType>(link: FakeLink, type: T, body: Body<T>): Promise<Record<string, unknown>> => {
    const handler = table[type] as ((r: RequestOf<T>, ctx: { link: FakeLink }) => Promise<unknown>) | undefined;
    if (!handler) throw new Error(`no handler for ${type}`);
    return (await handler({ id: nextId++, type, ...body } as unknown as RequestOf<T>, { link })) as Record<string, unknown>;
  };
  return { router, media, directory, service, call };
}

/** An SFU participant driven by the notifications its link receives. */
function sfuPeer(env: ReturnType<typeof setup>, link: FakeLink, callId: () => CallId, tag: number, intervalMs = 20): SfuPeer {
  const peer = new SfuPeer(link.userId, { send: (payload: SignalPayload) => env.call(link, 'call.signal', { callId: callId(), payload }) }, peerEnv.stunUrl, tag, false, intervalMs);
  cleanup.push(() => peer.close());
  cleanup.push(pumpSignals(link.received, 'call.signal', (p) => peer.handle(p)));
  return peer;
}


async function expectError(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(SignalingError);
  await expect(p).rejects.toMatchObject({ code });
}

describe('1:1 calls', () => {
  it('through the media server: answer, both sides get the other, hang-up ends it with a record', async () => {
    const env = setup();
    const alice = env.router.connect('alice');
    const bob = env.router.connect('bob');
    const conv = env.directory.add('direct', ['alice', 'bob']);
    const { callId } = (await env.call(alice, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { callId: CallId };
    const incoming = await bob.waitFor('call.incoming');
    expect(incoming).toMatchObject({ callId, from: 'alice', topology: 'sfu', audioOnly: false });
    const pa = sfuPeer(env, alice, () => callId, 1);
    const pb = sfuPeer(env, bob, () => callId, 2);
    await env.call(bob, 'call.answer', { callId, audioOnly: false });
    await alice.waitFor('call.answered', (n) => n.by === 'bob');
    await until(() => pa.videoCount('bob') > 10 && pb.videoCount('alice') > 10);
    expect(new Set(pa.videoFrom.get('bob')!.map((p) => p.payload[2]))).toEqual(new Set([2]));
    await env.call(alice, 'call.bye', { callId, reason: 'hangup' });
    await bob.waitFor('call.ended', (n) => n.reason === 'remoteHangup');
    expect(env.media.roomCount).toBe(0);
    expect(env.directory.records).toHaveLength(1);
    expect(env.directory.records[0]!.record).toMatchObject({ callId, endReason: 'hangup', missed: false, topology: 'sfu', participants: ['alice', 'bob'] });
  });

  it('peer to peer: offer, answer and candidates are relayed and media flows directly', async () => {
    const env = setup();
    const alice = env.router.connect('alice');
    const bob = env.router.connect('bob');
    const conv = env.directory.add('direct', ['alice', 'bob']);
    const { callId } = (await env.call(alice, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await bob.waitFor('call.incoming');
    await env.call(bob, 'call.answer', { callId, audioOnly: true, transparent: true });
    const answered = await alice.waitFor('call.answered');
    expect(answered.transparent).toBe(true);
    const pcA: WeriftPeerConnection = createWeriftPeer(peerEnv.stunUrl);
    const pcB: WeriftPeerConnection = createWeriftPeer(peerEnv.stunUrl);
    cleanup.push(() => pcA.close(), () => pcB.close());
    const got: RtpPacket[] = [];
    const { FakePublisher } = await import('@roundtable/media/testing');
    const pub = new FakePublisher(5);
    pub.attach(pcA);
    pcB.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((p) => got.push(p)));
    const relay = (from: FakeLink, pc: WeriftPeerConnection) => {
      pc.onIceCandidate.subscribe((c) => {
        if (c) void env.call(from, 'call.signal', { callId, payload: { type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } });
      });
    };
    relay(alice, pcA);
    relay(bob, pcB);
    let seen = 0;
    const pump = (link: FakeLink, pc: WeriftPeerConnection, peer: FakeLink) => async (p: ServerSignalPayload) => {
      if (p.type === 'offer') {
        await pc.setRemoteDescription({ type: 'offer', sdp: p.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        await env.call(link, 'call.signal', { callId, payload: { type: 'answer', sdp: pc.localDescription!.sdp } });
      } else if (p.type === 'answer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: p.sdp });
      } else if (p.type === 'candidate') {
        await pc.addIceCandidate({ candidate: p.candidate, sdpMid: p.sdpMid ?? undefined, sdpMLineIndex: p.sdpMLineIndex ?? undefined }).catch(() => undefined);
      }
      void peer;
    };
    const onA = pump(alice, pcA, bob);
    const onB = pump(bob, pcB, alice);
    const timer = setInterval(() => {
      for (const [link, fn] of [[alice, onA], [bob, onB]] as const) {
        for (const n of link.received) if (n.type === 'call.signal' && !(n as { _done?: boolean })._done) {
          (n as { _done?: boolean })._done = true;
          seen++;
          void fn(n.payload);
        }
      }
    }, 5);
    cleanup.push(() => clearInterval(timer), () => pub.stop());
    await pcA.setLocalDescription(await pcA.createOffer());
    await env.call(alice, 'call.signal', { callId, payload: { type: 'offer', sdp: pcA.localDescription!.sdp } });
    await waitForConnected(pcA);
    pub.start();
    await until(() => got.length > 10);
    expect(seen).toBeGreaterThan(2);
    expect(env.media.roomCount).toBe(0); // no media server involved
    await expectError(env.call(alice, 'call.signal', { callId, payload: { type: 'leaveRoom' } }), 'BAD_REQUEST');
  });

  it('call waiting: calling someone already in a call rings them as waiting; declining it with busy ends it with busy; someone in a call gets BUSY for a call of their own', async () => {
    const env = setup();
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    const ab = env.directory.add('direct', ['a', 'b']);
    const cb = env.directory.add('direct', ['c', 'b']);
    const first = (await env.call(a, 'call.start', { conversationId: ab.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await env.call(b, 'call.answer', { callId: first.callId, audioOnly: true });
    const second = (await env.call(c, 'call.start', { conversationId: cb.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId; ended?: string };
    expect(second.ended).toBeUndefined();
    expect(b.received.filter((n) => n.type === 'call.incoming').map((n) => n.type === 'call.incoming' && n.waiting)).toEqual([false, true]);
    await env.call(b, 'call.bye', { callId: second.callId, reason: 'busy' });
    await c.waitFor('call.ended', (n) => n.callId === second.callId && n.reason === 'busy');
    expect(env.directory.records.find((r) => r.record.callId === second.callId)!.record).toMatchObject({ endReason: 'busy', missed: true });
    await expectError(env.call(a, 'call.start', { conversationId: ab.id, audioOnly: true, topology: 'p2p' }), 'BUSY');
  });

  it('decline: the caller hears remoteHangup and the call is recorded as missed', async () => {
    const env = setup();
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    const conv = env.directory.add('direct', ['a', 'b']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { callId: CallId };
    await env.call(b, 'call.bye', { callId, reason: 'hangup' });
    await a.waitFor('call.ended', (n) => n.reason === 'remoteHangup' && n.by === 'b');
    expect(env.directory.records[0]!.record).toMatchObject({ missed: true, endReason: 'hangup' });
    expect(env.media.roomCount).toBe(0);
  });

  it('ring timeout: both sides end with timeout and the call is missed', async () => {
    const env = setup({ ringTimeoutMs: 200 });
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    const conv = env.directory.add('direct', ['a', 'b']);
    await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' });
    await a.waitFor('call.ended', (n) => n.reason === 'timeout');
    await b.waitFor('call.ended', (n) => n.reason === 'timeout');
    expect(env.directory.records[0]!.record).toMatchObject({ missed: true, endReason: 'timeout', duration: 0 });
  });

  it('caller cancels before the answer: the callee stops ringing', async () => {
    const env = setup();
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    const conv = env.directory.add('direct', ['a', 'b']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await env.call(a, 'call.bye', { callId, reason: 'hangup' });
    await b.waitFor('call.ended', (n) => n.reason === 'remoteHangup');
    await expectError(env.call(b, 'call.answer', { callId, audioOnly: true }), 'NOT_FOUND');
    expect(env.directory.records[0]!.record.missed).toBe(true);
  });

  it('answered on another device: the other devices stop ringing with acceptByOtherClient', async () => {
    const env = setup();
    const a = env.router.connect('a');
    const phone = env.router.connect('b', 'phone');
    const laptop = env.router.connect('b', 'laptop');
    const conv = env.directory.add('direct', ['a', 'b']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await phone.waitFor('call.incoming');
    await laptop.waitFor('call.incoming');
    await env.call(laptop, 'call.answer', { callId, audioOnly: true });
    await phone.waitFor('call.ended', (n) => n.reason === 'acceptByOtherClient');
    expect((await a.waitFor('call.answered')).deviceId).toBe('laptop');
    await expectError(env.call(phone, 'call.answer', { callId, audioOnly: true }), 'INVALID_STATE');
  });

  it('voice to video: call.modify reaches the other side', async () => {
    const env = setup();
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    const conv = env.directory.add('direct', ['a', 'b']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await env.call(b, 'call.answer', { callId, audioOnly: true });
    await env.call(a, 'call.modify', { callId, audioOnly: false });
    expect((await b.waitFor('call.modified')).audioOnly).toBe(false);
  });

  it('stale call messages (older than 90 s) are ignored', async () => {
    const env = setup();
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    const conv = env.directory.add('direct', ['a', 'b']);
    const r = await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p', sentAt: Date.now() - 120_000 });
    expect(r).toMatchObject({ ignored: true });
    expect(b.has('call.incoming')).toBe(false);
    expect(env.service.activeCalls).toBe(0);
  });

  it('a user who is not in the call cannot answer, signal into it or end it', async () => {
    const env = setup();
    const [a, b, eve] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('eve')];
    const conv = env.directory.add('direct', ['a', 'b']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { callId: CallId };
    await expectError(env.call(eve, 'call.answer', { callId, audioOnly: false }), 'FORBIDDEN');
    await expectError(env.call(eve, 'call.signal', { callId, payload: { type: 'receiveVideoFrom', sender: 'a' as UserId, sdpOffer: 'v=0' } }), 'FORBIDDEN');
    await expectError(env.call(eve, 'call.bye', { callId, reason: 'hangup' }), 'FORBIDDEN');
    const other = env.directory.add('direct', ['a', 'b']);
    await expectError(env.call(eve, 'call.start', { conversationId: other.id, audioOnly: true, topology: 'p2p' }), 'FORBIDDEN');
    expect(b.has('call.incoming')).toBe(true);
  });
});

describe('group calls', () => {
  it('nine people: everyone receives everyone else; a tenth is refused', async () => {
    const env = setup();
    const names = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9', 'u10'];
    const links = names.map((n) => env.router.connect(n));
    const conv = env.directory.add('group', names);
    await expectError(env.call(links[0]!, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu', invitees: names.slice(1) as UserId[] }), 'CALL_FULL');
    const { callId } = (await env.call(links[0]!, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu', invitees: names.slice(1, 9) as UserId[] })) as { callId: CallId };
    const peers = links.slice(0, 9).map((l, i) => sfuPeer(env, l, () => callId, i + 1, 100));
    for (const l of links.slice(1, 9)) {
      await l.waitFor('call.incoming');
      await env.call(l, 'call.answer', { callId, audioOnly: false });
    }
    await expectError(env.call(links[9]!, 'call.answer', { callId, audioOnly: false }), 'FORBIDDEN');
    await expectError(env.call(links[0]!, 'call.invite', { callId, invitees: ['u10' as UserId] }), 'CALL_FULL');
    // What is missing when it times out: who does not get whom, and that link's states.
    const missing = () =>
      peers.flatMap((p, i) =>
        names
          .slice(0, 9)
          .filter((n, j) => j !== i && p.videoCount(n) <= 3)
          .map((n) => `${names[i]}<${n}: ${p.videoCount(n)} ${p.peers.get(n)?.connectionState ?? 'no link'}/${p.peers.get(n)?.iceConnectionState ?? ''}`),
      );
    await until(() => peers.every((p, i) => names.slice(0, 9).every((n, j) => j === i || p.videoCount(n) > 3)), 60_000, missing);
    for (const [i, p] of peers.entries()) {
      for (const [j, n] of names.slice(0, 9).entries()) if (i !== j) expect(new Set(p.videoFrom.get(n)!.map((x) => x.payload[2]))).toEqual(new Set([j + 1]));
    }
  }, 120_000);

  it('invite-only: a member who was not invited cannot join; the initiator invites more during the call', async () => {
    const env = setup();
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    const conv = env.directory.add('group', ['a', 'b', 'c']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'sfu', invitees: ['b' as UserId] })) as { callId: CallId };
    await env.call(b, 'call.answer', { callId, audioOnly: true });
    await expectError(env.call(c, 'call.answer', { callId, audioOnly: true }), 'FORBIDDEN');
    await expectError(env.call(b, 'call.invite', { callId, invitees: ['c' as UserId] }), 'FORBIDDEN');
    await env.call(a, 'call.invite', { callId, invitees: ['c' as UserId] });
    await c.waitFor('call.incoming', (n) => n.callId === callId);
    await env.call(c, 'call.answer', { callId, audioOnly: true });
    const arrived = await b.waitFor('call.signal', (n) => n.payload.type === 'newParticipantArrived' && n.payload.name === 'c');
    expect(arrived).toBeDefined();
    const existing = await c.waitFor('call.signal', (n) => n.payload.type === 'existingParticipants');
    expect(existing.payload.type === 'existingParticipants' && [...existing.payload.data].sort()).toEqual(['a', 'b']);
  });

  it('a participant leaving updates the others; the last one leaving ends the call with allLeft', async () => {
    const env = setup();
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    const conv = env.directory.add('group', ['a', 'b', 'c']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'sfu', invitees: ['b', 'c'] as UserId[] })) as { callId: CallId };
    await env.call(b, 'call.answer', { callId, audioOnly: true });
    await env.call(c, 'call.answer', { callId, audioOnly: true });
    await env.call(c, 'call.signal', { callId, payload: { type: 'leaveRoom' } });
    await a.waitFor('call.signal', (n) => n.payload.type === 'participantLeft' && n.payload.name === 'c');
    await env.call(a, 'call.signal', { callId, payload: { type: 'leaveRoom' } });
    await b.waitFor('call.ended', (n) => n.reason === 'allLeft');
    expect(env.directory.records[0]!.record).toMatchObject({ endReason: 'allLeft', participants: ['a', 'b', 'c'] });
    expect(env.media.roomCount).toBe(0);
  });

  it("the initiator's bye ends the call for everyone", async () => {
    const env = setup();
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    const conv = env.directory.add('group', ['a', 'b', 'c']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'sfu', invitees: ['b', 'c'] as UserId[] })) as { callId: CallId };
    await env.call(b, 'call.answer', { callId, audioOnly: true });
    await env.call(a, 'call.bye', { callId, reason: 'hangup' });
    await b.waitFor('call.ended', (n) => n.reason === 'remoteHangup');
    await c.waitFor('call.ended'); // still ringing: stops
    expect(env.service.activeCalls).toBe(0);
  });
});

describe('loopback self-test', () => {
  it('the uplink comes back from the media server', async () => {
    const env = setup();
    const me = env.router.connect('me');
    const { callId } = (await env.call(me, 'call.start', { audioOnly: false, topology: 'loopback' })) as { callId: CallId };
    const peer = new SfuPeer(me.userId, { send: (payload) => env.call(me, 'call.signal', { callId, payload }) }, peerEnv.stunUrl, 42, true);
    cleanup.push(() => peer.close());
    const pump = setInterval(() => {
      for (const n of me.received.splice(0)) if (n.type === 'call.signal') void peer.handle(n.payload);
    }, 5);
    cleanup.push(() => clearInterval(pump));
    await peer.publish();
    await until(() => peer.videoCount('me') > 10);
    await env.call(me, 'call.bye', { callId, reason: 'hangup' });
    expect(env.directory.records[0]).toMatchObject({ conversationId: null, record: { topology: 'loopback' } });
  });
});

describe('counts and logs', () => {
  it('participantCount counts people in calls, not those being rung; the log lines carry the call and user ids', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const env = setup({ logger: { info: (o) => lines.push({ ...o }), warn: (o) => lines.push({ ...o }) } });
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    env.router.connect('d');
    const ab = env.directory.add('direct', ['a', 'b']);
    const cd = env.directory.add('direct', ['c', 'd']);

    const { callId } = (await env.call(a, 'call.start', { conversationId: ab.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await env.call(c, 'call.start', { conversationId: cd.id, audioOnly: true, topology: 'p2p' });
    expect(env.service.participantCount).toBe(2);
    await env.call(b, 'call.answer', { callId, audioOnly: true });
    expect(env.service.participantCount).toBe(3);
    await env.call(a, 'call.bye', { callId, reason: 'hangup' });

    expect(env.service.participantCount).toBe(1);
    expect(lines).toContainEqual(expect.objectContaining({ event: 'callStarted', callId, conversationId: ab.id, userId: 'a', deviceId: 'a-d1' }));
    expect(lines).toContainEqual(expect.objectContaining({ event: 'callAnswered', callId, userId: 'b', deviceId: 'b-d1' }));
    expect(lines).toContainEqual(expect.objectContaining({ event: 'callEnded', callId, conversationId: ab.id, reason: 'hangup', userId: 'a', participants: ['a', 'b'] }));
  });
});

describe('a participant whose device drops', () => {
  it('hears the call on a reconnected device before signalling, and is taken out after the grace period', async () => {
    const env = setup({ disconnectGraceMs: 300 });
    const a = env.router.connect('a');
    const b = env.router.connect('b');
    const conv = env.directory.add('direct', ['a', 'b']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await env.call(b, 'call.answer', { callId, audioOnly: true });
    env.router.disconnect(b);
    await a.waitFor('call.participant', (n) => n.userId === 'b' && n.connection === 'reconnecting');
    const b2 = env.router.connect('b', 'b-reconnected');
    await env.call(a, 'call.modify', { callId, audioOnly: false });
    await b2.waitFor('call.modified', (n) => n.callId === callId);
    // Signalling from the new device takes the call over: no drop after the grace period.
    await env.call(b2, 'call.signal', { callId, payload: { type: 'candidate', candidate: '', sdpMid: '0', sdpMLineIndex: 0 } });
    await a.waitFor('call.participant', (n) => n.userId === 'b' && n.connection === 'connected');
    await new Promise((r) => setTimeout(r, 500));
    expect(env.service.activeCalls).toBe(1);
    env.router.disconnect(b2);
    // Not a hang-up: the others are told the device dropped.
    const ended = await a.waitFor('call.ended', (n) => n.callId === callId && n.reason === 'remoteHangup');
    expect(ended).toMatchObject({ by: 'b', dropped: true });
  });

  it('call.rejoin from a new device gets fresh media: the others are told the participant arrived again; P2P calls refuse it', async () => {
    const env = setup({ disconnectGraceMs: 5_000 });
    const a = env.router.connect('a');
    const b = env.router.connect('b');
    const conv = env.directory.add('direct', ['a', 'b']);
    const { callId } = (await env.call(a, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { callId: CallId };
    await env.call(b, 'call.answer', { callId, audioOnly: false });
    env.router.disconnect(b);
    await a.waitFor('call.participant', (n) => n.userId === 'b' && n.connection === 'reconnecting');
    const b2 = env.router.connect('b', 'b-reloaded');
    const result = await env.call(b2, 'call.rejoin', { callId });
    expect(result).toMatchObject({ callId, conversationId: conv.id, initiator: 'a', topology: 'sfu', group: false, participants: ['a'], ringing: [] });
    await a.waitFor('call.participant', (n) => n.userId === 'b' && n.connection === 'connected');
    await a.waitFor('call.signal', (n) => n.payload.type === 'newParticipantArrived' && n.payload.name === 'b');
    await b2.waitFor('call.signal', (n) => n.payload.type === 'existingParticipants' && n.payload.data.includes('a' as UserId));
    const c = env.router.connect('c');
    await expectError(env.call(c, 'call.rejoin', { callId }), 'FORBIDDEN');

    const p2p = env.directory.add('direct', ['c', 'd']);
    env.router.connect('d');
    const { callId: p2pId } = (await env.call(c, 'call.start', { conversationId: p2p.id, audioOnly: true, topology: 'p2p' })) as { callId: CallId };
    await expectError(env.call(c, 'call.rejoin', { callId: p2pId }), 'INVALID_STATE');
  });
});
