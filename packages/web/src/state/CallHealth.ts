/**
 * How a call or room is holding up, for the connection banner: this device
 * reconnecting (its signaling socket, or a media link restarting ICE), a poor network
 * (from the SDK's loss and round-trip stats), others reconnecting, and short notices
 * when someone leaves (dropped or not), and a media link being brought back (its
 * attempts, or that they gave up: then retry() tries again). Listens to the SDK session;
 * dispose() lets go.
 */
import type { SessionStats } from '@roundtable/client';
import type { UserId } from '@roundtable/protocol';
import { reactive } from 'vue';
import type { SessionLike } from './CallSession.js';

export interface PeerNotice {
  id: number;
  userId: UserId;
  /** Their device dropped and did not come back; otherwise they left. */
  dropped: boolean;
}

/** How long a "left" notice stays (ms). */
export const NOTICE_MS = 10_000;

export class CallHealth {
  readonly state = reactive({
    /** A media link of ours lost its path (the SDK restarts ICE). */
    mediaReconnecting: false,
    /** Worst loss (%) and round trip (ms) over the links while the quality is poor; null otherwise. */
    poor: null as { lossPercent: number; rttMs: number } | null,
    peersReconnecting: [] as UserId[],
    notices: [] as PeerNotice[],
    /**
     * A media link of ours is being brought back (the SDK's `recovery` event): the attempt
     * under way, or `failed` once every attempt failed (offer retry()). Null when all is well.
     */
    mediaRecovery: null as { failed: boolean; attempt: number; maxAttempts: number } | null,
  });
  /** Links whose recovery is under way or gave up, and their last step. */
  private readonly recovering = new Map<string, { failed: boolean; attempt: number; maxAttempts: number }>();
  private readonly off: Array<() => void> = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private nextId = 1;
  private quality: string | null = null;

  constructor(private readonly sdk: SessionLike) {
    this.off.push(
      sdk.on('recovery', ({ link, state, attempt, maxAttempts }) => {
        if (state === 'recovered') this.recovering.delete(link);
        else this.recovering.set(link, { failed: state === 'failed', attempt, maxAttempts });
        const steps = [...this.recovering.values()];
        this.state.mediaRecovery = steps.find((r) => r.failed) ?? steps[0] ?? null;
      }),
      sdk.on('connection', ({ reconnecting }) => (this.state.mediaReconnecting = reconnecting)),
      sdk.on('quality', ({ level }) => {
        this.quality = level;
        if (level !== 'poor') this.state.poor = null;
      }),
      sdk.on('stats', (stats) => this.onStats(stats)),
      sdk.on('participantConnection', ({ participant, reconnecting }) => this.setReconnecting(participant, reconnecting)),
      sdk.on('participantLeft', ({ participant, dropped }) => {
        this.setReconnecting(participant, false);
        this.notice(participant, dropped);
      }),
    );
  }

  dispose(): void {
    for (const off of this.off.splice(0)) off();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** After the media's recovery gave up: the SDK tries again. */
  retry(): void {
    this.sdk.retryMedia();
  }

  dismiss(id: number): void {
    this.state.notices = this.state.notices.filter((n) => n.id !== id);
  }

  private onStats(stats: SessionStats): void {
    if (stats.quality !== 'poor' && this.quality !== 'poor') return;
    const links = [...stats.participants, ...(stats.uplink ? [stats.uplink] : [])];
    const loss = Math.max(0, ...links.map((l) => l.lossRate));
    const rtt = Math.max(0, ...links.map((l) => l.rttMs ?? 0));
    this.state.poor = stats.quality === 'poor' ? { lossPercent: Math.round(loss * 100), rttMs: Math.round(rtt) } : null;
  }

  private setReconnecting(userId: UserId, reconnecting: boolean): void {
    const others = this.state.peersReconnecting.filter((u) => u !== userId);
    this.state.peersReconnecting = reconnecting ? [...others, userId] : others;
  }

  private notice(userId: UserId, dropped: boolean): void {
    const id = this.nextId++;
    this.state.notices.push({ id, userId, dropped });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.dismiss(id);
    }, NOTICE_MS);
    this.timers.add(timer);
  }
}
