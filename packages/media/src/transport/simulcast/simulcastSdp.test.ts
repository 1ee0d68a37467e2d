import { describe, expect, it } from 'vitest';
import { SdpError } from '../../core/errors.js';
import type { SdpSection } from '../transportSdp.js';
import { offeredSimulcast, simulcastAnswerLines } from './simulcastSdp.js';

/** A video m-line as Chromium offers it with three simulcast encodings. */
function section(extra: string[] = [], simulcast = 'send q;h;f'): SdpSection {
  return {
    kind: 'video',
    port: 9,
    proto: 'UDP/TLS/RTP/SAVPF',
    formats: ['96', '97'],
    attributes: [
      'mid:0',
      'extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
      'extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
      'extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
      'sendonly',
      'rtpmap:96 VP8/90000',
      'rid:q send',
      'rid:h send',
      'rid:f send',
      `simulcast:${simulcast}`,
      ...extra,
    ],
  };
}

describe('simulcast SDP (RFC 8853, RFC 8851)', () => {
  it('reads the layers a client offers to send and the RID extensions', () => {
    expect(offeredSimulcast(section())).toEqual({
      layers: [
        { rid: 'q', paused: false },
        { rid: 'h', paused: false },
        { rid: 'f', paused: false },
      ],
      ridExtensionId: 10,
      repairedRidExtensionId: 11,
    });
  });

  it('takes a paused layer ("~"), the first of alternatives, at most three layers, and nothing without a=simulcast:send', () => {
    const s = section(['rid:x send'], 'send ~q;h,x;f;x');
    expect(offeredSimulcast(s)!.layers).toEqual([
      { rid: 'q', paused: true },
      { rid: 'h', paused: false },
      { rid: 'f', paused: false },
    ]);
    expect(offeredSimulcast({ ...section(), attributes: section().attributes.filter((a) => !a.startsWith('simulcast')) })).toBeUndefined();
    expect(offeredSimulcast(section([], 'recv q;h'))).toBeUndefined();
  });

  it('refuses a=simulcast naming a stream without its a=rid, or an id that is no RTP stream id, with SdpError', () => {
    expect(() => offeredSimulcast(section([], 'send q;h;z'))).toThrow(SdpError);
    expect(() => offeredSimulcast(section([], 'send q;h;f!'))).toThrow(/not an RTP stream id/);
  });

  it('answers with the extensions, a=rid recv per layer and a=simulcast:recv in the same order', () => {
    expect(simulcastAnswerLines(offeredSimulcast(section([], 'send ~q;h;f'))!)).toEqual([
      'extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
      'extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
      'rid:q recv',
      'rid:h recv',
      'rid:f recv',
      'simulcast:recv ~q;h;f',
    ]);
  });
});
