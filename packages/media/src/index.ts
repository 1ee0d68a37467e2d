export { DEFAULT_MEDIA_CONFIG, resolveMediaConfig, hostAddresses, type MediaConfig, type IceServerConfig } from './config.js';
export { MediaError, ClosedError, SdpError, type MediaErrorCode } from './core/errors.js';
export { MediaElement, FLOWING_TIMEOUT_MS, type MediaElementEvents, type ElementConnection } from './core/MediaElement.js';
export { MediaObject, type MediaObjectEvents } from './core/MediaObject.js';
export { MediaPipeline, type MediaPipelineEvents } from './core/MediaPipeline.js';
export { PassThrough } from './core/PassThrough.js';
export { PortAllocator } from './core/PortAllocator.js';
export { TypedEmitter, type EventMap } from './core/TypedEmitter.js';
export { MEDIA_KINDS, isMediaKind, codecsCompatible, type MediaKind, type CodecInfo, type ElementId } from './core/types.js';
export { InboundStream } from './rtp/InboundStream.js';
export { OutboundStream, type OutboundStats, type RtpTransport } from './rtp/OutboundStream.js';
export { RetransmissionBuffer } from './rtp/RetransmissionBuffer.js';
export { KeyframeRequester } from './rtp/KeyframeRequester.js';
export { StreamRewriter } from './rtp/StreamRewriter.js';
export { isKeyframe, isVp8Keyframe, isH264Keyframe } from './rtp/keyframe.js';
export {
  WebRtcEndpoint,
  type WebRtcEndpointOptions,
  type WebRtcEndpointEvents,
  type IceCandidateInit,
  type EndpointStats,
  type KindStats,
  type Direction,
  type IceState,
  type DtlsState,
  type ConnectionState,
} from './webrtc/WebRtcEndpoint.js';
export { validateRemoteSdp, parseCandidate, SUPPORTED_CODECS } from './webrtc/sdp.js';
