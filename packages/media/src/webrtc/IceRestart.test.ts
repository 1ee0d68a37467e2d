import { describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { MediaError } from '../core/errors.js';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, streamingLoopback, until, useMediaHarness } from '../testing/harness.js';
import { startRestartedChecks, waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';
import { sessionShape } from './renegotiation.js';

const h = useMediaHarness([53000, 53199]);

/** The peer restarts ICE: a new offer with fresh credentials, answered by the endpoint. */
async function restartIce(pc: WeriftPeerConnection, ep: WebRtcEndpoint): Promise<string> {
  pc.restartIce();
  const offer = await pc.createOffer({ iceRestart: true });
  await pc.setLocalDescription(offer);
  const answer = await ep.processOffer(pc.localDescription!.sdp);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  // The werift peer needs a push to check again (see startRestartedChecks).
  startRestartedChecks(pc);
  return answer;
}

describe('WebRtcEndpoint ICE restart', () => {
  it('a peer that restarts ICE mid-stream keeps sending and receiving media', async () => {
    const ep = h.pipeline().createWebRtcEndpoint();
    ep.connect(ep);
    const pc = h.peer();
    const pub = new FakePublisher(5);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    const audio = collect(pc, 'audio');
    const dtlsStates: string[] = [];
    ep.on('dtlsStateChange', (s) => dtlsStates.push(s));
    await negotiate(pc, ep);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length >= 20 && audio.length >= 20);
    const firstAnswer = ep.getLocalSessionDescriptor()!;
    const receivedBefore = ep.getStats().video.packetsReceived;
    const ssrc = video[0]!.header.ssrc;

    const answer = await restartIce(pc, ep);
    const [v0, a0] = [video.length, audio.length];
    await until(() => video.length >= v0 + 30 && audio.length >= a0 + 30, 20_000);
    pub.stop();

    expect(ep.iceRestartCount).toBe(1);
    expect(sessionShape(answer).ufrag).not.toBe(sessionShape(firstAnswer).ufrag);
    expect(sessionShape(answer).fingerprints).toEqual(sessionShape(firstAnswer).fingerprints);
    // One DTLS handshake for the life of the transport: no new one for the restart.
    expect(dtlsStates.filter((s) => s === 'connected')).toHaveLength(1);
    expect(ep.getDtlsState()).toBe('connected');
    expect(ep.getStats().video.packetsReceived).toBeGreaterThan(receivedBefore);
    // The same outbound stream carries on: one SSRC, numbering that continues from
    // where it was (not a new random start); packets lost while neither side had a
    // pair of the new generation may come later as NACK retransmissions.
    expect(new Set(video.map((p) => p.header.ssrc))).toEqual(new Set([ssrc]));
    const last = video[v0 - 1]!.header.sequenceNumber;
    for (const p of video.slice(v0)) {
      const signed = ((((p.header.sequenceNumber - last) & 0xffff) + 0x8000) & 0xffff) - 0x8000;
      expect(signed).toBeGreaterThan(-100);
      expect(signed).toBeLessThan(1000);
    }
    expect(ep.getFastPathStats()?.rtpIn).toBeGreaterThan(0);
    expect(pc.connectionState).toBe('connected');
  });

  it('media flows between two peers through the server after both restart ICE, one after the other', async () => {
    const p = h.pipeline();
    const [a, b] = [p.createWebRtcEndpoint(), p.createWebRtcEndpoint()];
    const [pa, pb] = [h.peer(), h.peer()];
    const [pubA, pubB] = [new FakePublisher(1), new FakePublisher(2)];
    pubA.attach(pa, 'sendrecv');
    pubB.attach(pb, 'sendrecv');
    const atB = collect(pb, 'video');
    const atA = collect(pa, 'audio');
    await Promise.all([negotiate(pa, a), negotiate(pb, b)]);
    await Promise.all([waitForConnected(pa), waitForConnected(pb)]);
    a.connect(b);
    b.connect(a);
    pubA.start();
    pubB.start();
    await until(() => atB.length >= 10 && atA.length >= 10);

    await restartIce(pa, a);
    const [b1, a1] = [atB.length, atA.length];
    await until(() => atB.length >= b1 + 20 && atA.length >= a1 + 20, 20_000);
    await restartIce(pb, b);
    const [b2, a2] = [atB.length, atA.length];
    await until(() => atB.length >= b2 + 20 && atA.length >= a2 + 20, 20_000);
    pubA.stop();
    pubB.stop();

    expect(atB.every((x) => x.payload[2] === 1)).toBe(true);
    expect(atA.every((x) => x.payload[0] === 2)).toBe(true);
    expect([a.iceRestartCount, b.iceRestartCount]).toEqual([1, 1]);
  });

  it('a candidate of the new generation that overtakes the new offer is kept until the offer is in', async () => {
    const { ep, pc, pub, video } = await streamingLoopback(h, 9);

    // Hold the peer's trickled candidates and hand them over BEFORE the offer.
    pc.restartIce();
    const offer = await pc.createOffer({ iceRestart: true });
    await pc.setLocalDescription(offer);
    const newUfrag = sessionShape(pc.localDescription!.sdp).ufrag!;
    const lines = pc.localDescription!.sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) await ep.addIceCandidate({ candidate: line.slice(2), sdpMid: '0', sdpMLineIndex: 0 });
    const withoutCandidates = pc.localDescription!.sdp.replace(/^a=candidate:.*\r?\n/gm, '').replace(/^a=end-of-candidates\r?\n/gm, '');
    expect(withoutCandidates).toContain(`a=ice-ufrag:${newUfrag}`);
    const answer = await ep.processOffer(withoutCandidates);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    startRestartedChecks(pc);
    const v0 = video.length;
    await until(() => video.length >= v0 + 20, 20_000);
    pub.stop();
    expect(ep.iceRestartCount).toBe(1);
  });

  it('a new offer that changes the media sections is refused and the call goes on', async () => {
    const { ep, pc, pub, video } = await streamingLoopback(h, 3);
    const current = pc.localDescription!.sdp;
    const audioOnly = current.slice(0, current.indexOf('m=audio')).replace(/^a=group:BUNDLE .*$/m, 'a=group:BUNDLE 0');

    const refused = await ep.processOffer(audioOnly).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(refused).toBeInstanceOf(MediaError);
    expect((refused as MediaError).code).toBe('INVALID_SDP');
    const v0 = video.length;
    await until(() => video.length >= v0 + 10);
    pub.stop();
    expect(ep.iceRestartCount).toBe(0);
  });
});
