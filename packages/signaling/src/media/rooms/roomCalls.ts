/**
 * The room API as calls and events: what a RoomProxy asks of the RoomHost that holds
 * its room, on a media worker (over a MessagePort) or on a media node (over the Kurento
 * Protocol connection). One table of calls, one of events, their parameters validated by
 * the host (data from another process is unknown until checked).
 */
import { z } from 'zod';
import { ERROR_CODES, zIceCandidate, type ErrorCode } from '@roundtable/protocol';
import { SignalingError } from '../../net/Handlers.js';
import type { RoomCandidate, RoomLayers, RoomOffer, RoomRecordingResult, RoomSpeakers } from '../MediaServer.js';

/** A room on its host, by a number its proxy's server gives it (unique per host). */
export type RoomId = number;

const roomId = z.number().int().min(1);
const participant = z.string().min(1).max(256);
const sdp = z.string().max(256 * 1024);
const room = { roomId };
const member = { roomId, participant };

const videoRequest = z.union([
  z.literal('off'),
  z.object({ maxLayer: z.number().int().min(0).optional(), maxWidth: z.number().int().min(0).optional(), maxHeight: z.number().int().min(0).optional() }),
]);

/** The parameters of each call, as the host checks them. */
export const roomCallSchemas = {
  /** What the host speaks: the proxy's server asks once before it makes rooms there. */
  hello: z.object({}),
  createRoom: z.object({ roomId, label: z.string().max(512), options: z.object({ audio: z.enum(['forwarded', 'mixed']).optional() }) }),
  join: z.object(member),
  receiveVideoFrom: z.object({ ...member, sender: participant, sdpOffer: sdp, options: z.object({ loopback: z.boolean().optional() }) }),
  publish: z.object({ ...member, sdpOffer: sdp, renew: z.boolean() }),
  subscribeAnswer: z.object({ ...member, sdpAnswer: sdp }),
  restartReceiving: z.object(member),
  repeatOffer: z.object(member),
  requestVideo: z.object({ ...member, publisher: participant, request: videoRequest }),
  connectionCount: z.object(room),
  addIceCandidate: z.object({ ...member, sender: participant, candidate: zIceCandidate }),
  leave: z.object(member),
  participants: z.object(room),
  startRecording: z.object({ roomId, options: z.object({ path: z.string().min(1).max(4096), video: z.boolean().optional() }) }),
  stopRecording: z.object(room),
  close: z.object(room),
} as const;

export type RoomMethod = keyof typeof roomCallSchemas;

/** The version of the calls and events; a host answers hello with it. */
export const ROOM_API_VERSION = 1;

/** What each call resolves with. */
export interface RoomResults {
  hello: { version: number };
  createRoom: null;
  join: null;
  receiveVideoFrom: string;
  publish: string;
  subscribeAnswer: null;
  restartReceiving: null;
  repeatOffer: null;
  requestVideo: null;
  connectionCount: number;
  addIceCandidate: null;
  leave: null;
  participants: string[];
  startRecording: null;
  stopRecording: RoomRecordingResult | null;
  close: null;
}

export type RoomParamsOf<M extends RoomMethod> = z.infer<(typeof roomCallSchemas)[M]>;
export type RoomResultOf<M extends RoomMethod> = RoomResults[M];

/** The calls, as the worker RPC's table spells them. */
export type RoomCalls = { [M in RoomMethod]: { params: RoomParamsOf<M>; result: RoomResultOf<M> } };

/** Where a proxy's calls go: a media worker or a media node. */
export interface RoomChannel {
  call<M extends RoomMethod>(method: M, params: RoomParamsOf<M>): Promise<RoomResultOf<M>>;
}

/** What a host tells of its rooms. */
export type RoomEvent =
  | { type: 'candidate'; roomId: RoomId; candidate: RoomCandidate }
  | { type: 'offer'; roomId: RoomId; offer: RoomOffer }
  | { type: 'speakers'; roomId: RoomId; speakers: RoomSpeakers }
  | { type: 'layers'; roomId: RoomId; layers: RoomLayers }
  | { type: 'recordingEnded'; roomId: RoomId; result: RoomRecordingResult };

/** An event from another process, checked (a media node's notification). */
export const roomEventSchema: z.ZodType<RoomEvent> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('candidate'), roomId, candidate: z.object({ participant, sender: participant, candidate: zIceCandidate }) }),
  z.object({
    type: z.literal('offer'),
    roomId,
    offer: z.object({ participant, sdp, tracks: z.array(z.object({ mid: z.string().max(64), kind: z.enum(['audio', 'video']), participant: participant.nullable() })) }),
  }),
  z.object({ type: z.literal('speakers'), roomId, speakers: z.object({ speaker: participant.nullable(), levels: z.record(z.string(), z.number()) }) }),
  z.object({ type: z.literal('layers'), roomId, layers: z.object({ participant, mid: z.string().max(64), rids: z.array(z.string().max(64)), active: z.array(z.boolean()) }) }),
  z.object({ type: z.literal('recordingEnded'), roomId, result: z.object({ path: z.string(), ok: z.boolean(), error: z.string().optional() }) }),
]) as z.ZodType<RoomEvent>;

/** An error as it crosses a thread or process boundary. */
export interface SerializedError {
  /** The error class's name: 'SignalingError', 'MediaError', 'Error', ... */
  name: string;
  /** The error's code, when it has a string one. */
  code?: string;
  message: string;
}

/** A host's answer to one call, as a media node sends it (a worker answers in its own envelope). */
export type RoomReply = { ok: true; result: unknown } | { ok: false; error: SerializedError };

export const roomReplySchema: z.ZodType<RoomReply> = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.object({ name: z.string(), code: z.string().optional(), message: z.string() }) }),
]) as z.ZodType<RoomReply>;

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

function isErrorCode(code: string | undefined): code is ErrorCode {
  return ERROR_CODES.some((c) => c === code);
}

/**
 * The error a caller sees: a SignalingError with its code intact, as the room in this
 * thread would have thrown it. Anything else (an engine error, a bug) is a MEDIA_ERROR
 * that keeps the original code in its message.
 */
export function deserializeError(error: SerializedError): SignalingError {
  if (error.name === 'SignalingError' && isErrorCode(error.code)) return new SignalingError(error.code, error.message);
  return new SignalingError('MEDIA_ERROR', error.code ? `${error.code}: ${error.message}` : error.message);
}
