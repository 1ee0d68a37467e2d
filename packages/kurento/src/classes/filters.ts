import {
  FaceOverlayFilter,
  Filter,
  GStreamerFilter,
  ImageOverlayFilter,
  MediaError,
  MediaPipeline,
  ZBarFilter,
  type FilterType,
} from '@roundtable/media';
import type { ClassSpec, Emit } from '../ClassDef.js';
import { KurentoError } from '../errors.js';
import type { Params } from '../Params.js';
import type { RemoteObject } from '../RemoteObject.js';
import { kurentoErrorOf, targetOf } from './helpers.js';

function pipelineOf(p: Params): { pipeline: RemoteObject; engine: MediaPipeline } {
  const pipeline = p.object('mediaPipeline', 'MediaPipeline');
  return { pipeline, engine: targetOf(pipeline, MediaPipeline) };
}

const FILTER_TYPES: readonly FilterType[] = ['AUDIO', 'VIDEO', 'AUTODETECT'];

function filterTypeOf(p: Params): FilterType {
  const value = p.optString('filterType') ?? 'AUTODETECT';
  if (!(FILTER_TYPES as readonly string[]).includes(value)) {
    throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `filterType must be one of ${FILTER_TYPES.join(', ')}, not '${value}'`);
  }
  return value as FilterType;
}

/** The Error event of filters: their child gave up, or a picture could not be fetched. */
export function filterErrorEvent(obj: RemoteObject, emit: Emit): () => void {
  if (!(obj.target instanceof Filter)) return () => undefined;
  return (obj.target as Filter).subscribe('error', (error: MediaError) => {
    const k = kurentoErrorOf(error);
    emit({ description: error.message, errorCode: k.code, type: k.type });
  });
}

/**
 * A picture that cannot be fetched: Kurento Media Server answers the call with
 * success and draws nothing (it logs the failure); Roundtable does the same and also
 * raises the filter's Error event, so the application can tell.
 */
function reportPictureFailure(filter: Filter, error: unknown): void {
  const failure = error instanceof MediaError ? error : new MediaError('INVALID_ARGUMENT', String(error));
  console.warn(`${filter.typeName} ${filter.id}: overlay picture not loaded: ${failure.message}`);
  filter.emit('error', failure);
}

export const GStreamerFilterSpec: ClassSpec = {
  name: 'GStreamerFilter',
  parent: 'Filter',
  create: async (p) => {
    const { pipeline, engine } = pipelineOf(p);
    const filter = await engine.createGStreamerFilter({ command: p.string('command'), filterType: filterTypeOf(p) });
    return { target: filter, parent: pipeline };
  },
  properties: { command: { get: (obj) => targetOf(obj, GStreamerFilter).command, readOnly: true } },
  methods: {
    setElementProperty: (obj, p) => targetOf(obj, GStreamerFilter).setElementProperty(p.string('propertyName'), p.string('propertyValue')),
  },
};

export const ZBarFilterSpec: ClassSpec = {
  name: 'ZBarFilter',
  parent: 'Filter',
  create: async (p) => {
    const { pipeline, engine } = pipelineOf(p);
    try {
      return { target: await engine.createZBarFilter(), parent: pipeline };
    } catch (error) {
      // KMS answers a missing zbar plugin with MEDIA_OBJECT_NOT_FOUND.
      if (error instanceof MediaError && error.code === 'FILTER_UNAVAILABLE') throw new KurentoError('MEDIA_OBJECT_NOT_FOUND', error.message);
      throw error;
    }
  },
  events: {
    CodeFound: (obj, emit) => targetOf(obj, ZBarFilter).subscribe('codeFound', (codeType, value) => emit({ codeType, value })),
  },
};

export const FaceOverlayFilterSpec: ClassSpec = {
  name: 'FaceOverlayFilter',
  parent: 'Filter',
  create: async (p) => {
    const { pipeline, engine } = pipelineOf(p);
    return { target: await engine.createFaceOverlayFilter(), parent: pipeline };
  },
  methods: {
    setOverlayedImage: async (obj, p) => {
      const filter = targetOf(obj, FaceOverlayFilter);
      const uri = p.string('uri');
      const placement = {
        offsetXPercent: p.number('offsetXPercent'),
        offsetYPercent: p.number('offsetYPercent'),
        widthPercent: p.number('widthPercent'),
        heightPercent: p.number('heightPercent'),
      };
      try {
        await filter.setOverlayedImage(uri, placement);
      } catch (error) {
        // As in KMS, a picture that does not load leaves no picture at all.
        if (!filter.closed) filter.unsetOverlayedImage();
        reportPictureFailure(filter, error);
      }
    },
    unsetOverlayedImage: (obj) => targetOf(obj, FaceOverlayFilter).unsetOverlayedImage(),
  },
};

export const ImageOverlayFilterSpec: ClassSpec = {
  name: 'ImageOverlayFilter',
  parent: 'Filter',
  create: async (p) => {
    const { pipeline, engine } = pipelineOf(p);
    return { target: await engine.createImageOverlayFilter(), parent: pipeline };
  },
  methods: {
    addImage: async (obj, p) => {
      const filter = targetOf(obj, ImageOverlayFilter);
      const id = p.string('id');
      const uri = p.string('uri');
      const placement = {
        offsetXPercent: p.number('offsetXPercent'),
        offsetYPercent: p.number('offsetYPercent'),
        widthPercent: p.number('widthPercent'),
        heightPercent: p.number('heightPercent'),
        keepAspectRatio: p.bool('keepAspectRatio'),
        center: p.bool('center'),
      };
      try {
        await filter.addImage(id, uri, placement);
      } catch (error) {
        // KMS keeps the entry but draws nothing for it: the old picture of that id goes.
        if (!filter.closed) filter.removeImage(id);
        reportPictureFailure(filter, error);
      }
    },
    removeImage: (obj, p) => targetOf(obj, ImageOverlayFilter).removeImage(p.string('id')),
  },
};
