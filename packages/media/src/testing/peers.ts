/**
 * Node WebRTC peers for tests: werift and libwebrtc (@roamhq/wrtc), both kept on
 * 127.0.0.1 and given an explicit loopback STUN server, so nothing leaves the machine.
 */
import {
  ReceiverEstimatedMaxBitrate,
  RTCPeerConnection as WeriftPeerConnection,
  RtcpPayloadSpecificFeedback,
  type RTCRtpCodecParameters,
  type RTCRtpTransceiver,
} from 'werift';

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

/**
 * werift (0.24) starts connectivity checks only on a transport whose DTLS is not up yet,
 * so after an ICE restart a werift peer sits with new credentials and no pair (the old
 * one is dropped with the old generation) while it still says 'connected'. Call this on
 * a werift peer once its restart's offer/answer is applied: it starts the checks of the
 * new generation, and DTLS carries on over whichever pair they nominate.
 */
export function startRestartedChecks(pc: WeriftPeerConnection): void {
  for (const transport of pc.iceTransports) {
    const connection = transport.connection;
    // After the restart werift reports 'new', then 'completed' once gathering ends (not
    // a connection): no pair, no checks.
    if (connection.nominated || !connection.remoteUsername || transport.state === 'checking' || transport.state === 'closed') continue;
    transport.start().catch(() => {
      // A failed restart shows as ICE state 'failed'.
    });
  }
}

/** A REMB (draft-alvestrand-rmcat-remb) of `bitrate` bits/s for `mediaSsrc`, as a werift peer sends it. */
export function rembPacket(senderSsrc: number, mediaSsrc: number, bitrate: number): RtcpPayloadSpecificFeedback {
  let mantissa = Math.max(0, Math.floor(bitrate));
  let exp = 0;
  while (mantissa >= 1 << 18) {
    mantissa >>>= 1;
    exp++;
  }
  return new RtcpPayloadSpecificFeedback({
    feedback: new ReceiverEstimatedMaxBitrate({
      senderSsrc,
      mediaSsrc: 0,
      ssrcNum: 1,
      brExp: exp,
      brMantissa: mantissa,
      bitrate: BigInt(mantissa) << BigInt(exp),
      ssrcFeedbacks: [mediaSsrc],
    }),
  });
}
