import { describe, expect, it } from 'vitest';
import { acceptAnswer, answerOffer, offerLines, parseRtpSdp, writeRtpSdp, type MediaLine } from './rtpSdp.js';

const sdp = (...lines: string[]): string => lines.join('\r\n') + '\r\n';
const HEAD = ['v=0', 'o=- 1 1 IN IP4 10.0.0.5', 's=-', 'c=IN IP4 10.0.0.5', 't=0 0'];

function write(lines: MediaLine[]): string {
  return writeRtpSdp({ address: '127.0.0.1', port: 5004, sessionId: '1', cname: 'c', ssrcs: { audio: 11, video: 22 }, lines });
}

describe('parseRtpSdp', () => {
  it('reads address, port, codecs with fmtp, rtcp-mux, a=rtcp and direction per section', () => {
    const session = parseRtpSdp(
      sdp(
        ...HEAD,
        'a=sendonly',
        'm=audio 6000 RTP/AVP 111 0',
        'a=rtpmap:111 opus/48000/2',
        'a=rtcp:6005',
        'm=video 6002 RTP/AVPF 96',
        'c=IN IP4 10.0.0.6',
        'a=rtpmap:96 H264/90000',
        'a=fmtp:96 packetization-mode=1',
        'a=rtcp-mux',
        'a=recvonly',
      ),
    );

    const [audio, video] = session.media;
    expect(audio).toMatchObject({ kind: 'audio', port: 6000, address: '10.0.0.5', rtcpMux: false, rtcpPort: 6005, direction: 'sendonly' });
    expect(audio!.codecs).toEqual([{ payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 }]);
    expect(video).toMatchObject({ port: 6002, address: '10.0.0.6', rtcpMux: true, direction: 'recvonly' });
    expect(video!.codecs[0]!.fmtp).toBe('packetization-mode=1');
  });

  it.each([
    ['not SDP at all', 'hello'],
    ['no origin', sdp('v=0', 'm=audio 1 RTP/AVP 0')],
    ['a malformed media line', sdp(...HEAD, 'm=video nonsense')],
    ['a host name for an address', sdp('v=0', 'o=- 1 1 IN IP4 x', 'c=IN IP4 media.example.com', 'm=audio 1 RTP/AVP 0')],
    ['no connection address', sdp('v=0', 'o=- 1 1 IN IP4 x', 'm=audio 1 RTP/AVP 0')],
    ['no media section', sdp(...HEAD)],
  ])('rejects %s with INVALID_SDP', (_what, text) => {
    expect(() => parseRtpSdp(text)).toThrow(expect.objectContaining({ code: 'INVALID_SDP' }));
  });
});

describe('answerOffer', () => {
  it('accepts opus and VP8 with the offer payload types, echoes rtcp-mux, and rejects what it cannot take', () => {
    const offer = parseRtpSdp(
      sdp(
        ...HEAD,
        'm=audio 6000 RTP/AVP 0 100',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:100 opus/48000/2',
        'a=rtcp-mux',
        'm=video 6002 RTP/AVP 120',
        'a=rtpmap:120 VP8/90000',
        'm=application 6004 UDP/DTLS/SCTP webrtc-datachannel',
      ),
    );

    const { lines, media } = answerOffer(offer, 'sendrecv');
    const answer = write(lines);

    expect(answer).toContain('m=audio 5004 RTP/AVP 100\r\n');
    expect(answer).toContain('a=rtpmap:100 opus/48000/2');
    expect(answer).toContain('m=video 5004 RTP/AVP 120\r\n');
    expect(answer).toContain('m=application 0 UDP/DTLS/SCTP webrtc-datachannel');
    expect(answer.match(/a=rtcp-mux/g)).toHaveLength(1);
    expect(media.map((m) => [m.kind, m.remote])).toEqual([
      ['audio', { address: '10.0.0.5', rtpPort: 6000, rtcpPort: 6000 }],
      ['video', { address: '10.0.0.5', rtpPort: 6002, rtcpPort: 6003 }],
    ]);
    expect(media[1]!.sendCodecs[0]).toMatchObject({ mimeType: 'video/VP8', payloadType: 120 });
  });

  it('answers a sendonly offer as recvonly and announces no SSRC for a kind it does not send', () => {
    const offer = parseRtpSdp(sdp(...HEAD, 'm=video 6002 RTP/AVPF 96', 'a=rtpmap:96 VP8/90000', 'a=sendonly'));

    const { lines, media } = answerOffer(offer, 'sendrecv');

    expect(write(lines)).toContain('a=recvonly');
    expect(write(lines)).not.toContain('a=ssrc:');
    expect(media[0]).toMatchObject({ send: false, receive: true });
  });

  it('rejects SDES-SRTP sections and, with nothing left, throws NO_COMMON_CODEC', () => {
    const offer = parseRtpSdp(
      sdp(...HEAD, 'm=video 6002 RTP/SAVP 96', 'a=rtpmap:96 VP8/90000', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA'),
    );

    expect(() => answerOffer(offer, 'sendrecv')).toThrow(expect.objectContaining({ code: 'NO_COMMON_CODEC' }));
  });
});

describe('acceptAnswer', () => {
  it('sends with the answer payload types, to port + 1 for RTCP when the answer does not multiplex', () => {
    const offered = offerLines(['audio', 'video'], 'sendrecv');
    const answer = parseRtpSdp(
      sdp(...HEAD, 'm=audio 0 RTP/AVPF 111', 'm=video 7000 RTP/AVPF 98', 'a=rtpmap:98 VP8/90000', 'a=sendrecv'),
    );

    const media = acceptAnswer(offered, answer);

    expect(media).toHaveLength(1);
    expect(media[0]).toMatchObject({ kind: 'video', send: true, receive: true, remote: { address: '10.0.0.5', rtpPort: 7000, rtcpPort: 7001 } });
    expect(media[0]!.sendCodecs.map((c) => c.payloadType)).toEqual([98]);
    expect(media[0]!.receiveCodecs.map((c) => c.payloadType)).toEqual([98, 96]);
  });

  it('refuses an answer whose sections do not match the offer with INVALID_SDP', () => {
    const offered = offerLines(['audio', 'video'], 'sendrecv');
    const answer = parseRtpSdp(sdp(...HEAD, 'm=video 7000 RTP/AVPF 96', 'a=rtpmap:96 VP8/90000'));

    expect(() => acceptAnswer(offered, answer)).toThrow(expect.objectContaining({ code: 'INVALID_SDP' }));
  });
});

describe('writeRtpSdp', () => {
  it('an offer names our address and port, opus, VP8, H264, rtcp-mux and our SSRCs', () => {
    const offer = write(offerLines(['audio', 'video'], 'sendrecv'));

    expect(offer).toContain('c=IN IP4 127.0.0.1');
    expect(offer).toContain('m=audio 5004 RTP/AVPF 111');
    expect(offer).toContain('a=rtpmap:111 opus/48000/2');
    expect(offer).toContain('m=video 5004 RTP/AVPF 96 103');
    expect(offer).toContain('a=rtpmap:103 H264/90000');
    expect(offer).toContain('a=rtcp-fb:96 nack pli');
    expect(offer.match(/a=rtcp-mux/g)).toHaveLength(2);
    expect(offer).toContain('a=ssrc:22 cname:c');
    // What we write, we can read back.
    expect(parseRtpSdp(offer).media.map((m) => m.codecs.length)).toEqual([1, 2]);
  });
});
