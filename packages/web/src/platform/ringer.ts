/**
 * Ringtones made with WebAudio (no audio files): a two-tone warble for an incoming
 * call, a ring-back tone (425 Hz, 1 s on, 4 s off) while our call rings elsewhere.
 */
export type RingKind = 'incoming' | 'outgoing';

interface Pattern {
  /** Tones of one beep (Hz) played together. */
  frequencies: number[];
  onMs: number;
  periodMs: number;
}

const PATTERNS: Readonly<Record<RingKind, Pattern>> = {
  incoming: { frequencies: [440, 480], onMs: 1200, periodMs: 3000 },
  outgoing: { frequencies: [425], onMs: 1000, periodMs: 5000 },
};

export class Ringer {
  private context: AudioContext | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private playing: RingKind | undefined;

  get kind(): RingKind | undefined {
    return this.playing;
  }

  start(kind: RingKind): void {
    if (this.playing === kind) return;
    this.stop();
    this.playing = kind;
    try {
      this.context ??= new AudioContext();
      void this.context.resume().catch(() => undefined);
    } catch {
      return; // no audio output: ring silently
    }
    const pattern = PATTERNS[kind];
    const beep = (): void => this.beep(pattern);
    beep();
    this.timer = setInterval(beep, pattern.periodMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.playing = undefined;
  }

  close(): void {
    this.stop();
    void this.context?.close().catch(() => undefined);
    this.context = undefined;
  }

  private beep(pattern: Pattern): void {
    const ctx = this.context;
    if (!ctx || ctx.state === 'closed') return;
    const gain = ctx.createGain();
    const now = ctx.currentTime;
    const end = now + pattern.onMs / 1000;
    // Short ramps avoid clicks.
    gain.gain.setValueAtTime(0, now);
    gain.gain.linearRampToValueAtTime(0.15, now + 0.02);
    gain.gain.setValueAtTime(0.15, end - 0.02);
    gain.gain.linearRampToValueAtTime(0, end);
    gain.connect(ctx.destination);
    for (const frequency of pattern.frequencies) {
      const osc = ctx.createOscillator();
      osc.frequency.value = frequency;
      osc.connect(gain);
      osc.start(now);
      osc.stop(end);
    }
  }
}
