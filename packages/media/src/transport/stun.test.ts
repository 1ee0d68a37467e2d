import { describe, expect, it } from 'vitest';
import { BINDING_REQUEST, BINDING_SUCCESS, fingerprintValid, integrityValid, readStun, readXorMappedAddress, StunAttr, writeStun, xorMappedAddress } from './stun.js';

/** RFC 5769 §2.1: a sample Binding request with MESSAGE-INTEGRITY and FINGERPRINT. */
const SAMPLE_REQUEST = Buffer.from(
  '000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573742063' +
    '6c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000080014' +
    '9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf',
  'hex',
);
const SAMPLE_PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';

describe('STUN for ICE-lite', () => {
  it('reads the RFC 5769 sample request: username, priority, role, and a valid MESSAGE-INTEGRITY and FINGERPRINT', () => {
    const m = readStun(SAMPLE_REQUEST)!;
    expect(m.type).toBe(BINDING_REQUEST);
    expect(m.username).toBe('evtj:h6vY');
    expect(m.priority).toBe(0x6e0001ff);
    expect(m.iceControlled).toBe(true);
    expect(m.useCandidate).toBe(false);
    expect(integrityValid(SAMPLE_REQUEST, m.integrityAt, SAMPLE_PASSWORD)).toBe(true);
    expect(integrityValid(SAMPLE_REQUEST, m.integrityAt, 'wrong')).toBe(false);
    expect(fingerprintValid(SAMPLE_REQUEST, m.fingerprintAt)).toBe(true);
  });

  it('a flipped bit anywhere before the FINGERPRINT fails it; a truncated message does not parse', () => {
    const bad = Buffer.from(SAMPLE_REQUEST);
    bad[30]! ^= 1;
    const m = readStun(bad)!;
    expect(fingerprintValid(bad, m.fingerprintAt)).toBe(false);
    expect(integrityValid(bad, m.integrityAt, SAMPLE_PASSWORD)).toBe(false);
    for (const n of [0, 19, 20, 40, SAMPLE_REQUEST.length - 1]) expect(readStun(SAMPLE_REQUEST.subarray(0, n))).toBeUndefined();
  });

  it('writes a success response that reads back with its XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT', () => {
    const tid = Buffer.from('0102030405060708090a0b0c', 'hex');
    const out = writeStun(BINDING_SUCCESS, tid, [[StunAttr.XOR_MAPPED_ADDRESS, xorMappedAddress('192.0.2.1', 32853, tid)]], 'pass');
    const m = readStun(out)!;
    expect(m.type).toBe(BINDING_SUCCESS);
    expect(m.transactionId.equals(tid)).toBe(true);
    expect(integrityValid(out, m.integrityAt, 'pass')).toBe(true);
    expect(fingerprintValid(out, m.fingerprintAt)).toBe(true);
    // RFC 5769 §2.2's mapped address: 192.0.2.1:32853 XORed with the cookie.
    expect(out.subarray(24, 32).toString('hex')).toBe('0001a147e112a643');
  });

  it('writes an IPv6 XOR-MAPPED-ADDRESS XORed with the cookie and transaction id (RFC 5769 §2.3)', () => {
    const tid = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');
    expect(xorMappedAddress('2001:db8:1234:5678:11:2233:4455:6677', 32853, tid).toString('hex')).toBe('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9');
  });

  it('reads the mapped address of a STUN server\'s answer: the RFC 5769 §2.2 sample, IPv6, and nothing from a message without one or a truncated one', () => {
    const sample = Buffer.from(
      '0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220' +
        '002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96',
      'hex',
    );
    expect(readXorMappedAddress(sample)).toEqual(['192.0.2.1', 32853]);
    const tid = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');
    const v6 = writeStun(BINDING_SUCCESS, tid, [[StunAttr.XOR_MAPPED_ADDRESS, xorMappedAddress('2001:db8:1234:5678:11:2233:4455:6677', 32853, tid)]], undefined);
    expect(readXorMappedAddress(v6)).toEqual(['2001:db8:1234:5678:11:2233:4455:6677', 32853]);
    expect(readXorMappedAddress(writeStun(BINDING_SUCCESS, tid, [], undefined))).toBeUndefined();
    expect(readXorMappedAddress(sample.subarray(0, 44))).toBeUndefined();
  });
});
