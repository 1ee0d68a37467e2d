import type { IceServerConfig } from '../config.js';
import type { ConnectionState, Direction, KindStats } from '../core/endpointTypes.js';
import type { MediaElementEvents } from '../core/MediaElement.js';
import type { MediaKind } from '../core/types.js';
import type { SrtpStats } from '../srtp/index.js';
import type { DataChannelStats } from './DataChannels.js';

export type { ConnectionState, Direction, KindStats } from '../core/endpointTypes.js';
export type IceState = 'new' | 'checking' | 'connected' | 'completed' | 'disconnected' | 'failed' | 'closed';
export type DtlsState = 'new' | 'connecting' | 'connected' | 'closed' | 'failed';

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface WebRtcEndpointOptions {
  /** What this endpoint does with media: 'sendrecv' (default), 'sendonly' or 'recvonly'. */
  direction?: Direction;
  /** Media kinds negotiated when this endpoint makes the offer. Default both. */
  offerKinds?: MediaKind[];
  /** STUN/TURN servers for this endpoint only. Default: the pipeline's. */
  iceServers?: IceServerConfig[];
  /** Public address announced for this endpoint only. Default: the pipeline's. */
  announcedAddress?: string;
  /**
   * Cap on the bandwidth estimate sent back to this endpoint's video source, kbit/s.
   * Default: none (the lowest estimate of the current sinks is passed on as is).
   */
  maxVideoRecvBandwidth?: number;
  /**
   * Negotiate WebRTC data channels (SCTP): accept the offer's application section, and
   * include one in generateOffer(). Default false: the application section is answered
   * with port 0 (rejected).
   */
  useDataChannels?: boolean;
  /**
   * Answer as Kurento's WebRtcEndpoint does: the offer's sections this endpoint cannot
   * use (plain RTP/AVP without ICE credentials or DTLS fingerprint, no codec Roundtable
   * forwards, other media) are answered with port 0, and an offer of which nothing is
   * usable gets an answer that rejects every section (no transport, no media) instead
   * of an error. Default false: such offers fail with INVALID_SDP / NO_COMMON_CODEC.
   */
  rejectUnusableMedia?: boolean;
}

/** The ICE candidate pair in use. */
export interface SelectedCandidatePair {
  localCandidate: string;
  remoteCandidate: string;
}

export interface WebRtcEndpointEvents extends MediaElementEvents {
  /** A local candidate, emitted once gatherCandidates() has been called. */
  iceCandidate: [candidate: IceCandidateInit];
  iceGatheringDone: [];
  /** gatherCandidates() was called: candidates are on their way. */
  iceGatheringStarted: [];
  /** ICE selected (or changed) the candidate pair media flows on. */
  candidatePairSelected: [pair: SelectedCandidatePair];
  iceStateChange: [state: IceState];
  dtlsStateChange: [state: DtlsState];
  connectionStateChange: [state: ConnectionState];
  /** The first offer was answered (processOffer) or the answer to ours applied (processAnswer). */
  negotiated: [];
  /** A data channel opened by either side is open. */
  dataChannelOpen: [channelId: number];
  /** A data channel that was open is closing or closed. */
  dataChannelClose: [channelId: number];
}

export interface EndpointStats {
  iceState: IceState;
  dtlsState: DtlsState;
  connectionState: ConnectionState;
  audio: KindStats;
  video: KindStats;
  /** Remote candidates ignored (unreachable from the configured addresses). */
  remoteCandidatesIgnored: number;
  /** Datagrams dropped on the media port: garbage, or (S)RTP failing authentication. */
  invalidPackets: number;
}

export interface WebRtcEndpointStats extends EndpointStats {
  /** Data channels: messages received from the peer and sent to it. */
  data: DataChannelStats;
}

/** Counters of an endpoint's RTP/RTCP path: its transport's, from socket to socket. */
export interface FastPathStats {
  rtpIn: number;
  rtcpIn: number;
  rtpOut: number;
  rtcpOut: number;
  /** The negotiated SRTP protection profile (DTLS-SRTP id). */
  profile: number;
  /** What the peer sent: unprotected, and dropped (truncated, forged, replayed). */
  inbound: SrtpStats;
  /** What we sent. */
  outbound: SrtpStats;
}
