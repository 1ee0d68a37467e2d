/**
 * Opus's receive parameters (RFC 7587 §6.1) in the answer of a sending transport. In an
 * answer, `useinbandfec=1` says we decode in-band FEC (the sender then adds it, as its
 * loss estimate calls for), `usedtx=1` that we take discontinuous transmission (the
 * sender stops sending in silence but for a packet every 400 ms or so).
 */

export interface OpusReceiveOptions {
  /** Ask for in-band FEC. Default false (the client's offer is echoed). */
  fec?: boolean;
  /** Ask for DTX. Default false (the client's offer is echoed). */
  dtx?: boolean;
  /**
   * Accept RED (RFC 2198) of Opus when the client offers it, and offer it to receivers
   * (those who accept it get it, the others the primary block only). Only on the
   * TypeScript packet path: the native core forwards payloads untouched. Default false.
   */
  red?: boolean;
}

/** The fmtp of our answer for Opus: the client's parameters with FEC and DTX set as asked (each left alone when not asked). */
export function opusAnswerParameters(offered: string | undefined, options: OpusReceiveOptions): string | undefined {
  const params = new Map<string, string>();
  for (const part of (offered ?? '').split(';')) {
    const [key, value] = part.split('=').map((s) => s.trim());
    if (key) params.set(key.toLowerCase(), value ?? '');
  }
  if (options.fec) params.set('useinbandfec', '1');
  if (options.dtx) params.set('usedtx', '1');
  if (params.size === 0) return offered;
  return [...params].map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(';');
}
