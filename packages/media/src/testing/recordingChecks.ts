import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** First and last packet time (s) of a file's audio ('a') or video ('v') stream, and the packet count. */
export async function packetTimes(path: string, stream: 'a' | 'v'): Promise<{ first: number; last: number; count: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', `${stream}:0`, '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', path], { maxBuffer: 64 * 1024 * 1024 });
  const times = stdout.split('\n').map((line) => Number(line.trim())).filter((t, i, all) => all[i] !== undefined && Number.isFinite(t) && t >= 0);
  return { first: Math.min(...times), last: Math.max(...times), count: times.length };
}

export interface OpeningPicture {
  /** Frames decoded in the first `seconds` of the file. */
  frames: number;
  /** Mean luma (0-255, limited range: black is 16) of each of those frames. */
  luma: number[];
  /** Black intervals FFmpeg's blackdetect found there ([start, end] s from the file's start). */
  black: Array<[number, number]>;
}

/**
 * What the first `seconds` of a recording show, decoded by FFmpeg: each frame's mean luma
 * (signalstats) and the intervals blackdetect calls black (at least 98 % of the pixels
 * darker than 10 % grey, for 0.1 s or more).
 */
export async function openingPicture(path: string, seconds = 1): Promise<OpeningPicture> {
  const { stderr } = await run(
    'ffmpeg',
    ['-hide_banner', '-nostats', '-i', path, '-t', String(seconds), '-an', '-vf', 'blackdetect=d=0.1:pix_th=0.1,signalstats,metadata=print:key=lavfi.signalstats.YAVG', '-f', 'null', '-'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const luma = [...stderr.matchAll(/lavfi\.signalstats\.YAVG=([\d.]+)/g)].map((m) => Number(m[1]));
  const black = [...stderr.matchAll(/black_start:([\d.]+) black_end:([\d.]+)/g)].map((m): [number, number] => [Number(m[1]), Number(m[2])]);
  return { frames: luma.length, luma, black };
}
