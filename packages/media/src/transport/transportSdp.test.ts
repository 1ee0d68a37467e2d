import { describe, expect, it } from 'vitest';
import { SdpError } from '../core/errors.js';
import { CLIENT_OFFER } from './testSdp.js';
import { offeredSender, parseSdp, readDataSection, remoteTransportParameters, writeDescription } from './transportSdp.js';

describe('transport SDP', () => {
  it('reads what a client sends: VP8 with its RTX and FID SSRCs, the mid extension, opus; nothing for data or receive-only sections', () => {
    const sdp = parseSdp(CLIENT_OFFER);
    const [video, audio, data, recvonly] = sdp.media.map(offeredSender);
    expect(video).toMatchObject({ mid: '0', kind: 'video', rtxPayloadType: 97, ssrc: 1111, rtxSsrc: 2222, midExtensionId: 4, cname: 'me' });
    expect(video!.codec).toMatchObject({ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 });
    expect(video!.codec.rtcpFeedback).toEqual(['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli']);
    expect(audio).toMatchObject({ mid: '1', kind: 'audio', ssrc: 3333, rtxPayloadType: undefined });
    expect(audio!.codec).toMatchObject({ mimeType: 'audio/opus', payloadType: 111, channels: 2, parameters: 'minptime=10;useinbandfec=1' });
    expect(data).toBeUndefined();
    expect(recvonly).toBeUndefined();
    expect(remoteTransportParameters(sdp)).toEqual({ ufrag: 'abcd', pwd: '0123456789abcdefghijkl', fingerprint: { algorithm: 'sha-256', value: 'AA:BB:CC' }, setup: 'actpass' });
  });

  it('takes the audio level extension (RFC 6464) of an audio m-line, not of a video one, and writes it into the answer', () => {
    const withLevels = CLIENT_OFFER.replace('a=mid:1\r\n', 'a=mid:1\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n').replace('a=mid:0\r\n', 'a=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n');
    const [video, audio] = parseSdp(withLevels).media.map(offeredSender);
    expect(audio!.audioLevelExtensionId).toBe(1);
    expect(video!.audioLevelExtensionId).toBeUndefined();
    expect(offeredSender(parseSdp(CLIENT_OFFER).media[1]!)!.audioLevelExtensionId).toBeUndefined();
    const local = { ufrag: 'u', pwd: 'p', fingerprint: 'AA', candidates: [], setup: 'passive' as const };
    const text = writeDescription(local, '1', 2, [{ mid: '1', kind: 'audio', codec: audio!.codec, direction: 'recvonly', audioLevelExtensionId: 1 }]);
    expect(text).toContain('a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n');
  });

  it('takes RED of Opus (RFC 2198) when offered, and writes it first in an answer to a sender (libwebrtc sends RED only so), after Opus in an offer', () => {
    const withRed = CLIENT_OFFER.replace('m=audio 9 UDP/TLS/RTP/SAVPF 111 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 0').replace('a=mid:1\r\n', 'a=mid:1\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n');
    const audio = offeredSender(parseSdp(withRed).media[1]!)!;
    expect(audio.redPayloadType).toBe(63);
    expect(offeredSender(parseSdp(withRed.replace('a=fmtp:63 111/111', 'a=fmtp:63 0/0')).media[1]!)!.redPayloadType).toBeUndefined();
    const local = { ufrag: 'u', pwd: 'p', fingerprint: 'AA', candidates: [], setup: 'passive' as const };
    const answer = writeDescription(local, '1', 2, [{ mid: '1', kind: 'audio', codec: audio.codec, direction: 'recvonly', redPayloadType: 63 }]);
    expect(answer).toContain('m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n');
    expect(answer).toContain('a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n');
    const offer = writeDescription(local, '1', 2, [{ mid: '1', kind: 'audio', codec: audio.codec, direction: 'sendonly', redPayloadType: 63 }]);
    expect(offer).toContain('m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n');
  });

  it('refuses what is not an SDP, a section without a=mid, and a description without ICE credentials or fingerprint, with SdpError', () => {
    expect(() => parseSdp('hello')).toThrow(SdpError);
    expect(() => parseSdp(42)).toThrow(SdpError);
    expect(() => offeredSender(parseSdp(CLIENT_OFFER.replace('a=mid:0\r\n', '')).media[0]!)).toThrow(/a=mid/);
    expect(() => remoteTransportParameters(parseSdp(CLIENT_OFFER.replace(/a=ice-pwd:.*\r\n/, '')))).toThrow(/ICE credentials/);
    expect(() => remoteTransportParameters(parseSdp(CLIENT_OFFER.replace(/a=fingerprint:.*\r\n/, '')))).toThrow(/fingerprint/);
  });

  it('writes ICE-lite, BUNDLE over the sections in use, and a closed section at port 0, inactive and outside the group', () => {
    const local = { ufrag: 'u', pwd: 'p', fingerprint: 'AA', candidates: [{ ip: '127.0.0.1', port: 5000 }], setup: 'actpass' as const };
    const codec = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: ['nack'] };
    const text = writeDescription(local, '1', 2, [
      { mid: '0', kind: 'video', codec, direction: 'sendonly', sender: { ssrc: 5, cname: 'c', streamId: 's', trackId: 't' } },
      { mid: '1', kind: 'video', proto: 'UDP/TLS/RTP/SAVPF', formats: ['96'], closed: true },
    ]);
    expect(text).toContain('a=ice-lite\r\n');
    expect(text).toContain('a=group:BUNDLE 0\r\n');
    expect(text).toContain('m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=inactive\r\n');
    expect(text).toContain('a=ssrc:5 cname:c\r\n');
    expect(text).toContain('a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n');
    expect(parseSdp(text).media.length).toBe(2);
  });

  it('reads a data channel section: its sctp-port and max-message-size, RFC 8841\'s defaults without them; none at port 0 or in the old format', () => {
    const section = (lines: string[]): ReturnType<typeof parseSdp>['media'][number] => parseSdp(['v=0', ...lines].join('\r\n')).media[0]!;

    expect(readDataSection(parseSdp(CLIENT_OFFER).media[2]!)).toEqual({ port: 5000, maxMessageSize: 65536 });
    expect(readDataSection(section(['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=sctp-port:5001', 'a=max-message-size:0']))).toEqual({ port: 5001, maxMessageSize: 0 });
    expect(readDataSection(section(['m=application 0 UDP/DTLS/SCTP webrtc-datachannel']))).toBeUndefined();
    expect(readDataSection(section(['m=application 9 DTLS/SCTP 5000', 'a=sctpmap:5000 webrtc-datachannel 1024']))).toBeUndefined();
    expect(() => readDataSection(section(['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=max-message-size:-1']))).toThrow(SdpError);
    expect(() => readDataSection(section(['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=sctp-port:70000']))).toThrow(SdpError);
  });

  it('writes a data channel section bundled with the media, with its sctp-port, max-message-size and the transport\'s ICE and DTLS lines', () => {
    const local = { ufrag: 'u', pwd: 'p', fingerprint: 'AA', candidates: [{ ip: '127.0.0.1', port: 5000 }], setup: 'passive' as const };
    const codec = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, rtcpFeedback: [] };
    const text = writeDescription(local, '1', 2, [
      { mid: '0', kind: 'audio', codec, direction: 'sendrecv' },
      { mid: '1', kind: 'application', sctpPort: 5000, maxMessageSize: 262144 },
    ]);

    expect(text).toContain('a=group:BUNDLE 0 1\r\n');
    expect(text).toContain('m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 AA\r\na=setup:passive\r\na=mid:1\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n');
    expect(readDataSection(parseSdp(text).media[1]!)).toEqual({ port: 5000, maxMessageSize: 262144 });
  });
});
