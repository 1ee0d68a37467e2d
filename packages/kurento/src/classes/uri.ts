import {
  MediaError,
  MediaPipeline,
  PlayerEndpoint,
  RecorderEndpoint,
  UploadError,
  createPlayerEndpoint,
  createRecorderEndpoint,
  type UriEndpointState,
} from '@roundtable/media';
import type { ClassSpec, Emit } from '../ClassDef.js';
import { KurentoError } from '../errors.js';
import type { RemoteObject } from '../RemoteObject.js';
import { complex } from '../values.js';
import { kurentoErrorOf, targetOf } from './helpers.js';

type UriTarget = RecorderEndpoint | PlayerEndpoint;

const GST_RESOURCE_ERROR_WRITE = 10;

function uriTarget(obj: RemoteObject): UriTarget {
  if (obj.target instanceof RecorderEndpoint || obj.target instanceof PlayerEndpoint) return obj.target;
  throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', `${obj.type} is not a UriEndpoint`);
}

/** Error events of recorders and players: what failed (unwritable file, missing input, a crashing process). */
function errorEvent(obj: RemoteObject, emit: Emit): () => void {
  const target = obj.target;
  if (!(target instanceof RecorderEndpoint || target instanceof PlayerEndpoint)) return () => undefined;
  const onError = (error: MediaError): void => {
    if (error instanceof UploadError) {
      // KMS reports its HTTP sink's failure as an element error with GStreamer's
      // GST_RESOURCE_ERROR_WRITE code.
      emit({ description: error.message, errorCode: GST_RESOURCE_ERROR_WRITE, type: 'UNEXPECTED_ELEMENT_ERROR' });
      return;
    }
    const k = kurentoErrorOf(error);
    emit({ description: error.message, errorCode: k.code, type: k.type });
  };
  // Both classes emit `error: [MediaError]`; the union's overloads need one call per class.
  return target instanceof RecorderEndpoint ? target.subscribe('error', onError) : target.subscribe('error', onError);
}

function stateEvent(obj: RemoteObject, emit: Emit): () => void {
  const target = uriTarget(obj);
  const onState = (state: UriEndpointState): void => emit({ state });
  return target instanceof RecorderEndpoint ? target.subscribe('stateChanged', onState) : target.subscribe('stateChanged', onState);
}

export const UriEndpointSpec: ClassSpec = {
  name: 'UriEndpoint',
  parent: 'Endpoint',
  abstract: true,
  properties: {
    uri: { get: (obj) => uriTarget(obj).uri, readOnly: true },
    state: { get: (obj) => uriTarget(obj).getState(), readOnly: true },
  },
  methods: {
    pause: (obj) => uriTarget(obj).pause(),
    stop: (obj) => uriTarget(obj).stop(),
  },
  events: { UriEndpointStateChanged: stateEvent, Error: errorEvent },
};

const simple = (event: 'recording' | 'paused' | 'stopped') => (obj: RemoteObject, emit: Emit) =>
  targetOf(obj, RecorderEndpoint).subscribe(event, () => emit({}));

export const RecorderEndpointSpec: ClassSpec = {
  name: 'RecorderEndpoint',
  parent: 'UriEndpoint',
  create: (p, ctx) => {
    const pipeline = p.object('mediaPipeline', 'MediaPipeline');
    const spoolDir = ctx.server.recordingSpoolDir;
    const recorder = createRecorderEndpoint(targetOf(pipeline, MediaPipeline), {
      uri: p.string('uri'),
      ...(spoolDir === undefined ? {} : { spoolDir }),
      mediaProfile: p.optString('mediaProfile') ?? 'WEBM',
      stopOnEndOfStream: p.optBool('stopOnEndOfStream') ?? false,
    });
    return { target: recorder, parent: pipeline };
  },
  methods: {
    record: (obj) => targetOf(obj, RecorderEndpoint).record(),
    stopAndWait: (obj) => targetOf(obj, RecorderEndpoint).stopAndWait(),
  },
  events: { Recording: simple('recording'), Paused: simple('paused'), Stopped: simple('stopped') },
};

export const PlayerEndpointSpec: ClassSpec = {
  name: 'PlayerEndpoint',
  parent: 'UriEndpoint',
  create: (p) => {
    const pipeline = p.object('mediaPipeline', 'MediaPipeline');
    const player = createPlayerEndpoint(targetOf(pipeline, MediaPipeline), {
      uri: p.string('uri'),
      useEncodedMedia: p.optBool('useEncodedMedia') ?? false,
      networkCache: p.optInt('networkCache') ?? 2000,
    });
    return { target: player, parent: pipeline };
  },
  properties: {
    videoInfo: {
      readOnly: true,
      get: async (obj) => complex('VideoInfo', { ...(await targetOf(obj, PlayerEndpoint).getVideoInfo()) }),
    },
    elementGstreamerDot: { readOnly: true, get: () => '' },
    position: { get: (obj) => targetOf(obj, PlayerEndpoint).getPosition() },
  },
  methods: {
    play: (obj) => targetOf(obj, PlayerEndpoint).play(),
    // Seeking is asynchronous (FFmpeg restarts at the position): a method, so errors reach the caller.
    setPosition: (obj, p) => targetOf(obj, PlayerEndpoint).setPosition(p.int('position')),
  },
  events: { EndOfStream: (obj, emit) => targetOf(obj, PlayerEndpoint).subscribe('endOfStream', () => emit({})) },
};
