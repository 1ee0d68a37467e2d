import { describe, expect, it } from 'vitest';
import { SdpError } from '../core/errors.js';
import {
  announceCandidate,
  isLoopback,
  mapCandidateLines,
  parseCandidate,
  remoteCandidateFilter,
  validateRemoteSdp,
  rejectingAnswer,
  rejectsEverything,
  validateSdpSyntax,
  withoutDataSections,
  withoutUnusableSections,
  withRejectedSections,
  type ParsedCandidate,
} from './sdp.js';

/** An offer shaped like Chromium's: BUNDLE, rtx/red/ulpfec, VP8/VP9/H264/AV1, a data channel. */
const CHROMIUM_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1 2',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS 6d3c0b5e-0d1b-4c0e-9d2a-3e0c1f7a8b9c',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:842163049 1 udp 1677729535 203.0.113.7 53412 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-cost 999',
  'a=candidate:2999745851 1 udp 2122260223 4f1c6a2e-8a3b-4c1d-9e2f-0a1b2c3d4e5f.local 53412 typ host generation 0 network-cost 999',
  'a=ice-ufrag:EsAw',
  'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 DA:7B:57:DC:28:CE:04:4F:31:79:85:C4:31:67:EB:27:58:29:ED:77:2A:0D:24:AE:ED:AD:30:BC:BD:F1:9C:02',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendrecv',
  'a=msid:6d3c0b5e-0d1b-4c0e-9d2a-3e0c1f7a8b9c 1f5a0f0e-2b7c-4f4e-8a9d-6c5b4a392817',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:3735928559 cname:n6Q0H1tG8yWcF2dA',
  'a=ssrc:3735928559 msid:6d3c0b5e-0d1b-4c0e-9d2a-3e0c1f7a8b9c 1f5a0f0e-2b7c-4f4e-8a9d-6c5b4a392817',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 102 103 45 46 116 117 118',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:EsAw',
  'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 DA:7B:57:DC:28:CE:04:4F:31:79:85:C4:31:67:EB:27:58:29:ED:77:2A:0D:24:AE:ED:AD:30:BC:BD:F1:9C:02',
  'a=setup:actpass',
  'a=mid:1',
  'a=extmap:14 urn:ietf:params:rtp-hdrext:toffset',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:13 urn:3gpp:video-orientation',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendrecv',
  'a=msid:6d3c0b5e-0d1b-4c0e-9d2a-3e0c1f7a8b9c 9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 goog-remb',
  'a=rtcp-fb:96 transport-cc',
  'a=rtcp-fb:96 ccm fir',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:98 VP9/90000',
  'a=fmtp:98 profile-id=0',
  'a=rtpmap:99 rtx/90000',
  'a=fmtp:99 apt=98',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:103 rtx/90000',
  'a=fmtp:103 apt=102',
  'a=rtpmap:45 AV1/90000',
  'a=rtpmap:46 rtx/90000',
  'a=fmtp:46 apt=45',
  'a=rtpmap:116 red/90000',
  'a=rtpmap:117 rtx/90000',
  'a=fmtp:117 apt=116',
  'a=rtpmap:118 ulpfec/90000',
  'a=ssrc-group:FID 2882400001 2882400002',
  'a=ssrc:2882400001 cname:n6Q0H1tG8yWcF2dA',
  'a=ssrc:2882400002 cname:n6Q0H1tG8yWcF2dA',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:EsAw',
  'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 DA:7B:57:DC:28:CE:04:4F:31:79:85:C4:31:67:EB:27:58:29:ED:77:2A:0D:24:AE:ED:AD:30:BC:BD:F1:9C:02',
  'a=setup:actpass',
  'a=mid:2',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  '',
].join('\r\n');

/** A minimal offer: one section of `kind` with the given `rtpmap` entries. */
function offer(sections: { kind: string; codecs: string[] }[], extra: { fingerprint?: boolean; ufrag?: boolean } = {}): string {
  const lines = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0'];
  if (extra.fingerprint !== false) lines.push('a=fingerprint:sha-256 AB:CD:EF');
  if (extra.ufrag !== false) lines.push('a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijkl');
  let pt = 96;
  for (const s of sections) {
    lines.push(`m=${s.kind} 9 UDP/TLS/RTP/SAVPF ${s.codecs.map((_, i) => pt + i).join(' ')}`);
    for (const c of s.codecs) lines.push(`a=rtpmap:${pt++} ${c}`);
  }
  return lines.join('\r\n') + '\r\n';
}

function sdpErrorOf(fn: () => unknown): SdpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SdpError);
    return e as SdpError;
  }
  throw new Error('expected an SdpError, nothing was thrown');
}

function candidate(address: string, type = 'host', protocol = 'udp'): ParsedCandidate {
  return { foundation: '1', component: 1, protocol, priority: 2122260223, address, port: 50000, type };
}

describe('validateRemoteSdp', () => {
  it('accepts a realistic Chromium offer and returns its media sections', () => {
    const media = validateRemoteSdp(CHROMIUM_OFFER);

    expect(media.map((m) => m.kind)).toEqual(['audio', 'video', 'application']);
    expect(media[0]!.codecs).toContain('opus');
    expect(media[1]!.codecs).toEqual(expect.arrayContaining(['vp8', 'vp9', 'h264', 'av1', 'rtx']));
    expect(media[2]!.codecs).toEqual([]);
  });

  it('accepts an offer with \\n line endings', () => {
    expect(() => validateRemoteSdp(CHROMIUM_OFFER.replace(/\r\n/g, '\n'))).not.toThrow();
  });

  it.each([
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
    ['an object', { type: 'offer', sdp: 'v=0' }],
  ])('rejects %s with SdpError INVALID_SDP', (_name, value) => {
    expect(sdpErrorOf(() => validateRemoteSdp(value)).code).toBe('INVALID_SDP');
  });

  it('rejects an empty or blank string with SdpError INVALID_SDP', () => {
    expect(sdpErrorOf(() => validateRemoteSdp('')).code).toBe('INVALID_SDP');
    expect(sdpErrorOf(() => validateRemoteSdp(' \r\n ')).code).toBe('INVALID_SDP');
  });

  it('rejects garbage with SdpError INVALID_SDP', () => {
    expect(sdpErrorOf(() => validateRemoteSdp('hello, this is not SDP')).code).toBe('INVALID_SDP');
    expect(sdpErrorOf(() => validateRemoteSdp('v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n<html>')).code).toBe('INVALID_SDP');
  });

  it('rejects an SDP without an origin line with SdpError INVALID_SDP', () => {
    const sdp = CHROMIUM_OFFER.replace(/^o=.*\r\n/m, '');

    expect(sdpErrorOf(() => validateRemoteSdp(sdp)).code).toBe('INVALID_SDP');
  });

  it('rejects a malformed media line with SdpError INVALID_SDP', () => {
    const sdp = CHROMIUM_OFFER.replace('m=audio 9 UDP/TLS/RTP/SAVPF', 'm=audio nine');

    expect(sdpErrorOf(() => validateRemoteSdp(sdp)).code).toBe('INVALID_SDP');
  });

  it('rejects an SDP without media sections with SdpError INVALID_SDP', () => {
    expect(sdpErrorOf(() => validateRemoteSdp(offer([]))).code).toBe('INVALID_SDP');
  });

  it('rejects an SDP without a DTLS fingerprint with SdpError INVALID_SDP', () => {
    const sdp = CHROMIUM_OFFER.replace(/^a=fingerprint:.*\r\n/gm, '');

    const error = sdpErrorOf(() => validateRemoteSdp(sdp));

    expect(error.code).toBe('INVALID_SDP');
    expect(error.message).toMatch(/fingerprint/);
  });

  it('rejects an SDP without ICE credentials with SdpError INVALID_SDP', () => {
    const sdp = CHROMIUM_OFFER.replace(/^a=ice-ufrag:.*\r\n/gm, '');

    const error = sdpErrorOf(() => validateRemoteSdp(sdp));

    expect(error.code).toBe('INVALID_SDP');
    expect(error.message).toMatch(/ice-ufrag/);
  });

  it('rejects an offer with only PCMU audio and only VP9 video with SdpError NO_COMMON_CODEC', () => {
    const sdp = offer([
      { kind: 'audio', codecs: ['PCMU/8000'] },
      { kind: 'video', codecs: ['VP9/90000', 'rtx/90000'] },
    ]);

    const error = sdpErrorOf(() => validateRemoteSdp(sdp));

    expect(error.code).toBe('NO_COMMON_CODEC');
    expect(error.message).toMatch(/pcmu, vp9/);
  });

  it('rejects an offer with only a data channel with SdpError NO_COMMON_CODEC', () => {
    const sdp = offer([]).replace(/\r\n$/, '\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n');

    expect(sdpErrorOf(() => validateRemoteSdp(sdp)).code).toBe('NO_COMMON_CODEC');
  });

  it('does not count a video codec offered in an audio section', () => {
    const sdp = offer([{ kind: 'audio', codecs: ['VP8/90000'] }]);

    expect(sdpErrorOf(() => validateRemoteSdp(sdp)).code).toBe('NO_COMMON_CODEC');
  });

  it('accepts an offer where only one section has a supported codec', () => {
    const sdp = offer([
      { kind: 'audio', codecs: ['PCMU/8000'] },
      { kind: 'video', codecs: ['H264/90000'] },
    ]);

    expect(validateRemoteSdp(sdp)[1]!.codecs).toEqual(['h264']);
  });
});

describe('parseCandidate', () => {
  it('parses a host candidate', () => {
    expect(parseCandidate('candidate:2999745851 1 udp 2122260223 192.168.1.20 53412 typ host generation 0')).toEqual({
      foundation: '2999745851',
      component: 1,
      protocol: 'udp',
      priority: 2122260223,
      address: '192.168.1.20',
      port: 53412,
      type: 'host',
    });
  });

  it('parses a candidate given as an a= line, and a server reflexive one with raddr', () => {
    const parsed = parseCandidate('a=candidate:842163049 1 UDP 1677729535 203.0.113.7 53412 typ srflx raddr 192.168.1.20 rport 53412');

    expect(parsed).toMatchObject({ protocol: 'udp', address: '203.0.113.7', type: 'srflx' });
  });

  it('parses a TCP and an IPv6 candidate', () => {
    expect(parseCandidate('candidate:1 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active')).toMatchObject({ protocol: 'tcp', port: 9 });
    expect(parseCandidate('candidate:2 1 udp 2122197247 2001:db8::1 50000 typ host')).toMatchObject({ address: '2001:db8::1' });
  });

  it('keeps an mDNS name as the address', () => {
    expect(parseCandidate('candidate:1 1 udp 2122260223 4f1c6a2e-8a3b.local 53412 typ host')?.address).toBe('4f1c6a2e-8a3b.local');
  });

  it('returns undefined for something that is not a candidate', () => {
    expect(parseCandidate('')).toBeUndefined();
    expect(parseCandidate('a=ice-ufrag:abcd')).toBeUndefined();
    expect(parseCandidate('candidate:1 1 sctp 1 192.168.1.20 5000 typ host')).toBeUndefined();
    expect(parseCandidate('candidate:1 1 udp 1 192.168.1.20 5000 typ unknown')).toBeUndefined();
  });

  it('returns undefined for a port above 65535', () => {
    expect(parseCandidate('candidate:1 1 udp 2122260223 192.168.1.20 65536 typ host')).toBeUndefined();
  });
});

describe('announceCandidate', () => {
  const host = 'candidate:1 1 udp 2122260223 10.0.0.5 40000 typ host generation 0';

  it('replaces the address of a host candidate with the announced one', () => {
    expect(announceCandidate(host, '198.51.100.9')).toBe('candidate:1 1 udp 2122260223 198.51.100.9 40000 typ host generation 0');
  });

  it('leaves the candidate unchanged when nothing is announced', () => {
    expect(announceCandidate(host, undefined)).toBe(host);
    expect(announceCandidate(host, '')).toBe(host);
  });

  it('leaves server reflexive and relay candidates unchanged', () => {
    const srflx = 'candidate:2 1 udp 1677729535 203.0.113.7 40000 typ srflx raddr 10.0.0.5 rport 40000';
    const relay = 'candidate:3 1 udp 41885439 203.0.113.8 50000 typ relay raddr 203.0.113.7 rport 40000';

    expect(announceCandidate(srflx, '198.51.100.9')).toBe(srflx);
    expect(announceCandidate(relay, '198.51.100.9')).toBe(relay);
  });

  it('leaves a line that is not a candidate unchanged', () => {
    expect(announceCandidate('a=ice-ufrag:abcd', '198.51.100.9')).toBe('a=ice-ufrag:abcd');
  });

  it('rewrites every candidate line of an SDP through mapCandidateLines', () => {
    const sdp = ['v=0', `a=${host}`, 'a=mid:0', ''].join('\r\n');

    const out = mapCandidateLines(sdp, (c) => announceCandidate(c, '198.51.100.9'));

    expect(out).toBe(['v=0', 'a=candidate:1 1 udp 2122260223 198.51.100.9 40000 typ host generation 0', 'a=mid:0', ''].join('\r\n'));
  });
});

describe('remoteCandidateFilter', () => {
  it('with loopback-only local addresses accepts only loopback remote candidates', () => {
    const accept = remoteCandidateFilter(['127.0.0.1']);

    expect(accept(candidate('127.0.0.1'))).toBe(true);
    expect(accept(candidate('192.168.1.20'))).toBe(false);
    expect(accept(candidate('203.0.113.7', 'srflx'))).toBe(false);
    expect(accept(candidate('203.0.113.8', 'relay'))).toBe(false);
  });

  it('rejects mDNS .local names', () => {
    expect(remoteCandidateFilter(['127.0.0.1'])(candidate('4f1c6a2e-8a3b.local'))).toBe(false);
    expect(remoteCandidateFilter(['192.168.1.10'])(candidate('4f1c6a2e-8a3b.local'))).toBe(false);
  });

  it('with routable local addresses accepts UDP candidates of the same address family', () => {
    const accept = remoteCandidateFilter(['192.168.1.10']);

    expect(accept(candidate('192.168.1.20'))).toBe(true);
    expect(accept(candidate('203.0.113.7', 'srflx'))).toBe(true);
    expect(accept(candidate('2001:db8::1'))).toBe(false);
    expect(accept(candidate('192.168.1.20', 'host', 'tcp'))).toBe(false);
  });

  it('with routable local addresses accepts relay candidates of the same address family', () => {
    const accept = remoteCandidateFilter(['192.168.1.10', '2001:db8::10']);

    expect(accept(candidate('203.0.113.8', 'relay'))).toBe(true);
    expect(accept(candidate('2001:db8::8', 'relay'))).toBe(true);
  });

  it('isLoopback() recognises IPv4 and IPv6 loopback addresses', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('127.1.2.3')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });
});

describe('withoutDataSections / withRejectedSections', () => {
  const MIDDLE = [
    'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE a d v',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:a',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=mid:d', 'a=sctp-port:5000',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:v', '',
  ].join('\r\n');

  it('withoutDataSections() drops the application section and its mid from the BUNDLE group', () => {
    const { sdp, rejected } = withoutDataSections(MIDDLE);

    expect(sdp).not.toContain('m=application');
    expect(sdp).toContain('a=group:BUNDLE a v\r\n');
    expect(rejected).toEqual([{ index: 1, kind: 'application', protoAndFormats: 'UDP/DTLS/SCTP webrtc-datachannel', mid: 'd' }]);
  });

  it('withRejectedSections() puts the section back at its index with port 0', () => {
    const { sdp, rejected } = withoutDataSections(MIDDLE);

    const answer = withRejectedSections(sdp, rejected);

    expect(answer.split('\r\n').filter((l) => l.startsWith('m=') || l.startsWith('a=mid'))).toEqual([
      'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:a',
      'm=application 0 UDP/DTLS/SCTP webrtc-datachannel', 'a=mid:d',
      'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:v',
    ]);
    expect(answer.endsWith('\r\n')).toBe(true);
  });

  it('withoutDataSections() leaves an SDP without application section unchanged', () => {
    const plain = offer([{ kind: 'audio', codecs: ['opus/48000/2'] }]);

    expect(withoutDataSections(plain)).toEqual({ sdp: plain, rejected: [] });
  });
});

describe('withoutUnusableSections / rejectingAnswer (Kurento\'s WebRtcEndpoint answers)', () => {
  const ANDROID = [
    'v=0', 'o=- 12345 12345 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    'm=video 52126 RTP/AVP 96 97 98', 'a=rtpmap:96 H264/90000', 'a=rtpmap:97 MP4V-ES/90000', 'a=rtpmap:98 H263-1998/90000', 'a=recvonly', '',
  ].join('\r\n');

  it('takes out a plain RTP/AVP section (no ICE, no fingerprint), leaving nothing to negotiate', () => {
    const { sdp, rejected } = withoutUnusableSections(ANDROID, false);

    expect(sdp).toBeUndefined();
    expect(rejected).toEqual([{ index: 0, kind: 'video', protoAndFormats: 'RTP/AVP 96 97 98', mid: undefined }]);
  });

  it('rejectingAnswer() rejects every section with port 0, in the offer\'s profile, without ICE or fingerprint', () => {
    const answer = rejectingAnswer(withoutUnusableSections(ANDROID, false).rejected, '7', '127.0.0.1');

    expect(answer).toBe('v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=Roundtable\r\nt=0 0\r\nm=video 0 RTP/AVP 96 97 98\r\nc=IN IP4 0.0.0.0\r\n');
    expect(() => validateSdpSyntax(answer)).not.toThrow();
  });

  it('keeps the WebRTC sections of a mixed offer and takes out the AVP one, no common codec, port 0 and (without data channels) SCTP', () => {
    const mixed = offer([
      { kind: 'audio', codecs: ['opus/48000/2'] },
      { kind: 'video', codecs: ['VP9/90000'] },
    ])
      .replace(/\r\n$/, '\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n');

    const { sdp, rejected } = withoutUnusableSections(mixed, false);

    expect(sdp?.split('\r\n').filter((l) => l.startsWith('m='))).toEqual(['m=audio 9 UDP/TLS/RTP/SAVPF 96']);
    expect(rejected.map((r) => [r.index, r.kind, r.protoAndFormats])).toEqual([
      [1, 'video', 'UDP/TLS/RTP/SAVPF 97'],
      [2, 'audio', 'RTP/AVP 0'],
      [3, 'video', 'UDP/TLS/RTP/SAVPF 96'],
      [4, 'application', 'UDP/DTLS/SCTP webrtc-datachannel'],
    ]);
    expect(withoutUnusableSections(mixed, true).rejected.map((r) => r.index)).toEqual([1, 2, 3]);
  });

  it('rejectsEverything() is true only when every media section has port 0', () => {
    expect(rejectsEverything(rejectingAnswer(withoutUnusableSections(ANDROID, false).rejected, '7', '127.0.0.1'))).toBe(true);
    expect(rejectsEverything(CHROMIUM_OFFER)).toBe(false);
  });

  it('keeps a bundle-only section (port 0, transport of its BUNDLE group)', () => {
    const bundleOnly = CHROMIUM_OFFER.replace('m=video 9 UDP/TLS/RTP/SAVPF', 'm=video 0 UDP/TLS/RTP/SAVPF').replace(/(m=video [^\r]*\r\n)/, '$1a=bundle-only\r\n');

    expect(bundleOnly).toMatch(/^m=video 0 .*\r\na=bundle-only\r$/m);
    expect(withoutUnusableSections(bundleOnly, true).rejected).toEqual([]);
  });

  it('leaves a browser offer as it is', () => {
    expect(withoutUnusableSections(CHROMIUM_OFFER, true)).toEqual({ sdp: CHROMIUM_OFFER, rejected: [] });
  });
});
