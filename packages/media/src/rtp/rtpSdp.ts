/**
 * SDP for plain RTP (RtpEndpoint): parsing a remote description, writing ours, and the
 * offer/answer rules (RFC 3264) for the codecs Roundtable forwards. No ICE, no DTLS:
 * each media section names the address and port its RTP goes to.
 */
import { isIP, isIPv6 } from 'node:net';
import { SdpError } from '../core/errors.js';
import { isMediaKind, type CodecInfo, type MediaKind } from '../core/types.js';

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpCodec {
  payloadType: number;
  /** Encoding name as written in a=rtpmap, e.g. "VP8". */
  name: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

/** One media section of a remote description. */
export interface SdpMedia {
  kind: string;
  port: number;
  proto: string;
  formats: string[];
  /** Connection address of the section (or the session's). */
  address: string | undefined;
  /** Formats that have an a=rtpmap, in the order of the m-line. */
  codecs: SdpCodec[];
  rtcpMux: boolean;
  /** Port of a=rtcp (RFC 3605), if given. */
  rtcpPort: number | undefined;
  direction: SdpDirection;
  /** The section carries SDES keys (a=crypto). */
  crypto: boolean;
}

export interface SdpSession {
  media: SdpMedia[];
}

/** One media section of our description; `accepted: false` is written with port 0. */
export interface MediaLine {
  kind: string;
  proto: string;
  accepted: boolean;
  /** Formats of a rejected section (echoed from the offer). */
  formats: string[];
  codecs: SdpCodec[];
  direction: SdpDirection;
  rtcpMux: boolean;
}

export interface LocalDescription {
  address: string;
  port: number;
  sessionId: string;
  cname: string;
  /** SSRC we send with, per kind. */
  ssrcs: Record<MediaKind, number>;
  lines: MediaLine[];
}

/** One media kind as agreed by offer and answer. */
export interface NegotiatedMedia {
  kind: MediaKind;
  /** Codecs both sides accept, with the payload types the remote expects to receive. */
  sendCodecs: CodecInfo[];
  /** Payload types we accept from the remote. */
  receiveCodecs: CodecInfo[];
  send: boolean;
  receive: boolean;
  /** Where RTP and RTCP go; undefined when the remote holds the stream (port 0 or no address). */
  remote: { address: string; rtpPort: number; rtcpPort: number } | undefined;
}

/** Profiles we answer: plain RTP, with or without RTCP feedback. */
const PLAIN_PROFILES = ['RTP/AVP', 'RTP/AVPF'];

/** What generateOffer() offers: opus, VP8 and H.264 (packetization-mode=1). */
export const OFFER_CODECS: Record<MediaKind, readonly SdpCodec[]> = {
  audio: [{ payloadType: 111, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' }],
  video: [
    { payloadType: 96, name: 'VP8', clockRate: 90000 },
    { payloadType: 103, name: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
  ],
};

const M_LINE = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/;
const C_LINE = /^c=IN (IP4|IP6) ([^\s/]+)(?:\/\d+)*$/;
const RTPMAP = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?$/;
const FMTP = /^a=fmtp:(\d+) (.+)$/;
const RTCP = /^a=rtcp:(\d+)(?: .*)?$/;
const DIRECTIONS: readonly string[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

/** Parses a remote plain-RTP description. Throws SdpError (INVALID_SDP) when it is malformed. */
export function parseRtpSdp(sdp: unknown): SdpSession {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new SdpError('SDP must be a non-empty string');
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new SdpError("SDP must start with 'v=0'");
  if (!lines.some((l) => l.startsWith('o='))) throw new SdpError("SDP has no origin ('o=') line");
  let sessionAddress: string | undefined;
  let sessionDirection: SdpDirection = 'sendrecv';
  const sections: { media: SdpMedia; rtpmaps: Map<number, SdpCodec>; fmtps: Map<number, string>; direction?: SdpDirection }[] = [];
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) throw new SdpError(`malformed SDP line '${line.slice(0, 60)}'`);
    const current = sections.at(-1);
    if (line.startsWith('m=')) {
      const m = M_LINE.exec(line);
      const port = Number(m?.[2]);
      if (!m || port > 65535) throw new SdpError(`malformed media line '${line.slice(0, 60)}'`);
      const formats = m[4]!.trim().split(' ').filter((f) => f !== '');
      const media: SdpMedia = { kind: m[1]!, port, proto: m[3]!, formats, address: undefined, codecs: [], rtcpMux: false, rtcpPort: undefined, direction: 'sendrecv', crypto: false };
      sections.push({ media, rtpmaps: new Map(), fmtps: new Map() });
    } else if (line.startsWith('c=')) {
      const c = C_LINE.exec(line);
      if (!c || isIP(c[2]!) !== (c[1] === 'IP4' ? 4 : 6)) throw new SdpError(`unsupported connection line '${line.slice(0, 60)}': need an IP address`);
      if (current) current.media.address = c[2]!;
      else sessionAddress = c[2]!;
    } else if (line.startsWith('a=')) {
      const attribute = line.slice(2);
      if (DIRECTIONS.includes(attribute)) {
        if (current) current.direction = attribute as SdpDirection;
        else sessionDirection = attribute as SdpDirection;
      } else if (current) {
        parseMediaAttribute(line, current);
      }
    }
  }
  if (sections.length === 0) throw new SdpError('SDP has no media section');
  return {
    media: sections.map(({ media, rtpmaps, fmtps, direction }) => {
      media.address ??= sessionAddress;
      if (media.port !== 0 && media.address === undefined) throw new SdpError(`the ${media.kind} section has no connection address (c=)`);
      media.direction = direction ?? sessionDirection;
      for (const format of media.formats) {
        const codec = rtpmaps.get(Number(format));
        if (codec) media.codecs.push({ ...codec, ...(fmtps.has(codec.payloadType) ? { fmtp: fmtps.get(codec.payloadType) } : {}) });
      }
      return media;
    }),
  };
}

function parseMediaAttribute(
  line: string,
  section: { media: SdpMedia; rtpmaps: Map<number, SdpCodec>; fmtps: Map<number, string> },
): void {
  const rtpmap = RTPMAP.exec(line);
  if (rtpmap) {
    const payloadType = Number(rtpmap[1]);
    if (payloadType > 127) throw new SdpError(`invalid payload type in '${line.slice(0, 60)}'`);
    const codec: SdpCodec = { payloadType, name: rtpmap[2]!, clockRate: Number(rtpmap[3]) };
    if (rtpmap[4] !== undefined) codec.channels = Number(rtpmap[4]);
    section.rtpmaps.set(payloadType, codec);
    return;
  }
  const fmtp = FMTP.exec(line);
  if (fmtp) {
    section.fmtps.set(Number(fmtp[1]), fmtp[2]!.trim());
    return;
  }
  if (line === 'a=rtcp-mux') {
    section.media.rtcpMux = true;
    return;
  }
  const rtcp = RTCP.exec(line);
  if (rtcp) {
    const port = Number(rtcp[1]);
    if (port > 65535) throw new SdpError(`invalid RTCP port in '${line.slice(0, 60)}'`);
    section.media.rtcpPort = port;
    return;
  }
  if (line.startsWith('a=crypto:')) section.media.crypto = true;
}

/** Writes our description; accepted sections get `port`, rejected ones port 0. */
export function writeRtpSdp(d: LocalDescription): string {
  const ipVersion = isIPv6(d.address) ? 'IP6' : 'IP4';
  const out = ['v=0', `o=- ${d.sessionId} 1 IN ${ipVersion} ${d.address}`, 's=Roundtable', `c=IN ${ipVersion} ${d.address}`, 't=0 0'];
  for (const line of d.lines) {
    if (!line.accepted) {
      out.push(`m=${line.kind} 0 ${line.proto} ${line.formats.join(' ') || '0'}`);
      continue;
    }
    out.push(`m=${line.kind} ${d.port} ${line.proto} ${line.codecs.map((c) => c.payloadType).join(' ')}`);
    // RFC 3605: when the peer does not multiplex, it sends RTCP here rather than to port + 1.
    out.push(`a=rtcp:${d.port}`);
    if (line.rtcpMux) out.push('a=rtcp-mux');
    for (const c of line.codecs) {
      out.push(`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${c.channels ? `/${c.channels}` : ''}`);
      if (c.fmtp) out.push(`a=fmtp:${c.payloadType} ${c.fmtp}`);
      if (line.kind === 'video' && line.proto.toUpperCase() === 'RTP/AVPF') {
        out.push(`a=rtcp-fb:${c.payloadType} nack`, `a=rtcp-fb:${c.payloadType} nack pli`, `a=rtcp-fb:${c.payloadType} ccm fir`);
      }
    }
    out.push(`a=${line.direction}`);
    if (isMediaKind(line.kind) && sends(line.direction)) out.push(`a=ssrc:${d.ssrcs[line.kind]} cname:${d.cname}`);
  }
  return out.join('\r\n') + '\r\n';
}

/** The sections of an offer for `kinds`. */
export function offerLines(kinds: readonly MediaKind[], direction: SdpDirection): MediaLine[] {
  return kinds.map((kind) => ({
    kind,
    proto: 'RTP/AVPF',
    accepted: true,
    formats: [],
    codecs: OFFER_CODECS[kind].map((c) => ({ ...c })),
    direction,
    rtcpMux: true,
  }));
}

/**
 * Answers a remote offer: accepts the first audio and the first video section in a
 * plain RTP profile with a codec we forward, rejects the others. When nothing is
 * accepted: throws SdpError NO_COMMON_CODEC, or with `rejectAll` answers every
 * section rejected (and no media), as Kurento does.
 */
export function answerOffer(offer: SdpSession, direction: SdpDirection, rejectAll = false): { lines: MediaLine[]; media: NegotiatedMedia[] } {
  const lines: MediaLine[] = [];
  const media: NegotiatedMedia[] = [];
  for (const m of offer.media) {
    const kind = m.kind;
    const codecs = isMediaKind(kind) ? m.codecs.filter((c) => forwardable(kind, c)) : [];
    const usable =
      isMediaKind(kind) && m.port !== 0 && PLAIN_PROFILES.includes(m.proto.toUpperCase()) && !m.crypto && codecs.length > 0 && !media.some((n) => n.kind === kind);
    if (!usable || !isMediaKind(kind)) {
      lines.push({ kind, proto: m.proto, accepted: false, formats: m.formats, codecs: [], direction: 'inactive', rtcpMux: false });
      continue;
    }
    const ours = agreedDirection(direction, m.direction);
    lines.push({ kind, proto: m.proto, accepted: true, formats: [], codecs, direction: ours, rtcpMux: m.rtcpMux });
    const infos = codecs.map((c) => toCodecInfo(kind, c));
    media.push({ kind, sendCodecs: infos, receiveCodecs: infos, send: sends(ours), receive: receives(ours), remote: remoteOf(m, m.rtcpMux) });
  }
  if (media.length === 0 && !rejectAll) {
    const offered = [...new Set(offer.media.flatMap((m) => m.codecs.map((c) => `${m.kind} ${c.name} (${m.proto})`)))].join(', ') || 'none';
    throw new SdpError(`nothing to answer: offered ${offered}; RtpEndpoint takes opus, VP8 and H264 over RTP/AVP(F)`, 'NO_COMMON_CODEC');
  }
  return { lines, media };
}

/**
 * Applies the remote answer to our offer. Throws SdpError: INVALID_SDP when the answer
 * does not match the offer, NO_COMMON_CODEC when it accepts nothing we can forward
 * (unless `acceptNothing`: then no media, as Kurento takes such an answer).
 */
export function acceptAnswer(offered: readonly MediaLine[], answer: SdpSession, acceptNothing = false): NegotiatedMedia[] {
  if (answer.media.length !== offered.length) {
    throw new SdpError(`the answer has ${answer.media.length} media sections, the offer had ${offered.length}`);
  }
  const media: NegotiatedMedia[] = [];
  offered.forEach((line, i) => {
    const m = answer.media[i]!;
    if (m.kind !== line.kind) throw new SdpError(`media section ${i} of the answer is ${m.kind}, the offer's is ${line.kind}`);
    const kind = line.kind;
    if (m.port === 0 || !isMediaKind(kind)) return;
    const codecs = m.codecs.filter((c) => forwardable(kind, c) && line.codecs.some((o) => sameCodec(o, c)));
    if (codecs.length === 0) return;
    const ours = agreedDirection(line.direction, m.direction);
    const sendCodecs = codecs.map((c) => toCodecInfo(kind, c));
    // The remote should send with our payload types (RFC 3264), but take its own too.
    const receiveCodecs = [...sendCodecs];
    for (const o of line.codecs) {
      if (codecs.some((c) => sameCodec(o, c)) && !receiveCodecs.some((r) => r.payloadType === o.payloadType)) receiveCodecs.push(toCodecInfo(kind, o));
    }
    media.push({ kind, sendCodecs, receiveCodecs, send: sends(ours), receive: receives(ours), remote: remoteOf(m, line.rtcpMux && m.rtcpMux) });
  });
  if (media.length === 0 && !acceptNothing) throw new SdpError('the answer accepts no media section with a codec Roundtable forwards', 'NO_COMMON_CODEC');
  return media;
}

function remoteOf(m: SdpMedia, rtcpMux: boolean): NegotiatedMedia['remote'] {
  const address = m.address;
  if (m.port === 0 || address === undefined || address === '0.0.0.0' || address === '::') return undefined;
  return { address, rtpPort: m.port, rtcpPort: rtcpMux ? m.port : (m.rtcpPort ?? m.port + 1) };
}

/** What we do given what we want and what the remote said it does. */
function agreedDirection(local: SdpDirection, remote: SdpDirection): SdpDirection {
  const send = sends(local) && receives(remote);
  const receive = receives(local) && sends(remote);
  if (send && receive) return 'sendrecv';
  if (send) return 'sendonly';
  return receive ? 'recvonly' : 'inactive';
}

function sends(d: SdpDirection): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

function receives(d: SdpDirection): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}

function forwardable(kind: MediaKind, c: SdpCodec): boolean {
  return OFFER_CODECS[kind].some((o) => o.name.toLowerCase() === c.name.toLowerCase() && o.clockRate === c.clockRate);
}

function sameCodec(a: SdpCodec, b: SdpCodec): boolean {
  return a.name.toLowerCase() === b.name.toLowerCase() && a.clockRate === b.clockRate;
}

function toCodecInfo(kind: MediaKind, c: SdpCodec): CodecInfo {
  return { mimeType: `${kind}/${c.name}`, payloadType: c.payloadType, clockRate: c.clockRate, channels: c.channels, parameters: c.fmtp };
}
