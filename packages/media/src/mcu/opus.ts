import { createRequire } from 'node:module';

/** 48 kHz is the only rate WebRTC's Opus runs at; a 20 ms frame is 960 samples per channel. */
export const OPUS_RATE = 48000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (OPUS_RATE * FRAME_MS) / 1000;

/** One Opus encoder + decoder pair (PCM is interleaved signed 16-bit, native endian). */
export interface OpusCoder {
  /** Encodes exactly one frame (`FRAME_SAMPLES * channels` samples). */
  encode(pcm: Int16Array): Buffer;
  /** Decodes one Opus packet into interleaved PCM. */
  decode(packet: Buffer): Int16Array;
  setBitrate(bitsPerSecond: number): void;
  close(): void;
}

export type OpusLibrary = 'discordjs' | 'opusscript';

interface DiscordOpusEncoder {
  encode(buf: Buffer): Buffer;
  decode(buf: Buffer): Buffer;
  setBitrate(bitrate: number): void;
}
interface DiscordOpusModule {
  OpusEncoder: new (rate: number, channels: number) => DiscordOpusEncoder;
}
interface OpusScriptInstance {
  encode(buffer: Buffer, frameSize: number): Buffer;
  decode(buffer: Buffer): Buffer;
  setBitrate(bitrate: number): void;
  delete(): void;
}
interface OpusScriptModule {
  new (rate: number, channels: number, application: number): OpusScriptInstance;
  Application: { VOIP: number; AUDIO: number };
}

const require = createRequire(import.meta.url);
let discord: DiscordOpusModule | undefined;
let opusscript: OpusScriptModule | undefined;

function asPcm(buf: Buffer): Int16Array {
  // Copy: both libraries reuse their output buffer between calls.
  const out = new Int16Array(buf.length >> 1);
  out.set(new Int16Array(buf.buffer, buf.byteOffset, buf.length >> 1));
  return out;
}

function asBuffer(pcm: Int16Array): Buffer {
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

class DiscordCoder implements OpusCoder {
  private readonly coder: DiscordOpusEncoder;
  constructor(channels: number) {
    discord ??= require('@discordjs/opus') as DiscordOpusModule;
    this.coder = new discord.OpusEncoder(OPUS_RATE, channels);
  }
  encode(pcm: Int16Array): Buffer {
    return Buffer.from(this.coder.encode(asBuffer(pcm)));
  }
  decode(packet: Buffer): Int16Array {
    return asPcm(this.coder.decode(packet));
  }
  setBitrate(bitsPerSecond: number): void {
    this.coder.setBitrate(bitsPerSecond);
  }
  close(): void {
    // Native memory is freed by the binding's finalizer.
  }
}

class OpusScriptCoder implements OpusCoder {
  private readonly coder: OpusScriptInstance;
  constructor(private readonly channels: number) {
    opusscript ??= require('opusscript') as OpusScriptModule;
    this.coder = new opusscript(OPUS_RATE, channels, opusscript.Application.AUDIO);
  }
  encode(pcm: Int16Array): Buffer {
    return Buffer.from(this.coder.encode(asBuffer(pcm), pcm.length / this.channels));
  }
  decode(packet: Buffer): Int16Array {
    return asPcm(this.coder.decode(packet));
  }
  setBitrate(bitsPerSecond: number): void {
    this.coder.setBitrate(bitsPerSecond);
  }
  close(): void {
    this.coder.delete();
  }
}

/**
 * An Opus coder from one of the two libraries installed. `@discordjs/opus` (libopus
 * built natively) is the default: it measured several times faster than the
 * WebAssembly `opusscript` (docs/mcu.md, packages/media/scripts/opusBench.ts).
 */
export function createOpusCoder(channels: 1 | 2, library: OpusLibrary = 'discordjs'): OpusCoder {
  return library === 'discordjs' ? new DiscordCoder(channels) : new OpusScriptCoder(channels);
}
