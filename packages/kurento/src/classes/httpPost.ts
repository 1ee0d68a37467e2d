import { HttpPostEndpoint, MediaPipeline, type MediaError } from '@roundtable/media';
import type { CallContext, ClassSpec, Emit } from '../ClassDef.js';
import { KurentoError } from '../errors.js';
import type { HttpPostRegistration } from '../http/HttpPostServer.js';
import type { RemoteObject } from '../RemoteObject.js';
import { kurentoErrorOf, targetOf } from './helpers.js';

function registrationOf(obj: RemoteObject, ctx: CallContext): HttpPostRegistration {
  const reg = ctx.server.httpPost.registrationOf(targetOf(obj, HttpPostEndpoint));
  if (!reg) throw new KurentoError('MEDIA_OBJECT_NOT_AVAILABLE', `${obj.id} has no URL`);
  return reg;
}

/** MediaSessionStarted / MediaSessionTerminated of an HttpEndpoint: the first POST, and the URL's expiry. */
function sessionEvent(which: 'started' | 'terminated') {
  return (obj: RemoteObject, emit: Emit, ctx: CallContext) => registrationOf(obj, ctx).subscribe(which, () => emit({}));
}

export const HttpEndpointSpec: ClassSpec = {
  name: 'HttpEndpoint',
  parent: 'SessionEndpoint',
  abstract: true,
  methods: {
    getUrl: (obj, _p, ctx) => registrationOf(obj, ctx).url,
  },
  events: { MediaSessionStarted: sessionEvent('started'), MediaSessionTerminated: sessionEvent('terminated') },
};

export const HttpPostEndpointSpec: ClassSpec = {
  name: 'HttpPostEndpoint',
  parent: 'HttpEndpoint',
  create: (p, ctx) => {
    const pipeline = p.object('mediaPipeline', 'MediaPipeline');
    const timeout = p.optInt('disconnectionTimeout') ?? 2;
    if (timeout < 0) throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `disconnectionTimeout must be 0 or more seconds, got ${String(timeout)}`);
    const useEncodedMedia = p.optBool('useEncodedMedia') ?? false;
    const endpoint = targetOf(pipeline, MediaPipeline).createHttpPostEndpoint({ useEncodedMedia });
    ctx.server.httpPost.register(endpoint, timeout);
    return { target: endpoint, parent: pipeline };
  },
  events: {
    EndOfStream: (obj, emit) => targetOf(obj, HttpPostEndpoint).subscribe('endOfStream', () => emit({})),
    Error: (obj, emit) =>
      targetOf(obj, HttpPostEndpoint).subscribe('error', (error: MediaError) => {
        const k = kurentoErrorOf(error);
        emit({ description: error.message, errorCode: k.code, type: k.type });
      }),
  },
};
