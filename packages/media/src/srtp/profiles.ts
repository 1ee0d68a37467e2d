/** SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2): the DTLS-SRTP ids. */
export const SrtpProfile = {
  AES_CM_128_HMAC_SHA1_80: 0x0001,
  AES_CM_128_HMAC_SHA1_32: 0x0002,
  AEAD_AES_128_GCM: 0x0007,
  AEAD_AES_256_GCM: 0x0008,
} as const;
export type SrtpProfile = (typeof SrtpProfile)[keyof typeof SrtpProfile];

export interface ProfileParams {
  /** 'cm' (AES counter mode + HMAC-SHA1) or 'gcm' (AEAD). */
  readonly mode: 'cm' | 'gcm';
  readonly keyLength: number;
  readonly saltLength: number;
  /** SRTP authentication tag length (bytes). */
  readonly rtpTagLength: number;
  /** SRTCP authentication tag length (bytes): 80 bits even for the _32 profile (RFC 5764 §4.1.2). */
  readonly rtcpTagLength: number;
}

const PARAMS: Record<SrtpProfile, ProfileParams> = {
  [SrtpProfile.AES_CM_128_HMAC_SHA1_80]: { mode: 'cm', keyLength: 16, saltLength: 14, rtpTagLength: 10, rtcpTagLength: 10 },
  [SrtpProfile.AES_CM_128_HMAC_SHA1_32]: { mode: 'cm', keyLength: 16, saltLength: 14, rtpTagLength: 4, rtcpTagLength: 10 },
  [SrtpProfile.AEAD_AES_128_GCM]: { mode: 'gcm', keyLength: 16, saltLength: 12, rtpTagLength: 16, rtcpTagLength: 16 },
  [SrtpProfile.AEAD_AES_256_GCM]: { mode: 'gcm', keyLength: 32, saltLength: 12, rtpTagLength: 16, rtcpTagLength: 16 },
};

export function profileParams(profile: SrtpProfile): ProfileParams {
  const params = PARAMS[profile];
  if (!params) throw new RangeError(`unsupported SRTP protection profile ${String(profile)}`);
  return params;
}

export function isSupportedProfile(value: number): value is SrtpProfile {
  return Object.prototype.hasOwnProperty.call(PARAMS, value);
}
