export { SrtpProfile, profileParams, isSupportedProfile, type ProfileParams } from './profiles.js';
export { deriveSessionKeys, deriveKey, type SessionKeys } from './kdf.js';
export { SrtpContext, SrtpDrop, rtpHeaderLength, type SrtpContextOptions, type SrtpStats } from './SrtpContext.js';
export { SrtpSession, type SrtpKeyingMaterial } from './SrtpSession.js';
export { ReplayWindow } from './ReplayWindow.js';
export { AesCmKeystream } from './AesCmKeystream.js';
export { HmacSha1 } from './HmacSha1.js';
