import { MediaStreamTrack, type RTCPeerConnection as WeriftPeerConnection, type RtpPacket } from 'werift';
import { describe, expect, it } from 'vitest';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { ImpairedPath, stripPeerCandidates } from '../testing/ImpairmentRelay.js';
import { waitForConnected } from '../testing/peers.js';
import { RealMediaSender } from '../testing/RealMediaSender.js';
import { requireTools } from '../recording/testTools.js';
import { vp8Playback } from '../testing/vp8Playback.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';

// Ports: pipelines 64742-64751, impairment relays 64754-64761; the test encoder on free ports the system picks.
const h = useMediaHarness([64742, 64751]);
const tools = requireTools(['gst-launch-1.0']);
const IMPAIRMENT = { loss: 0.05, delayMs: 200 };

/** Negotiates a werift peer (offerer) with an endpoint so that everything between them goes through `path`. */
async function negotiateThrough(pc: WeriftPeerConnection, ep: WebRtcEndpoint, path: ImpairedPath): Promise<void> {
  ep.on('iceCandidate', (c) => {
    void path.candidate(c.candidate).then((candidate) => pc.addIceCandidate({ candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }));
  });
  // The peer's own candidates are not given to the server: it learns the peer's address from the relay.
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const answer = await ep.processOffer(stripPeerCandidates(pc.localDescription!.sdp));
  await pc.setRemoteDescription({ type: 'answer', sdp: await path.sdp(answer) });
  await ep.gatherCandidates();
}

describe.skipIf(!tools)('a participant behind 5 % loss and 200 ms delay (a user-space impairment relay)', () => {
  it("publishes and watches through it: NACK recovery on both legs keeps the viewer's video decodable", async () => {
    const pipeline = h.pipeline();
    const uplink = pipeline.createWebRtcEndpoint();
    const downlink = pipeline.createWebRtcEndpoint({ direction: 'sendonly' });
    uplink.connect(downlink);
    const [upPath, downPath] = [new ImpairedPath({ ...IMPAIRMENT, seed: 7, portRange: [64754, 64757] }), new ImpairedPath({ ...IMPAIRMENT, seed: 11, portRange: [64758, 64761] })];
    h.track({ close: () => void upPath.close() });
    h.track({ close: () => void downPath.close() });

    // The impaired participant sends real VP8 (a keyframe every second) up, and watches it come back down.
    const publisher = h.peer();
    const track = new MediaStreamTrack({ kind: 'video' });
    const sending = publisher.addTransceiver(track, { direction: 'sendonly' });
    let upstreamNacks = 0;
    sending.sender.onGenericNack.subscribe(() => upstreamNacks++);
    const viewer = h.peer();
    viewer.addTransceiver('video', { direction: 'recvonly' });
    const received: RtpPacket[] = collect(viewer, 'video');
    await Promise.all([negotiateThrough(publisher, uplink, upPath), negotiateThrough(viewer, downlink, downPath)]);
    await Promise.all([waitForConnected(publisher, 30_000), waitForConnected(viewer, 30_000)]);
    const sender = h.track(new RealMediaSender({ audio: false }));
    sender.onPacket = (_kind, packet) => track.writeRtp(packet);
    await sender.start();

    // Ten seconds of media from the first packet the viewer gets; then the last retransmissions get there.
    await until(() => received.length > 0, 20_000);
    await new Promise((r) => setTimeout(r, 10_000));
    await sender.close();
    await new Promise((r) => setTimeout(r, 1500));
    const played = vp8Playback(received);
    const [up, down] = [await upPath.stats(), await downPath.stats()];

    // The path was as bad as asked, both ways (about 5 % of datagrams dropped)...
    for (const leg of [up.up, up.down, down.up, down.down]) expect(leg.dropped / (leg.forwarded + leg.dropped)).toBeGreaterThan(0.02);
    expect(down.down.forwarded + down.down.dropped).toBeGreaterThan(300);
    expect(downlink.getStats().video.roundTripTime).toBeGreaterThanOrEqual(0.4);
    // ...losses were asked for again and resent: upstream the server's NACKs to the participant, downstream the viewer's to the server...
    expect(upstreamNacks).toBeGreaterThan(0);
    expect(downlink.getStats().video.nacksReceived).toBeGreaterThan(0);
    expect(downlink.getStats().video.retransmitted).toBeGreaterThan(0);
    // ...and the viewer can play nearly every frame, with no freeze as long as a keyframe interval (1 s),
    // where without recovery every lost packet (about 1 frame in 10) would break the picture until the next keyframe.
    expect(played.framesSeen).toBeGreaterThan(100);
    expect(played.decodable / played.framesSeen, JSON.stringify(played)).toBeGreaterThan(0.95);
    expect(played.longestFreezeMs, JSON.stringify(played)).toBeLessThan(700);
  }, 60_000);
});
