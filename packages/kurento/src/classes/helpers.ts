import { MediaError } from '@roundtable/media';
import { KurentoError, type KurentoErrorName } from '../errors.js';
import type { RemoteObject } from '../RemoteObject.js';

// A class, abstract or with a protected constructor: only its prototype is needed.
type Ctor<T> = { prototype: T };

/** The engine object behind a remote object, checked against the expected class. */
export function targetOf<T>(obj: RemoteObject, ctor: Ctor<T>): T {
  if (!(obj.target instanceof (ctor as unknown as new () => T))) {
    throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', `${obj.type} does not support this operation`);
  }
  return obj.target as T;
}

/** An event of the Kurento API that Roundtable never raises (no transcoding, for one). */
export const neverRaised = (): (() => void) => () => undefined;

/** Maps engine errors onto Kurento's codes. */
export function kurentoErrorOf(error: unknown): KurentoError {
  if (error instanceof KurentoError) return error;
  if (error instanceof MediaError) {
    const map: Record<string, KurentoErrorName> = {
      OBJECT_CLOSED: 'MEDIA_OBJECT_NOT_FOUND',
      INVALID_SDP: 'SDP_PARSE_ERROR',
      NO_COMMON_CODEC: 'SDP_END_POINT_PROCESS_OFFER_ERROR',
      INVALID_STATE: 'MEDIA_OBJECT_NOT_AVAILABLE',
      INVALID_ARGUMENT: 'MEDIA_OBJECT_ILLEGAL_PARAM_ERROR',
      INVALID_CANDIDATE: 'ICE_ADD_CANDIDATE_ERROR',
      NOT_CONNECTED: 'CONNECT_ERROR',
      NO_PORT_AVAILABLE: 'NOT_ENOUGH_RESOURCES',
      FILTER_UNAVAILABLE: 'MEDIA_OBJECT_NOT_AVAILABLE',
      INVALID_FILTER_COMMAND: 'MARSHALL_ERROR',
    };
    return new KurentoError(map[error.code] ?? 'UNEXPECTED_ERROR', error.message);
  }
  return new KurentoError('UNEXPECTED_ERROR', error instanceof Error ? error.message : String(error));
}

export function notSupported(what: string): never {
  throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', `${what} is not supported by Roundtable yet`);
}

/** A property that is only remembered (Kurento applies it to things Roundtable does not do). */
export function storedProperty(name: string, initial: unknown, read: 'int' | 'bool' | 'string' | 'number' | 'any' = 'any') {
  return {
    get: (obj: RemoteObject) => (obj.stored.has(name) ? obj.stored.get(name) : initial),
    set: (obj: RemoteObject, p: import('../Params.js').Params) => {
      const v = read === 'int' ? p.int(name) : read === 'bool' ? p.bool(name) : read === 'string' ? p.string(name) : read === 'number' ? p.number(name) : p.value(name);
      obj.stored.set(name, v);
    },
  };
}
