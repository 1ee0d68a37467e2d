import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeMedia } from './probe.js';
import { finaliseRecording } from './segments.js';
import { requireTools } from './testTools.js';

const dir = mkdtempSync(join(tmpdir(), 'rt-segments-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tools = requireTools(['gst-launch-1.0', 'ffprobe', 'ffmpeg']);

/** A WebM written live by gst-launch-1.0 for `ms`, then SIGKILLed: no duration, no index, as a killed recorder leaves it. */
async function cutWebm(path: string, ms: number): Promise<void> {
  const args = `-q videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=15/1 ! vp8enc deadline=1 ! webmmux ! filesink buffer-mode=unbuffered location=${path}`;
  const child = spawn('gst-launch-1.0', args.split(' '), { stdio: 'ignore' });
  // Wall time counts from the first bytes (gst takes a moment to start on a busy machine).
  for (let waited = 0; !existsSync(path) && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, ms));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe.skipIf(!tools)('finaliseRecording', () => {
  it('joins a cut file and the parts left beside it, in run order, into one file with a duration; the parts are removed', async () => {
    const path = join(dir, 'rec.webm');
    await cutWebm(path, 1500);
    await cutWebm(join(dir, 'rec.part2.webm'), 1500);
    writeFileSync(join(dir, 'rec.part3.webm'), ''); // a run killed before it wrote anything
    writeFileSync(join(dir, 'other.part2.webm'), 'not ours');
    expect((await probeMedia(path)).duration).toBeUndefined();

    await finaliseRecording(path);

    const info = await probeMedia(path);
    expect(info.streams.map((s) => s.codec)).toEqual(['vp8']);
    expect(info.duration).toBeGreaterThan(2);
    expect(['rec.part2.webm', 'rec.part3.webm'].filter((f) => existsSync(join(dir, f)))).toEqual([]);
    expect(existsSync(join(dir, 'other.part2.webm'))).toBe(true);
  });

  it('a missing file is left alone', async () => {
    await expect(finaliseRecording(join(dir, 'nothing.webm'))).resolves.toBeUndefined();
    expect(existsSync(join(dir, 'nothing.webm'))).toBe(false);
  });
});
