import type { SignalPayload, UserId } from '@roundtable/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CallMediaContext } from './CallMedia.js';
import { DISCONNECTED_GRACE_MS, PeerLink } from './PeerLink.js';
import type { PeerConnectionLike, SessionDescriptionLike, TransceiverLike } from './platform.js';
import { SfuMedia } from './SfuMedia.js';

/** A stand-in RTCPeerConnection: records what the SDK does with it; the test sets its state. */
class FakePeer implements PeerConnectionLike {
  connectionState = 'new';
  localDescription: SessionDescriptionLike | null = null;
  remoteDescription: SessionDescriptionLike | null = null;
  onicecandidate: PeerConnectionLike['onicecandidate'] = null;
  ontrack: PeerConnectionLike['ontrack'] = null;
  onconnectionstatechange: PeerConnectionLike['onconnectionstatechange'] = null;
  readonly offers: Array<{ iceRestart: boolean; ufrag: string }> = [];
  readonly added: string[] = [];
  restartIceCalls = 0;
  private generation = 0;

  setState(state: string): void {
    this.connectionState = state;
    (this.onconnectionstatechange as ((e: unknown) => void) | null)?.({});
  }

  async createOffer(options?: { iceRestart?: boolean }): Promise<SessionDescriptionLike> {
    if (options?.iceRestart) this.generation++;
    const ufrag = `u${this.generation}`;
    this.offers.push({ iceRestart: options?.iceRestart ?? false, ufrag });
    return { type: 'offer', sdp: `v=0\r\na=ice-ufrag:${ufrag}\r\n` };
  }
  async createAnswer(): Promise<SessionDescriptionLike> {
    return { type: 'answer', sdp: `v=0\r\na=ice-ufrag:a${this.generation}\r\n` };
  }
  async setLocalDescription(d: { type: 'offer' | 'answer'; sdp: string }): Promise<void> {
    this.localDescription = d;
  }
  async setRemoteDescription(d: { type: 'offer' | 'answer'; sdp: string }): Promise<void> {
    this.remoteDescription = d;
  }
  async addIceCandidate(c: { candidate: string }): Promise<void> {
    this.added.push(c.candidate);
  }
  addTrack(): unknown {
    return undefined;
  }
  addTransceiver(): unknown {
    return undefined;
  }
  getSenders(): [] {
    return [];
  }
  getTransceivers(): TransceiverLike[] {
    return [];
  }
  async getStats(): Promise<Map<string, unknown>> {
    return new Map();
  }
  restartIce(): void {
    this.restartIceCalls++;
  }
  close(): void {
    this.connectionState = 'closed';
  }
}

function link(pc: FakePeer, onPathLost: () => void): PeerLink {
  return new PeerLink(pc, { onCandidate: () => undefined, onTrack: () => undefined, onConnectionState: () => undefined, onPathLost });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PeerLink', () => {
  it('a failed connection reports the path lost at once', () => {
    const pc = new FakePeer();
    const lost = vi.fn();
    link(pc, lost);

    pc.setState('failed');

    expect(lost).toHaveBeenCalledTimes(1);
  });

  it('a disconnected connection reports the path lost only if it stays disconnected for the grace period', () => {
    vi.useFakeTimers();
    const pc = new FakePeer();
    const lost = vi.fn();
    link(pc, lost);

    pc.setState('disconnected');
    vi.advanceTimersByTime(DISCONNECTED_GRACE_MS - 1);
    expect(lost).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(lost).toHaveBeenCalledTimes(1);

    pc.setState('connected');
    pc.setState('disconnected');
    vi.advanceTimersByTime(DISCONNECTED_GRACE_MS / 2);
    pc.setState('connected');
    vi.advanceTimersByTime(DISCONNECTED_GRACE_MS);
    expect(lost).toHaveBeenCalledTimes(1);
  });

  it('a closed link reports nothing (its grace timer is cleared)', () => {
    vi.useFakeTimers();
    const pc = new FakePeer();
    const lost = vi.fn();
    const l = link(pc, lost);
    pc.setState('disconnected');

    l.close();
    vi.advanceTimersByTime(DISCONNECTED_GRACE_MS * 2);

    expect(lost).not.toHaveBeenCalled();
  });

  it('during an ICE restart remote candidates wait for the answer, then go in', async () => {
    const pc = new FakePeer();
    const l = link(pc, () => undefined);
    await l.setRemote('answer', 'v=0\r\na=ice-ufrag:a0\r\n');
    await l.addCandidate({ candidate: 'candidate:1 1 udp 1 127.0.0.1 1000 typ host', sdpMid: '0', sdpMLineIndex: 0 });

    const offer = await l.createRestartOffer();
    await l.addCandidate({ candidate: 'candidate:2 1 udp 1 127.0.0.1 2000 typ host', sdpMid: '0', sdpMLineIndex: 0 });
    expect(pc.added).toHaveLength(1);
    expect(l.restartPending).toBe(true);
    await l.setRemote('answer', 'v=0\r\na=ice-ufrag:a1\r\n');

    expect(offer).toContain('a=ice-ufrag:u1');
    expect(pc.offers.at(-1)).toEqual({ iceRestart: true, ufrag: 'u1' });
    expect(pc.restartIceCalls).toBe(1);
    expect(pc.added).toHaveLength(2);
    expect(l.restartPending).toBe(false);
  });
});

describe('SfuMedia', () => {
  it('a link that fails restarts ICE by itself: a new offer for that link only, as receiveVideoFrom', async () => {
    const peers: FakePeer[] = [];
    const sent: SignalPayload[] = [];
    const restarts: Array<() => Promise<void>> = [];
    const me = 'me' as UserId;
    const other = 'other' as UserId;
    const ctx: CallMediaContext = {
      me,
      signal: async (p) => {
        sent.push(p);
      },
      createPeer: async () => {
        const pc = new FakePeer();
        peers.push(pc);
        return pc;
      },
      outgoing: () => [],
      onSenders: () => undefined,
      onTrack: () => undefined,
      onParticipantJoined: () => undefined,
      onParticipantLeft: () => undefined,
      onConnected: () => undefined,
      onError: () => undefined,
      // As MediaSession does: restart where a link lost its path.
      onPathLost: () => void restarts[0]?.(),
    };
    const media = new SfuMedia(ctx);
    restarts.push(() => media.restartIce(false));
    await media.handle(null, { type: 'existingParticipants', data: [other] });
    await media.handle(null, { type: 'receiveVideoAnswer', name: me, sdpAnswer: 'v=0\r\na=ice-ufrag:s0\r\n' });
    await media.handle(null, { type: 'receiveVideoAnswer', name: other, sdpAnswer: 'v=0\r\na=ice-ufrag:s1\r\n' });
    const [uplink, downlink] = peers as [FakePeer, FakePeer];
    uplink.setState('connected');
    downlink.setState('connected');
    expect(sent.filter((p) => p.type === 'receiveVideoFrom')).toHaveLength(2);

    downlink.setState('failed');
    await vi.waitFor(() => expect(sent.filter((p) => p.type === 'receiveVideoFrom')).toHaveLength(3));

    const restart = sent.filter((p) => p.type === 'receiveVideoFrom').at(-1)!;
    expect(restart).toMatchObject({ type: 'receiveVideoFrom', sender: other });
    expect(restart.type === 'receiveVideoFrom' && restart.sdpOffer).toContain('a=ice-ufrag:u1');
    expect(downlink.offers.at(-1)?.iceRestart).toBe(true);
    expect(uplink.offers.every((o) => !o.iceRestart)).toBe(true);
    media.close();
  });

  it('reports each link’s state (closed when dropped), and a participant who arrives again gets a new downlink', async () => {
    const peers: FakePeer[] = [];
    const states: string[] = [];
    const me = 'me' as UserId;
    const other = 'other' as UserId;
    const ctx: CallMediaContext = {
      me,
      signal: async () => undefined,
      createPeer: async () => {
        const pc = new FakePeer();
        peers.push(pc);
        return pc;
      },
      outgoing: () => [],
      onSenders: () => undefined,
      onTrack: () => undefined,
      onParticipantJoined: () => undefined,
      onParticipantLeft: () => undefined,
      onConnected: () => undefined,
      onError: () => undefined,
      onLinkState: (link, state) => states.push(`${link}:${state}`),
    };
    const media = new SfuMedia(ctx);
    await media.handle(null, { type: 'existingParticipants', data: [other] });
    const [, first] = peers as [FakePeer, FakePeer];
    first.setState('connected');
    first.setState('disconnected');
    // They rejoined (a page reload): the old downlink goes, a new one is made.
    await media.handle(null, { type: 'newParticipantArrived', name: other });
    expect(peers).toHaveLength(3);
    expect(media.statsSources().find((s) => s.participant === other)?.pc).toBe(peers[2]);
    expect(states).toEqual(['other:connected', 'other:disconnected', 'other:closed']);
    media.close();
  });
});
