import { SrtpContext, rtpHeaderLength, type SrtpProfile } from '@roundtable/media';
import type { RTCPeerConnection } from 'werift';

/** The parts of werift's ICE objects this uses (werift does not type them publicly). */
interface UdpProtocol {
  datagramReceived(data: Buffer, addr: [string, number]): void;
}

/** A replay window as wide as libwebrtc's: werift senders reorder bursts by more than 128. */
const REPLAY_WINDOW = 1024;

/**
 * Receives a downlink's RTP payloads. Until DTLS is up (and for good with `fast` off)
 * through werift's stack; once it is, SRTP datagrams are taken off the ICE socket and
 * unprotected with the engine's native-crypto SRTP (packages/media/src/srtp), skipping
 * werift's per-packet SRTP and RTP objects: werift costs ~40-50 µs of CPU per packet,
 * which made the load generator the bottleneck it measures. The peer still does ICE
 * (consent), DTLS and RTCP through werift; it no longer sends receiver reports or NACKs
 * for the media it receives, so loss is what the server and the network lost.
 */
export function receiveRtp(pc: RTCPeerConnection, onPayload: (payload: Buffer) => void, fast: boolean): void {
  let hooked = false;
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((packet) => {
      if (!hooked) onPayload(packet.payload);
    });
  });
  if (!fast) return;
  const sub = pc.connectionStateChange.subscribe((state) => {
    if (state !== 'connected' || hooked) return;
    hooked = hookSrtp(pc, onPayload);
    if (process.env['RTBENCH_DEBUG']) process.stderr.write(`fast receive: ${hooked ? 'hooked' : 'NOT hooked'}\n`);
    if (hooked) sub.unSubscribe();
  });
}

function hookSrtp(pc: RTCPeerConnection, onPayload: (payload: Buffer) => void): boolean {
  const dtls = pc.dtlsTransports[0];
  const config = (dtls as unknown as { srtp?: { config?: { profile: number; keys: Record<string, Buffer | undefined> } } } | undefined)?.srtp?.config;
  if (!dtls || !dtls.srtpStarted || !config) return false;
  const key = config.keys['remoteMasterKey'];
  const salt = config.keys['remoteMasterSalt'];
  if (!key || !salt) return false;
  let inbound: SrtpContext;
  try {
    inbound = new SrtpContext(config.profile as SrtpProfile, key, salt, { replayWindow: REPLAY_WINDOW });
  } catch {
    return false; // a profile the engine's SRTP does not do: werift's stack keeps receiving
  }
  const connection = dtls.iceTransport.connection as unknown as { protocols?: UdpProtocol[] };
  const protocols = connection.protocols ?? [];
  if (protocols.length === 0) return false;
  for (const protocol of protocols) {
    const original = protocol.datagramReceived;
    protocol.datagramReceived = (data: Buffer, addr: [string, number]): void => {
      const b0 = data[0];
      const b1 = data[1];
      // RTP (RFC 7983: first byte 128-191) that is not RTCP (RFC 5761: second byte 192-223).
      if (b0 !== undefined && b1 !== undefined && b0 >= 128 && b0 <= 191 && !(b1 >= 192 && b1 <= 223)) {
        const n = inbound.unprotectRtp(data);
        if (n < 0) return; // forged, replayed or truncated: dropped, as a browser would
        const headerLength = rtpHeaderLength(data, n);
        if (headerLength < 0) return;
        onPayload(data.subarray(headerLength, n));
        return;
      }
      original.call(protocol, data, addr);
    };
  }
  return true;
}
