import { createWeriftPeer, McuTestPeer, StunServer } from '@roundtable/media/testing';
import type { CallId, ConversationInfo, IceCandidateInit, ServerSignalPayload, SignalPayload, UserId } from '@roundtable/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';
import { InProcessMediaServer } from '../media/InProcessMediaServer.js';
import { Signaling } from '../Signaling.js';
import { TestClient } from '../testing/TestClient.js';
import { pumpSignals, until } from '../testing/wait.js';

const stun = new StunServer();
let stunUrl = '';
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterAll(() => stun.close());
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function start() {
  const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: [56600, 56799] });
  const signaling = await Signaling.open({ dbPath: ':memory:', media });
  const address = await signaling.server.listen({ host: '127.0.0.1', port: 0 });
  cleanup.push(async () => {
    await signaling.close();
    await media.close();
  });
  const signIn = async (name: string) => {
    const client = await TestClient.signIn(`ws://127.0.0.1:${address.port}/ws`, name, { timeoutMs: 15_000 });
    cleanup.push(() => client.close());
    return client;
  };
  return { signIn };
}

/**
 * A participant of a hybrid group call as a client does it: the uplink sends a tone
 * (real Opus) and tagged video with its audio transceiver sendrecv, so the server's mix
 * of the others comes back on it; one receive-only link per other participant.
 */
class HybridCallPeer {
  readonly peer: McuTestPeer;
  readonly downlinks = new Map<string, { video: RtpPacket[]; audio: RtpPacket[] }>();
  private readonly pcs = new Map<string, WeriftPeerConnection>();
  private readonly pending = new Map<string, IceCandidateInit[]>();

  constructor(
    private readonly client: TestClient,
    private readonly callId: () => CallId,
    frequency: number,
    tag: number,
  ) {
    this.peer = new McuTestPeer({ frequency, fakeVideoTag: tag });
    cleanup.push(() => this.close());
    cleanup.push(pumpSignals(client.notifications, 'call.signal', (p) => this.handle(p)));
  }

  get me(): UserId {
    return this.client.userId;
  }

  hears(present: number[], absent: number[]): boolean {
    const levels = this.peer.levels([...present, ...absent]);
    return present.every((f) => levels.get(f)! > 1500) && absent.every((f) => levels.get(f)! < 300);
  }

  async close(): Promise<void> {
    await this.peer.close();
    for (const pc of this.pcs.values()) await pc.close();
    this.pcs.clear();
  }

  private async handle(p: ServerSignalPayload): Promise<void> {
    switch (p.type) {
      case 'existingParticipants':
        await this.publish();
        for (const sender of p.data) await this.receiveFrom(sender);
        break;
      case 'newParticipantArrived':
        await this.receiveFrom(p.name);
        break;
      case 'receiveVideoAnswer': {
        const pc = this.pcs.get(p.name);
        if (!pc) return;
        await pc.setRemoteDescription({ type: 'answer', sdp: p.sdpAnswer });
        for (const c of this.pending.get(p.name) ?? []) await this.addCandidate(pc, c);
        this.pending.delete(p.name);
        break;
      }
      case 'iceCandidate': {
        const pc = this.pcs.get(p.name);
        if (pc?.remoteDescription) await this.addCandidate(pc, p.candidate);
        else this.pending.set(p.name, [...(this.pending.get(p.name) ?? []), p.candidate]);
        break;
      }
      default:
        break;
    }
  }

  private async publish(): Promise<void> {
    if (this.pcs.has(this.me)) return;
    const pc = createWeriftPeer(stunUrl);
    this.peer.attach(pc);
    await this.negotiate(pc, this.me);
    await this.peer.start();
  }

  private async receiveFrom(sender: string): Promise<void> {
    if (sender === this.me || this.pcs.has(sender)) return;
    const pc = createWeriftPeer(stunUrl);
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const got = { video: [] as RtpPacket[], audio: [] as RtpPacket[] };
    this.downlinks.set(sender, got);
    pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((x) => (track.kind === 'video' ? got.video : got.audio).push(x)));
    await this.negotiate(pc, sender);
  }

  private async negotiate(pc: WeriftPeerConnection, sender: string): Promise<void> {
    this.pcs.set(sender, pc);
    const send = (payload: SignalPayload) => this.client.request('call.signal', { callId: this.callId(), payload });
    pc.onIceCandidate.subscribe((c) => {
      if (c) void send({ type: 'onIceCandidate', name: sender as UserId, candidate: { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } }).catch(() => undefined);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await send({ type: 'receiveVideoFrom', sender: sender as UserId, sdpOffer: pc.localDescription!.sdp });
  }

  private async addCandidate(pc: WeriftPeerConnection, c: IceCandidateInit): Promise<void> {
    await pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }).catch(() => undefined);
  }
}

const TONES = [440, 660, 990, 1320];

describe('hybrid group calls (call.start media: hybrid)', () => {
  it('4 participants: each receives 3 video streams and 1 audio stream carrying the 3 others, never itself', async () => {
    const env = await start();
    const clients = [await env.signIn('hana'), await env.signIn('ivan'), await env.signIn('jana'), await env.signIn('karl')];
    const conv = (await clients[0]!.request('conversations.createGroup', { name: 'hybrid', memberIds: clients.slice(1).map((c) => c.userId) })) as ConversationInfo;
    const started = (await clients[0]!.request('call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu', media: 'hybrid', invitees: clients.slice(1).map((c) => c.userId) })) as { callId: CallId; media: string };
    expect(started.media).toBe('hybrid');
    const callId = started.callId;
    const peers = clients.map((c, i) => new HybridCallPeer(c, () => callId, TONES[i]!, i + 1));
    for (const c of clients.slice(1)) {
      const incoming = await c.waitFor('call.incoming', (n) => n.callId === callId);
      expect(incoming.media).toBe('hybrid');
      await c.request('call.answer', { callId, audioOnly: false });
    }
    const ids = clients.map((c) => c.userId);

    await until(
      () => peers.every((p, i) => p.hears(TONES.filter((_, j) => j !== i), [TONES[i]!]) && ids.every((id, j) => i === j || (p.downlinks.get(id)?.video.length ?? 0) > 10)),
      60_000,
    );

    for (const [i, p] of peers.entries()) {
      expect([...p.downlinks.keys()].sort()).toEqual(ids.filter((_, j) => j !== i).sort());
      for (const [j, id] of ids.entries()) {
        if (i === j) continue;
        expect(new Set(p.downlinks.get(id)!.video.map((x) => x.payload[2]))).toEqual(new Set([j + 1]));
        expect(p.downlinks.get(id)!.audio, 'downlinks carry no audio').toEqual([]);
      }
      const levels = p.peer.levels(TONES);
      for (const [j, f] of TONES.entries()) {
        if (i === j) expect(levels.get(f)!).toBeLessThan(300);
        else expect(levels.get(f)!).toBeGreaterThan(1500);
      }
    }
    await clients[0]!.request('call.bye', { callId, reason: 'hangup' });
    await clients[3]!.waitFor('call.ended', (n) => n.callId === callId);
  }, 120_000);

  it('hybrid media needs a call through the media server: with topology p2p it is a BAD_REQUEST', async () => {
    const env = await start();
    const [a, b] = [await env.signIn('lena'), await env.signIn('marc')];
    const conv = (await a.request('conversations.direct', { userId: b.userId })) as ConversationInfo;
    const r = await a.send('call.start', { conversationId: conv.id, audioOnly: false, topology: 'p2p', media: 'hybrid' });
    expect(r.ok ? null : r.error.code).toBe('BAD_REQUEST');
    const sfu = (await a.request('call.start', { conversationId: conv.id, audioOnly: false, topology: 'sfu' })) as { media: string };
    expect(sfu.media).toBe('sfu');
  });
});
