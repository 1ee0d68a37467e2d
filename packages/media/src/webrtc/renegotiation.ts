import { SdpError } from '../core/errors.js';

/** What a later offer must keep from the first negotiation for the endpoint to take it. */
export interface SessionShape {
  /** Kinds of the media sections, in order (a=mid order is the m-line order). */
  kinds: string[];
  /** DTLS fingerprints (lower case), session or media level. */
  fingerprints: string[];
  /** ICE ufrag of the first section that has one. */
  ufrag: string | undefined;
}

export function sessionShape(sdp: string): SessionShape {
  const kinds: string[] = [];
  const fingerprints = new Set<string>();
  let ufrag: string | undefined;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) kinds.push(line.slice(2).split(' ')[0] ?? '');
    else if (line.startsWith('a=fingerprint:')) fingerprints.add(line.slice('a=fingerprint:'.length).trim().toLowerCase());
    else if (line.startsWith('a=ice-ufrag:')) ufrag ??= line.slice('a=ice-ufrag:'.length).trim();
  }
  return { kinds, fingerprints: [...fingerprints].sort(), ufrag };
}

/**
 * Checks a subsequent offer against the negotiated session: same media sections, same
 * DTLS certificate (RFC 8842: a changed fingerprint needs a new DTLS handshake, which
 * the endpoint does not do; the peer should make a new endpoint). Returns true when the
 * offer restarts ICE (new ice-ufrag).
 */
export function checkReoffer(current: string, offer: string): boolean {
  const before = sessionShape(current);
  const after = sessionShape(offer);
  if (after.kinds.length !== before.kinds.length || after.kinds.some((k, i) => k !== before.kinds[i])) {
    throw new SdpError(`a new offer must keep the media sections (${before.kinds.join(', ')}); got ${after.kinds.join(', ') || 'none'}`);
  }
  if (after.fingerprints.join(' ') !== before.fingerprints.join(' ')) {
    throw new SdpError('a new offer changed the DTLS fingerprint; a new DTLS session needs a new endpoint');
  }
  return after.ufrag !== before.ufrag;
}

/** The ufrag a trickled candidate names ("... ufrag abcd"), if it names one. */
export function candidateUfrag(candidate: string): string | undefined {
  const m = / ufrag (\S+)/.exec(candidate);
  return m?.[1];
}
