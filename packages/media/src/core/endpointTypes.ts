/** Types shared by the endpoints that talk to a peer (WebRtcEndpoint, RtpEndpoint). */

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly';
export type ConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

/** An endpoint's statistics for one media kind. */
export interface KindStats {
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  packetsSent: number;
  bytesSent: number;
  nacksReceived: number;
  retransmitted: number;
  plisReceived: number;
  firsReceived: number;
  keyframeRequestsSent: number;
  roundTripTime: number | undefined;
  fractionLostReported: number | undefined;
  codecMismatches: number;
}
