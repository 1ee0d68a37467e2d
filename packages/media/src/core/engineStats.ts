import { RtpEndpoint } from '../rtp/RtpEndpoint.js';
import { WebRtcEndpoint } from '../webrtc/WebRtcEndpoint.js';
import type { Engine } from './Engine.js';
import { MEDIA_KINDS, type MediaKind } from './types.js';

export interface KindTotals {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  packetsLost: number;
  nacksReceived: number;
  retransmitted: number;
  plisReceived: number;
  firsReceived: number;
  keyframeRequestsSent: number;
}

/** The shared sockets of single-port mode (net/UdpMux.ts), over those open now. */
export interface UdpTotals {
  sockets: number;
  /** ICE agents registered on them: one per server-side WebRTC connection (a transport, or an endpoint of the seed's words). */
  bindings: number;
  /** Datagrams received, and dropped before any endpoint saw them, by reason. */
  datagrams: number;
  droppedUnknown: number;
  droppedMalformed: number;
  droppedUnauthenticated: number;
}

/** Totals over every open pipeline of this process, for metrics. */
export interface EngineStats {
  pipelines: number;
  /** Elements by type name (WebRtcEndpoint, RtpEndpoint, PassThrough, HubPort, ...). */
  elements: Record<string, number>;
  /** WebRtcEndpoints by connection state. */
  webrtcStates: Record<string, number>;
  invalidPackets: number;
  kinds: Record<MediaKind, KindTotals>;
  udp: UdpTotals;
  /** The downlink estimate (bits/s) of each receiving transport on the shared sockets (docs/adaptation.md). */
  downlinkEstimates: number[];
}

const zero = (): KindTotals => ({
  packetsIn: 0,
  bytesIn: 0,
  packetsOut: 0,
  bytesOut: 0,
  packetsLost: 0,
  nacksReceived: 0,
  retransmitted: 0,
  plisReceived: 0,
  firsReceived: 0,
  keyframeRequestsSent: 0,
});

/** Adds up the counters of every endpoint in every open pipeline. Cheap: no I/O. */
export function engineStats(engine: Engine): EngineStats {
  const udp: UdpTotals = { sockets: 0, bindings: 0, datagrams: 0, droppedUnknown: 0, droppedMalformed: 0, droppedUnauthenticated: 0 };
  const downlinkEstimates: number[] = [];
  for (const mux of engine.sockets.all()) {
    downlinkEstimates.push(...mux.bandwidthEstimates());
    const s = mux.getStats();
    udp.sockets++;
    udp.bindings += s.bindings;
    udp.datagrams += s.datagrams;
    udp.droppedUnknown += s.droppedUnknown;
    udp.droppedMalformed += s.droppedMalformed;
    udp.droppedUnauthenticated += s.droppedUnauthenticated;
  }
  const out: EngineStats = { pipelines: 0, elements: {}, webrtcStates: {}, invalidPackets: 0, kinds: { audio: zero(), video: zero() }, udp, downlinkEstimates };
  for (const pipeline of engine.pipelines()) {
    out.pipelines++;
    for (const element of pipeline.getElements()) {
      out.elements[element.typeName] = (out.elements[element.typeName] ?? 0) + 1;
      if (!(element instanceof WebRtcEndpoint) && !(element instanceof RtpEndpoint)) continue;
      const stats = element.getStats();
      if (element instanceof WebRtcEndpoint) {
        out.webrtcStates[element.getConnectionState()] = (out.webrtcStates[element.getConnectionState()] ?? 0) + 1;
      }
      out.invalidPackets += stats.invalidPackets ?? 0;
      for (const kind of MEDIA_KINDS) {
        const s = stats[kind];
        const t = out.kinds[kind];
        t.packetsIn += s.packetsReceived;
        t.bytesIn += s.bytesReceived;
        t.packetsOut += s.packetsSent;
        t.bytesOut += s.bytesSent;
        t.packetsLost += s.packetsLost;
        t.nacksReceived += s.nacksReceived;
        t.retransmitted += s.retransmitted;
        t.plisReceived += s.plisReceived;
        t.firsReceived += s.firsReceived;
        t.keyframeRequestsSent += s.keyframeRequestsSent;
      }
    }
  }
  return out;
}
