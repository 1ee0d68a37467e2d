import type { UserId } from '@roundtable/protocol';
import type { StatsSource } from './CallMedia.js';
import type { StatsLike } from './platform.js';

/** A simple verdict on a link, for a signal-bars icon. */
export type QualityLevel = 'good' | 'fair' | 'poor';

/**
 * The thresholds of the quality levels (loss over the last interval, round-trip time):
 * good below both `good` limits, fair below both `fair` limits, poor otherwise. An
 * unknown RTT counts as fine.
 */
export const QUALITY_THRESHOLDS = {
  good: { lossRate: 0.02, rttMs: 200 },
  fair: { lossRate: 0.08, rttMs: 400 },
} as const;

export function qualityOf(lossRate: number, rttMs: number | null): QualityLevel {
  const rtt = rttMs ?? 0;
  if (lossRate < QUALITY_THRESHOLDS.good.lossRate && rtt < QUALITY_THRESHOLDS.good.rttMs) return 'good';
  if (lossRate < QUALITY_THRESHOLDS.fair.lossRate && rtt < QUALITY_THRESHOLDS.fair.rttMs) return 'fair';
  return 'poor';
}

/** The numbers of one link over the last interval. */
export interface LinkStats {
  /** Whose media the link carries; you, for your uplink to the media server (and for loopback). */
  participant: UserId;
  /** Bits per second received on the link. */
  bitrateIn: number;
  /** Bits per second sent on the link. */
  bitrateOut: number;
  /** Packets lost on the way in, since the link started. */
  packetsLost: number;
  /** Share of packets lost over the last interval, 0..1: inbound loss, or (a send-only link) the loss the far end reports. */
  lossRate: number;
  /** Round-trip time to the far end (the media server, or the peer in P2P), when known. */
  rttMs: number | null;
  quality: QualityLevel;
}

/** Stats of a call or room. */
export interface SessionStats {
  /** When sampled (ms since the epoch). */
  at: number;
  /**
   * One entry per other participant whose media comes in. Through the media server,
   * `bitrateOut` is your uplink's rate (what each of them gets from you, at most).
   */
  participants: LinkStats[];
  /** Your uplink to the media server (SFU calls, rooms, loopback); null peer to peer. */
  uplink: LinkStats | null;
  /** The worst level over every link. */
  quality: QualityLevel;
}

interface Totals {
  at: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  lost: number;
}

/** Turns getStats() reports into per-link rates, remembering the previous sample of each link. */
export class StatsCollector {
  private readonly previous = new Map<string, Totals>();

  constructor(private readonly me: UserId) {}

  async sample(sources: StatsSource[], now = Date.now()): Promise<SessionStats> {
    const links: LinkStats[] = [];
    const seen = new Set<string>();
    for (const { participant, pc, include } of sources) {
      let report;
      try {
        report = await pc.getStats();
      } catch {
        continue; // a closed or closing link has no stats
      }
      const entries: StatsLike[] = [];
      report.forEach((value) => {
        if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' && (!include || include(value as StatsLike))) entries.push(value as StatsLike);
      });
      seen.add(participant);
      links.push(this.link(participant, entries, now));
    }
    for (const key of [...this.previous.keys()]) if (!seen.has(key)) this.previous.delete(key);
    const uplink = links.find((l) => l.participant === this.me) ?? null;
    const participants = links.filter((l) => l.participant !== this.me).map((l) => (uplink ? { ...l, bitrateOut: uplink.bitrateOut } : l));
    const all = uplink ? [uplink, ...participants] : participants;
    const order: QualityLevel[] = ['good', 'fair', 'poor'];
    const quality = all.reduce<QualityLevel>((worst, l) => (order.indexOf(l.quality) > order.indexOf(worst) ? l.quality : worst), 'good');
    return { at: now, participants, uplink, quality };
  }

  private link(participant: UserId, entries: StatsLike[], now: number): LinkStats {
    const totals: Totals = { at: now, bytesIn: 0, bytesOut: 0, packetsIn: 0, lost: 0 };
    let pairRtt: number | undefined;
    let remoteRtt: number | undefined;
    let remoteLoss: number | undefined;
    for (const s of entries) {
      if (s.type === 'inbound-rtp') {
        totals.bytesIn += s.bytesReceived ?? 0;
        totals.packetsIn += s.packetsReceived ?? 0;
        totals.lost += Math.max(0, s.packetsLost ?? 0);
      } else if (s.type === 'outbound-rtp') {
        totals.bytesOut += s.bytesSent ?? 0;
      } else if (s.type === 'remote-inbound-rtp') {
        if (s.roundTripTime !== undefined) remoteRtt = Math.max(remoteRtt ?? 0, s.roundTripTime);
        if (s.fractionLost !== undefined) remoteLoss = Math.max(remoteLoss ?? 0, s.fractionLost);
      } else if (s.type === 'candidate-pair' && s.currentRoundTripTime !== undefined && (s.nominated || s.state === 'succeeded')) {
        pairRtt = s.currentRoundTripTime;
      }
    }
    const prev = this.previous.get(participant);
    this.previous.set(participant, totals);
    // A first sample, or counters that went back (a new peer connection), give no rate yet.
    const usable = prev && prev.at < now && totals.bytesIn >= prev.bytesIn && totals.bytesOut >= prev.bytesOut && totals.packetsIn >= prev.packetsIn;
    const seconds = usable ? (now - prev.at) / 1000 : 0;
    const bitrateIn = usable ? Math.round(((totals.bytesIn - prev.bytesIn) * 8) / seconds) : 0;
    const bitrateOut = usable ? Math.round(((totals.bytesOut - prev.bytesOut) * 8) / seconds) : 0;
    const lostNow = usable ? Math.max(0, totals.lost - prev.lost) : 0;
    const receivedNow = usable ? totals.packetsIn - prev.packetsIn : 0;
    const inboundLoss = lostNow + receivedNow > 0 ? lostNow / (lostNow + receivedNow) : undefined;
    const lossRate = inboundLoss ?? remoteLoss ?? 0;
    const rttSeconds = pairRtt ?? remoteRtt;
    const rttMs = rttSeconds === undefined ? null : Math.round(rttSeconds * 1000 * 10) / 10;
    return { participant, bitrateIn, bitrateOut, packetsLost: totals.lost, lossRate, rttMs, quality: qualityOf(lossRate, rttMs) };
  }
}
