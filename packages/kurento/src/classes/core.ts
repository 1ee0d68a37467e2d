import { cpus } from 'node:os';
import { MediaElement, MediaPipeline, WebRtcEndpoint } from '@roundtable/media';
import type { ClassSpec, Emit } from '../ClassDef.js';
import { isKurentoModule } from '../ClassTable.js';
import { KurentoError } from '../errors.js';
import { kindsOf, toKurentoMediaType, type KurentoMediaType, type Params } from '../Params.js';
import type { RemoteObject } from '../RemoteObject.js';
import { complex, connectionData } from '../values.js';
import { filterErrorEvent } from './filters.js';
import { neverRaised, storedProperty, targetOf } from './helpers.js';

const ro = (get: (obj: RemoteObject) => unknown) => ({ get, readOnly: true });

export const MediaObjectSpec: ClassSpec = {
  name: 'MediaObject',
  abstract: true,
  properties: {
    mediaPipeline: ro((obj) => obj.pipeline?.id),
    parent: ro((obj) => obj.parent?.id),
    id: ro((obj) => obj.id),
    childs: ro((obj) => [...obj.children].map((c) => c.id)),
    children: ro((obj) => [...obj.children].map((c) => c.id)),
    name: {
      get: (obj) => obj.name,
      set: (obj, p) => {
        obj.name = p.string('name');
      },
    },
    sendTagsInEvents: {
      get: (obj) => obj.sendTagsInEvents,
      set: (obj, p) => {
        obj.sendTagsInEvents = p.bool('sendTagsInEvents');
      },
    },
    creationTime: ro((obj) => obj.creationTime),
  },
  methods: {
    addTag: (obj, p) => {
      obj.tags.set(p.string('key'), p.string('value'));
    },
    removeTag: (obj, p) => {
      obj.tags.delete(p.string('key'));
    },
    getTag: (obj, p) => {
      const key = p.string('key');
      const value = obj.tags.get(key);
      if (value === undefined) throw new KurentoError('MEDIA_OBJECT_TAG_KEY_NOT_FOUND', `no tag '${key}' on ${obj.id}`);
      return value;
    },
    getTags: (obj) => [...obj.tags].map(([key, value]) => complex('Tag', { key, value })),
  },
  events: { Error: neverRaised },
};

/** The one ServerManager of a server: its target is a plain marker object. */
export const ServerManagerSpec: ClassSpec = {
  name: 'ServerManager',
  parent: 'MediaObject',
  abstract: true,
  properties: {
    info: ro(() => undefined),
    pipelines: ro(() => undefined),
    sessions: ro(() => undefined),
    metadata: ro(() => ''),
  },
  methods: {
    getKmd: (_obj, p, ctx) => {
      const module = p.string('moduleName');
      if (!isKurentoModule(module)) throw new KurentoError('SERVER_MANAGER_ERROR_KMD_NOT_FOUND', "Requested kmd module doesn't exist");
      return JSON.stringify(ctx.server.classes.kmdOf(module, ctx.server.version));
    },
    getCpuCount: () => cpus().length,
    getUsedCpu: async (_obj, p) => {
      const interval = Math.min(Math.max(p.optInt('interval') ?? 1000, 10), 10_000);
      const start = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, interval));
      const used = process.cpuUsage(start);
      const elapsedUs = (performance.now() - t0) * 1000;
      return Math.round((10000 * (used.user + used.system)) / elapsedUs / cpus().length) / 100;
    },
    // KMS reports KiB of resident memory.
    getUsedMemory: () => Math.round(process.memoryUsage().rss / 1024),
  },
  events: {
    ObjectCreated: (obj, emit, ctx) =>
      ctx.server.onObjectLifecycle(obj.owner, (event, id) => {
        if (event === 'created') emit({ object: id });
      }),
    ObjectDestroyed: (obj, emit, ctx) =>
      ctx.server.onObjectLifecycle(obj.owner, (event, id) => {
        if (event === 'destroyed') emit({ objectId: id });
      }),
  },
};

function dot(obj: RemoteObject, idOf: (o: object) => string | undefined): string {
  const pipeline = obj.pipeline;
  const lines = ['digraph pipeline {'];
  const pipe = pipeline ? targetOf(pipeline, MediaPipeline) : undefined;
  for (const element of pipe?.getElements() ?? []) {
    const id = idOf(element) ?? element.id;
    lines.push(`  "${id}";`);
    for (const c of element.getSinkConnections()) lines.push(`  "${id}" -> "${idOf(c.sink) ?? c.sink.id}" [label="${c.kind}"];`);
  }
  lines.push('}');
  return lines.join('\n');
}

export const MediaPipelineSpec: ClassSpec = {
  name: 'MediaPipeline',
  parent: 'MediaObject',
  create: (_p, ctx) => ({ target: ctx.server.engine.createPipeline(ctx.server.mediaConfig), parent: undefined }),
  properties: { latencyStats: storedProperty('latencyStats', false, 'bool') },
  methods: { getGstreamerDot: (obj, _p, ctx) => dot(obj, (o) => ctx.server.idOf(o)) },
};

function flowEvent(direction: 'mediaFlowingIn' | 'mediaFlowingOut') {
  return (obj: RemoteObject, emit: Emit) =>
    targetOf(obj, MediaElement).subscribe(direction, (kind, flowing) =>
      emit({ state: flowing ? 'FLOWING' : 'NOT_FLOWING', padName: 'default', mediaType: toKurentoMediaType(kind) }),
    );
}

function connectionEvent(which: 'elementConnected' | 'elementDisconnected') {
  return (obj: RemoteObject, emit: Emit, ctx: import('../ClassDef.js').CallContext) =>
    targetOf(obj, MediaElement).subscribe(which, (sink, kind) =>
      emit({ sink: ctx.server.idOf(sink), mediaType: toKurentoMediaType(kind), sourceMediaDescription: 'default', sinkMediaDescription: 'default' }),
    );
}

function sinkIn(obj: RemoteObject, p: Params): MediaElement {
  const sink = p.object('sink', 'MediaElement');
  if (sink.pipeline !== obj.pipeline) {
    throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `${sink.id} is in another pipeline than ${obj.id}`);
  }
  return targetOf(sink, MediaElement);
}

/**
 * DATA, or no media type, between two WebRtcEndpoints that both use data channels also
 * connects their data channels; anywhere else DATA selects nothing.
 */
function dataPair(source: MediaElement, sink: MediaElement, type: KurentoMediaType | undefined): [WebRtcEndpoint, WebRtcEndpoint] | undefined {
  if (type !== undefined && type !== 'DATA') return undefined;
  if (!(source instanceof WebRtcEndpoint) || !(sink instanceof WebRtcEndpoint)) return undefined;
  return source.dataChannelsEnabled && sink.dataChannelsEnabled ? [source, sink] : undefined;
}

function flowing(obj: RemoteObject, p: Params, direction: 'in' | 'out'): boolean {
  const type = p.mediaType('mediaType');
  if (!type) throw new KurentoError('INVALID_PARAMS', "parameter 'mediaType' is required");
  const element = targetOf(obj, MediaElement);
  return (kindsOf(type) ?? []).some((k) => (direction === 'in' ? element.isMediaFlowingIn(k) : element.isMediaFlowingOut(k)));
}

function transcodingEvent(obj: RemoteObject, emit: Emit): () => void {
  return targetOf(obj, MediaElement).subscribe('mediaTranscoding', (kind, transcoding) =>
    emit({ state: transcoding ? 'TRANSCODING' : 'NOT_TRANSCODING', binName: `${obj.id}_${kind}_transcoder`, mediaType: toKurentoMediaType(kind) }),
  );
}

export const MediaElementSpec: ClassSpec = {
  name: 'MediaElement',
  parent: 'MediaObject',
  abstract: true,
  properties: {
    minOuputBitrate: storedProperty('minOuputBitrate', 0, 'int'),
    minOutputBitrate: storedProperty('minOutputBitrate', 0, 'int'),
    maxOuputBitrate: storedProperty('maxOuputBitrate', 0, 'int'),
    maxOutputBitrate: storedProperty('maxOutputBitrate', 0, 'int'),
  },
  methods: {
    connect: (obj, p) => {
      const sink = sinkIn(obj, p);
      const type = p.mediaType('mediaType');
      const kinds = kindsOf(type);
      const source = targetOf(obj, MediaElement);
      if (kinds === undefined) source.connect(sink);
      else for (const k of kinds) source.connect(sink, k);
      const data = dataPair(source, sink, type);
      if (data) data[0].connectData(data[1]);
    },
    disconnect: (obj, p) => {
      const sink = sinkIn(obj, p);
      const type = p.mediaType('mediaType');
      const kinds = kindsOf(type);
      const source = targetOf(obj, MediaElement);
      if (kinds === undefined) source.disconnect(sink);
      else for (const k of kinds) source.disconnect(sink, k);
      const data = dataPair(source, sink, type);
      if (data) data[0].disconnectData(data[1]);
    },
    getSourceConnections: (obj, p, ctx) => {
      const kinds = kindsOf(p.mediaType('mediaType'));
      const all = targetOf(obj, MediaElement).getSourceConnections();
      return all.filter((c) => !kinds || kinds.includes(c.kind)).map((c) => connectionData(c, (o) => ctx.server.idOf(o)));
    },
    getSinkConnections: (obj, p, ctx) => {
      const kinds = kindsOf(p.mediaType('mediaType'));
      const all = targetOf(obj, MediaElement).getSinkConnections();
      return all.filter((c) => !kinds || kinds.includes(c.kind)).map((c) => connectionData(c, (o) => ctx.server.idOf(o)));
    },
    setAudioFormat: (obj, p) => {
      const caps = p.record('caps');
      const codec = caps['codec'];
      if (codec !== 'OPUS' && codec !== 'PCMU' && codec !== 'RAW') throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `Invalid parameter provided: ${String(codec)}`);
      const bitrate = caps['bitrate'];
      if (bitrate !== undefined && (typeof bitrate !== 'number' || !Number.isInteger(bitrate))) {
        throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', 'AudioCaps.bitrate must be an integer');
      }
      // KMS's bitrate 0 (or none) leaves the encoder's default.
      targetOf(obj, MediaElement).setAudioFormat({ codec, bitrate: bitrate ? bitrate : undefined });
    },
    setVideoFormat: (obj, p) => {
      const caps = p.record('caps');
      const codec = caps['codec'];
      if (codec !== 'VP8' && codec !== 'H264' && codec !== 'RAW') throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `Invalid parameter provided: ${String(codec)}`);
      const fraction = caps['framerate'] as { numerator?: unknown; denominator?: unknown } | undefined;
      let frameRate: { numerator: number; denominator: number } | undefined;
      if (fraction !== undefined && fraction !== null) {
        const { numerator, denominator } = fraction;
        if (typeof numerator !== 'number' || typeof denominator !== 'number') {
          throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', 'VideoCaps.framerate must be a Fraction of integers');
        }
        // 0/1 (or 0/0) asks for no particular frame rate.
        if (numerator !== 0) frameRate = { numerator, denominator };
      }
      targetOf(obj, MediaElement).setVideoFormat({ codec, frameRate });
    },
    getGstreamerDot: (obj, _p, ctx) => dot(obj, (o) => ctx.server.idOf(o)),
    setOutputBitrate: (obj, p) => {
      obj.stored.set('outputBitrate', p.int('bitrate'));
    },
    // Elements without their own counters report none.
    getStats: () => ({}),
    isMediaFlowingIn: (obj, p) => flowing(obj, p, 'in'),
    isMediaFlowingOut: (obj, p) => flowing(obj, p, 'out'),
    // True while setVideoFormat/setAudioFormat makes the element transcode its output of that kind.
    isMediaTranscoding: (obj, p) => {
      const type = p.mediaType('mediaType');
      if (!type) throw new KurentoError('INVALID_PARAMS', "parameter 'mediaType' is required");
      const element = targetOf(obj, MediaElement);
      return (kindsOf(type) ?? []).some((k) => element.isMediaTranscoding(k));
    },
  },
  events: {
    ElementConnected: connectionEvent('elementConnected'),
    ElementDisconnected: connectionEvent('elementDisconnected'),
    MediaFlowOutStateChange: flowEvent('mediaFlowingOut'),
    MediaFlowOutStateChanged: flowEvent('mediaFlowingOut'),
    MediaFlowInStateChange: flowEvent('mediaFlowingIn'),
    MediaFlowInStateChanged: flowEvent('mediaFlowingIn'),
    MediaTranscodingStateChange: transcodingEvent,
    MediaTranscodingStateChanged: transcodingEvent,
  },
};

export const EndpointSpec: ClassSpec = { name: 'Endpoint', parent: 'MediaElement', abstract: true };
export const FilterSpec: ClassSpec = { name: 'Filter', parent: 'MediaElement', abstract: true, events: { Error: filterErrorEvent } };

export const PassThroughSpec: ClassSpec = {
  name: 'PassThrough',
  parent: 'MediaElement',
  create: (p) => {
    const pipeline = p.object('mediaPipeline', 'MediaPipeline');
    return { target: targetOf(pipeline, MediaPipeline).createPassThrough(), parent: pipeline };
  },
};
