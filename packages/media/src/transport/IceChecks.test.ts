import { describe, expect, it } from 'vitest';
import type { MuxAddress } from '../net/UdpMux.js';
import { IceChecks, readCandidate } from './IceChecks.js';
import { BINDING_ERROR, BINDING_SUCCESS, fingerprintValid, integrityValid, readStun, StunAttr, writeStun, xorMappedAddress } from './stun.js';

const REMOTE = { ufrag: 'remoteUfrag1', pwd: 'remote-password-0123456789' };
const PEER: MuxAddress = ['127.0.0.1', 40000];

function harness(options: { timeoutMs?: number; localAddresses?: string[] } = {}) {
  const sent: Array<{ data: Buffer; to: MuxAddress; local: number }> = [];
  const succeeded: Array<[MuxAddress, number]> = [];
  let failed = 0;
  const link = { send: (data: Buffer, to: MuxAddress, local: number) => sent.push({ data, to, local }), succeeded: (to: MuxAddress, local: number) => succeeded.push([to, local]), failed: () => failed++ };
  const checks = new IceChecks('localUfrag1', REMOTE, options.localAddresses ?? ['127.0.0.1'], link, { paceMs: 5, retransmitMs: 20, timeoutMs: options.timeoutMs ?? 2000 });
  return { checks, sent, succeeded, failed: () => failed };
}

function answer(request: Buffer, type: number, password: string, from: MuxAddress = PEER): Buffer {
  const id = request.subarray(8, 20);
  return writeStun(type, id, [[StunAttr.XOR_MAPPED_ADDRESS, xorMappedAddress(from[0], from[1], id)]], password);
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('IceChecks', () => {
  it('sends signed checks with USERNAME, PRIORITY, ICE-CONTROLLING and USE-CANDIDATE, best candidate first', async () => {
    const { checks, sent } = harness();
    checks.addCandidate({ ip: '127.0.0.1', port: 40001, priority: 100 });
    checks.addCandidate({ ip: '127.0.0.1', port: 40000, priority: 2000 });
    checks.addCandidate({ ip: '::1', port: 40002, priority: 5000 });
    checks.start();
    await wait(60);
    checks.close();
    expect(sent[0]!.to).toEqual(['127.0.0.1', 40000]);
    expect(new Set(sent.map((s) => s.to[1]))).toEqual(new Set([40000, 40001]));
    const message = readStun(sent[0]!.data)!;
    expect(message.username).toBe('remoteUfrag1:localUfrag1');
    expect(message.priority).toBeGreaterThan(0);
    expect(message.iceControlling).toBe(true);
    expect(message.useCandidate).toBe(true);
    expect(integrityValid(sent[0]!.data, message.integrityAt, REMOTE.pwd)).toBe(true);
    expect(fingerprintValid(sent[0]!.data, message.fingerprintAt)).toBe(true);
  });

  it('refuses answers from another address, error answers and answers signed with another password; takes the right one', async () => {
    const { checks, sent, succeeded } = harness();
    checks.addCandidate({ ip: PEER[0], port: PEER[1], priority: 1 });
    checks.start();
    await wait(20);
    const request = sent[0]!.data;
    const respond = (data: Buffer, from: MuxAddress = PEER): string => checks.onResponse(readStun(data)!, data, from, 0);
    expect(respond(answer(request, BINDING_SUCCESS, REMOTE.pwd), ['127.0.0.1', 40999])).toBe('refused');
    expect(respond(answer(request, BINDING_ERROR, REMOTE.pwd))).toBe('refused');
    expect(respond(answer(request, BINDING_SUCCESS, 'not-the-remote-password'))).toBe('refused');
    const forgedFingerprint = answer(request, BINDING_SUCCESS, REMOTE.pwd);
    forgedFingerprint.writeUInt8(forgedFingerprint.readUInt8(forgedFingerprint.length - 1) ^ 0xff, forgedFingerprint.length - 1);
    expect(respond(forgedFingerprint)).toBe('refused');
    expect(succeeded).toEqual([]);
    expect(checks.refused).toBe(4);
    const stray = writeStun(BINDING_SUCCESS, Buffer.alloc(12, 7), [], REMOTE.pwd);
    expect(respond(stray)).toBe('stray');
    expect(respond(answer(request, BINDING_SUCCESS, REMOTE.pwd))).toBe('handled');
    expect(succeeded).toEqual([[PEER, 0]]);
    // Selected: the checks stop (a consent check comes seconds later).
    const count = sent.length;
    await wait(60);
    checks.close();
    expect(sent.length).toBe(count);
  });

  it('with several local addresses, pairs each remote candidate with those of its family, ours in order; an answer counts on the address its check went from', async () => {
    const { checks, sent, succeeded } = harness({ localAddresses: ['127.0.0.1', '::1', '192.0.2.2'] });
    checks.addCandidate({ ip: PEER[0], port: PEER[1], priority: 1 });
    checks.start();
    await wait(30);
    // 127.0.0.1 first, then 192.0.2.2 (the IPv6 address has no IPv4 pair).
    expect(sent.slice(0, 2).map((s) => s.local)).toEqual([0, 2]);
    expect(new Set(sent.map((s) => s.local))).toEqual(new Set([0, 2]));
    const second = sent.find((s) => s.local === 2)!.data;
    const reply = answer(second, BINDING_SUCCESS, REMOTE.pwd);
    expect(checks.onResponse(readStun(reply)!, reply, PEER, 0)).toBe('refused');
    expect(checks.onResponse(readStun(reply)!, reply, PEER, 2)).toBe('handled');
    checks.close();
    expect(succeeded).toEqual([[PEER, 2]]);
  });

  it('fails when no candidate answers within the timeout, and a candidate trickled after the start is checked', async () => {
    const { checks, sent, failed } = harness({ timeoutMs: 150 });
    checks.start();
    await wait(20);
    expect(sent.length).toBe(0);
    checks.addCandidate({ ip: '127.0.0.1', port: 40005, priority: 1 });
    await wait(30);
    expect(sent.length).toBeGreaterThan(0);
    await wait(250);
    expect(failed()).toBe(1);
    checks.close();
  });

  it('readCandidate() takes UDP component-1 candidates with or without a=, and nothing else', () => {
    expect(readCandidate('candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host')).toEqual({ ip: '127.0.0.1', port: 5000, priority: 2130706431 });
    expect(readCandidate('a=candidate:abc 1 UDP 1 10.0.0.1 9 typ srflx raddr 0.0.0.0 rport 0')).toEqual({ ip: '10.0.0.1', port: 9, priority: 1 });
    expect(readCandidate('candidate:1 2 udp 1 127.0.0.1 5001 typ host')).toBeUndefined();
    expect(readCandidate('candidate:1 1 tcp 1 127.0.0.1 9 typ host tcptype active')).toBeUndefined();
    expect(readCandidate('candidate:1 1 udp 1 127.0.0.1 70000 typ host')).toBeUndefined();
    expect(readCandidate('garbage')).toBeUndefined();
  });
});
