// Public surface of @roundtable/client. Runs in browsers and Node: no Node-only imports here.
export { RoundtableClient, type DeviceList, type LocalMediaRequest, type LoopbackOptions, type RecordingNotice, type RoundtableClientEvents, type RoundtableClientOptions, type StartCallOptions } from './RoundtableClient.js';
export { SignalingConnection, type ReconnectOptions, type RequestFields, type ResultOf, type SignalingConnectionEvents, type SignalingConnectionOptions } from './SignalingConnection.js';
export { Call, type CallEvents } from './Call.js';
export { Room, type RoomEvents, type RoomOptions } from './Room.js';
export { MediaSession, type MediaSessionEvents, type RecordingChange } from './MediaSession.js';
export type { Participant, ParticipantState } from './Participant.js';
export type { LocalMediaState } from './LocalTracks.js';
export type { MediaKind } from './CallMedia.js';
export type { RecoveringLink, RecoveryChange, RecoveryOptions } from './LinkRecovery.js';
export { QUALITY_THRESHOLDS, qualityOf, type LinkStats, type QualityLevel, type SessionStats } from './StatsCollector.js';
export { ImClient, type ImEvents } from './ImClient.js';
export { CallStateMachine, CALL_EVENTS, type CallEvent, type CallStateChange, type CallStateMachineEvents } from './CallStateMachine.js';
export { CallStateError } from './CallStateError.js';
export { ClientError, type ClientErrorCode } from './ClientError.js';
export { TypedEmitter, type EventMap, type Listener, type ListenerErrorReporter } from './TypedEmitter.js';
export type { IceServerLike, LocalMedia, MediaConstraintsLike, MediaDeviceInfoLike, MediaDevicesLike, PeerConnectionConfig, PeerConnectionConstructor, PeerConnectionLike, SenderLike, StatsLike, StatsReportLike, TrackLike, WebSocketConstructor, WebSocketLike } from './platform.js';
export type { ClientResultMap, SessionResult } from './results.js';
