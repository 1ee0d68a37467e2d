import type { MediaKind } from '../core/types.js';
import type { KindStats } from '../core/endpointTypes.js';
import type { InboundStream } from './InboundStream.js';
import type { OutboundStats } from './OutboundStream.js';

/** An endpoint's statistics for one kind: its inbound streams of that kind and its outbound stream. */
export function kindStats(
  kind: MediaKind,
  inbound: Iterable<InboundStream>,
  out: OutboundStats | undefined,
  keyframeRequestsSent: number,
): KindStats {
  let packetsReceived = 0;
  let bytesReceived = 0;
  let packetsLost = 0;
  for (const s of inbound) {
    if (s.kind !== kind) continue;
    packetsReceived += s.packets;
    bytesReceived += s.bytes;
    packetsLost += s.lost;
  }
  return {
    packetsReceived,
    bytesReceived,
    packetsLost,
    packetsSent: out?.packets ?? 0,
    bytesSent: out?.bytes ?? 0,
    nacksReceived: out?.nacksReceived ?? 0,
    retransmitted: out?.retransmitted ?? 0,
    plisReceived: out?.plisReceived ?? 0,
    firsReceived: out?.firsReceived ?? 0,
    keyframeRequestsSent,
    roundTripTime: out?.roundTripTime,
    fractionLostReported: out?.fractionLost,
    codecMismatches: out?.codecMismatches ?? 0,
  };
}
