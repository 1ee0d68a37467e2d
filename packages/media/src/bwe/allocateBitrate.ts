/**
 * Splitting one receiver's downlink estimate among its consumers, by priority: audio
 * first (every audio consumer its bitrate before any video), then video of the active
 * speaker and pinned participants, then the others by the tile size the receiver asked
 * for (largest first). Two passes over the video in that order: each gets its least
 * usable bitrate (its lowest layer) while the estimate lasts, then what is left goes,
 * in the same order, toward each one's most. A consumer that gets 0 is one to pause.
 * A pure function: layer selection calls it with the estimate and its consumers.
 */
export interface BitrateClaim {
  id: string;
  kind: 'audio' | 'video';
  /** The room's active speaker. */
  speaker?: boolean;
  /** Pinned by the receiver. */
  pinned?: boolean;
  /** The tile size the receiver asked for, in pixels (width x height); 0 or absent: smallest. */
  tileArea?: number;
  /** The least bitrate worth sending (audio: its bitrate; video: its lowest layer), bits/s. */
  minBitrate: number;
  /** The most it can use (audio: its bitrate; video: its highest layer that fits the tile), bits/s. */
  maxBitrate: number;
}

/** Claims in the order they are served. */
export function priorityOrder(claims: readonly BitrateClaim[]): BitrateClaim[] {
  const rank = (c: BitrateClaim): number => (c.kind === 'audio' ? 0 : c.speaker || c.pinned ? 1 : 2);
  return [...claims].sort((a, b) => rank(a) - rank(b) || (b.tileArea ?? 0) - (a.tileArea ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The bits/s each claim gets out of `available` (every claim has an entry, 0 included). */
export function allocateBitrate(available: number, claims: readonly BitrateClaim[]): Map<string, number> {
  const out = new Map<string, number>();
  let left = Number.isFinite(available) && available > 0 ? available : 0;
  const ordered = priorityOrder(claims);
  for (const c of ordered) out.set(c.id, 0);
  // Audio whole, in order, while it fits.
  for (const c of ordered) {
    if (c.kind !== 'audio') continue;
    const want = Math.max(0, c.maxBitrate);
    if (want > left) continue;
    out.set(c.id, want);
    left -= want;
  }
  const video = ordered.filter((c) => c.kind === 'video');
  // Each video its least usable rate, in order; one that does not fit is paused and the next may still fit.
  for (const c of video) {
    const least = Math.max(0, Math.min(c.minBitrate, c.maxBitrate));
    if (least > left || least === 0) continue;
    out.set(c.id, least);
    left -= least;
  }
  // What is left, in order, up to each one's most.
  for (const c of video) {
    const has = out.get(c.id)!;
    if (has === 0 && c.minBitrate > 0) continue;
    const more = Math.min(left, Math.max(0, c.maxBitrate - has));
    out.set(c.id, has + more);
    left -= more;
  }
  return out;
}
