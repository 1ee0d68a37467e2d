import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import type { WebRtcEndpoint } from '../webrtc/WebRtcEndpoint.js';

/** Negotiates a werift peer (offerer) with an endpoint, trickling candidates both ways. */
export async function negotiate(pc: WeriftPeerConnection, ep: WebRtcEndpoint): Promise<void> {
  ep.on('iceCandidate', (c) => {
    void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined });
  });
  pc.onIceCandidate.subscribe((c) => {
    if (c) void ep.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }).catch(() => undefined);
  });
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const answer = await ep.processOffer(pc.localDescription!.sdp);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await ep.gatherCandidates();
}
