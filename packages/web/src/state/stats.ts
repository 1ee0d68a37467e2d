/**
 * What the debug hook reads from getStats() of the open peer connections: per remote
 * participant (inbound tracks mapped to their owner by track id), frames decoded
 * included (the SDK's stats have bitrates, loss and RTT; the quality level comes from it).
 */
import type { UserId } from '@roundtable/protocol';
import { openPeerConnections } from '../platform/peerConnections.js';

export interface ParticipantStats {
  videoFramesDecoded: number;
  videoPacketsReceived: number;
  videoFrameWidth: number;
  audioPacketsReceived: number;
  audioBytesReceived: number;
  packetsLost: number;
}

export interface CallStats {
  /** By participant id. */
  participants: Record<string, ParticipantStats>;
  packetsReceived: number;
  packetsLost: number;
  /** The largest current round trip over the selected ICE pairs (ms), when known. */
  roundTripMs: number | null;
  peerConnections: number;
  connectionStates: string[];
}

function emptyParticipant(): ParticipantStats {
  return { videoFramesDecoded: 0, videoPacketsReceived: 0, videoFrameWidth: 0, audioPacketsReceived: 0, audioBytesReceived: 0, packetsLost: 0 };
}

type Stat = Record<string, unknown>;
const num = (value: unknown): number => (typeof value === 'number' ? value : 0);

export async function collectStats(trackOwners: ReadonlyMap<string, UserId>): Promise<CallStats> {
  const result: CallStats = { participants: {}, packetsReceived: 0, packetsLost: 0, roundTripMs: null, peerConnections: 0, connectionStates: [] };
  for (const pc of openPeerConnections()) {
    result.peerConnections++;
    result.connectionStates.push(pc.connectionState);
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      continue;
    }
    const stats: Stat[] = [];
    report.forEach((s: Stat) => stats.push(s));
    for (const s of stats) {
      if (s['type'] === 'inbound-rtp') {
        result.packetsReceived += num(s['packetsReceived']);
        result.packetsLost += Math.max(0, num(s['packetsLost']));
        const owner = trackOwners.get(String(s['trackIdentifier']));
        if (!owner) continue;
        const p = (result.participants[owner] ??= emptyParticipant());
        p.packetsLost += Math.max(0, num(s['packetsLost']));
        if (s['kind'] === 'video') {
          p.videoFramesDecoded += num(s['framesDecoded']);
          p.videoPacketsReceived += num(s['packetsReceived']);
          p.videoFrameWidth = Math.max(p.videoFrameWidth, num(s['frameWidth']));
        } else if (s['kind'] === 'audio') {
          p.audioPacketsReceived += num(s['packetsReceived']);
          p.audioBytesReceived += num(s['bytesReceived']);
        }
      }
      if (s['type'] === 'candidate-pair' && s['state'] === 'succeeded' && typeof s['currentRoundTripTime'] === 'number') {
        const ms = s['currentRoundTripTime'] * 1000;
        result.roundTripMs = Math.max(result.roundTripMs ?? 0, ms);
      }
    }
  }
  return result;
}

/**
 * Each remote participant's audio level now (0-1, the browser's `audioLevel` of their
 * inbound audio track), for the active-speaker highlight. A hybrid call's mix belongs to
 * nobody (its owner is the pseudo-participant) and gives no one a level.
 */
export async function audioLevels(trackOwners: ReadonlyMap<string, UserId>): Promise<Map<UserId, number>> {
  const levels = new Map<UserId, number>();
  for (const pc of openPeerConnections()) {
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      continue; // closed meanwhile: nothing to read
    }
    report.forEach((s: Stat) => {
      if (s['type'] !== 'inbound-rtp' || s['kind'] !== 'audio') return;
      const owner = trackOwners.get(String(s['trackIdentifier']));
      if (owner) levels.set(owner, Math.max(levels.get(owner) ?? 0, num(s['audioLevel'])));
    });
  }
  return levels;
}

/** The level of our own microphone as it is sent (0-1): the loudest audio `media-source` of the open peer connections. */
export async function ownAudioLevel(): Promise<number> {
  let level = 0;
  for (const pc of openPeerConnections()) {
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      continue; // closed meanwhile: nothing to read
    }
    report.forEach((s: Stat) => {
      if (s['type'] === 'media-source' && s['kind'] === 'audio') level = Math.max(level, num(s['audioLevel']));
    });
  }
  return level;
}
