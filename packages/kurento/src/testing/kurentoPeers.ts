import kurentoClient from 'kurento-client';
import type { KurentoElement } from 'kurento-client';
import { createWeriftPeer, transceiverOf, waitForConnected } from '@roundtable/media/testing';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';

const IceCandidate = kurentoClient.getComplexType('IceCandidate');

/** Received packets of one peer, by kind. */
export interface Received {
  audio: RtpPacket[];
  video: RtpPacket[];
}

/** Listens for what a peer receives; call before negotiation. */
export function receivedBy(pc: WeriftPeerConnection): Received {
  const got: Received = { audio: [], video: [] };
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((p) => (track.kind === 'video' ? got.video : got.audio).push(p));
  });
  return got;
}

/**
 * Plays the browser of a Kurento tutorial: offers to `ep` through the official client,
 * trickles candidates both ways (IceCandidateFound / addIceCandidate) and waits until
 * the peer is connected.
 */
export async function connectThroughKurento(pc: WeriftPeerConnection, ep: KurentoElement): Promise<void> {
  ep.on('IceCandidateFound', (event) => {
    const c = event.candidate as { candidate: string; sdpMid: string; sdpMLineIndex: number };
    void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }).catch(() => undefined);
  });
  pc.onIceCandidate.subscribe((c) => {
    if (c) void ep.addIceCandidate(IceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 }));
  });
  await pc.setLocalDescription(await pc.createOffer());
  const answer = await ep.processOffer(pc.localDescription!.sdp);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await ep.gatherCandidates();
  await waitForConnected(pc);
}

/** A receive-only peer (a viewer). */
export function viewerPeer(stunUrl: string): { pc: WeriftPeerConnection; got: Received } {
  const pc = createWeriftPeer(stunUrl);
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  return { pc, got: receivedBy(pc) };
}

export { transceiverOf };

export async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
