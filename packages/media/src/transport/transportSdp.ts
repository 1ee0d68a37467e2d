import { SdpError } from '../core/errors.js';
import type { CodecInfo, MediaKind } from '../core/types.js';
import { TRANSPORT_CC_EXTENSION } from '../bwe/transportCc.js';
import { AUDIO_LEVEL_EXTENSION } from './audioLevel.js';
import { readCandidate, type RemoteCandidate } from './IceChecks.js';

/*
 * The SDP of a WebRtcTransport (unified plan, BUNDLE, rtcp-mux, ICE-lite): reading a
 * client's offer or answer, writing the answer of a sending transport and the offer
 * of a receiving transport. Only what those need; everything else of the remote SDP
 * is ignored.
 */

export interface SdpSection {
  kind: string;
  port: number;
  proto: string;
  formats: string[];
  /** Attribute lines without "a=", in order. */
  attributes: string[];
}

export interface ParsedSdp {
  session: string[];
  media: SdpSection[];
}

const M_LINE = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)(?: (.*))?$/;

/** Splits an SDP into session attributes and media sections; SdpError when it is not one. */
export function parseSdp(sdp: unknown): ParsedSdp {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new SdpError('SDP must be a non-empty string');
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new SdpError("SDP must start with 'v=0'");
  const parsed: ParsedSdp = { session: [], media: [] };
  let current: SdpSection | undefined;
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) throw new SdpError(`malformed SDP line '${line.slice(0, 60)}'`);
    if (line.startsWith('m=')) {
      const m = M_LINE.exec(line);
      if (!m) throw new SdpError(`malformed media line '${line.slice(0, 60)}'`);
      current = { kind: m[1]!, port: Number(m[2]), proto: m[3]!, formats: (m[4] ?? '').split(' ').filter(Boolean), attributes: [] };
      parsed.media.push(current);
    } else if (line.startsWith('a=')) {
      (current ? current.attributes : parsed.session).push(line.slice(2));
    }
  }
  return parsed;
}

/** Values of attribute `name` ("name:value" or a bare "name" as ""). */
export function attributes(lines: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (line === name) out.push('');
    else if (line.startsWith(name + ':')) out.push(line.slice(name.length + 1));
  }
  return out;
}

export function attribute(lines: readonly string[], name: string): string | undefined {
  return attributes(lines, name)[0];
}

export type SetupRole = 'actpass' | 'active' | 'passive';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** The peer's ICE and DTLS parameters from its description. */
export interface RemoteTransportParameters {
  ufrag: string;
  pwd: string;
  fingerprint: { algorithm: string; value: string };
  setup: SetupRole;
}

/** ICE credentials, fingerprint and setup of the first section in use (or the session level). */
export function remoteTransportParameters(sdp: ParsedSdp): RemoteTransportParameters {
  const section = sdp.media.find((m) => m.port !== 0) ?? sdp.media[0];
  const find = (name: string): string | undefined => (section ? attribute(section.attributes, name) : undefined) ?? attribute(sdp.session, name);
  const ufrag = find('ice-ufrag');
  const pwd = find('ice-pwd');
  const fingerprint = find('fingerprint');
  if (!ufrag || !pwd) throw new SdpError('SDP has no ICE credentials (a=ice-ufrag, a=ice-pwd)');
  if (!fingerprint) throw new SdpError('SDP has no DTLS fingerprint (a=fingerprint)');
  const [algorithm, value] = fingerprint.split(' ');
  if (!algorithm || !value) throw new SdpError(`malformed a=fingerprint '${fingerprint}'`);
  const setup = find('setup') ?? 'actpass';
  if (setup !== 'actpass' && setup !== 'active' && setup !== 'passive') throw new SdpError(`unknown a=setup '${setup}'`);
  return { ufrag, pwd, fingerprint: { algorithm, value }, setup };
}

/**
 * The priority of our `index`-th host candidate (RFC 8445 §5.1.2.1: type preference 126,
 * local preference 65535 for the first address and one less for each next, component 1):
 * the order of the ICE addresses is the order of preference. 2130706431 for the first.
 */
export function hostCandidatePriority(index: number): number {
  return (126 << 24) + ((65535 - index) << 8) + 255;
}

/** What the peer's description says of its ICE agent: lite or full, and its candidates (those of the first section in use). */
export interface RemoteIceParameters {
  lite: boolean;
  candidates: RemoteCandidate[];
}

export function remoteIceParameters(sdp: ParsedSdp): RemoteIceParameters {
  const section = sdp.media.find((m) => m.port !== 0) ?? sdp.media[0];
  const candidates: RemoteCandidate[] = [];
  for (const value of section ? attributes(section.attributes, 'candidate') : []) {
    const candidate = readCandidate(`candidate:${value}`);
    if (candidate) candidates.push(candidate);
  }
  return { lite: sdp.session.includes('ice-lite'), candidates };
}

export function directionOf(section: SdpSection): Direction {
  for (const d of ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const) if (section.attributes.includes(d)) return d;
  return 'sendrecv';
}

export const MID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:mid';

/** A codec as negotiated on one m-line, with its RTCP feedback. */
export interface NegotiatedCodec extends CodecInfo {
  rtcpFeedback: string[];
}

/** What a client offers to send on one m-line of a sending transport. */
export interface OfferedSender {
  mid: string;
  kind: MediaKind;
  codec: NegotiatedCodec;
  /** The RTX payload type for `codec`, when the client offered one. */
  rtxPayloadType: number | undefined;
  /** SSRCs from a=ssrc / a=ssrc-group:FID, when the client signalled them. */
  ssrc: number | undefined;
  rtxSsrc: number | undefined;
  midExtensionId: number | undefined;
  /** The payload type of RED (RFC 2198) carrying `codec`, when the client offered it (audio). */
  redPayloadType: number | undefined;
  /** The id of the audio level extension (RFC 6464), when the client offered it on an audio m-line. */
  audioLevelExtensionId: number | undefined;
  cname: string | undefined;
}

/** The codecs Roundtable forwards, most preferred first. */
const PREFERRED: Record<MediaKind, Array<(c: CodecInfo) => boolean>> = {
  audio: [(c) => c.mimeType.toLowerCase() === 'audio/opus' && c.clockRate === 48000],
  video: [
    (c) => c.mimeType.toLowerCase() === 'video/vp8',
    (c) => c.mimeType.toLowerCase() === 'video/h264' && /packetization-mode=1/.test(c.parameters ?? '') && /profile-level-id=42e01f/i.test(c.parameters ?? ''),
    (c) => c.mimeType.toLowerCase() === 'video/h264' && /packetization-mode=1/.test(c.parameters ?? ''),
  ],
};

/** The codecs of one m-line, in the order it lists them. */
export function sectionCodecs(section: SdpSection): NegotiatedCodec[] {
  const codecs: NegotiatedCodec[] = [];
  for (const value of attributes(section.attributes, 'rtpmap')) {
    const m = /^(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(value);
    if (!m) continue;
    const payloadType = Number(m[1]);
    const fmtp = attributes(section.attributes, 'fmtp').find((f) => f.startsWith(`${payloadType} `));
    const codec: NegotiatedCodec = {
      mimeType: `${section.kind}/${m[2]}`,
      payloadType,
      clockRate: Number(m[3]),
      rtcpFeedback: attributes(section.attributes, 'rtcp-fb')
        .filter((f) => f.startsWith(`${payloadType} `))
        .map((f) => f.slice(String(payloadType).length + 1)),
    };
    if (m[4]) codec.channels = Number(m[4]);
    if (fmtp) codec.parameters = fmtp.slice(String(payloadType).length + 1);
    codecs.push(codec);
  }
  return codecs;
}

/**
 * Reads one m-line of a client's offer to a sending transport: undefined when the
 * client sends nothing there, or nothing Roundtable forwards.
 */
export function offeredSender(section: SdpSection): OfferedSender | undefined {
  const direction = directionOf(section);
  if (direction !== 'sendonly' && direction !== 'sendrecv') return undefined;
  return readMediaSection(section);
}

/** The direction an answerer takes toward an offered `direction` (what the offerer sends, it receives). */
export function reverseDirection(direction: Direction): Direction {
  if (direction === 'sendonly') return 'recvonly';
  if (direction === 'recvonly') return 'sendonly';
  return direction;
}

/** Whether a side whose m-line says `direction` receives on it. */
export function receives(direction: Direction): boolean {
  return direction === 'sendrecv' || direction === 'recvonly';
}

/** Whether a side whose m-line says `direction` sends on it. */
export function sends(direction: Direction): boolean {
  return direction === 'sendrecv' || direction === 'sendonly';
}

/**
 * Reads one audio or video m-line in any direction (the codec Roundtable forwards, its
 * RTX, SSRCs, mid extension): undefined at port 0 or without such a codec.
 */
export function readMediaSection(section: SdpSection): OfferedSender | undefined {
  if (section.port === 0 || (section.kind !== 'audio' && section.kind !== 'video')) return undefined;
  const mid = attribute(section.attributes, 'mid');
  if (mid === undefined) throw new SdpError(`an ${section.kind} section has no a=mid (unified plan is required)`);
  const kind = section.kind;
  const codecs = sectionCodecs(section);
  let codec: NegotiatedCodec | undefined;
  for (const accept of PREFERRED[kind]) {
    codec = codecs.find(accept);
    if (codec) break;
  }
  if (!codec) return undefined;
  const rtx = codecs.find((c) => c.mimeType.toLowerCase().endsWith('/rtx') && c.parameters?.replace(/\s/g, '') === `apt=${codec.payloadType}`);
  // RED whose blocks are all of the chosen codec ("111/111").
  const red = kind === 'audio' ? codecs.find((c) => c.mimeType.toLowerCase() === 'audio/red' && c.clockRate === codec.clockRate && (c.parameters ?? '').split('/').every((pt) => pt.trim() === String(codec.payloadType))) : undefined;
  let ssrc: number | undefined;
  let rtxSsrc: number | undefined;
  const fid = attributes(section.attributes, 'ssrc-group').find((g) => g.startsWith('FID '));
  if (fid) {
    const [, a, b] = fid.split(' ');
    ssrc = Number(a);
    rtxSsrc = Number(b);
  } else {
    const first = attribute(section.attributes, 'ssrc');
    if (first) ssrc = Number(first.split(' ')[0]);
  }
  const cnameLine = attributes(section.attributes, 'ssrc').find((l) => l.includes(' cname:'));
  const midExt = attributes(section.attributes, 'extmap').find((e) => e.split(' ')[1] === MID_EXTENSION);
  const levelExt = kind === 'audio' ? attributes(section.attributes, 'extmap').find((e) => e.split(' ')[1] === AUDIO_LEVEL_EXTENSION) : undefined;
  return {
    mid,
    kind,
    codec,
    rtxPayloadType: rtx?.payloadType,
    redPayloadType: red?.payloadType,
    ssrc: Number.isInteger(ssrc) ? ssrc : undefined,
    rtxSsrc: rtx && Number.isInteger(rtxSsrc) ? rtxSsrc : undefined,
    midExtensionId: extensionId(midExt),
    audioLevelExtensionId: extensionId(levelExt),
    cname: cnameLine?.split(' cname:')[1],
  };
}

/** The id the section gives the transport-wide sequence number extension (transport-cc), if it has it. */
export function transportCcExtensionId(section: SdpSection): number | undefined {
  if (section.port === 0) return undefined;
  return extensionId(attributes(section.attributes, 'extmap').find((e) => e.split(' ')[1] === TRANSPORT_CC_EXTENSION));
}

/** The id of an a=extmap value ("4 urn:..." or "4/recvonly urn:..."); undefined when absent or not a one-byte-header id (1-14). */
function extensionId(extmap: string | undefined): number | undefined {
  if (extmap === undefined) return undefined;
  const id = Number(extmap.split(' ')[0]!.split('/')[0]);
  return Number.isInteger(id) && id >= 1 && id <= 14 ? id : undefined;
}

/** This side's ICE and DTLS parameters, written into every section. */
export interface LocalTransportParameters {
  ufrag: string;
  pwd: string;
  fingerprint: string;
  candidates: ReadonlyArray<{ ip: string; port: number }>;
  setup: SetupRole;
  /** Write a=ice-lite. Default true. */
  iceLite?: boolean;
}

export interface AcceptedSection {
  mid: string;
  kind: MediaKind;
  codec: NegotiatedCodec;
  rtxPayloadType?: number;
  midExtensionId?: number;
  /** RED (RFC 2198) of `codec` with this payload type, beside it on the m-line. */
  redPayloadType?: number;
  /** Accept the client's audio level extension (RFC 6464) with this id. */
  audioLevelExtensionId?: number;
  /** The transport-wide sequence number extension (transport-cc) with this id (a receiving transport's offer). */
  transportCcExtensionId?: number;
  direction: Direction;
  /** For the offer of a receiving transport: the stream it sends. */
  sender?: { ssrc: number; cname: string; streamId: string; trackId: string };
  /** More attribute lines (without "a="), written after the direction: the simulcast lines of an answer (simulcastAnswerLines). */
  extraLines?: string[];
}

export interface ClosedSection {
  mid: string;
  kind: string;
  proto: string;
  formats: string[];
  closed: true;
}

/** The m=application line of data channels (RFC 8841): SCTP over the bundled DTLS. */
export interface DataSection {
  mid: string;
  kind: 'application';
  /** Our a=sctp-port. */
  sctpPort: number;
  /** Our a=max-message-size: the largest message we take. */
  maxMessageSize: number;
}

export type WrittenSection = AcceptedSection | ClosedSection | DataSection;

/** What the peer's m=application line says of its SCTP endpoint. */
export interface RemoteDataParameters {
  /** a=sctp-port (default 5000). */
  port: number;
  /** a=max-message-size (default 65536, RFC 8841 §6.1; 0: no limit). */
  maxMessageSize: number;
}

/**
 * Reads a data channel section (`m=application 9 UDP/DTLS/SCTP webrtc-datachannel`, or
 * TCP/DTLS/SCTP): undefined at port 0, or for another application section (the old
 * `DTLS/SCTP 5000` with a=sctpmap is not taken).
 */
export function readDataSection(section: SdpSection): RemoteDataParameters | undefined {
  if (section.port === 0 || section.kind !== 'application' || !/^(UDP|TCP)\/DTLS\/SCTP$/.test(section.proto) || !section.formats.includes('webrtc-datachannel')) return undefined;
  const port = Number(attribute(section.attributes, 'sctp-port') ?? 5000);
  const maxMessageSize = Number(attribute(section.attributes, 'max-message-size') ?? 65536);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SdpError(`malformed a=sctp-port in m-line ${attribute(section.attributes, 'mid') ?? ''}`);
  if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize < 0) throw new SdpError(`malformed a=max-message-size in m-line ${attribute(section.attributes, 'mid') ?? ''}`);
  return { port, maxMessageSize };
}

/** Video feedback Roundtable answers: NACK, PLI, FIR, and REMB. */
export const VIDEO_FEEDBACK = ['nack', 'nack pli', 'ccm fir', 'goog-remb'];

/** The codec written for the payload type of a closed m-line in a receiving transport's offer (see createOffer). */
const CLOSED_SECTION_CODECS: Record<string, string> = { 'audio 111': 'opus/48000/2', 'video 96': 'VP8/90000' };

/** One description (offer or answer) of a transport: ICE-lite, BUNDLE over the sections in use. */
export function writeDescription(local: LocalTransportParameters, sessionId: string, version: number, sections: readonly WrittenSection[]): string {
  const bundled = sections.filter((s) => !('closed' in s)).map((s) => s.mid);
  const lines = ['v=0', `o=- ${sessionId} ${version} IN IP4 0.0.0.0`, 's=-', 't=0 0'];
  if (local.iceLite !== false) lines.push('a=ice-lite');
  if (bundled.length > 0) lines.push(`a=group:BUNDLE ${bundled.join(' ')}`);
  lines.push('a=msid-semantic: WMS *');
  for (const section of sections) {
    if ('sctpPort' in section) {
      lines.push('m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0');
      lines.push(`a=ice-ufrag:${local.ufrag}`, `a=ice-pwd:${local.pwd}`, `a=fingerprint:sha-256 ${local.fingerprint}`, `a=setup:${local.setup}`);
      lines.push(`a=mid:${section.mid}`, `a=sctp-port:${section.sctpPort}`, `a=max-message-size:${section.maxMessageSize}`);
      local.candidates.forEach((c, i) => lines.push(`a=candidate:${i + 1} 1 udp ${2130706431 - i} ${c.ip} ${c.port} typ host`));
      lines.push('a=end-of-candidates');
      continue;
    }
    if ('closed' in section) {
      lines.push(`m=${section.kind} 0 ${section.proto} ${section.formats.join(' ') || '0'}`, 'c=IN IP4 0.0.0.0', `a=mid:${section.mid}`, 'a=inactive');
      // A closed m-line of our own offer keeps the codec of its kind: werift refuses an offered m-line without one, even at port 0.
      const known = section.formats.length === 1 ? CLOSED_SECTION_CODECS[`${section.kind} ${section.formats[0]}`] : undefined;
      if (known) lines.push(`a=rtpmap:${section.formats[0]} ${known}`);
      continue;
    }
    const { codec } = section;
    const red = section.redPayloadType !== undefined ? [section.redPayloadType] : [];
    const rtx = section.rtxPayloadType !== undefined ? [section.rtxPayloadType] : [];
    // In our answer to a sender RED comes first: libwebrtc sends RED only when it is listed before the codec it carries.
    const formats = section.direction === 'recvonly' ? [...red, codec.payloadType, ...rtx] : [codec.payloadType, ...red, ...rtx];
    lines.push(`m=${section.kind} 9 UDP/TLS/RTP/SAVPF ${formats.join(' ')}`, 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0');
    lines.push(`a=ice-ufrag:${local.ufrag}`, `a=ice-pwd:${local.pwd}`, `a=fingerprint:sha-256 ${local.fingerprint}`, `a=setup:${local.setup}`);
    lines.push(`a=mid:${section.mid}`);
    if (section.midExtensionId !== undefined) lines.push(`a=extmap:${section.midExtensionId} ${MID_EXTENSION}`);
    if (section.audioLevelExtensionId !== undefined) lines.push(`a=extmap:${section.audioLevelExtensionId} ${AUDIO_LEVEL_EXTENSION}`);
    if (section.transportCcExtensionId !== undefined) lines.push(`a=extmap:${section.transportCcExtensionId} ${TRANSPORT_CC_EXTENSION}`);
    lines.push(`a=${section.direction}`, 'a=rtcp-mux', 'a=rtcp-rsize');
    for (const extra of section.extraLines ?? []) lines.push(`a=${extra}`);
    const name = codec.mimeType.split('/')[1];
    lines.push(`a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${codec.channels ? `/${codec.channels}` : ''}`);
    for (const fb of codec.rtcpFeedback) lines.push(`a=rtcp-fb:${codec.payloadType} ${fb}`);
    if (codec.parameters) lines.push(`a=fmtp:${codec.payloadType} ${codec.parameters}`);
    if (section.redPayloadType !== undefined) {
      lines.push(`a=rtpmap:${section.redPayloadType} red/${codec.clockRate}${codec.channels ? `/${codec.channels}` : ''}`, `a=fmtp:${section.redPayloadType} ${codec.payloadType}/${codec.payloadType}`);
    }
    if (section.rtxPayloadType !== undefined) {
      lines.push(`a=rtpmap:${section.rtxPayloadType} rtx/${codec.clockRate}`, `a=fmtp:${section.rtxPayloadType} apt=${codec.payloadType}`);
    }
    if (section.sender) {
      const s = section.sender;
      lines.push(`a=msid:${s.streamId} ${s.trackId}`, `a=ssrc:${s.ssrc} cname:${s.cname}`, `a=ssrc:${s.ssrc} msid:${s.streamId} ${s.trackId}`);
    }
    local.candidates.forEach((c, i) => lines.push(`a=candidate:${i + 1} 1 udp ${hostCandidatePriority(i)} ${c.ip} ${c.port} typ host`));
    lines.push('a=end-of-candidates');
  }
  return lines.join('\r\n') + '\r\n';
}
