import type { RTCPeerConnection } from 'werift';
import { SrtpProfile } from '../srtp/index.js';
import { guardHelloVerifyRequests } from './dtlsHelloGuard.js';

/**
 * The SRTP profiles the engine accepts, most preferred first. AES_CM_128_HMAC_SHA1_80
 * first: every WebRTC stack must support it (RFC 8827), and on the fast path it costs
 * about half of AEAD_AES_128_GCM per packet in Node (GCM needs a new cipher context per
 * packet; AES-CM's keystream is made ahead, scripts/srtpBench.ts, docs/performance.md).
 * werift's own order (a private constant) puts GCM first.
 */
export const PREFERRED_SRTP_PROFILES: readonly number[] = [SrtpProfile.AES_CM_128_HMAC_SHA1_80, SrtpProfile.AEAD_AES_128_GCM];

interface DtlsTransportSettings {
  role: 'auto' | 'server' | 'client';
  srtpProfiles: number[];
  remoteParameters?: { role?: 'auto' | 'server' | 'client' };
}

/**
 * Applies the engine's DTLS preferences to every DTLS transport of `pc`: the SRTP
 * profile order, and, when answering (`answering`), the DTLS server role
 * (a=setup:passive), because the DTLS server is the side that picks the profile (RFC
 * 5764 §4.1.1): as a client (werift's default for an answerer) the browser would pick,
 * and Chromium picks GCM. An offerer's actpass leaves the choice to the answerer, so
 * a passive answer is always allowed (RFC 5763 §5).
 */
export function applyDtlsPreferences(pc: RTCPeerConnection, answering: boolean): void {
  const transports = (pc as unknown as { dtlsTransports?: DtlsTransportSettings[] }).dtlsTransports ?? [];
  for (const dtls of transports) {
    guardHelloVerifyRequests(dtls);
    dtls.srtpProfiles = [...PREFERRED_SRTP_PROFILES];
    // A peer that offered a=setup:passive is the server; otherwise (actpass, active) we are.
    if (answering && dtls.role === 'auto' && dtls.remoteParameters?.role !== 'server') dtls.role = 'server';
  }
}
