/*
 * The few pieces of WebSocket and WebRTC the SDK uses, typed structurally so that the
 * browser globals and Node implementations (ws, werift) both fit. Handlers use the
 * method-bivariance idiom because implementations type their events more precisely.
 */

type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null | undefined;
  onmessage: Handler<{ data: unknown }> | null | undefined;
  onclose: Handler<{ code: number; reason: string }> | null | undefined;
  onerror: Handler<unknown> | null | undefined;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** A media track: the browser's MediaStreamTrack or werift's. */
export interface TrackLike {
  readonly kind: string;
  /** Always set by browsers; optional in werift. */
  readonly id?: string;
  enabled?: boolean;
  /** Browsers: releases the device (camera light off). */
  stop?(): void;
  /** Browsers: 'ended' fires when the user stops a screen share from the browser's own UI. */
  addEventListener?(type: 'ended', listener: () => void): void;
  removeEventListener?(type: 'ended', listener: () => void): void;
  /** Browsers: the track's size now (the simulcast layers are chosen from it). */
  getSettings?(): { width?: number; height?: number };
}

/** Local media as the app supplies it: a MediaStream, or anything with its tracks. */
export interface LocalMedia {
  getTracks(): TrackLike[];
}

export interface IceServerLike {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface SessionDescriptionLike {
  type: string;
  sdp?: string;
}

export interface IceCandidateLike {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** What `ontrack` handlers receive. */
export interface TrackEventLike {
  track: TrackLike;
  /** The transceiver the track arrived on (its mid says whose media it is, on a bundled receiving connection). */
  readonly transceiver?: { readonly mid: string | null } | null;
}

export type TransceiverDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** One encoding of a sender (a simulcast layer, by its rid). */
export interface SendEncodingLike {
  rid?: string;
  scaleResolutionDownBy?: number;
  maxBitrate?: number;
  active?: boolean;
}

/** An RTCRtpSender: what the local controls need to swap the outgoing track without renegotiating. */
export interface SenderLike {
  readonly track: TrackLike | null;
  /** Typed loosely: implementations take their own track class. */
  replaceTrack(track: never): Promise<unknown>;
  /** Browsers: the encodings (pausing a simulcast layer). Typed loosely (werift's differ); optional: not every implementation has them. */
  getParameters?(): unknown;
  setParameters?(parameters: never): unknown;
}

/** An RTCRtpTransceiver, as far as the SDK uses it. */
export interface TransceiverLike {
  /** werift has it; browsers do not (their receiver's track says the kind). */
  readonly kind?: string;
  readonly sender: SenderLike;
  readonly receiver: { readonly track: TrackLike | null };
  direction: string;
}

/** One entry of an RTCStatsReport (the fields the SDK reads; all optional across implementations). */
export interface StatsLike {
  readonly type: string;
  readonly id?: string;
  readonly timestamp?: number;
  readonly kind?: string;
  /** inbound-rtp / outbound-rtp: the m-line, and the stream. */
  readonly mid?: string;
  readonly ssrc?: number;
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
  readonly packetsSent?: number;
  readonly packetsReceived?: number;
  readonly packetsLost?: number;
  readonly fractionLost?: number;
  readonly roundTripTime?: number;
  readonly currentRoundTripTime?: number;
  readonly jitter?: number;
  readonly state?: string;
  readonly nominated?: boolean;
}

/** An RTCStatsReport: browsers' maplike and werift's Map both have forEach(). */
export interface StatsReportLike {
  forEach(callback: (value: unknown, key: string) => void): void;
}

export interface PeerConnectionLike {
  readonly connectionState: string;
  readonly localDescription: SessionDescriptionLike | null;
  readonly remoteDescription: SessionDescriptionLike | null;
  onicecandidate: Handler<{ candidate?: IceCandidateLike | null }> | null | undefined;
  /** Set to a `(event: TrackEventLike) => void`; typed loosely because implementations type the event more precisely (werift's RTCTrackEvent class). */
  ontrack: ((event: never) => void) | null | undefined;
  onconnectionstatechange: Handler<unknown> | null | undefined;
  createOffer(options?: { iceRestart?: boolean }): Promise<SessionDescriptionLike>;
  createAnswer(): Promise<SessionDescriptionLike>;
  setLocalDescription(description: { type: 'offer' | 'answer'; sdp: string }): Promise<unknown>;
  setRemoteDescription(description: { type: 'offer' | 'answer'; sdp: string }): Promise<unknown>;
  addIceCandidate(candidate: { candidate: string; sdpMid?: string; sdpMLineIndex?: number }): Promise<unknown>;
  addTrack(track: TrackLike): unknown;
  addTransceiver(trackOrKind: TrackLike | string, init?: { direction?: TransceiverDirection; sendEncodings?: SendEncodingLike[] }): unknown;
  getSenders(): SenderLike[];
  getTransceivers(): TransceiverLike[];
  getStats(): Promise<StatsReportLike>;
  /** Browsers: marks the next offer as an ICE restart. Optional: not every implementation has it. */
  restartIce?(): void;
  close(): unknown;
}

/** `RTCConfiguration`: ICE servers plus whatever else the implementation takes. */
export interface PeerConnectionConfig {
  iceServers: IceServerLike[];
  [option: string]: unknown;
}

export type PeerConnectionConstructor = new (config: PeerConnectionConfig) => PeerConnectionLike;

/** What getUserMedia / getDisplayMedia take (the SDK asks for `{audio}`, `{video}` or `{video: true}`). */
export interface MediaConstraintsLike {
  audio?: boolean | { deviceId?: { exact: string } };
  video?: boolean | { deviceId?: { exact: string } };
}

/** One entry of enumerateDevices(). */
export interface MediaDeviceInfoLike {
  readonly deviceId: string;
  readonly kind: string;
  readonly label: string;
  readonly groupId?: string;
}

/** `navigator.mediaDevices`, or a stand-in (tests, Node): where cameras, microphones and screens come from. */
export interface MediaDevicesLike {
  getUserMedia(constraints: MediaConstraintsLike): Promise<LocalMedia>;
  getDisplayMedia?(constraints: MediaConstraintsLike): Promise<LocalMedia>;
  enumerateDevices?(): Promise<MediaDeviceInfoLike[]>;
}

export function globalMediaDevices(): MediaDevicesLike | undefined {
  return (globalThis as { navigator?: { mediaDevices?: MediaDevicesLike } }).navigator?.mediaDevices;
}

/** The browser's constructors, when there are any. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

export function globalPeerConnection(): PeerConnectionConstructor | undefined {
  return (globalThis as { RTCPeerConnection?: PeerConnectionConstructor }).RTCPeerConnection;
}

export const SOCKET_OPEN = 1;
