/**
 * Node WebRTC peers for tests: werift and libwebrtc (@roamhq/wrtc), both kept on
 * 127.0.0.1 and given an explicit loopback STUN server, so nothing leaves the machine.
 */
import { RTCPeerConnection as WeriftPeerConnection, type RTCRtpCodecParameters, type RTCRtpTransceiver } from 'werift';

export function createWeriftPeer(
  stunUrl: string,
  codecs?: { audio?: RTCRtpCodecParameters[]; video?: RTCRtpCodecParameters[] },
): WeriftPeerConnection {
  return new WeriftPeerConnection({
    ...(codecs ? { codecs } : {}),
    iceServers: [{ urls: stunUrl }],
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
  });
}

/** Exchanges offer/answer and trickles candidates between a werift peer and a callback pair. */
export async function waitForConnected(pc: WeriftPeerConnection, timeoutMs = 20_000): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`peer not connected after ${timeoutMs} ms (${pc.connectionState})`)), timeoutMs);
    const sub = pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      } else if (state === 'failed') {
        clearTimeout(timer);
        sub.unSubscribe();
        reject(new Error('peer connection failed'));
      }
    });
  });
}

export function transceiverOf(pc: WeriftPeerConnection, kind: 'audio' | 'video'): RTCRtpTransceiver {
  const t = pc.getTransceivers().find((x) => x.kind === kind);
  if (!t) throw new Error(`no ${kind} transceiver`);
  return t;
}
