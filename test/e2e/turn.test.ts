/**
 * End to end: Roundtable calls through a real coturn, authenticated the TURN REST way.
 * The signaling server hands out time-limited credentials signed with coturn's
 * `static-auth-secret`; Node WebRTC peers (werift) that may only use relay candidates
 * make the calls. Everything stays on 127.0.0.1: coturn listens and relays there, the
 * media server gathers only there, the peers gather nothing but their TURN relays.
 */
import { FakePublisher } from '@roundtable/media/testing';
import type { CallId, ConversationInfo, SignalPayload, UserId } from '@roundtable/protocol';
import { InProcessMediaServer, Signaling, type IceServer } from '@roundtable/signaling';
import { RTCPeerConnection as WeriftPeerConnection, type RtpPacket } from 'werift';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SfuPeer } from '../../packages/signaling/src/testing/sfuPeer.js';
import { TestClient } from '../../packages/signaling/src/testing/TestClient.js';
import { Coturn, skipTurnTests } from './coturn.js';

const SUITE = 'calls relayed by coturn (TURN REST API shared secret)';
/** The in-process media server's UDP ports; coturn relays from 52000-52999 (its helper's default). */
const MEDIA_PORTS: [number, number] = [44600, 44799];

const skip = skipTurnTests(SUITE);

describe.skipIf(skip)(SUITE, () => {
  let coturn: Coturn | undefined;
  const cleanup: Array<() => unknown> = [];

  beforeAll(async () => {
    coturn = await Coturn.start();
  });
  afterAll(async () => {
    await coturn?.close();
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
    signalErrors.splice(0);
  });

  function turn(): Coturn {
    if (!coturn) throw new Error('coturn did not start');
    return coturn;
  }

  /** The product's signaling server, handing out credentials for our coturn signed with `sharedSecret`. */
  async function startSignaling(sharedSecret: string) {
    const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: MEDIA_PORTS });
    const signaling = await Signaling.open({ dbPath: ':memory:', media, iceServers: { urls: [turn().url('udp')], sharedSecret } });
    cleanup.push(async () => {
      await signaling.close();
      await media.close();
    });
    const address = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
    const url = `ws://127.0.0.1:${address.port}/ws`;
    const signIn = async (name: string): Promise<TestClient> => {
      const client = await TestClient.signIn(url, name, { timeoutMs: 15_000 });
      cleanup.push(() => client.close());
      return client;
    };
    return { signaling, media, signIn };
  }

  /** A werift peer that may only use relay candidates, on loopback only. */
  function relayOnlyPeer(iceServers: IceServer[]): WeriftPeerConnection {
    const pc = new WeriftPeerConnection({
      iceServers,
      iceTransportPolicy: 'relay',
      iceUseIpv4: false,
      iceUseIpv6: false,
      iceAdditionalHostAddresses: ['127.0.0.1'],
    });
    cleanup.push(() => pc.close());
    return pc;
  }

  /** ice.servers for this client, checked to carry TURN REST credentials for our coturn. */
  async function turnServersOf(client: TestClient): Promise<IceServer[]> {
    const before = Date.now();
    const { iceServers, expiresAt } = await client.request('ice.servers');
    expect(iceServers).toHaveLength(1);
    const [entry] = iceServers;
    expect(entry!.urls).toEqual([turn().url('udp')]);
    const [expiry, userId] = (entry!.username ?? '').split(':');
    expect(userId).toBe(client.userId);
    expect(Number(expiry) * 1000).toBe(expiresAt);
    expect(expiresAt).toBeGreaterThan(before);
    expect(entry!.credential).toMatch(/^[A-Za-z0-9+/]{27}=$/); // base64 of a 20-byte HMAC-SHA1
    return iceServers;
  }

  /** Errors thrown while handling signals; `until()` fails the test with the first. */
  const signalErrors: unknown[] = [];

  /** Relays call.signal notifications to `handle`, one at a time, in arrival order. */
  function pumpSignals(client: TestClient, handle: (payload: SignalPayload) => Promise<void>): void {
    let handled = 0;
    let chain = Promise.resolve();
    const timer = setInterval(() => {
      while (handled < client.notifications.length) {
        const n = client.notifications[handled++]!;
        if (n.type !== 'call.signal') continue;
        const payload = n.payload as SignalPayload;
        chain = chain.then(() => handle(payload)).catch((error: unknown) => void signalErrors.push(error));
      }
    }, 5);
    cleanup.push(() => clearInterval(timer));
  }

  async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
    const start = Date.now();
    while (!check()) {
      if (signalErrors.length > 0) throw signalErrors[0];
      if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * One side of a peer-to-peer call as a client app plays it: a relay-only peer that
   * sends a FakePublisher's media, negotiated with offer / answer / candidate over
   * call.signal.
   */
  function p2pSide(client: TestClient, callId: CallId, iceServers: IceServer[], tag: number) {
    const pc = relayOnlyPeer(iceServers);
    const publisher = new FakePublisher(tag);
    cleanup.push(() => publisher.stop());
    const received: { video: RtpPacket[]; audio: RtpPacket[] } = { video: [], audio: [] };
    const signalled: string[] = [];
    // Candidates can overtake the description they belong to (they are trickled while it is being made).
    const early: Array<Extract<SignalPayload, { type: 'candidate' }>> = [];
    const send = (payload: SignalPayload) => client.request('call.signal', { callId, payload });
    pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((p) => received[track.kind === 'video' ? 'video' : 'audio'].push(p)));
    pc.onIceCandidate.subscribe((c) => {
      if (!c) return;
      signalled.push(c.candidate);
      void send({ type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }).catch(() => undefined);
    });
    const addCandidate = (p: Extract<SignalPayload, { type: 'candidate' }>) =>
      pc.addIceCandidate({ candidate: p.candidate, sdpMid: p.sdpMid ?? undefined, sdpMLineIndex: p.sdpMLineIndex ?? undefined });
    pumpSignals(client, async (p) => {
      if (p.type === 'offer') {
        await pc.setRemoteDescription({ type: 'offer', sdp: p.sdp });
        // addTrack takes the receive-only transceivers the offer made and turns them sendrecv.
        pc.addTrack(publisher.video);
        pc.addTrack(publisher.audio);
        await pc.setLocalDescription(await pc.createAnswer());
        await send({ type: 'answer', sdp: pc.localDescription!.sdp });
        publisher.start();
      } else if (p.type === 'answer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: p.sdp });
      } else if (p.type === 'candidate') {
        early.push(p);
      }
      if (pc.remoteDescription) for (const c of early.splice(0)) await addCandidate(c);
    });
    return {
      pc,
      received,
      signalled,
      async offer(): Promise<void> {
        publisher.attach(pc, 'sendrecv');
        await pc.setLocalDescription(await pc.createOffer());
        await send({ type: 'offer', sdp: pc.localDescription!.sdp });
        publisher.start();
      },
    };
  }

  /** A line of coturn's verbose log about a request of `userId` (TURN REST usernames are `<expiry>:<userId>`). */
  function turnLogLine(userId: UserId, what: string): RegExp {
    return new RegExp(`user <\\d+:${userId}>: incoming packet ${what}`);
  }

  /** `local/remote` candidate types of each transport's selected pair, e.g. 'relay/host'. */
  function selectedPairTypes(pc: WeriftPeerConnection): string[] {
    const typeOf = (candidate: string | undefined): string => / typ (\w+)/.exec(candidate ?? '')?.[1] ?? 'none';
    return pc.iceTransports.map((t) => {
      const pair = t.getSelectedCandidatePair();
      return `${typeOf(pair?.local.candidate)}/${typeOf(pair?.remote.candidate)}`;
    });
  }

  it('a 1:1 p2p call whose peers may only relay connects through coturn with ice.servers credentials, media both ways', async () => {
    const env = await startSignaling(turn().secret);
    const alice = await env.signIn('alice');
    const bob = await env.signIn('bob');
    const [aliceIce, bobIce] = [await turnServersOf(alice), await turnServersOf(bob)];
    const conv = (await alice.request('conversations.direct', { userId: bob.userId })) as ConversationInfo;
    const { callId } = (await alice.request('call.start', { conversationId: conv.id, audioOnly: false, topology: 'p2p' })) as { callId: CallId };
    await bob.waitFor('call.incoming', (n) => n.callId === callId);
    await bob.request('call.answer', { callId, audioOnly: false });
    await alice.waitFor('call.answered', (n) => n.callId === callId);

    const a = p2pSide(alice, callId, aliceIce, 1);
    const b = p2pSide(bob, callId, bobIce, 2);
    await a.offer();
    await until(() => b.received.video.length > 10 && b.received.audio.length > 10 && a.received.video.length > 10 && a.received.audio.length > 10);

    expect(new Set(b.received.video.map((p) => p.payload[2]))).toEqual(new Set([1]));
    expect(new Set(a.received.video.map((p) => p.payload[2]))).toEqual(new Set([2]));
    for (const side of [a, b]) {
      expect(side.signalled.length).toBeGreaterThan(0);
      for (const c of side.signalled) expect(c).toMatch(/ typ relay /);
      expect(selectedPairTypes(side.pc)).toEqual(['relay/relay']);
    }
    // coturn's own word: each user got a relay and bound it to the other side's relay.
    for (const user of [alice.userId, bob.userId]) {
      await turn().waitForLog(turnLogLine(user, 'ALLOCATE processed, success'));
      await turn().waitForLog(turnLogLine(user, '(CHANNEL_BIND|CREATE_PERMISSION) processed, success'));
    }

    await alice.request('call.bye', { callId, reason: 'hangup' });
    await bob.waitFor('call.ended', (n) => n.callId === callId && n.reason === 'remoteHangup');
  });

  it('a 1:1 sfu call with relay-only clients reaches the media server (host candidates on 127.0.0.1) through coturn', async () => {
    const env = await startSignaling(turn().secret);
    const carol = await env.signIn('carol');
    const dave = await env.signIn('dave');
    const ice = new Map<UserId, IceServer[]>([
      [carol.userId, await turnServersOf(carol)],
      [dave.userId, await turnServersOf(dave)],
    ]);
    const conv = (await carol.request('conversations.direct', { userId: dave.userId })) as ConversationInfo;
    const { callId } = (await carol.request('call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { callId: CallId };
    await dave.waitFor('call.incoming', (n) => n.callId === callId);

    const signalled = new Map<UserId, string[]>();
    const participant = (client: TestClient, tag: number): SfuPeer => {
      const mine: string[] = [];
      signalled.set(client.userId, mine);
      const channel = {
        send: (payload: SignalPayload) => {
          if (payload.type === 'onIceCandidate') mine.push(payload.candidate.candidate);
          return client.request('call.signal', { callId, payload });
        },
      };
      // The STUN URL is unused: every peer of this participant comes from the relay-only factory.
      const peer = new SfuPeer(client.userId, channel, `stun:127.0.0.1:${turn().port}`, tag, false, 20, () => relayOnlyPeer(ice.get(client.userId)!));
      cleanup.push(() => peer.close());
      pumpSignals(client, (payload) => peer.handle(payload));
      return peer;
    };
    const pa = participant(carol, 1);
    const pb = participant(dave, 2);
    await dave.request('call.answer', { callId, audioOnly: false });
    await until(() => pa.videoCount(dave.userId) > 10 && pb.videoCount(carol.userId) > 10 && (pa.audioFrom.get(dave.userId)?.length ?? 0) > 10 && (pb.audioFrom.get(carol.userId)?.length ?? 0) > 10);

    expect(new Set(pa.videoFrom.get(dave.userId)!.map((p) => p.payload[2]))).toEqual(new Set([2]));
    expect(new Set(pb.videoFrom.get(carol.userId)!.map((p) => p.payload[2]))).toEqual(new Set([1]));
    for (const peer of [pa, pb]) {
      expect(peer.peers.size).toBe(2); // the uplink and one downlink
      for (const pc of peer.peers.values()) expect(selectedPairTypes(pc)).toEqual(['relay/host']);
      const mine = signalled.get(peer.me)!;
      expect(mine.length).toBeGreaterThanOrEqual(2);
      for (const c of mine) expect(c).toMatch(/ typ relay /);
    }
    // coturn's own word: each user got relays, and coturn relayed to the media server's ports.
    for (const user of [carol.userId, dave.userId]) {
      await turn().waitForLog(turnLogLine(user, 'ALLOCATE processed, success'));
      await turn().waitForLog(turnLogLine(user, '(CHANNEL_BIND|CREATE_PERMISSION) processed, success'));
    }
    const peerPorts = [...turn().log.matchAll(/: peer 127\.0\.0\.1:(\d+) lifetime updated/g)].map((m) => Number(m[1]));
    expect(peerPorts.filter((port) => port >= MEDIA_PORTS[0] && port <= MEDIA_PORTS[1]).length).toBeGreaterThanOrEqual(4);

    await carol.request('call.bye', { callId, reason: 'hangup' });
    await dave.waitFor('call.ended', (n) => n.callId === callId && n.reason === 'remoteHangup');
    expect(env.media.roomCount).toBe(0);
  });

  it('credentials signed with the wrong secret are refused by coturn: a relay-only peer gathers no relay candidate', async () => {
    const env = await startSignaling(`not-${turn().secret}`);
    const mallory = await env.signIn('mallory');
    const pc = relayOnlyPeer(await turnServersOf(mallory));
    const gathered: string[] = [];
    pc.onIceCandidate.subscribe((c) => {
      if (c) gathered.push(c.candidate);
    });
    new FakePublisher(9).attach(pc, 'sendonly');
    // werift's setLocalDescription returns once gathering is over: here after the TURN
    // allocation has failed over UDP and then over TCP (some 13 s of retries).
    await pc.setLocalDescription(await pc.createOffer());

    expect(pc.iceGatheringState).toBe('complete');
    expect(gathered).toEqual([]);
    expect(pc.iceTransports.flatMap((t) => t.localCandidates)).toEqual([]);
    expect(pc.localDescription!.sdp).not.toMatch(/a=candidate:/);
    expect(pc.connectionState).toBe('new');
    // coturn checked the message integrity against its secret and answered 401, never allocating.
    await turn().waitForLog(turnLogLine(mallory.userId, 'message processed, error 401: Unauthorized'));
    expect(turn().log).not.toMatch(turnLogLine(mallory.userId, 'ALLOCATE processed, success'));
  });
});
