import { execFile } from 'node:child_process';
import { readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

/** The file run `run` of a recorder writes: the target itself, then `<name>.part<run><ext>` after crashes. */
export function segmentPath(path: string, run: number): string {
  if (run <= 1) return path;
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.part${String(run)}${ext}`;
}

async function nonEmpty(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0;
  } catch {
    return false;
  }
}

/**
 * Joins the segments a recorder wrote (after process crashes) into `target`, remuxing
 * with FFmpeg's concat demuxer (no re-encoding), and removes the parts. One segment is
 * left as it is, unless `remux`: a process killed with SIGKILL leaves its file without
 * a duration or an index (players play it, but cannot seek, and ffprobe reports no
 * duration), and remuxing writes both.
 */
export async function concatSegments(segments: string[], target: string, options: { remux?: boolean; ffmpeg?: string } = {}): Promise<void> {
  const present: string[] = [];
  for (const s of segments) {
    if (await nonEmpty(s)) present.push(s);
    // A run killed before it wrote anything leaves an empty part.
    else if (s !== target) await unlink(s).catch(() => undefined);
  }
  if (present.length === 0 || (present.length === 1 && present[0] === target && !options.remux)) return;
  const list = `${target}.segments.txt`;
  const tmp = `${target}.joining${extname(target)}`;
  await writeFile(list, present.map((p) => `file '${p.replaceAll("'", "'\\''")}'`).join('\n'));
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(options.ffmpeg ?? 'ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', tmp], (error, _out, stderr) =>
        error ? reject(new Error(stderr.trim() || error.message)) : resolve(),
      );
    });
    await rename(tmp, target);
    for (const s of present) if (s !== target) await unlink(s).catch(() => undefined);
  } finally {
    await unlink(list).catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Finishes, after the fact, a recording whose process (or server) was killed before it
 * could: joins `path` and the `.part<n>` segments left beside it, in order, and remuxes
 * the result so it has a duration and an index. For recordings found unfinished when the
 * server starts. A file that was finalised already is only copied again.
 */
export async function finaliseRecording(path: string, ffmpeg?: string): Promise<void> {
  const ext = extname(path);
  const prefix = `${basename(path, ext)}.part`;
  const runOf = (name: string): number | undefined => {
    const middle = name.startsWith(prefix) && name.endsWith(ext) ? name.slice(prefix.length, name.length - ext.length) : '';
    return /^\d+$/.test(middle) ? Number(middle) : undefined;
  };
  const parts = (await readdir(dirname(path)).catch(() => [] as string[]))
    .filter((name) => runOf(name) !== undefined)
    .sort((a, b) => runOf(a)! - runOf(b)!)
    .map((name) => join(dirname(path), name));
  await concatSegments([path, ...parts], path, { remux: true, ...(ffmpeg ? { ffmpeg } : {}) });
}
