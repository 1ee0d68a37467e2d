import { createCipheriv } from 'node:crypto';
import { profileParams, type SrtpProfile } from './profiles.js';

/** Session keys of one direction (RFC 3711 §4.3). */
export interface SessionKeys {
  rtpKey: Buffer;
  rtpSalt: Buffer;
  /** HMAC-SHA1 key (20 bytes); empty for the AEAD profiles. */
  rtpAuth: Buffer;
  rtcpKey: Buffer;
  rtcpSalt: Buffer;
  rtcpAuth: Buffer;
}

/** KDF labels, RFC 3711 §4.3.1. */
const LABEL = { rtpKey: 0, rtpAuth: 1, rtpSalt: 2, rtcpKey: 3, rtcpAuth: 4, rtcpSalt: 5 } as const;

/**
 * The AES-CM PRF of RFC 3711 §4.3.3 with key_derivation_rate 0: x = label at octet 7
 * of the 14-octet (zero-padded, for the 12-octet AEAD salts: RFC 7714 §11) master
 * salt, keystream of AES-CM(masterKey) from IV x * 2^16.
 */
export function deriveKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const x = Buffer.alloc(16);
  masterSalt.copy(x, 0, 0, Math.min(14, masterSalt.length));
  x[7]! ^= label;
  const blocks = Math.ceil(length / 16);
  const input = Buffer.alloc(blocks * 16);
  for (let b = 0; b < blocks; b++) {
    x.copy(input, b * 16);
    input.writeUInt16BE(b, b * 16 + 14);
  }
  const cipher = createCipheriv(masterKey.length === 32 ? 'aes-256-ecb' : 'aes-128-ecb', masterKey, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(input), cipher.final()]).subarray(0, length);
}

/** All session keys of one direction from its master key and salt. */
export function deriveSessionKeys(profile: SrtpProfile, masterKey: Buffer, masterSalt: Buffer): SessionKeys {
  const p = profileParams(profile);
  if (masterKey.length !== p.keyLength) throw new RangeError(`master key must be ${p.keyLength} bytes, got ${masterKey.length}`);
  if (masterSalt.length !== p.saltLength) throw new RangeError(`master salt must be ${p.saltLength} bytes, got ${masterSalt.length}`);
  const authLength = p.mode === 'cm' ? 20 : 0;
  return {
    rtpKey: deriveKey(masterKey, masterSalt, LABEL.rtpKey, p.keyLength),
    rtpAuth: deriveKey(masterKey, masterSalt, LABEL.rtpAuth, authLength),
    rtpSalt: deriveKey(masterKey, masterSalt, LABEL.rtpSalt, p.saltLength),
    rtcpKey: deriveKey(masterKey, masterSalt, LABEL.rtcpKey, p.keyLength),
    rtcpAuth: deriveKey(masterKey, masterSalt, LABEL.rtcpAuth, authLength),
    rtcpSalt: deriveKey(masterKey, masterSalt, LABEL.rtcpSalt, p.saltLength),
  };
}
