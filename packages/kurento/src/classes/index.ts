import { ClassDef, type ClassSpec } from '../ClassDef.js';
import { ClassTable } from '../ClassTable.js';
import { KurentoError } from '../errors.js';
import { EndpointSpec, FilterSpec, MediaElementSpec, MediaObjectSpec, MediaPipelineSpec, PassThroughSpec, ServerManagerSpec } from './core.js';
import { BaseRtpEndpointSpec, SdpEndpointSpec, SessionEndpointSpec, WebRtcEndpointSpec } from './endpoints.js';
import { HttpEndpointSpec, HttpPostEndpointSpec } from './httpPost.js';
import { FaceOverlayFilterSpec, GStreamerFilterSpec, ImageOverlayFilterSpec, ZBarFilterSpec } from './filters.js';
import { CompositeSpec, DispatcherOneToManySpec, DispatcherSpec, HubPortSpec, HubSpec, RtpEndpointSpec } from './hubs.js';
import { PlayerEndpointSpec, RecorderEndpointSpec, UriEndpointSpec } from './uri.js';

/** Kurento classes whose engine elements come with later work: create answers "not supported". */
const LATER: Record<string, string> = {
  Mixer: 'Mixer (media mixing) comes with the MCU/recording work',
  AlphaBlending: 'AlphaBlending (video composition) comes with the MCU/recording work',
};

function later(name: string, parent: string): ClassSpec {
  return {
    name,
    parent,
    unsupported: true,
    create: () => {
      throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', `${name} is not supported by Roundtable yet: ${LATER[name]}`);
    },
  };
}

const SPECS: ClassSpec[] = [
  MediaObjectSpec,
  ServerManagerSpec,
  MediaPipelineSpec,
  MediaElementSpec,
  EndpointSpec,
  FilterSpec,
  SessionEndpointSpec,
  SdpEndpointSpec,
  BaseRtpEndpointSpec,
  WebRtcEndpointSpec,
  RtpEndpointSpec,
  PassThroughSpec,
  HubSpec,
  HubPortSpec,
  DispatcherSpec,
  DispatcherOneToManySpec,
  CompositeSpec,
  UriEndpointSpec,
  RecorderEndpointSpec,
  PlayerEndpointSpec,
  HttpEndpointSpec,
  HttpPostEndpointSpec,
  GStreamerFilterSpec,
  ZBarFilterSpec,
  FaceOverlayFilterSpec,
  ImageOverlayFilterSpec,
  later('Mixer', 'Hub'),
  later('AlphaBlending', 'Hub'),
];

/** Every remote class, with parents resolved, by its bare and its qualified name. */
export function buildClasses(): ClassTable {
  const specs = new Map(SPECS.map((s) => [s.name, s]));
  const defs = new Map<string, ClassDef>();
  const resolve = (name: string): ClassDef => {
    const existing = defs.get(name);
    if (existing) return existing;
    const spec = specs.get(name);
    if (!spec) throw new Error(`unknown Kurento class ${name}`);
    const def = new ClassDef(spec, spec.parent ? resolve(spec.parent) : undefined);
    defs.set(name, def);
    return def;
  };
  for (const name of specs.keys()) resolve(name);
  return new ClassTable(defs.values());
}
