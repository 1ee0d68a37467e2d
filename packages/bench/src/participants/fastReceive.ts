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
  // werift fires ontrack again for every receiving m-line at each new offer: one subscription per track.
  const subscribed = new WeakSet<object>();
  pc.onTrack.subscribe((track) => {
    if (subscribed.has(track)) return;
    subscribed.add(track);
    track.onReceiveRtp.subscribe((packet) => {
      if (!hooked) onPayload(packet.payload);
    });
  });
  if (!fast) return;
  // 'connected' can come before werift has its SRTP keys: tried again until they are there.
  const tryHook = (attempt: number): void => {
    if (hooked || pc.connectionState === 'closed') return;
    hooked = hookSrtp(pc, onPayload);
    if (hooked || attempt >= HOOK_ATTEMPTS) {
      if (process.env['RTBENCH_DEBUG']) process.stderr.write(`fast receive: ${hooked ? 'hooked' : 'NOT hooked'} (attempt ${attempt + 1})\n`);
      return;
    }
    setTimeout(() => tryHook(attempt + 1), HOOK_RETRY_MS);
  };
  const sub = pc.connectionStateChange.subscribe((state) => {
    if (state !== 'connected') return;
    sub.unSubscribe();
    tryHook(0);
  });
}

/** Tries to take a connected downlink off werift's stack, HOOK_RETRY_MS apart (10 s in all). */
const HOOK_ATTEMPTS = 200;
const HOOK_RETRY_MS = 50;

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
