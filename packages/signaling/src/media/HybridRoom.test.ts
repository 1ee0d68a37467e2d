import { KurentoServer } from '@roundtable/kurento';
import { createWeriftPeer, McuTestPeer, StunServer } from '@roundtable/media/testing';
import type { IceCandidateInit } from '@roundtable/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';
import { until } from '../testing/wait.js';
import { InProcessMediaServer } from './InProcessMediaServer.js';
import type { MediaRoom, MediaServer } from './MediaServer.js';
import { RemoteMediaServer } from './RemoteMediaServer.js';
import { MediaNodeHarness } from '../testing/mediaNode.js';

const stun = new StunServer();
let stunUrl = '';
let kurento: KurentoServer;
let kurentoUrl = '';
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [56400, 56599] as [number, number] };
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
  kurento = new KurentoServer({ port: 0, media: MEDIA });
  kurentoUrl = (await kurento.listen()).url;
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(async () => {
  await kurento.close();
  stun.close();
});


interface Downlink {
  video: RtpPacket[];
  audio: RtpPacket[];
}

/**
 * A participant of a hybrid room, as a client does it: an uplink that sends a tone and
 * tagged video with its audio sendrecv (the mix comes back on it), and one
 * receive-only downlink per other participant.
 */
class HybridParticipant {
  readonly peer: McuTestPeer;
  readonly downlinks = new Map<string, Downlink>();
  private readonly pcs = new Map<string, WeriftPeerConnection>();
  private readonly pending = new Map<string, IceCandidateInit[]>();

  constructor(
    private readonly room: MediaRoom,
    readonly name: string,
    frequency: number,
    tag: number,
  ) {
    this.peer = new McuTestPeer({ frequency, fakeVideoTag: tag });
    room.onCandidate((c) => {
      if (c.participant !== this.name) return;
      const pc = this.pcs.get(c.sender);
      if (pc?.remoteDescription) void pc.addIceCandidate({ candidate: c.candidate.candidate, sdpMid: c.candidate.sdpMid ?? undefined, sdpMLineIndex: c.candidate.sdpMLineIndex ?? undefined }).catch(() => undefined);
      else this.pending.set(c.sender, [...(this.pending.get(c.sender) ?? []), c.candidate]);
    });
    cleanup.push(() => this.close());
  }

  async publish(): Promise<void> {
    await this.room.join(this.name);
    const pc = createWeriftPeer(stunUrl);
    this.peer.attach(pc);
    await this.negotiate(pc, this.name);
    await this.peer.start();
  }

  async receiveFrom(sender: string): Promise<void> {
    const pc = createWeriftPeer(stunUrl);
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const got: Downlink = { video: [], audio: [] };
    this.downlinks.set(sender, got);
    pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((p) => (track.kind === 'video' ? got.video : got.audio).push(p)));
    await this.negotiate(pc, sender);
  }

  /** Audio streams this participant receives: the uplink's (the mix) plus any downlink's. */
  audioStreams(): number {
    const downlinkAudio = [...this.downlinks.values()].filter((d) => d.audio.length > 0).length;
    return downlinkAudio + (this.peer.receivedPcm.length > 0 ? 1 : 0);
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

  private async negotiate(pc: WeriftPeerConnection, sender: string): Promise<void> {
    this.pcs.set(sender, pc);
    pc.onIceCandidate.subscribe((c) => {
      if (c) void this.room.addIceCandidate(this.name, sender, { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }).catch(() => undefined);
    });
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await this.room.receiveVideoFrom(this.name, sender, pc.localDescription!.sdp);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    for (const c of this.pending.get(sender) ?? []) await pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }).catch(() => undefined);
    this.pending.delete(sender);
  }
}

const implementations: Array<[string, () => Promise<MediaServer>]> = [
  ['in process', async () => new InProcessMediaServer(MEDIA)],
  ['remote, over the Kurento Protocol (Composite and HubPorts)', async () => RemoteMediaServer.connect({ url: kurentoUrl })],
  ['on a media node, over the Kurento Protocol (the in-process room there)', async () => MediaNodeHarness.start({ ...MEDIA, portRange: [59520, 59559] })],
];

const TONES = [440, 660, 990, 1320];
const NAMES = ['ann', 'bob', 'cat', 'dan'];

describe.each(implementations)('hybrid room (forwarded video, mixed audio), MediaServer %s', (_name, make) => {
  it('4 participants: each receives 3 video streams and 1 audio stream that carries the 3 others', async () => {
    const server = await make();
    cleanup.push(() => server.close());
    const room = await server.createRoom('hybrid', { audio: 'mixed' });
    cleanup.push(() => room.close());
    expect(room.audio).toBe('mixed');
    const people = NAMES.map((n, i) => new HybridParticipant(room, n, TONES[i]!, i + 1));
    for (const p of people) await p.publish();
    for (const p of people) for (const other of NAMES) if (other !== p.name) await p.receiveFrom(other);

    await until(
      () => people.every((p, i) => p.hears(TONES.filter((_, j) => j !== i), [TONES[i]!]) && NAMES.every((n) => n === p.name || p.downlinks.get(n)!.video.length > 10)),
      40_000,
    );

    for (const [i, p] of people.entries()) {
      for (const other of NAMES.filter((n) => n !== p.name)) {
        const got = p.downlinks.get(other)!;
        expect(new Set(got.video.map((v) => v.payload[2]))).toEqual(new Set([NAMES.indexOf(other) + 1]));
        expect(got.audio).toEqual([]);
      }
      expect(p.audioStreams()).toBe(1);
      const levels = p.peer.levels(TONES);
      for (const [j, f] of TONES.entries()) {
        if (j === i) expect(levels.get(f)!, `${p.name} must not hear itself`).toBeLessThan(300);
        else expect(levels.get(f)!, `${p.name} hears ${NAMES[j]}`).toBeGreaterThan(1500);
      }
    }

    // Someone leaves: the others stop hearing them.
    await room.leave('dan');
    await until(() => people.slice(0, 3).every((p, i) => p.hears(TONES.slice(0, 3).filter((_, j) => j !== i), [TONES[i]!, 1320])), 20_000);
  });
});
