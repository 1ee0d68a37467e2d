/**
 * Micro-benchmark of the two Opus libraries: encode + decode of 20 ms frames at 48 kHz,
 * mono and stereo, of a two-tone signal. Run: npx tsx packages/media/scripts/opusBench.ts
 */
import { createOpusCoder, FRAME_SAMPLES, OPUS_RATE, type OpusLibrary } from '../src/mcu/opus.js';

const FRAMES = Number(process.env.FRAMES ?? 3000);

function signal(channels: number, frame: number): Int16Array {
  const pcm = new Int16Array(FRAME_SAMPLES * channels);
  for (let i = 0; i < FRAME_SAMPLES; i++) {
    const t = (frame * FRAME_SAMPLES + i) / OPUS_RATE;
    const v = Math.round(8000 * Math.sin(2 * Math.PI * 440 * t) + 4000 * Math.sin(2 * Math.PI * 1250 * t));
    for (let c = 0; c < channels; c++) pcm[i * channels + c] = v;
  }
  return pcm;
}

function run(library: OpusLibrary, channels: 1 | 2): { encodeUs: number; decodeUs: number; bytes: number } {
  const coder = createOpusCoder(channels, library);
  coder.setBitrate(channels === 1 ? 32000 : 64000);
  const frames = Array.from({ length: 50 }, (_, i) => signal(channels, i));
  let encodeNs = 0n;
  let decodeNs = 0n;
  let bytes = 0;
  for (let i = 0; i < FRAMES; i++) {
    const t0 = process.hrtime.bigint();
    const packet = coder.encode(frames[i % frames.length]!);
    const t1 = process.hrtime.bigint();
    const pcm = coder.decode(packet);
    const t2 = process.hrtime.bigint();
    if (pcm.length !== FRAME_SAMPLES * channels) throw new Error(`${library}: decoded ${pcm.length} samples`);
    if (i >= 100) {
      encodeNs += t1 - t0;
      decodeNs += t2 - t1;
      bytes += packet.length;
    }
  }
  coder.close();
  const n = FRAMES - 100;
  return { encodeUs: Number(encodeNs) / 1000 / n, decodeUs: Number(decodeNs) / 1000 / n, bytes: bytes / n };
}

console.log(`${FRAMES} frames of 20 ms at 48 kHz per case (first 100 not timed); microseconds per frame`);
console.log('library      channels  encode µs  decode µs  bytes/frame');
for (const channels of [1, 2] as const) {
  for (const library of ['discordjs', 'opusscript'] as const) {
    const r = run(library, channels);
    console.log(`${library.padEnd(12)} ${String(channels).padEnd(9)} ${r.encodeUs.toFixed(1).padStart(9)}  ${r.decodeUs.toFixed(1).padStart(9)}  ${r.bytes.toFixed(0).padStart(11)}`);
  }
}
