import {
  RTCPeerConnection,
  useAbsSendTime,
  useFIR,
  useH264,
  useNACK,
  useOPUS,
  usePLI,
  useREMB,
  useSdesMid,
  useVP8,
} from 'werift';
import type { IceServerConfig } from '../config.js';
import type { CodecInfo } from '../core/types.js';

const CODECS = {
  audio: [useOPUS()],
  video: [
    useVP8({ rtcpFeedback: [useNACK(), usePLI(), useFIR(), useREMB()] }),
    useH264({ rtcpFeedback: [useNACK(), usePLI(), useFIR(), useREMB()] }),
  ],
};
const HEADER_EXTENSIONS = {
  audio: [useSdesMid()],
  video: [useSdesMid(), useAbsSendTime()],
};

export interface PeerConnectionSettings {
  iceServers: readonly IceServerConfig[];
  /** werift's icePortRange: the block reserved for this connection's own sockets, if any. */
  portRange: [number, number] | undefined;
  /** Host candidates: exactly these addresses. */
  localAddresses: string[];
  /** With one configured IPv4 address: bind to it rather than to the wildcard. */
  bindAddress: string | undefined;
  /** Never answer or probe an address this refuses. */
  acceptsAddress(address: string): boolean;
}

/** The werift peer connection of one WebRtcEndpoint: the codecs and header extensions Roundtable forwards, ICE as configured. */
export function createPeerConnection(settings: PeerConnectionSettings): RTCPeerConnection {
  return new RTCPeerConnection({
    codecs: CODECS,
    headerExtensions: HEADER_EXTENSIONS,
    iceServers: settings.iceServers.map((s) => ({ ...s })),
    icePortRange: settings.portRange,
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: settings.localAddresses,
    // With one configured IPv4 address, bind to it rather than to the wildcard, so
    // the media socket is reachable on that address only.
    iceInterfaceAddresses: settings.bindAddress ? { udp4: settings.bindAddress } : undefined,
    bundlePolicy: 'max-bundle',
    // Never answer or probe addresses outside what the remote filter accepts
    // (peer-reflexive checks from other local interfaces, for one).
    iceFilterStunResponse: (_message, addr) => settings.acceptsAddress(addr[0]),
    iceFilterCandidatePair: (pair) => settings.acceptsAddress(pair.remoteCandidate.host),
  });
}

/**
 * werift asks a public STUN server for a reflexive candidate whenever none is
 * configured; the media server must not contact anything its operator did not name.
 */
export function disableImplicitStun(pc: RTCPeerConnection, iceServers: readonly IceServerConfig[]): void {
  const hasStun = iceServers.some((s) => [s.urls].flat().some((u) => u.startsWith('stun:')));
  if (hasStun) return;
  for (const transport of pc.iceTransports) {
    (transport.connection as { stunServer?: unknown }).stunServer = undefined;
  }
}

export function toCodecInfo(c: { mimeType: string; payloadType: number; clockRate: number; channels?: number; parameters?: string }): CodecInfo {
  return { mimeType: c.mimeType, payloadType: c.payloadType, clockRate: c.clockRate, channels: c.channels, parameters: c.parameters };
}
