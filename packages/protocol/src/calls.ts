/** Call model constants (see docs/signaling-protocol.md and the seed's call design). */

/** Seed numbering of the call message types, kept for reference and logs. */
export const CALL_MESSAGE_TYPES = {
  CallStart: 400,
  CallAnswer: 401,
  CallBye: 402,
  CallSignal: 403,
  CallModify: 404,
  CallAnswerT: 405,
} as const;

export const CALL_STATES = { IDLE: 0, OUTGOING: 1, INCOMING: 2, CONNECTING: 3, CONNECTED: 4 } as const;
export type CallState = keyof typeof CALL_STATES;

export const END_REASONS = [
  'unknown',
  'busy',
  'signalError',
  'hangup',
  'mediaError',
  'remoteHangup',
  'openCameraError',
  'timeout',
  'acceptByOtherClient',
  'allLeft',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** p2p: media browser to browser; sfu: through the media server; loopback: self-test. */
export const TOPOLOGIES = ['p2p', 'sfu', 'loopback'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/**
 * Media of a call through the media server. sfu (the default): every participant's
 * audio and video are forwarded to every other participant. hybrid: video is forwarded
 * as with sfu, audio is mixed by the server: each participant receives ONE audio
 * stream, the mix of all the others, on its uplink connection (docs/mcu.md).
 */
export const CALL_MEDIA = ['sfu', 'hybrid'] as const;
export type CallMedia = (typeof CALL_MEDIA)[number];

/** At most this many participants in a group call, the initiator included. */
export const MAX_CALL_PARTICIPANTS = 9;
/** Call messages older than this are ignored (ms). */
export const STALE_CALL_MESSAGE_MS = 90_000;
/** Default ring timeout (ms). */
export const DEFAULT_RING_TIMEOUT_MS = 60_000;

/** The reactions a participant may send to a call or room (shown briefly over their tile). */
export const REACTIONS = ['👍', '👏', '😂', '❤️', '🎉', '😮'] as const;
export type Reaction = (typeof REACTIONS)[number];

/**
 * What the others see of one participant's media and hand (`call.state` / `room.state`):
 * `audioMuted`: nothing from the microphone goes out; `cameraOff`: no video goes out
 * (camera off, or voice only; a screen share counts as video); `screenSharing`: the video is a
 * screen (show it whole, not cropped); `handRaised`: the hand is up. Everyone starts with all false.
 * `speaking` (absent: false): their own microphone level says they speak, announced where
 * the others cannot measure it (calls with mixed audio: everyone gets only the mix).
 */
export interface PeerState {
  audioMuted: boolean;
  cameraOff: boolean;
  screenSharing: boolean;
  handRaised: boolean;
  speaking?: boolean;
}

export const DEFAULT_PEER_STATE: Readonly<PeerState> = Object.freeze({ audioMuted: false, cameraOff: false, screenSharing: false, handRaised: false });

/** What happens to a call from someone who is not your contact (a user setting): it rings, or it comes as a request. */
export const CALLS_FROM_NON_CONTACTS = ['ring', 'request'] as const;
export type CallsFromNonContacts = (typeof CALLS_FROM_NON_CONTACTS)[number];
