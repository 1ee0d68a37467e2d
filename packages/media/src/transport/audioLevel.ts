import { readExtension, type RtpView } from './RtpView.js';

/** The client-to-mixer audio level header extension (RFC 6464). */
export const AUDIO_LEVEL_EXTENSION = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/*
 * RFC 6464 §3, one-byte form:
 *  0                   1
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  ID   | len=0 |V| level       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * level: 0-127, the packet's audio level in -dBov (127: silence, or quieter than -127 dBov).
 * V: the sender's voice activity detection says the packet holds speech (when it runs one).
 */

export interface AudioLevelSample {
  /** -dBov, 0 (loudest) to 127 (silence). */
  dBov: number;
  voice: boolean;
}

/** The audio level a packet carries in extension `id`, if it carries one. */
export function readAudioLevel(packet: RtpView, id: number): AudioLevelSample | undefined {
  const value = readExtension(packet, id);
  if (!value || value.length < 1) return undefined;
  const b = value[0]!;
  return { dBov: b & 0x7f, voice: (b & 0x80) !== 0 };
}

/** -dBov as a linear amplitude, 0 to 1 (the unit of getStats' audioLevel): 0 dBov is 1, 127 is 0. */
export function linearLevel(dBov: number): number {
  return dBov >= 127 ? 0 : Math.pow(10, -dBov / 20);
}

/** What an AudioLevelMeter read over the time since its previous read. */
export interface AudioLevelReading {
  /** The loudest packet's level, linear (0-1); 0 when no packet came (silence, DTX, paused). */
  level: number;
  /** Packets with a level in the period. */
  packets: number;
  /** Packets the sender marked as voice. */
  voicePackets: number;
}

/**
 * The audio levels of one producer's packets, gathered between reads: what a room's
 * active speaker detection reads each period. Cheap on the packet path: one byte read
 * and a comparison per packet.
 */
export class AudioLevelMeter {
  private loudest = 127;
  private packets = 0;
  private voicePackets = 0;

  /** One packet's level. */
  push(sample: AudioLevelSample): void {
    this.packets++;
    if (sample.voice) this.voicePackets++;
    if (sample.dBov < this.loudest) this.loudest = sample.dBov;
  }

  /** What came since the previous read; starts a new period. */
  read(): AudioLevelReading {
    const reading = { level: linearLevel(this.loudest), packets: this.packets, voicePackets: this.voicePackets };
    this.loudest = 127;
    this.packets = 0;
    this.voicePackets = 0;
    return reading;
  }
}
