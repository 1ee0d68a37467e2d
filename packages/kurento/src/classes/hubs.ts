import { Composite, Dispatcher, DispatcherOneToMany, Hub, HubPort, MediaPipeline } from '@roundtable/media';
import type { ClassSpec } from '../ClassDef.js';
import { KurentoError } from '../errors.js';
import type { Params } from '../Params.js';
import type { RemoteObject } from '../RemoteObject.js';
import { targetOf } from './helpers.js';

function pipelineOf(p: Params): { pipeline: RemoteObject; engine: MediaPipeline } {
  const pipeline = p.object('mediaPipeline', 'MediaPipeline');
  return { pipeline, engine: targetOf(pipeline, MediaPipeline) };
}

function portOf(hub: RemoteObject, p: Params, name: string): HubPort {
  const port = p.object(name, 'HubPort');
  if (port.parent !== hub) throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `${port.id} is not a port of ${hub.id}`);
  return targetOf(port, HubPort);
}

export const HubSpec: ClassSpec = {
  name: 'Hub',
  parent: 'MediaObject',
  abstract: true,
  methods: {
    getGstreamerDot: (obj, _p, ctx) => {
      const hub = targetOf(obj, Hub);
      const ports = hub.getPorts().map((port) => `  "${ctx.server.idOf(port) ?? port.id}";`);
      return ['digraph hub {', ...ports, '}'].join('\n');
    },
  },
};

export const HubPortSpec: ClassSpec = {
  name: 'HubPort',
  parent: 'MediaElement',
  create: (p) => {
    const hub = p.object('hub', 'Hub');
    const engineHub = targetOf(hub, Hub);
    return { target: engineHub.createHubPort(), parent: hub };
  },
};

export const DispatcherSpec: ClassSpec = {
  name: 'Dispatcher',
  parent: 'Hub',
  create: (p) => {
    const { pipeline, engine } = pipelineOf(p);
    return { target: engine.createDispatcher(), parent: pipeline };
  },
  methods: {
    connect: (obj, p) => targetOf(obj, Dispatcher).connect(portOf(obj, p, 'source'), portOf(obj, p, 'sink')),
  },
};

export const DispatcherOneToManySpec: ClassSpec = {
  name: 'DispatcherOneToMany',
  parent: 'Hub',
  create: (p) => {
    const { pipeline, engine } = pipelineOf(p);
    return { target: engine.createDispatcherOneToMany(), parent: pipeline };
  },
  methods: {
    setSource: (obj, p) => targetOf(obj, DispatcherOneToMany).setSource(portOf(obj, p, 'source')),
    removeSource: (obj) => targetOf(obj, DispatcherOneToMany).removeSource(),
  },
};

/**
 * Kurento's Composite (the MCU): each port sends out the mix of every other port's
 * audio and one grid of every port's video (engine defaults: mono Opus, 640x480 VP8 at
 * 15 fps; the video child starts with the first video that comes in).
 */
export const CompositeSpec: ClassSpec = {
  name: 'Composite',
  parent: 'Hub',
  create: (p) => {
    const { pipeline, engine } = pipelineOf(p);
    const composite: Composite = engine.createComposite();
    return { target: composite, parent: pipeline };
  },
};

export const RtpEndpointSpec: ClassSpec = {
  name: 'RtpEndpoint',
  parent: 'BaseRtpEndpoint',
  create: (p) => {
    const { pipeline, engine } = pipelineOf(p);
    if (p.optBool('useIpv6')) {
      throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', 'RtpEndpoint over IPv6 is not supported by Roundtable yet');
    }
    const crypto = p.has('crypto') ? p.record('crypto') : undefined;
    if (crypto && (crypto.key !== undefined || crypto.keyBase64 !== undefined || crypto.crypto !== undefined)) {
      throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', 'SDES-SRTP on RtpEndpoint is not supported by Roundtable yet');
    }
    return { target: engine.createRtpEndpoint({ rejectUnusableMedia: true }), parent: pipeline };
  },
  events: {
    OnKeySoftLimit: () => () => undefined,
  },
};
