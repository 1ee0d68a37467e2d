import type { ElementConnection, IceCandidateInit, KindStats, MediaKind } from '@roundtable/media';
import { toKurentoMediaType } from './Params.js';

/** Complex Kurento values carry their module and type. */
export function complex(type: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { __module__: 'kurento', __type__: type, ...fields };
}

export function iceCandidate(c: IceCandidateInit): Record<string, unknown> {
  return complex('IceCandidate', { candidate: c.candidate, sdpMid: c.sdpMid ?? '', sdpMLineIndex: c.sdpMLineIndex ?? 0 });
}

export function connectionData(c: ElementConnection, idOf: (o: object) => string | undefined): Record<string, unknown> {
  return complex('ElementConnectionData', {
    source: idOf(c.source),
    sink: idOf(c.sink),
    type: toKurentoMediaType(c.kind),
    sourceDescription: 'default',
    sinkDescription: 'default',
  });
}

/** Kurento's Stats<> map for one endpoint, from the engine's counters. */
export function rtpStats(objectId: string, ssrcs: { in?: number; out?: number }, kind: MediaKind, s: KindStats): Record<string, unknown> {
  const now = Date.now();
  const common = {
    timestamp: now / 1000,
    timestampMillis: now,
    isRemote: false,
    mediaTrackId: `${objectId}_${kind}`,
    transportId: `${objectId}_transport`,
    codecId: `${objectId}_${kind}_codec`,
    firCount: s.firsReceived,
    pliCount: s.plisReceived,
    nackCount: s.nacksReceived,
    sliCount: 0,
    remb: 0,
    packetsLost: s.packetsLost,
    fractionLost: s.fractionLostReported ?? 0,
  };
  const out: Record<string, unknown> = {};
  const inId = `${objectId}_inboundrtp_${kind}`;
  out[inId] = complex('RTCInboundRTPStreamStats', {
    ...common,
    id: inId,
    type: 'inboundrtp',
    ssrc: String(ssrcs.in ?? 0),
    packetsReceived: s.packetsReceived,
    bytesReceived: s.bytesReceived,
    jitter: 0,
  });
  const outId = `${objectId}_outboundrtp_${kind}`;
  out[outId] = complex('RTCOutboundRTPStreamStats', {
    ...common,
    id: outId,
    type: 'outboundrtp',
    ssrc: String(ssrcs.out ?? 0),
    packetsSent: s.packetsSent,
    bytesSent: s.bytesSent,
    targetBitrate: 0,
    roundTripTime: s.roundTripTime ?? 0,
  });
  return out;
}
