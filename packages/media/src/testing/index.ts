/** Test helpers for packages that build on the engine (not part of the product API). */
export { FakePublisher } from './FakePublisher.js';
export { createWeriftPeer, transceiverOf, waitForConnected } from './peers.js';
export { negotiate } from './signal.js';
export { StunServer } from '../net/StunServer.js';
export { useTestPeerEnvironment, type TestPeerEnvironment } from './stun.js';
export { RealMediaSender, type RealMediaSenderOptions } from './RealMediaSender.js';
export { McuTestPeer, decodeVp8, meanColor, toneAmplitude, vp8PacketsToIvf, type McuTestPeerOptions, type DecodedVideo } from './mcu.js';
export {
  findFaceImage,
  makeFaceClip,
  makeStillClip,
  solidPng,
  colorShare,
  FACE_IMAGE_CANDIDATES,
  ASTRONAUT_FACE_320x240,
  type StillClipOptions,
} from './faceClip.js';
export { selfSignedCert, type TestCertificate } from './selfSignedCert.js';
export { ImpairedPath, ImpairmentRelay, stripPeerCandidates, type DirectionStats, type ImpairmentOptions } from './ImpairmentRelay.js';
export { vp8Playback, type Vp8Playback } from './vp8Playback.js';
export { CpuHog, type CpuHogOptions } from './CpuHog.js';
export { openingPicture, packetTimes, type OpeningPicture } from './recordingChecks.js';
export { packetPathsUnderTest, nativeCoreUnderTest } from '../native/testPaths.js';
export { wrtcAudioMember, type WrtcAudioMember, type WrtcPeer } from './wrtcAudioMember.js';
