import { SrtpContext, type SrtpContextOptions } from './SrtpContext.js';
import { profileParams, type SrtpProfile } from './profiles.js';

export interface SrtpKeyingMaterial {
  profile: SrtpProfile;
  localMasterKey: Buffer;
  localMasterSalt: Buffer;
  remoteMasterKey: Buffer;
  remoteMasterSalt: Buffer;
}

/** Both directions of an SRTP session: `outbound` protects what we send, `inbound` unprotects what the peer sends. */
export class SrtpSession {
  readonly outbound: SrtpContext;
  readonly inbound: SrtpContext;

  constructor(
    /** The master keys (the native packet core derives its own contexts from them). */
    readonly keys: SrtpKeyingMaterial,
    options: SrtpContextOptions = {},
  ) {
    this.outbound = new SrtpContext(keys.profile, keys.localMasterKey, keys.localMasterSalt, options);
    this.inbound = new SrtpContext(keys.profile, keys.remoteMasterKey, keys.remoteMasterSalt, options);
  }

  /**
   * Splits DTLS-SRTP exported keying material (RFC 5764 §4.2: client key, server key,
   * client salt, server salt) into this side's and the peer's keys.
   */
  static fromDtlsExport(profile: SrtpProfile, material: Buffer, isClient: boolean, options: SrtpContextOptions = {}): SrtpSession {
    const { keyLength: k, saltLength: s } = profileParams(profile);
    if (material.length < 2 * (k + s)) throw new RangeError('DTLS-SRTP keying material too short');
    const clientKey = material.subarray(0, k);
    const serverKey = material.subarray(k, 2 * k);
    const clientSalt = material.subarray(2 * k, 2 * k + s);
    const serverSalt = material.subarray(2 * k + s, 2 * k + 2 * s);
    return new SrtpSession(
      {
        profile,
        localMasterKey: isClient ? clientKey : serverKey,
        localMasterSalt: isClient ? clientSalt : serverSalt,
        remoteMasterKey: isClient ? serverKey : clientKey,
        remoteMasterSalt: isClient ? serverSalt : clientSalt,
      },
      options,
    );
  }
}
