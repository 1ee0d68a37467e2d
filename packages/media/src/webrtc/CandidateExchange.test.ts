import { describe, expect, it } from 'vitest';
import { CandidateExchange, negotiatedIndex } from './CandidateExchange.js';
import { remoteCandidateFilter } from './sdp.js';
import type { IceCandidateInit } from './types.js';

function exchange() {
  const events: string[] = [];
  const ex = new CandidateExchange(remoteCandidateFilter(['127.0.0.1']), {
    candidate: (c) => events.push(`candidate ${c.candidate.split(' ')[4]}`),
    gatheringStarted: () => events.push('gathering'),
    gatheringDone: () => events.push('done'),
  });
  return { ex, events };
}

const local = (address: string): IceCandidateInit => ({ candidate: `candidate:1 1 udp 2130706431 ${address} 5000 typ host`, sdpMid: '0', sdpMLineIndex: 0 });
const remote = (ufrag?: string, address = '127.0.0.1'): IceCandidateInit => ({
  candidate: `candidate:2 1 udp 2130706431 ${address} 6000 typ host${ufrag ? ` ufrag ${ufrag}` : ''}`,
  sdpMid: '0',
  sdpMLineIndex: 0,
});

describe('CandidateExchange', () => {
  it('holds local candidates until start(), then announces them in Kurento\'s order: the first, gathering, the others, done', () => {
    const { ex, events } = exchange();
    ex.local(local('127.0.0.1'));
    ex.local(local('127.0.0.2'));
    ex.localComplete();
    expect(events).toEqual([]);
    expect(ex.start()).toBe(true);
    expect(ex.start()).toBe(false);
    expect(events).toEqual(['candidate 127.0.0.1', 'gathering', 'candidate 127.0.0.2', 'done']);
  });

  it('after start(), candidates go out as they come and done once per generation', () => {
    const { ex, events } = exchange();
    ex.start();
    ex.localComplete();
    ex.localComplete();
    expect(events).toEqual(['gathering', 'done']);
    ex.restartLocal();
    ex.local(local('127.0.0.1'));
    ex.localComplete();
    expect(events).toEqual(['gathering', 'done', 'candidate 127.0.0.1', 'done']);
  });

  it('accepts() throws INVALID_CANDIDATE for malformed candidates, and is false for the end-of-candidates one and unreachable addresses (counted)', () => {
    const { ex } = exchange();
    expect(() => ex.accepts({ candidate: 'nonsense' })).toThrow(expect.objectContaining({ code: 'INVALID_CANDIDATE' }));
    expect(() => ex.accepts({} as IceCandidateInit)).toThrow(expect.objectContaining({ code: 'INVALID_CANDIDATE' }));
    expect(ex.accepts({ candidate: '' })).toBe(false);
    expect(ex.accepts(remote(undefined, '203.0.113.9'))).toBe(false);
    expect(ex.remoteCandidatesIgnored).toBe(1);
    expect(ex.accepts(remote())).toBe(true);
  });

  it('a candidate of the current generation passes, one of a new generation is held, one of an old generation is dropped', () => {
    const { ex } = exchange();
    ex.noteRemoteDescription('v=0\r\na=ice-ufrag:first\r\n');
    expect(ex.ofCurrentGeneration(remote('first'))).toBe(true);
    expect(ex.ofCurrentGeneration(remote())).toBe(true);
    expect(ex.ofCurrentGeneration(remote('second'))).toBe(false);
    expect(ex.takeHeld().map((c) => c.candidate)).toEqual([remote('second').candidate]);
    ex.noteRemoteDescription('v=0\r\na=ice-ufrag:second\r\n');
    expect(ex.ofCurrentGeneration(remote('second'))).toBe(true);
    expect(ex.ofCurrentGeneration(remote('first'))).toBe(false);
    expect(ex.takeHeld()).toEqual([]);
  });

  it('filterRemoteSdp() drops and counts the candidates of unreachable addresses', () => {
    const { ex } = exchange();
    const sdp = `v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=${remote().candidate}\r\na=${remote(undefined, '203.0.113.9').candidate}\r\n`;
    const filtered = ex.filterRemoteSdp(sdp);
    expect(filtered).toContain('127.0.0.1 6000');
    expect(filtered).not.toContain('203.0.113.9');
    expect(ex.remoteCandidatesIgnored).toBe(1);
  });

  it('remoteSdpForAgent() holds the candidates a description carries until start() (Kurento: no checks before gatherCandidates), then passes them through', () => {
    const { ex } = exchange();
    const sdp = (address: string) =>
      `v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a0\r\na=${remote(undefined, address).candidate}\r\na=${remote(undefined, '203.0.113.9').candidate}\r\na=end-of-candidates\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:v1\r\n`;
    const before = ex.remoteSdpForAgent(sdp('127.0.0.1'));
    expect(before).not.toContain('a=candidate');
    expect(before).not.toContain('a=end-of-candidates');
    expect(before).toContain('a=mid:v1');
    expect(ex.remoteCandidatesIgnored).toBe(1);
    expect(ex.takeHeld()).toEqual([{ candidate: remote().candidate, sdpMid: 'a0', sdpMLineIndex: null }]);
    ex.start();
    expect(ex.remoteSdpForAgent(sdp('127.0.0.1'))).toContain('127.0.0.1 6000');
    expect(ex.takeHeld()).toEqual([]);
  });

  it('negotiatedIndex() maps an offer\'s m-line index past the rejected sections, and null for a rejected one', () => {
    const rejected = [{ index: 0, kind: 'audio', protoAndFormats: 'RTP/AVP 0', mid: 'a' }];
    expect(negotiatedIndex({ candidate: 'x', sdpMLineIndex: 2 }, [])).toBe(2);
    expect(negotiatedIndex({ candidate: 'x', sdpMLineIndex: 2 }, rejected)).toBe(1);
    expect(negotiatedIndex({ candidate: 'x', sdpMLineIndex: 0 }, rejected)).toBeNull();
    expect(negotiatedIndex({ candidate: 'x', sdpMid: 'a', sdpMLineIndex: 1 }, rejected)).toBeNull();
  });
});
