import { isIP } from 'node:net';
import { SdpError } from '../core/errors.js';

/** Codecs Roundtable negotiates and forwards (lower case mime subtype). */
export const SUPPORTED_CODECS: Record<'audio' | 'video', readonly string[]> = {
  audio: ['opus'],
  video: ['vp8', 'h264'],
};

const M_LINE = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)(?: (.*))?$/;
const RTPMAP = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)/;

export interface ParsedMedia {
  kind: string;
  port: number;
  codecs: string[];
}

/**
 * Checks that `sdp` is a usable WebRTC session description and returns its media
 * sections. Throws SdpError (INVALID_SDP, or NO_COMMON_CODEC when no audio/video
 * section offers a codec Roundtable forwards).
 */
export function validateRemoteSdp(sdp: unknown): ParsedMedia[] {
  const { media, fingerprint, ufrag } = parseSdpStructure(sdp);
  if (media.length === 0) throw new SdpError('SDP has no media section');
  if (!fingerprint) throw new SdpError('SDP has no DTLS fingerprint (a=fingerprint)');
  if (!ufrag) throw new SdpError('SDP has no ICE credentials (a=ice-ufrag)');
  const av = media.filter((m) => m.kind === 'audio' || m.kind === 'video');
  if (av.length === 0) throw new SdpError('SDP has no audio or video section', 'NO_COMMON_CODEC');
  const common = av.some((m) => m.codecs.some((c) => SUPPORTED_CODECS[m.kind as 'audio' | 'video'].includes(c)));
  if (!common) {
    const offered = [...new Set(av.flatMap((m) => m.codecs))].join(', ') || 'none';
    throw new SdpError(
      `no codec in common: offered ${offered}; Roundtable forwards opus, VP8 and H264`,
      'NO_COMMON_CODEC',
    );
  }
  return media;
}

/**
 * Checks only that `sdp` is a well-formed session description (what Kurento's parser
 * asks of an offer before answering it); throws SdpError INVALID_SDP otherwise.
 */
export function validateSdpSyntax(sdp: unknown): void {
  parseSdpStructure(sdp);
}

function parseSdpStructure(sdp: unknown): { media: ParsedMedia[]; fingerprint: boolean; ufrag: boolean } {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new SdpError('SDP must be a non-empty string');
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new SdpError("SDP must start with 'v=0'");
  if (!lines.some((l) => l.startsWith('o='))) throw new SdpError("SDP has no origin ('o=') line");
  const media: ParsedMedia[] = [];
  let current: ParsedMedia | undefined;
  let fingerprint = false;
  let ufrag = false;
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) throw new SdpError(`malformed SDP line '${line.slice(0, 60)}'`);
    if (line.startsWith('m=')) {
      const m = M_LINE.exec(line);
      if (!m) throw new SdpError(`malformed media line '${line.slice(0, 60)}'`);
      current = { kind: m[1]!, port: Number(m[2]), codecs: [] };
      media.push(current);
    } else if (line.startsWith('a=fingerprint:')) {
      fingerprint = true;
    } else if (line.startsWith('a=ice-ufrag:')) {
      ufrag = true;
    } else if (current) {
      const r = RTPMAP.exec(line);
      if (r) current.codecs.push(r[2]!.toLowerCase());
    }
  }
  return { media, fingerprint, ufrag };
}

export interface ParsedCandidate {
  foundation: string;
  component: number;
  protocol: string;
  priority: number;
  address: string;
  port: number;
  type: string;
}

const CANDIDATE = /^(?:a=)?candidate:(\S+) (\d+) (udp|tcp) (\d+) (\S+) (\d+) typ (host|srflx|prflx|relay)(?: .*)?$/i;

/** Parses an ICE candidate attribute; undefined when it is not one. */
export function parseCandidate(candidate: string): ParsedCandidate | undefined {
  const m = CANDIDATE.exec(candidate.trim());
  if (!m) return undefined;
  const port = Number(m[6]);
  if (port < 0 || port > 65535) return undefined;
  return {
    foundation: m[1]!,
    component: Number(m[2]),
    protocol: m[3]!.toLowerCase(),
    priority: Number(m[4]),
    address: m[5]!,
    port,
    type: m[7]!.toLowerCase(),
  };
}

/** Replaces the address of a host candidate with the announced one. */
export function announceCandidate(candidate: string, announced: string | undefined): string {
  if (!announced) return candidate;
  const parsed = parseCandidate(candidate);
  if (!parsed || parsed.type !== 'host') return candidate;
  const parts = candidate.split(' ');
  parts[4] = announced;
  return parts.join(' ');
}

/** Applies `map` to every a=candidate line; a null result drops the line. */
export function mapCandidateLines(sdp: string, map: (candidate: string) => string | null): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(/\r?\n/)
    .flatMap((line) => {
      if (!line.startsWith('a=candidate:')) return [line];
      const mapped = map(line.slice(2));
      return mapped === null ? [] : [`a=${mapped}`];
    })
    .join(eol);
}

/**
 * Decides which remote candidates the server will try: mDNS names cannot be resolved
 * here, and when the server only listens on loopback it must not probe other addresses.
 */
export function remoteCandidateFilter(localAddresses: string[]): (candidate: ParsedCandidate) => boolean {
  const loopbackOnly = localAddresses.every(isLoopback);
  const families = new Set(localAddresses.map((a) => isIP(a)));
  return (c) => {
    const family = isIP(c.address);
    if (family === 0) return false;
    if (c.type === 'relay' && !loopbackOnly) return families.has(family);
    if (loopbackOnly) return isLoopback(c.address);
    return families.has(family) && c.protocol === 'udp';
  };
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** A section taken out of an offer, to be answered with port 0. */
export interface RejectedSection {
  index: number;
  /** The media of the m-line: 'audio', 'video', 'application', ... */
  kind: string;
  /** What follows the port on the m-line, e.g. 'UDP/DTLS/SCTP webrtc-datachannel'. */
  protoAndFormats: string;
  mid: string | undefined;
}

/**
 * Removes the data channel (application) sections from an offer, and their mids from
 * the BUNDLE group, so that the transport does not negotiate SCTP for an endpoint
 * without data channels. withRejectedSections() puts them back into the answer, rejected.
 */
export function withoutDataSections(sdp: string): { sdp: string; rejected: RejectedSection[] } {
  const result = withoutSections(sdp, (section) => section.kind !== 'application');
  return { sdp: result.sdp ?? sdp, rejected: result.rejected };
}

/** What withoutUnusableSections() looks at in one media section. */
export interface OfferedSection {
  kind: string;
  port: number;
  proto: string;
  /** Lower case encoding names of its a=rtpmap lines. */
  codecs: string[];
  /** It, the session, or (bundled) its BUNDLE group carries ICE credentials and a DTLS fingerprint. */
  secureTransport: boolean;
  /** Offered with port 0 and a=bundle-only (RFC 8843): it rides on the group's transport. */
  bundleOnly: boolean;
}

/** Kurento's WebRtcEndpoint takes these profiles: RTP/SAVP(F), with or without UDP/TLS/. */
const WEBRTC_RTP_PROFILE = /^(UDP\/TLS\/)?RTP\/SAVPF?$/i;

/**
 * Takes out of an offer every section a WebRtcEndpoint cannot answer, as Kurento's
 * WebRtcEndpoint rejects them: audio/video not in an RTP/SAVP(F) profile (a plain
 * RTP/AVP offer, say), without ICE credentials and a DTLS fingerprint, without a
 * codec Roundtable forwards, or offered with port 0; data channel sections unless
 * `dataChannels`; any other media. `sdp` is undefined when nothing is left.
 */
export function withoutUnusableSections(sdp: string, dataChannels: boolean): { sdp: string | undefined; rejected: RejectedSection[] } {
  return withoutSections(sdp, (s) => {
    if ((s.port === 0 && !s.bundleOnly) || !s.secureTransport) return false;
    if (s.kind === 'application') return dataChannels && /SCTP/i.test(s.proto);
    if (s.kind !== 'audio' && s.kind !== 'video') return false;
    return WEBRTC_RTP_PROFILE.test(s.proto) && s.codecs.some((c) => SUPPORTED_CODECS[s.kind as 'audio' | 'video'].includes(c));
  });
}

function withoutSections(sdp: string, keep: (section: OfferedSection) => boolean): { sdp: string | undefined; rejected: RejectedSection[] } {
  const { eol, session, sections } = splitSdp(sdp);
  const has = (lines: string[], prefix: string): boolean => lines.some((l) => l.startsWith(prefix));
  const midOf = (lines: string[]): string | undefined => lines.find((l) => l.startsWith('a=mid:'))?.slice('a=mid:'.length);
  const secure = (lines: string[]): boolean =>
    (has(session, 'a=fingerprint:') || has(lines, 'a=fingerprint:')) && (has(session, 'a=ice-ufrag:') || has(lines, 'a=ice-ufrag:'));
  const bundled = new Set(session.filter((l) => l.startsWith('a=group:BUNDLE ')).flatMap((l) => l.split(' ').slice(1)));
  const bundleSecure = sections.some((lines) => bundled.has(midOf(lines) ?? '') && secure(lines));
  const rejected: RejectedSection[] = [];
  const kept = sections.filter((lines, index) => {
    const m = M_LINE.exec(lines[0]!);
    const mid = midOf(lines);
    const section: OfferedSection = {
      kind: m?.[1] ?? '',
      port: Number(m?.[2] ?? 0),
      proto: m?.[3] ?? '',
      codecs: lines.flatMap((l) => RTPMAP.exec(l)?.[2]?.toLowerCase() ?? []),
      secureTransport: secure(lines) || (mid !== undefined && bundled.has(mid) && bundleSecure),
      bundleOnly: has(lines, 'a=bundle-only'),
    };
    if (keep(section)) return true;
    rejected.push({ index, kind: section.kind, protoAndFormats: lines[0]!.split(' ').slice(2).join(' '), mid });
    return false;
  });
  if (rejected.length === 0) return { sdp, rejected };
  if (kept.length === 0) return { sdp: undefined, rejected };
  const removed = new Set(rejected.map((r) => r.mid));
  const head = session.map((l) => (l.startsWith('a=group:BUNDLE') ? l.split(' ').filter((t) => !removed.has(t)).join(' ') : l));
  return { sdp: joinSdp(eol, head, kept), rejected };
}

/** True when every media section of `sdp` has port 0 (an answer that accepts nothing). */
export function rejectsEverything(sdp: string): boolean {
  return splitSdp(sdp).sections.every((lines) => Number(M_LINE.exec(lines[0]!)?.[2] ?? 0) === 0);
}

/**
 * The answer to an offer of which nothing is usable: every section rejected (port 0,
 * as Kurento answers it), no ICE credentials, no fingerprint, no candidates.
 */
export function rejectingAnswer(rejected: readonly RejectedSection[], sessionId: string, address: string): string {
  const ipVersion = isIP(address) === 6 ? 'IP6' : 'IP4';
  const head = ['v=0', `o=- ${sessionId} 1 IN ${ipVersion} ${address}`, 's=Roundtable', 't=0 0'];
  return withRejectedSections(head.join('\r\n') + '\r\n', rejected);
}

/** Puts rejected sections (port 0, as RFC 3264 answers a declined stream) back into an answer. */
export function withRejectedSections(sdp: string, rejected: readonly RejectedSection[]): string {
  if (rejected.length === 0) return sdp;
  const { eol, session, sections } = splitSdp(sdp);
  for (const r of rejected) {
    const lines = [`m=${r.kind} 0 ${r.protoAndFormats}`, 'c=IN IP4 0.0.0.0', ...(r.mid === undefined ? [] : [`a=mid:${r.mid}`])];
    sections.splice(Math.min(r.index, sections.length), 0, lines);
  }
  return joinSdp(eol, session, sections);
}

function splitSdp(sdp: string): { eol: string; session: string[]; sections: string[][] } {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  const session: string[] = [];
  const sections: string[][] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push([line]);
    else (sections.at(-1) ?? session).push(line);
  }
  return { eol, session, sections };
}

function joinSdp(eol: string, session: string[], sections: string[][]): string {
  return [...session, ...sections.flat()].join(eol) + eol;
}
