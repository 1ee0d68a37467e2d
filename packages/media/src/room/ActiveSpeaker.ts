import { TypedEmitter } from '../core/TypedEmitter.js';
import type { AudioLevelReading } from '../transport/audioLevel.js';

export interface ActiveSpeakerOptions {
  /** How often levels are read and the speaker decided (ms). Default 200. */
  intervalMs?: number;
  /** A period whose loudest packet reaches this linear level (0-1) counts as speech. Default 0.01 (-40 dBov). */
  speechLevel?: number;
  /** Weight of the newest period in a participant's activity score (0-1). Default 0.3. */
  smoothing?: number;
  /** Activity a participant needs to become the speaker. Default 0.3. */
  startActivity?: number;
  /** Below this activity the speaker is no longer speaking (null, unless another takes over). Default 0.1. */
  stopActivity?: number;
  /** How much more active than the speaker another participant must be to take over. Default 0.15. */
  switchMargin?: number;
  /** For how many periods in a row they must be so. Default 2. */
  switchPeriods?: number;
}

/** The speaker and every participant's level, as of one period. */
export interface SpeakerUpdate {
  /** The dominant speaker, or null when nobody speaks. */
  speaker: string | null;
  /** Each participant's loudest level of the period (linear, 0-1; the unit of getStats' audioLevel), rounded to 2 places. */
  levels: Record<string, number>;
}

export interface ActiveSpeakerEvents extends Record<string, unknown[]> {
  /** The speaker or a level changed (at most once per period). */
  update: [update: SpeakerUpdate];
}

interface Entry {
  read: () => AudioLevelReading;
  activity: number;
  level: number;
}

/**
 * The dominant speaker of a room, from the audio levels its members' packets carry
 * (RFC 6464). Each period every participant's activity score moves toward 1 when the
 * period held speech and toward 0 when not (an exponential average, so a pause between
 * words or a beep's gap keeps the speaker). Hysteresis: someone becomes the speaker at
 * `startActivity`, stays it down to `stopActivity`, and is replaced only by someone
 * `switchMargin` more active for `switchPeriods` periods in a row, so two voices at once
 * do not make the highlight flap.
 */
export class ActiveSpeaker extends TypedEmitter<ActiveSpeakerEvents> {
  private readonly entries = new Map<string, Entry>();
  private readonly options: Required<ActiveSpeakerOptions>;
  private timer: ReturnType<typeof setInterval> | undefined;
  private current: string | null = null;
  /** Who is ahead of the speaker by the margin, and for how many periods in a row. */
  private challenger: { participant: string; periods: number } | undefined;
  private last = '';
  private closed = false;

  constructor(options: ActiveSpeakerOptions = {}) {
    super();
    this.options = {
      intervalMs: options.intervalMs ?? 200,
      speechLevel: options.speechLevel ?? 0.01,
      smoothing: options.smoothing ?? 0.3,
      startActivity: options.startActivity ?? 0.3,
      stopActivity: options.stopActivity ?? 0.1,
      switchMargin: options.switchMargin ?? 0.15,
      switchPeriods: options.switchPeriods ?? 2,
    };
  }

  get speaker(): string | null {
    return this.current;
  }

  /** Each participant's level of the last period (linear, 0-1). */
  levels(): Map<string, number> {
    return new Map([...this.entries].map(([p, e]) => [p, e.level]));
  }

  /** Follows `participant`'s audio through `read` (an AudioLevelMeter's read, once per period); replaces an earlier source. Starts the timer. */
  add(participant: string, read: () => AudioLevelReading): void {
    if (this.closed) return;
    this.entries.set(participant, { read, activity: 0, level: 0 });
    this.timer ??= setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref?.();
  }

  /** Forgets `participant` (the speaker changes at once if it was them). */
  remove(participant: string): void {
    if (!this.entries.delete(participant)) return;
    if (this.challenger?.participant === participant) this.challenger = undefined;
    if (this.current === participant) this.current = null;
    if (this.entries.size === 0) this.stopTimer();
    this.publish();
  }

  has(participant: string): boolean {
    return this.entries.has(participant);
  }

  /** One period: read every level, decide the speaker, emit what changed. The timer calls it; tests may call it themselves. */
  tick(): void {
    if (this.closed) return;
    const o = this.options;
    for (const entry of this.entries.values()) {
      const reading = entry.read();
      entry.level = reading.level;
      const speech = reading.level >= o.speechLevel ? 1 : 0;
      entry.activity += (speech - entry.activity) * o.smoothing;
    }
    this.decide();
    this.publish();
  }

  /** Stops the timer and forgets everyone. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimer();
    this.entries.clear();
    this.removeAllListeners();
  }

  private decide(): void {
    const o = this.options;
    let best: [string, Entry] | undefined;
    for (const pair of this.entries) if (!best || pair[1].activity > best[1].activity) best = pair;
    const current = this.current === null ? undefined : this.entries.get(this.current);
    if (!current || current.activity < o.stopActivity) {
      // Nobody holds the floor: the most active one takes it, if active enough.
      this.challenger = undefined;
      this.current = best && best[1].activity >= o.startActivity ? best[0] : null;
      return;
    }
    if (!best || best[0] === this.current || best[1].activity < Math.max(o.startActivity, current.activity + o.switchMargin)) {
      this.challenger = undefined;
      return;
    }
    const periods = this.challenger?.participant === best[0] ? this.challenger.periods + 1 : 1;
    if (periods >= o.switchPeriods) {
      this.current = best[0];
      this.challenger = undefined;
    } else {
      this.challenger = { participant: best[0], periods };
    }
  }

  private publish(): void {
    const levels: Record<string, number> = {};
    for (const [participant, entry] of this.entries) levels[participant] = Math.round(entry.level * 100) / 100;
    const update: SpeakerUpdate = { speaker: this.current, levels };
    const key = JSON.stringify(update);
    if (key === this.last) return;
    this.last = key;
    this.emit('update', update);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
