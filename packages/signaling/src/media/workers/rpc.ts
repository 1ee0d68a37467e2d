/**
 * The typed RPC between the main thread and a media worker, over the worker's
 * MessagePort. Messages are structured clones inside one process; the room calls are
 * checked by the worker's RoomHost all the same (one code path with the media nodes').
 */
import type { EngineStats } from '@roundtable/media';
import type { RoomCalls, RoomEvent, RoomId, SerializedError } from '../rooms/roomCalls.js';

export { deserializeError, serializeError, type SerializedError } from '../rooms/roomCalls.js';

/** A room on a worker, by a number the main thread gives it. */
export type WorkerRoomId = RoomId;

/** The calls a worker answers: the room calls (rooms/roomCalls.ts), and the worker's own. */
export type WorkerCalls = RoomCalls & {
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
};

export type WorkerMethod = keyof WorkerCalls;
export type ParamsOf<M extends WorkerMethod> = WorkerCalls[M]['params'];
export type ResultOf<M extends WorkerMethod> = WorkerCalls[M]['result'];

export type WorkerRequest = { [M in WorkerMethod]: { id: number; method: M; params: ParamsOf<M> } }[WorkerMethod];

/** What a worker sends: answers to requests, and events of its rooms. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: SerializedError }
  | RoomEvent;

/** What the worker is started with (`workerData`). */
export interface WorkerInit {
  index: number;
  /** The media engine settings of this worker (its own ports included). */
  media: Record<string, unknown>;
}
