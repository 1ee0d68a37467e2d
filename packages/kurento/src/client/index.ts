export { KurentoClient, type KurentoClientOptions, type KurentoClientEvents, type KurentoClientLogger } from './KurentoClient.js';
export { KurentoClientError, KurentoClientErrorCode, isKurentoClientError, type KurentoClientErrorName } from './KurentoClientError.js';
export { KurentoErrorCode } from '../errors.js';
export { RemoteMediaObject } from './RemoteMediaObject.js';
export { MediaPipeline, type WebRtcEndpointOptions } from './MediaPipeline.js';
export { MediaElement } from './MediaElement.js';
export { BaseRtpEndpoint } from './BaseRtpEndpoint.js';
export { WebRtcEndpoint } from './WebRtcEndpoint.js';
export { RtpEndpoint } from './RtpEndpoint.js';
export { PassThrough } from './PassThrough.js';
export { Hub } from './Hub.js';
export { HubPort } from './HubPort.js';
export { Composite } from './Composite.js';
export { RecorderEndpoint, type RecorderEndpointOptions, type UriEndpointState } from './RecorderEndpoint.js';
export { Dispatcher } from './Dispatcher.js';
export { DispatcherOneToMany } from './DispatcherOneToMany.js';
export { ServerManager } from './ServerManager.js';
export type {
  KurentoEventName,
  KurentoEvents,
  MediaElementEvents,
  BaseRtpEndpointEvents,
  WebRtcEndpointEvents,
  ServerManagerEvents,
  ElementConnectedEvent,
  ElementDisconnectedEvent,
  MediaFlowInStateChangedEvent,
  MediaFlowOutStateChangedEvent,
  MediaStateChangedEvent,
  ConnectionStateChangedEvent,
  IceCandidateFoundEvent,
  IceGatheringDoneEvent,
  IceComponentStateChangedEvent,
  NewCandidatePairSelectedEvent,
  ObjectCreatedEvent,
  ObjectDestroyedEvent,
} from './events.js';
export type {
  MediaType,
  IceCandidate,
  IceCandidatePair,
  Tag,
  ElementConnection,
  StatsEntry,
  Stats,
  ModuleInfo,
  ServerInfo,
  ObjectDescription,
  IceComponentState,
  ConnectionState,
  MediaFlowState,
} from './types.js';
