import { z } from 'zod';
import { CALL_MEDIA, END_REASONS, TOPOLOGIES } from './calls.js';
import type { CallId, ConversationId, DeviceId, MessageId, RecordingId, RoomName, UserId } from './ids.js';

/*
 * The signaling protocol: one WebSocket per device at /ws, JSON text frames.
 *  client -> server  request       {id, type, ...fields}
 *  server -> client  response      {id, ok: true, result} | {id, ok: false, error: {code, message}}
 *  server -> client  notification  {type, ...fields}            (no id)
 * Every inbound frame is validated here before anything acts on it.
 */

const id = <T extends string>() => z.string().min(1).max(128) as unknown as z.ZodType<T>;
export const zUserId = id<UserId>();
export const zConversationId = id<ConversationId>();
export const zCallId = id<CallId>();
export const zRecordingId = id<RecordingId>();
export const zRoomName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'room names are 1-64 letters, digits, _ . -') as unknown as z.ZodType<RoomName>;

export const zIceCandidate = z.object({
  candidate: z.string().max(1024),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
});
export type IceCandidateInit = z.infer<typeof zIceCandidate>;

const sdp = z.string().min(1).max(64 * 1024);

/** Signal payloads: P2P words, and the SFU words of the Kurento group-call tutorial. */
export const zSignalPayload = z.discriminatedUnion('type', [
  z.object({ type: z.literal('offer'), sdp }),
  z.object({ type: z.literal('answer'), sdp }),
  z.object({ type: z.literal('candidate'), candidate: z.string().max(1024), sdpMid: z.string().max(64).nullable().optional(), sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional() }),
  z.object({ type: z.literal('receiveVideoFrom'), sender: zUserId, sdpOffer: sdp }),
  z.object({ type: z.literal('onIceCandidate'), name: zUserId, candidate: zIceCandidate }),
  z.object({ type: z.literal('leaveRoom') }),
]);
export type SignalPayload = z.infer<typeof zSignalPayload>;

const username = z.string().regex(/^[a-z0-9_.-]{3,32}$/, 'usernames are 3-32 lower-case letters, digits, _ . -');
const password = z.string().min(8, 'passwords have at least 8 characters').max(128);

/** Every request a client may send, by type. */
export const zClientRequest = z.discriminatedUnion('type', [
  z.object({ id: z.number().int().nonnegative(), type: z.literal('register'), username, password, displayName: z.string().min(1).max(64).optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('login'), username, password: z.string().min(1).max(128), deviceName: z.string().max(64).optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('hello'), token: z.string().min(1).max(256) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('logout') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('users.find'), username }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('users.get'), userIds: z.array(zUserId).min(1).max(100) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('contacts.add'), userId: zUserId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('contacts.list') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('conversations.direct'), userId: zUserId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('conversations.createGroup'), name: z.string().min(1).max(64), memberIds: z.array(zUserId).min(1).max(500) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('conversations.list') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('messages.send'), conversationId: zConversationId, text: z.string().min(1).max(4000) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('messages.history'), conversationId: zConversationId, beforeSeq: z.number().int().positive().optional(), limit: z.number().int().min(1).max(100).optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('ice.servers') }),
  // Calls (seed types 400-405)
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.start'), conversationId: zConversationId.optional(), audioOnly: z.boolean(), topology: z.enum(TOPOLOGIES), media: z.enum(CALL_MEDIA).optional(), invitees: z.array(zUserId).max(64).optional(), sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.answer'), callId: zCallId, audioOnly: z.boolean(), transparent: z.boolean().optional(), sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.bye'), callId: zCallId, reason: z.enum(END_REASONS), sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.signal'), callId: zCallId, to: zUserId.optional(), payload: zSignalPayload, sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.modify'), callId: zCallId, audioOnly: z.boolean(), sentAt: z.number().optional() }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.invite'), callId: zCallId, invitees: z.array(zUserId).min(1).max(64) }),
  // Open rooms
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.join'), room: zRoomName }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.signal'), room: zRoomName, payload: zSignalPayload }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.leave'), room: zRoomName }),
  // Recording (docs/recording.md)
  z.object({ id: z.number().int().nonnegative(), type: z.literal('call.record'), callId: zCallId, action: z.enum(['start', 'stop']) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('room.record'), room: zRoomName, action: z.enum(['start', 'stop']) }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('recordings.list') }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('recordings.link'), recordingId: zRecordingId }),
  z.object({ id: z.number().int().nonnegative(), type: z.literal('recordings.delete'), recordingId: zRecordingId }),
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

export interface ConversationInfo {
  id: ConversationId;
  kind: 'direct' | 'group';
  name: string;
  memberIds: UserId[];
  createdAt: number;
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

export type ServerNotification =
  | { type: 'message'; message: ChatMessage }
  | { type: 'conversation'; conversation: ConversationInfo }
  | { type: 'call.incoming'; callId: CallId; conversationId: ConversationId | null; from: UserId; audioOnly: boolean; topology: 'p2p' | 'sfu' | 'loopback'; media?: (typeof CALL_MEDIA)[number]; invitees: UserId[]; group: boolean; sentAt: number }
  | { type: 'call.answered'; callId: CallId; by: UserId; deviceId: DeviceId; audioOnly: boolean; transparent: boolean; sentAt: number }
  | { type: 'call.ended'; callId: CallId; reason: (typeof END_REASONS)[number]; by: UserId | null; sentAt: number }
  | { type: 'call.left'; callId: CallId; userId: UserId; sentAt: number }
  | { type: 'call.signal'; callId: CallId; from: UserId | null; payload: ServerSignalPayload; sentAt: number }
  | { type: 'call.modified'; callId: CallId; by: UserId; audioOnly: boolean; sentAt: number }
  | { type: 'call.invited'; callId: CallId; invitees: UserId[]; sentAt: number }
  | { type: 'room.signal'; room: RoomName; payload: ServerSignalPayload }
  | { type: 'call.recording'; callId: CallId; recording: boolean; by: UserId | null; recordingId: RecordingId; sentAt: number; /** Set when the server stopped it: the disk quota was reached. */ reason?: 'diskQuota' }
  | { type: 'room.recording'; room: RoomName; recording: boolean; by: UserId | null; recordingId: RecordingId; sentAt: number; /** Set when the server stopped it: the disk quota was reached. */ reason?: 'diskQuota' }
  /** The server ended the room for everyone in it (reason 'mediaError': the media server lost it); join again to start a new one. */
  | { type: 'room.ended'; room: RoomName; reason: (typeof END_REASONS)[number] }
  | { type: 'session.ended'; reason: 'expired' | 'loggedOut' | 'serverShutdown' };

/** Signal payloads the server sends (SFU words) or relays (P2P words). */
export type ServerSignalPayload =
  | SignalPayload
  | { type: 'existingParticipants'; data: UserId[] }
  | { type: 'newParticipantArrived'; name: UserId }
  | { type: 'participantLeft'; name: UserId }
  | { type: 'receiveVideoAnswer'; name: UserId; sdpAnswer: string }
  | { type: 'iceCandidate'; name: UserId; candidate: IceCandidateInit };

/** `id` is null for an error about a frame whose id could not be read. */
export type ServerResponse = { id: number; ok: true; result: unknown } | { id: number | null; ok: false; error: { code: string; message: string; retryAfterMs?: number } };
