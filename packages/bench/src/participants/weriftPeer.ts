import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket, type RTCPeerConnectionConfig, type RTCRtpTransceiver } from 'werift';
import type { PlannedPacket } from '../traffic.js';

/** A werift peer on the bench's address only, with the worker's loopback STUN server; `extra` adds to its configuration (e.g. header extensions). */
export function createPeer(host: string, stunUrl: string, extra: RTCPeerConnectionConfig = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [{ urls: stunUrl }],
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: [host],
    iceInterfaceAddresses: { udp4: host },
    ...extra,
  });
}

/** Resolves when ICE gathering is complete, so the local SDP carries every candidate (no trickle needed). */
export async function gatheringComplete(pc: RTCPeerConnection, timeoutMs = 10_000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('ICE gathering did not complete')), timeoutMs);
    const sub = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      }
    });
  });
}

/** The sending side of an uplink: one audio and one video track, RTP written with our own numbering. */
export class UplinkTracks {
  readonly audio = new MediaStreamTrack({ kind: 'audio' });
  readonly video = new MediaStreamTrack({ kind: 'video' });
  private readonly seq = { audio: Math.floor(Math.random() * 60000), video: Math.floor(Math.random() * 60000) };
  private readonly ts = { audio: Math.floor(Math.random() * 1e9), video: Math.floor(Math.random() * 1e9) };
  private readonly frameTs = { audio: 0, video: 0 };
  private readonly startMs = performance.now();

  /**
   * Adds the transceivers (audio first, like FakePublisher in the tests; send-only unless
   * told, sendrecv for a loopback test) and calls `onPli` on PLI/FIR.
   */
  attach(pc: RTCPeerConnection, onPli: () => void, direction: 'sendonly' | 'sendrecv' = 'sendonly'): RTCRtpTransceiver[] {
    const audio = pc.addTransceiver(this.audio, { direction });
    const video = pc.addTransceiver(this.video, { direction });
    video.sender.onPictureLossIndication.subscribe(onPli);
    return [audio, video];
  }

  send(planned: PlannedPacket, payload: Buffer): void {
    const kind = planned.kind;
    // RTP clocks: 48 kHz audio, 90 kHz video; every packet of a video frame has the frame's timestamp.
    if (planned.frameStart) this.frameTs[kind] = (this.ts[kind] + Math.floor((performance.now() - this.startMs) * (kind === 'audio' ? 48 : 90))) >>> 0;
    const timestamp = this.frameTs[kind];
    const header = new RtpHeader({ sequenceNumber: this.seq[kind], timestamp, marker: planned.marker, payloadType: kind === 'audio' ? 111 : 96 });
    this.seq[kind] = (this.seq[kind] + 1) & 0xffff;
    (kind === 'audio' ? this.audio : this.video).writeRtp(new RtpPacket(header, payload));
  }
}

/** Resolves when the peer connection is connected (ICE + DTLS); rejects on failure or timeout. */
export async function waitConnected(pc: RTCPeerConnection, timeoutMs = 30_000): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`peer not connected after ${timeoutMs} ms (${pc.connectionState})`)), timeoutMs);
    const sub = pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' || state === 'failed' || state === 'closed') {
        clearTimeout(timer);
        sub.unSubscribe();
        if (state === 'connected') resolve();
        else reject(new Error(`peer connection ${state}`));
      }
    });
  });
}
