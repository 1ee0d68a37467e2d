import { z } from 'zod';
import { CALL_MEDIA, CALLS_FROM_NON_CONTACTS, END_REASONS, REACTIONS, TOPOLOGIES, type PeerState, type Reaction } from './calls.js';
import type { CallId, ConversationId, DeviceId, MessageId, RecordingId, RoomName, UserId } from './ids.js';

/*
 * The signaling protocol: one WebSocket per device at /ws, JSON text frames.
 *  client -> server  request       {id, type, ...fields}
 *  server -> client  response      {id, ok: true, result} | {id, ok: false, error: {code, message}}
 *  server -> client  notification  {type, ...fields}            (no id)
 * Every inbound frame is validated here before anything acts on it.
 */

/** The longest text message, in characters (UTF-16 code units, as JavaScript counts them). */
export const MAX_MESSAGE_LENGTH = 4000;
/** The most users one socket may watch the presence of. */
export const MAX_PRESENCE_WATCH = 1000;
/** Usernames: 3-32 of these. */
export const USERNAME_PATTERN = /^[a-z0-9_.-]{3,32}$/;
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 128;
export const MAX_DISPLAY_NAME_LENGTH = 64;
/** Open room names: 1-64 of these. */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

const id = <T extends string>() => z.string().min(1).max(128) as unknown as z.ZodType<T>;
export const zUserId = id<UserId>();
export const zConversationId = id<ConversationId>();
export const zCallId = id<CallId>();
export const zRecordingId = id<RecordingId>();
export const zRoomName = z
  .string()
  .regex(ROOM_NAME_PATTERN, 'room names are 1-64 letters, digits, _ . -') as unknown as z.ZodType<RoomName>;

export const zIceCandidate = z.object({
  candidate: z.string().max(1024),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
});
export type IceCandidateInit = z.infer<typeof zIceCandidate>;

const sdp = z.string().min(1).max(64 * 1024);

/**
 * What a receiver asks of someone's video in bundled calls and rooms (`subscribeQuality`):
 * a level ('off': none; 'low', 'medium', 'high': the publisher's lowest, middle, highest
 * simulcast layer at most) or the size of the tile it shows it in, in pixels (the
 * smallest layer at least that big), and whether it pinned that tile (`pinned`: served
 * first when the receiver's downlink does not carry everything; default false). Video
 * that is not simulcast is unaffected.
 */
export const zVideoQuality = z.union([
  z.enum(['off', 'low', 'medium', 'high']),
  z.object({ maxWidth: z.number().int().min(1).max(16384).optional(), maxHeight: z.number().int().min(1).max(16384).optional(), pinned: z.boolean().optional() }).strict(),
]);
export type VideoQuality = z.infer<typeof zVideoQuality>;

/**
 * Signal payloads: P2P words; the SFU words of the Kurento group-call tutorial
 * (receiveVideoFrom per sender); and the bundled words (one sending and one receiving
 * connection per participant): `publish` offers all of your tracks on the sending
 * connection (answered by `publishAnswer`), `subscribeAnswer` answers the server's
 * `subscribeOffer` on the receiving connection, and `subscribeRestart` asks for that
 * connection anew when it failed (the server offers on a fresh transport, with other ICE
 * credentials: the client answers on a new peer connection). A `publish` with `renew`
 * comes from a new sending connection (the old one failed): the server takes it on a new
 * sending transport.
 */
export const zSignalPayload = z.discriminatedUnion('type', [
  z.object({ type: z.literal('offer'), sdp }),
  z.object({ type: z.literal('answer'), sdp }),
  z.object({ type: z.literal('candidate'), candidate: z.string().max(1024), sdpMid: z.string().max(64).nullable().optional(), sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional() }),
  z.object({ type: z.literal('receiveVideoFrom'), sender: zUserId, sdpOffer: sdp }),
  z.object({ type: z.literal('onIceCandidate'), name: zUserId, candidate: zIceCandidate }),
  z.object({ type: z.literal('leaveRoom') }),
  z.object({ type: z.literal('publish'), sdpOffer: sdp, renew: z.boolean().optional() }),
  z.object({ type: z.literal('subscribeAnswer'), sdpAnswer: sdp }),
  z.object({ type: z.literal('subscribeRestart') }),
  z.object({ type: z.literal('subscribeQuality'), participant: zUserId, quality: zVideoQuality }),
]);
export type SignalPayload = z.infer<typeof zSignalPayload>;

/** The fields of `call.state` / `room.state`: each one left out keeps its value. */
const zPeerStateChange = { audioMuted: z.boolean().optional(), cameraOff: z.boolean().optional(), screenSharing: z.boolean().optional(), handRaised: z.boolean().optional(), speaking: z.boolean().optional() };


const username = z.string().regex(USERNAME_PATTERN, 'usernames are 3-32 lower-case letters, digits, _ . -');
const password = z.string().min(MIN_PASSWORD_LENGTH, `passwords have at least ${MIN_PASSWORD_LENGTH} characters`).max(MAX_PASSWORD_LENGTH);

/** Every request a client may send, by type. */
export const zClientRequest = z.discriminatedUnion('type', [
  z.object({ id: z.number().int().nonnegative(), type: z.literal('register'), username, password, displayName: z.string().min(1).max(MAX_DISPLAY_NAME_LENGTH).optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('login'), username, password: z.string().min(1).max(128), deviceName: z.string().max(64).optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('hello'), token: z.string().min(1).max(256) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('logout') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('users.find'), username }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('users.get'), userIds: z.array(zUserId).min(1).max(100) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('contacts.add'), userId: zUserId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('contacts.list') }),
  // Contact requests, blocking, the call preference (docs/signaling-protocol.md, docs/security.md)
  z.object({ id: z.number().int().nonnegative(), type: z.literal('contacts.requests') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('contacts.accept'), userId: zUserId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('contacts.decline'), userId: zUserId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('blocks.add'), userId: zUserId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('blocks.remove'), userId: zUserId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('blocks.list') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('settings.get') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('settings.set'), callsFromNonContacts: z.enum(CALLS_FROM_NON_CONTACTS).optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('conversations.direct'), userId: zUserId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('conversations.createGroup'), name: z.string().min(1).max(64), memberIds: z.array(zUserId).min(1).max(500) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('conversations.list') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('messages.send'), conversationId: zConversationId, text: z.string().min(1).max(MAX_MESSAGE_LENGTH, `messages have at most ${MAX_MESSAGE_LENGTH} characters`) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('messages.history'), conversationId: zConversationId, beforeSeq: z.number().int().positive().optional(), limit: z.number().int().min(1).max(100).optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('ice.servers') }),
  // Calls (seed types 400-405)
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.start'), conversationId: zConversationId.optional(), audioOnly: z.boolean(), topology: z.enum(TOPOLOGIES), media: z.enum(CALL_MEDIA).optional(), invitees: z.array(zUserId).max(64).optional(), sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.answer'), callId: zCallId, audioOnly: z.boolean(), transparent: z.boolean().optional(), switch: z.boolean().optional(), sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.bye'), callId: zCallId, reason: z.enum(END_REASONS), sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.signal'), callId: zCallId, to: zUserId.optional(), payload: zSignalPayload, sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.modify'), callId: zCallId, audioOnly: z.boolean(), sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.invite'), callId: zCallId, invitees: z.array(zUserId).min(1).max(64) }),
  /** Takes a call you are still in (your device dropped or the page reloaded) onto this socket with fresh media (media-server calls). */
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.rejoin'), callId: zCallId }),
  // Open rooms
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.join'), room: zRoomName }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.signal'), room: zRoomName, payload: zSignalPayload }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.leave'), room: zRoomName }),
  /** A message to the room's own chat (kept while the room is open; rooms have no conversation). */
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.message'), room: zRoomName, text: z.string().min(1).max(MAX_MESSAGE_LENGTH, `messages have at most ${MAX_MESSAGE_LENGTH} characters`) }),
  // Recording (docs/recording.md)
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.record'), callId: zCallId, action: z.enum(['start', 'stop']) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.record'), room: zRoomName, action: z.enum(['start', 'stop']) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('recordings.list') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('recordings.link'), recordingId: zRecordingId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('recordings.delete'), recordingId: zRecordingId }),
  // Participant state and reactions (what the others see on your tile); fields left out stay as they are.
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.state'), callId: zCallId, ...zPeerStateChange }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.state'), room: zRoomName, ...zPeerStateChange }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.react'), callId: zCallId, reaction: z.enum(REACTIONS) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.react'), room: zRoomName, reaction: z.enum(REACTIONS) }),
  /** Online status of these contacts now, and `presence` notifications on this socket when it changes (replaces the socket's earlier list). */
  z.object({ id: z.number().int().nonnegative(), type: z.literal('presence.watch'), userIds: z.array(zUserId).max(MAX_PRESENCE_WATCH) }),
]);
export type ClientRequest = z.infer<typeof zClientRequest>;
export type RequestType = ClientRequest['type'];
export type RequestOf<T extends RequestType> = Extract<ClientRequest, { type: T }>;

// --- server -> client --------------------------------------------------------------

export interface UserInfo {
  id: UserId;
  username: string;
  displayName: string;
}

/** A user's own preferences, as `settings.get` / `settings.set` give them. */
export interface UserSettings {
  /** Calls from users who are not your contacts: 'ring' (default) rings like any call; 'request' arrives as a call request (`call.incoming` with `request: true`) to accept or decline, without ringing. */
  callsFromNonContacts: (typeof CALLS_FROM_NON_CONTACTS)[number];
}

export interface ConversationInfo {
  id: ConversationId;
  kind: 'direct' | 'group';
  name: string;
  memberIds: UserId[];
  createdAt: number;
  /** `conversations.list` only: the newest message, for the list's preview line. */
  lastMessage?: ChatMessage;
}

/** A contact as `contacts.list` gives it: with whether any of their devices is online now. */
export interface ContactInfo extends UserInfo {
  online: boolean;
}

export interface CallRecord {
  callId: CallId;
  initiator: UserId;
  audioOnly: boolean;
  topology: 'p2p' | 'sfu' | 'loopback';
  participants: UserId[];
  startedAt: number;
  answeredAt: number | null;
  endedAt: number;
  /** Seconds from answer to end; 0 when never answered. */
  duration: number;
  endReason: (typeof END_REASONS)[number];
  /** Never answered by anyone. */
  missed: boolean;
}

export interface ChatMessage {
  id: MessageId;
  conversationId: ConversationId;
  /** Position in the conversation, from 1. */
  seq: number;
  senderId: UserId;
  kind: 'text' | 'call';
  text?: string;
  call?: CallRecord;
  sentAt: number;
}

/** A recording of a call or room, as `recordings.list` and the recording notifications give it. */
export interface RecordingInfo {
  id: RecordingId;
  callId: CallId | null;
  room: RoomName | null;
  startedBy: UserId;
  /** Who may list and download it: everyone in the call or room while it was recorded. */
  participants: UserId[];
  startedAt: number;
  /** null while recording. */
  endedAt: number | null;
  /** 'recording', 'complete', or 'failed' (the file may be partial). */
  status: 'recording' | 'complete' | 'failed';
  /** Bytes, once complete. */
  size: number | null;
  /**
   * Seconds of media in the file, as ffprobe reads it when the recording is finished;
   * null while recording or when the file could not be read. Shorter than endedAt -
   * startedAt: the file starts at its first picture and ends with the last media.
   */
  duration: number | null;
  mimeType: string;
  /** HTTP path of the file on the signaling server: GET it with `Authorization: Bearer <device token>`. */
  downloadPath: string;
}

/** A message of a room's own chat: kept by the server while the room is open (the last `MAX_ROOM_MESSAGES`), gone when it closes. */
export interface RoomMessage {
  /** Position in the room's chat, from 1. */
  seq: number;
  senderId: UserId;
  text: string;
  sentAt: number;
}

/** A room keeps this many of its newest chat messages for those who join later. */
export const MAX_ROOM_MESSAGES = 200;

export type ServerNotification =
  | { type: 'message'; message: ChatMessage }
  | { type: 'conversation'; conversation: ConversationInfo }
  | { type: 'call.incoming'; callId: CallId; conversationId: ConversationId | null; from: UserId; audioOnly: boolean; topology: 'p2p' | 'sfu' | 'loopback'; media?: (typeof CALL_MEDIA)[number]; invitees: UserId[]; group: boolean; /** You are in another call: this one waits (answer with `switch: true` to leave that one). */ waiting: boolean; /** A call request: the caller is not your contact and you asked for such calls to need acceptance (do not ring). */ request: boolean; sentAt: number }
  | { type: 'call.answered'; callId: CallId; by: UserId; deviceId: DeviceId; audioOnly: boolean; transparent: boolean; sentAt: number }
  | { type: 'call.ended'; callId: CallId; reason: (typeof END_REASONS)[number]; by: UserId | null; sentAt: number; /** `by` did not hang up: their device dropped and did not come back. */ dropped?: true }
  | { type: 'call.left'; callId: CallId; userId: UserId; sentAt: number; /** Their device dropped and did not come back in time. */ dropped?: true }
  /** A participant's device dropped ('reconnecting': they have the grace period to come back) or came back ('connected'). */
  | { type: 'call.participant'; callId: CallId; userId: UserId; connection: 'reconnecting' | 'connected'; sentAt: number }
  /**
   * The call's media moved to another media server (its media node stopped): the call
   * goes on with everyone in it, and its media starts afresh: drop the call's peer
   * connections and answer the `existingParticipants` that follows (call.signal) as after
   * answering. Calls through the media server only.
   */
  | { type: 'call.moved'; callId: CallId; sentAt: number }
  /** A watched contact's first device came online, or their last one went. */
  | { type: 'presence'; userId: UserId; online: boolean }
  | { type: 'call.signal'; callId: CallId; from: UserId | null; payload: ServerSignalPayload; sentAt: number }
  | { type: 'call.modified'; callId: CallId; by: UserId; audioOnly: boolean; sentAt: number }
  | { type: 'call.invited'; callId: CallId; invitees: UserId[]; sentAt: number }
  | { type: 'room.signal'; room: RoomName; payload: ServerSignalPayload }
  | { type: 'call.recording'; callId: CallId; recording: boolean; by: UserId | null; recordingId: RecordingId; sentAt: number; /** Set when the server stopped it: the disk quota was reached. */ reason?: 'diskQuota' }
  | { type: 'room.recording'; room: RoomName; recording: boolean; by: UserId | null; recordingId: RecordingId; sentAt: number; /** Set when the server stopped it: the disk quota was reached. */ reason?: 'diskQuota' }
  /** The server ended the room for everyone in it (reason 'mediaError': the media server lost it); join again to start a new one. */
  | { type: 'room.ended'; room: RoomName; reason: (typeof END_REASONS)[number] }
  /**
   * The room's media moved to another media server (its media node stopped): every member
   * stays in the room, and its media starts afresh: drop the room's peer connections and
   * answer the `existingParticipants` that follows (room.signal) as after a join.
   */
  | { type: 'room.moved'; room: RoomName }
  /** Someone asks to become your contact: contacts.accept or contacts.decline. */
  | { type: 'contact.request'; from: UserInfo }
  /** You and `user` are contacts now (they accepted your request, or you accepted theirs on another device). */
  | { type: 'contact.accepted'; user: UserInfo }
  | { type: 'session.ended'; reason: 'expired' | 'loggedOut' | 'serverShutdown' }
  /** A participant's mute / camera / hand changed (also sent to a joiner for everyone already in, whose state is not all false). */
  | { type: 'call.participantState'; callId: CallId; userId: UserId; state: PeerState; sentAt: number }
  | { type: 'room.participantState'; room: RoomName; userId: UserId; state: PeerState }
  /** A member's device dropped ('reconnecting': the room keeps them for the grace period) or they are back ('connected'). */
  | { type: 'room.participant'; room: RoomName; userId: UserId; connection: 'reconnecting' | 'connected' }
  /** A member left the room (sent before the media words' participantLeft); `dropped`: their device went and did not come back in time. */
  | { type: 'room.left'; room: RoomName; userId: UserId; dropped?: true }
  /** A message in the room's chat (to every member, the sender included). */
  | { type: 'room.message'; room: RoomName; message: RoomMessage }
  /** A participant sent a reaction (to everyone in the call or room, the sender included). */
  | { type: 'call.reaction'; callId: CallId; from: UserId; reaction: Reaction; sentAt: number }
  | { type: 'room.reaction'; room: RoomName; from: UserId; reaction: Reaction };

/** One m-line of the receiving connection's offer: whose media it carries (null: the server's audio mix of a hybrid call). */
export interface SubscribedTrack {
  mid: string;
  kind: 'audio' | 'video';
  participant: UserId | null;
}

/** Signal payloads the server sends (SFU words) or relays (P2P words). */
export type ServerSignalPayload =
  | SignalPayload
  /** `bundled`: the media server takes the bundled words (publish / subscribeOffer); without it, only receiveVideoFrom. */
  | { type: 'existingParticipants'; data: UserId[]; bundled?: boolean }
  | { type: 'publishAnswer'; sdpAnswer: string }
  /** The server's offer on your receiving connection (someone's tracks came or went): answer with subscribeAnswer. */
  | { type: 'subscribeOffer'; sdpOffer: string; tracks: SubscribedTrack[] }
  /**
   * Bundled calls and rooms: who speaks, as the media server measures it from the audio
   * levels in everyone's audio (RFC 6464): the dominant speaker (null: nobody speaks) and
   * each participant's level of the last period (linear 0-1, as getStats' audioLevel;
   * keys are user ids; only those whose audio carries levels). Sent to everyone when the
   * speaker or a level changes, at most every 200 ms.
   */
  | { type: 'activeSpeaker'; speaker: UserId | null; levels: Record<string, number> }
  /**
   * Bundled calls and rooms: which simulcast layers of your video on m-line `mid` of your
   * sending connection someone takes (by rid): pause the others
   * (`RTCRtpEncodingParameters.active = false`) and resume them when told so.
   */
  | { type: 'publishLayers'; mid: string; active: Record<string, boolean> }
  | { type: 'newParticipantArrived'; name: UserId }
  | { type: 'participantLeft'; name: UserId }
  | { type: 'receiveVideoAnswer'; name: UserId; sdpAnswer: string }
  | { type: 'iceCandidate'; name: UserId; candidate: IceCandidateInit };

/** `id` is null for an error about a frame whose id could not be read. */
export type ServerResponse = { id: number; ok: true; result: unknown } | { id: number | null; ok: false; error: { code: string; message: string; retryAfterMs?: number } };
