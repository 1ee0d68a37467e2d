import { createOpusCoder, FRAME_MS, FRAME_SAMPLES, type OpusCoder, type OpusLibrary } from './opus.js';
import { JitterBuffer } from './JitterBuffer.js';

export interface AudioMixerOptions {
  /** Channels mixed and encoded (1 = mono voice mix, 2 = stereo). Default 1. */
  channels?: 1 | 2;
  /** Opus bitrate of each mix sent, bits/s. Default 32000 (mono), 64000 (stereo). */
  bitrate?: number;
  /** Opus library. Default 'discordjs' (native libopus; measured faster, docs/mcu.md). */
  library?: OpusLibrary;
  /** Packets buffered before a source plays out. Default 2 (40 ms). */
  jitterDepth?: number;
}

/** What the mixer needs from its owner, per member. */
export interface AudioMixerSink<K> {
  /** True when `member` has anyone to send its mix to (no encoding otherwise). */
  wantsMix(member: K): boolean;
  /** One encoded 20 ms frame of the mix for `member`; `samples` advance its RTP clock. */
  sendMix(member: K, opus: Buffer, samples: number): void;
  /**
   * The clock ran too late to catch up and skipped `samples` without mixing them: every
   * mix's RTP clock must jump by as much, so the mixes keep wall time (a recording of
   * them is as long as the call, with a gap instead of lost time).
   */
  skip(samples: number): void;
}

export interface AudioMixerStats {
  ticks: number;
  /** Clock ticks run late enough that frames were produced back to back to catch up. */
  catchUps: number;
  /** 20 ms frames skipped (not mixed) because the clock ran more than MAX_CATCH_UP frames late. */
  skippedFrames: number;
  decodeErrors: number;
  lost: number;
}

interface Member {
  buffer: JitterBuffer<Buffer>;
  /** Decodes the member's input and encodes its mix (libopus keeps the two states apart). */
  coder: OpusCoder | undefined;
  /** Decoded samples not mixed yet (interleaved). */
  pending: Int16Array;
  /** This tick's contribution (undefined when it had nothing). */
  frame: Int16Array | undefined;
}

/** Beyond this many frames behind, the clock skips ahead instead of catching up. */
const MAX_CATCH_UP = 5;

/**
 * The audio half of the Composite: decodes every member's Opus, plays it out of a
 * light jitter buffer on a 20 ms clock, and sends each member the mix of all the
 * others (the sum of everyone minus its own contribution), encoded for it alone. A
 * member with nothing buffered contributes silence for that tick: the clock never
 * waits for anyone.
 */
export class AudioMixer<K> {
  readonly stats: AudioMixerStats = { ticks: 0, catchUps: 0, skippedFrames: 0, decodeErrors: 0, lost: 0 };
  private readonly members = new Map<K, Member>();
  private readonly channels: 1 | 2;
  private readonly bitrate: number;
  private readonly library: OpusLibrary;
  private readonly jitterDepth: number;
  private readonly frameLength: number;
  private timer: NodeJS.Timeout | undefined;
  private nextTickAt = 0;
  private closed = false;

  constructor(
    private readonly sink: AudioMixerSink<K>,
    options: AudioMixerOptions = {},
  ) {
    this.channels = options.channels ?? 1;
    this.bitrate = options.bitrate ?? (this.channels === 1 ? 32000 : 64000);
    this.library = options.library ?? 'discordjs';
    this.jitterDepth = options.jitterDepth ?? 2;
    this.frameLength = FRAME_SAMPLES * this.channels;
  }

  get size(): number {
    return this.members.size;
  }

  /** Adds a member (idempotent). The clock runs while there is at least one. */
  add(member: K): void {
    if (this.closed || this.members.has(member)) return;
    this.members.set(member, {
      buffer: new JitterBuffer({ startDepth: this.jitterDepth }),
      coder: undefined,
      pending: new Int16Array(0),
      frame: undefined,
    });
    this.startClock();
  }

  remove(member: K): void {
    const m = this.members.get(member);
    if (!m) return;
    m.coder?.close();
    this.members.delete(member);
    if (this.members.size === 0) this.stopClock();
  }

  /** One Opus packet from `member` (its RTP sequence number orders it). */
  push(member: K, seq: number, opus: Buffer): void {
    const m = this.members.get(member);
    if (!m || opus.length === 0) return;
    m.buffer.push(seq, opus);
  }

  /** The member's source changed: its numbering starts over. */
  resetInput(member: K): void {
    const m = this.members.get(member);
    if (!m) return;
    m.buffer.reset();
    m.pending = new Int16Array(0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopClock();
    for (const member of [...this.members.keys()]) this.remove(member);
  }

  private startClock(): void {
    if (this.timer || this.closed) return;
    this.nextTickAt = performance.now() + FRAME_MS;
    this.schedule();
  }

  private stopClock(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A timer re-armed against absolute deadlines, so the 20 ms clock does not drift. */
  private schedule(): void {
    const delay = Math.max(0, this.nextTickAt - performance.now());
    this.timer = setTimeout(() => this.onTimer(), delay);
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.closed || this.members.size === 0) return;
    const now = performance.now();
    let behind = Math.floor((now - this.nextTickAt) / FRAME_MS) + 1;
    if (behind > MAX_CATCH_UP) {
      // Mixing every missed frame back to back would make an overloaded process later
      // still: skip them, but move the mixes' clocks on, so no time is lost from them.
      const skipped = behind - 1;
      this.nextTickAt += skipped * FRAME_MS;
      this.stats.skippedFrames += skipped;
      this.sink.skip(skipped * FRAME_SAMPLES);
      behind = 1;
    }
    if (behind > 1) this.stats.catchUps++;
    for (let i = 0; i < behind; i++) {
      try {
        this.tick();
      } catch (error) {
        console.error('audio mix tick failed', error);
      }
      this.nextTickAt += FRAME_MS;
    }
    this.schedule();
  }

  private tick(): void {
    this.stats.ticks++;
    const total = new Int32Array(this.frameLength);
    for (const m of this.members.values()) {
      m.frame = this.nextFrame(m);
      if (m.frame) for (let i = 0; i < this.frameLength; i++) total[i]! += m.frame[i]!;
    }
    const mix = new Int16Array(this.frameLength);
    for (const [member, m] of this.members) {
      if (!this.sink.wantsMix(member)) continue;
      const own = m.frame;
      for (let i = 0; i < this.frameLength; i++) {
        const v = own ? total[i]! - own[i]! : total[i]!;
        mix[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
      m.coder ??= this.coder();
      this.sink.sendMix(member, m.coder.encode(mix), FRAME_SAMPLES);
    }
  }

  /** The member's next 20 ms of PCM, or undefined when it has nothing to play now. */
  private nextFrame(m: Member): Int16Array | undefined {
    while (m.pending.length < this.frameLength) {
      const lostBefore = m.buffer.lost;
      const packet = m.buffer.pop();
      this.stats.lost += m.buffer.lost - lostBefore;
      if (!packet) break;
      m.coder ??= this.coder();
      let pcm: Int16Array;
      try {
        pcm = m.coder.decode(packet);
      } catch {
        this.stats.decodeErrors++;
        continue;
      }
      const joined = new Int16Array(m.pending.length + pcm.length);
      joined.set(m.pending);
      joined.set(pcm, m.pending.length);
      m.pending = joined;
    }
    if (m.pending.length === 0) return undefined;
    if (m.pending.length < this.frameLength) {
      // Ran dry mid-frame: play what there is, padded with silence.
      const frame = new Int16Array(this.frameLength);
      frame.set(m.pending);
      m.pending = new Int16Array(0);
      return frame;
    }
    const frame = m.pending.subarray(0, this.frameLength);
    m.pending = m.pending.subarray(this.frameLength);
    return frame;
  }

  private coder(): OpusCoder {
    const c = createOpusCoder(this.channels, this.library);
    c.setBitrate(this.bitrate);
    return c;
  }
}
