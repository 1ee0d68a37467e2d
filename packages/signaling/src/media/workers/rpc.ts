/**
 * The typed RPC between the main thread and a media worker, over the worker's
 * MessagePort. Messages are structured clones inside one process, so they are typed,
 * not validated: both ends are this code.
 */
import type { EngineStats } from '@roundtable/media';
import { ERROR_CODES, type ErrorCode } from '@roundtable/protocol';
import { SignalingError } from '../../net/Handlers.js';
import type { RoomCandidate, RoomOffer, RoomOptions, RoomRecordingOptions, RoomRecordingResult, RoomLayers, RoomSpeakers, RoomVideoRequest } from '../MediaServer.js';

/** A room on a worker, by a number the main thread gives it. */
export type WorkerRoomId = number;

/** The calls a worker answers: their parameters and results. */
export interface WorkerCalls {
  createRoom: { params: { roomId: WorkerRoomId; label: string; options: RoomOptions }; result: null };
  join: { params: { roomId: WorkerRoomId; participant: string }; result: null };
  receiveVideoFrom: {
    params: { roomId: WorkerRoomId; participant: string; sender: string; sdpOffer: string; options: { loopback?: boolean } };
    result: string;
  };
  publish: { params: { roomId: WorkerRoomId; participant: string; sdpOffer: string; renew: boolean }; result: string };
  subscribeAnswer: { params: { roomId: WorkerRoomId; participant: string; sdpAnswer: string }; result: null };
  restartReceiving: { params: { roomId: WorkerRoomId; participant: string }; result: null };
  repeatOffer: { params: { roomId: WorkerRoomId; participant: string }; result: null };
  requestVideo: { params: { roomId: WorkerRoomId; participant: string; publisher: string; request: RoomVideoRequest }; result: null };
  connectionCount: { params: { roomId: WorkerRoomId }; result: number };
  addIceCandidate: { params: { roomId: WorkerRoomId; participant: string; sender: string; candidate: RoomCandidate['candidate'] }; result: null };
  leave: { params: { roomId: WorkerRoomId; participant: string }; result: null };
  participants: { params: { roomId: WorkerRoomId }; result: string[] };
  startRecording: { params: { roomId: WorkerRoomId; options: RoomRecordingOptions }; result: null };
  stopRecording: { params: { roomId: WorkerRoomId }; result: RoomRecordingResult | null };
  close: { params: { roomId: WorkerRoomId }; result: null };
  /** The worker's engine totals (pipelines, endpoints, packets), for /metrics. */
  engineStats: { params: Record<string, never>; result: EngineStats };
  /** Closes every room of the worker; the main thread then ends the thread. */
  shutdown: { params: Record<string, never>; result: null };
  /** Throws `message` outside any handler, as a bug in the engine would, and never answers: for crash drills and tests. */
  crash: { params: { message: string }; result: null };
  /** Blocks the thread's event loop for good, as an endless loop in the engine would: for drills and tests. */
  hang: { params: Record<string, never>; result: null };
  /** Answers at once: the main thread's liveness check. */
  ping: { params: Record<string, never>; result: null };
}

export type WorkerMethod = keyof WorkerCalls;
export type ParamsOf<M extends WorkerMethod> = WorkerCalls[M]['params'];
export type ResultOf<M extends WorkerMethod> = WorkerCalls[M]['result'];

export type WorkerRequest = { [M in WorkerMethod]: { id: number; method: M; params: ParamsOf<M> } }[WorkerMethod];

/** An error as it crosses the thread boundary. */
export interface SerializedError {
  /** The error class's name: 'SignalingError', 'MediaError', 'Error', ... */
  name: string;
  /** The error's code, when it has a string one. */
  code?: string;
  message: string;
}

/** What a worker sends: answers to requests, and events of its rooms. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: SerializedError }
  | { type: 'candidate'; roomId: WorkerRoomId; candidate: RoomCandidate }
  | { type: 'offer'; roomId: WorkerRoomId; offer: RoomOffer }
  | { type: 'speakers'; roomId: WorkerRoomId; speakers: RoomSpeakers }
  | { type: 'layers'; roomId: WorkerRoomId; layers: RoomLayers }
  | { type: 'recordingEnded'; roomId: WorkerRoomId; result: RoomRecordingResult };

/** What the worker is started with (`workerData`). */
export interface WorkerInit {
  index: number;
  /** The media engine settings of this worker (its own ports included). */
  media: Record<string, unknown>;
}

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
 * The error a caller on the main thread sees: a SignalingError with its code intact, as
 * the room in this thread would have thrown it. Anything else (an engine error, a bug) is
 * a MEDIA_ERROR that keeps the original code in its message.
 */
export function deserializeError(error: SerializedError): SignalingError {
  if (error.name === 'SignalingError' && isErrorCode(error.code)) return new SignalingError(error.code, error.message);
  return new SignalingError('MEDIA_ERROR', error.code ? `${error.code}: ${error.message}` : error.message);
}
