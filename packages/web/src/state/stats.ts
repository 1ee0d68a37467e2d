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
  /** Every inbound stream, owned or not: what a failing test prints (a track never attributed, or one without packets). */
  inbound: Array<{ connection: number; mid: string | null; kind: string; owner: string | null; packets: number }>;
}

function emptyParticipant(): ParticipantStats {
  return { videoFramesDecoded: 0, videoPacketsReceived: 0, videoFrameWidth: 0, audioPacketsReceived: 0, audioBytesReceived: 0, packetsLost: 0 };
}

type Stat = Record<string, unknown>;
const num = (value: unknown): number => (typeof value === 'number' ? value : 0);

export async function collectStats(trackOwners: ReadonlyMap<string, UserId>): Promise<CallStats> {
  const result: CallStats = { participants: {}, packetsReceived: 0, packetsLost: 0, roundTripMs: null, peerConnections: 0, connectionStates: [], inbound: [] };
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
        result.inbound.push({ connection: result.peerConnections, mid: typeof s['mid'] === 'string' ? s['mid'] : null, kind: String(s['kind']), owner: owner ?? null, packets: num(s['packetsReceived']) });
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

/** Per peer connection and audio stat: the energy totals at the last read. */
const lastEnergy = new WeakMap<RTCPeerConnection, Map<string, { energy: number; duration: number }>>();

/**
 * An audio stat's level (0-1) over the time since it was last read, not only at this
 * instant: the root mean square from the growth of `totalAudioEnergy` over
 * `totalSamplesDuration` (the energy is the sum of level² × duration), or the instant
 * `audioLevel` when louder or when the totals are missing. The instant level alone misses a
 * short sound between two reads (a syllable, a beep), and with reads at a steady rhythm it
 * can miss every one of a sound that repeats at that rhythm.
 */
function levelSinceLastRead(pc: RTCPeerConnection, s: Stat): number {
  const instant = num(s['audioLevel']);
  const energy = s['totalAudioEnergy'];
  const duration = s['totalSamplesDuration'];
  if (typeof energy !== 'number' || typeof duration !== 'number') return instant;
  let byId = lastEnergy.get(pc);
  if (!byId) lastEnergy.set(pc, (byId = new Map()));
  const id = String(s['id']);
  const last = byId.get(id);
  byId.set(id, { energy, duration });
  if (!last || duration <= last.duration || energy < last.energy) return instant;
  return Math.max(instant, Math.sqrt((energy - last.energy) / (duration - last.duration)));
}

/**
 * Each remote participant's audio level since the last read (0-1, from the browser's stats of
 * their inbound audio track), for the active-speaker highlight. A hybrid call's mix belongs to
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
      if (owner) levels.set(owner, Math.max(levels.get(owner) ?? 0, levelSinceLastRead(pc, s)));
    });
  }
  return levels;
}

/** The level of our own microphone as it is sent (0-1) since the last read: the loudest audio `media-source` of the open peer connections. */
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
      if (s['type'] === 'media-source' && s['kind'] === 'audio') level = Math.max(level, levelSinceLastRead(pc, s));
    });
  }
  return level;
}
