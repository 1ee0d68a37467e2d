import { describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { SrtpProfile } from '../srtp/index.js';
import { FakePublisher } from '../testing/FakePublisher.js';
import { until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';

const h = useMediaHarness([62000, 62199]);

function trickle(pc: WeriftPeerConnection, ep: WebRtcEndpoint): void {
  ep.on('iceCandidate', (c) => {
    void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined });
  });
  pc.onIceCandidate.subscribe((c) => {
    if (c) void ep.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }).catch(() => undefined);
  });
}

/** The SRTP profile of the endpoint's transport, once DTLS is up. */
async function negotiatedProfile(pc: WeriftPeerConnection, ep: WebRtcEndpoint): Promise<number> {
  await waitForConnected(pc);
  await until(() => ep.getFastPathStats() !== undefined);
  return ep.getFastPathStats()!.profile;
}

/*
 * The endpoint's DTLS role and SRTP profile (transport/DtlsSession.ts). Until the werift
 * path was removed (2026-12-08) this checked the patches of webrtc/dtlsPreferences.ts.
 */
describe('DTLS preferences: the engine picks AES_CM_128_HMAC_SHA1_80', () => {
  it('answers an actpass offer as the DTLS server (a=setup:passive) and picks AES-CM though werift prefers GCM', async () => {
    const ep = h.pipeline().createWebRtcEndpoint();
    ep.connect(ep);
    const pc = h.peer();
    new FakePublisher(30).attach(pc, 'sendrecv');
    let answer = '';
    const original = ep.processOffer.bind(ep);
    ep.processOffer = async (offer: string): Promise<string> => (answer = await original(offer));
    await negotiate(pc, ep);
    expect(answer).toMatch(/a=setup:passive/);
    expect(answer).not.toMatch(/a=setup:active/);
    expect(await negotiatedProfile(pc, ep)).toBe(SrtpProfile.AES_CM_128_HMAC_SHA1_80);
  });

  it('offers actpass; the werift peer answers active, so the engine is the server and picks AES-CM', async () => {
    const ep = h.pipeline().createWebRtcEndpoint();
    ep.connect(ep);
    const pc = h.peer();
    trickle(pc, ep);
    const offer = await ep.generateOffer();
    expect(offer).toMatch(/a=setup:actpass/);
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    for (const t of pc.getTransceivers()) t.setDirection('sendrecv');
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await ep.processAnswer(pc.localDescription!.sdp);
    await ep.gatherCandidates();
    expect(await negotiatedProfile(pc, ep)).toBe(SrtpProfile.AES_CM_128_HMAC_SHA1_80);
  });

  it('stays the DTLS client when the offerer insists on being the server (a=setup:passive); the peer picks', async () => {
    const ep = h.pipeline().createWebRtcEndpoint();
    ep.connect(ep);
    const pc = h.peer();
    new FakePublisher(33).attach(pc, 'sendrecv');
    trickle(pc, ep);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    // werift as offerer with role 'server' would say actpass; ask for passive explicitly.
    const passive = pc.localDescription!.sdp.replace(/a=setup:actpass/g, 'a=setup:passive');
    for (const dtls of (pc as unknown as { dtlsTransports: Array<{ role: string }> }).dtlsTransports) dtls.role = 'server';
    const answer = await ep.processOffer(passive);
    expect(answer).toMatch(/a=setup:active/);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await ep.gatherCandidates();
    // werift, the server here, puts GCM first.
    expect(await negotiatedProfile(pc, ep)).toBe(SrtpProfile.AEAD_AES_128_GCM);
  });
});
