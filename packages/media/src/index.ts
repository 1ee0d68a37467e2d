export { DEFAULT_MEDIA_CONFIG, resolveMediaConfig, hostAddresses, singleUdpPort, type MediaConfig, type IceServerConfig } from './config.js';
export { MediaError, ClosedError, SdpError, type MediaErrorCode } from './core/errors.js';
export { MediaElement, FLOWING_TIMEOUT_MS, type MediaElementEvents, type ElementConnection, type VideoFormat, type AudioFormat } from './core/MediaElement.js';
export {
  Filter,
  GStreamerFilter,
  ZBarFilter,
  FaceOverlayFilter,
  ImageOverlayFilter,
  FilterChild,
  parseGStreamerCommand,
  fetchOverlayImage,
  type FilterOptions,
  type FilterEvents,
  type FilterType,
  type GStreamerFilterOptions,
  type ZBarFilterEvents,
  type FaceOverlayFilterEvents,
  type FaceOverlayPlacement,
  type Face,
  type ImagePlacement,
  type FilterChildStats,
} from './filters/index.js';
export { MediaObject, type MediaObjectEvents } from './core/MediaObject.js';
export { Engine } from './core/Engine.js';
export { MediaPipeline, type MediaPipelineEvents } from './core/MediaPipeline.js';
export { PassThrough } from './core/PassThrough.js';
export { Hub, type HubEvents } from './core/Hub.js';
export { HubPort } from './core/HubPort.js';
export { Dispatcher } from './core/Dispatcher.js';
export { DispatcherOneToMany } from './core/DispatcherOneToMany.js';
export { Composite, type CompositeOptions, type CompositeStats } from './mcu/Composite.js';
export { type AudioMixerOptions } from './mcu/AudioMixer.js';
export { type VideoCompositorOptions } from './mcu/VideoCompositor.js';
export { liveChildPids } from './mcu/ChildProcesses.js';
export { createOpusCoder, type OpusCoder, type OpusLibrary } from './mcu/opus.js';
export { PortAllocator } from './core/PortAllocator.js';
export {
  WebRtcTransport,
  Producer,
  Consumer,
  DtlsCertificate,
  type WebRtcTransportOptions,
  type WebRtcTransportEvents,
  type WebRtcTransportStats,
  type TransportIceState,
  type TransportDtlsState,
  type ProducerStats,
  type ConsumerStats,
  type NegotiatedCodec,
  type LayerRequest,
  type LayerState,
  validateLayerRequest,
} from './transport/index.js';
export { BandwidthEstimator, BWE_DEFAULTS, allocateBitrate, priorityOrder, TRANSPORT_CC_EXTENSION, type BandwidthEstimatorOptions, type BandwidthEstimatorStats, type BitrateClaim, type BandwidthUsage } from './bwe/index.js';
export { TransportRoom, TransportBridge, ActiveSpeaker, type TransportRoomOptions, type TransportRoomEvents, type TransportRoomAudio, type RoomTrack, type TransportBridgeEvents, type ActiveSpeakerOptions, type SpeakerUpdate } from './room/index.js';
export { UdpMux, UdpMuxBinding, UdpMuxes, holdUdpPort, parseStun, type UdpMuxStats, type MuxAddress } from './net/UdpMux.js';
export { choosePacketCore, packetCoreSetting, isPacketCoreSetting, NativePacketCore, type PacketCoreChoice, type PacketCorePath, type PacketCoreSetting, type NativeCoreStats } from './native/PacketCore.js';
export { TypedEmitter, type EventMap } from './core/TypedEmitter.js';
export { MEDIA_KINDS, isMediaKind, codecsCompatible, type MediaKind, type CodecInfo, type ElementId } from './core/types.js';
export { InboundStream } from './rtp/InboundStream.js';
export { OutboundStream, type OutboundStats, type RtpTransport } from './rtp/OutboundStream.js';
export { RetransmissionBuffer } from './rtp/RetransmissionBuffer.js';
export { KeyframeRequester } from './rtp/KeyframeRequester.js';
export { StreamRewriter } from './rtp/StreamRewriter.js';
export { isKeyframe, isVp8Keyframe, isH264Keyframe } from './rtp/keyframe.js';
export {
  RtpEndpoint,
  type RtpEndpointOptions,
  type RtpEndpointEvents,
  type RtpEndpointStats,
  type SdesOptions,
} from './rtp/RtpEndpoint.js';
export { parseRtpSdp, type SdpSession, type SdpMedia, type SdpCodec, type SdpDirection } from './rtp/rtpSdp.js';
export {
  WebRtcEndpoint,
  type WebRtcEndpointOptions,
  type WebRtcEndpointEvents,
  type IceCandidateInit,
  type EndpointStats,
  type WebRtcEndpointStats,
  type KindStats,
  type Direction,
  type IceState,
  type DtlsState,
  type ConnectionState,
} from './webrtc/WebRtcEndpoint.js';
export { validateRemoteSdp, validateSdpSyntax, parseCandidate, SUPPORTED_CODECS } from './webrtc/sdp.js';
export { type DataChannelOptions, type DataChannelStats } from './webrtc/DataChannels.js';
export { engineStats, type EngineStats, type KindTotals, type UdpTotals } from './core/engineStats.js';
export {
  RecorderEndpoint,
  PlayerEndpoint,
  createRecorderEndpoint,
  createPlayerEndpoint,
  MEDIA_PROFILES,
  isMediaProfile,
  SupervisedProcess,
  probeMedia,
  finaliseRecording,
  UploadError,
  HttpPostEndpoint,
  type HttpPostEndpointOptions,
  type RecorderEndpointOptions,
  type PlayerEndpointOptions,
  type UriEndpointState,
  type VideoInfo,
  type MediaProfile,
  type ProbeResult,
} from './recording/index.js';
export {
  SrtpContext,
  SrtpSession,
  SrtpProfile,
  SrtpDrop,
  ReplayWindow,
  deriveSessionKeys,
  profileParams,
  isSupportedProfile,
  rtpHeaderLength,
  type SrtpContextOptions,
  type SrtpStats,
  type SrtpKeyingMaterial,
  type SessionKeys,
} from './srtp/index.js';
export { type FastPathStats } from './webrtc/types.js';
