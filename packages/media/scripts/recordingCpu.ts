/**
 * Measures what recording one call costs in CPU: two participants (real VP8 640x480
 * ~800 kb/s + Opus, encoded by gst-launch test senders on 127.0.0.1) recorded
 *  A) each into its own WebM (remux only: RecorderEndpoint per participant), and
 *  B) both into one WebM through a Composite (audio mix in Node, VP8 grid in GStreamer),
 * as the product records calls. Prints CPU % of one core per part (recorder processes,
 * Composite processes, this Node process) over a window. Run:
 *   npx tsx packages/media/scripts/recordingCpu.ts
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Engine } from '../src/core/Engine.js';
import type { MediaPipeline } from '../src/core/MediaPipeline.js';
import type { RtpEndpoint } from '../src/rtp/RtpEndpoint.js';
import { RealMediaSender } from '../src/testing/RealMediaSender.js';

/** The script's media engine. */
const engine = new Engine();

const WINDOW_MS = Number(process.env.WINDOW_MS ?? 10_000);
const TICK = 100; // clock ticks per second of /proc/<pid>/stat
const dir = mkdtempSync(join(tmpdir(), 'rt-rec-cpu-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime (ticks) of every descendant of this process, by kind of process. */
function childCpu(): Record<'recorder' | 'composite' | 'sender' | 'other', number> {
  const out = { recorder: 0, composite: 0, sender: 0, other: 0 };
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  const cmd = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(fields[1]));
      ticks.set(Number(name), Number(fields[11]) + Number(fields[12]));
      cmd.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // gone meanwhile
    }
  }
  const isOurs = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  for (const [pid, t] of ticks) {
    if (!isOurs(pid)) continue;
    const c = cmd.get(pid) ?? '';
    const kind = c.includes('pattern=ball') ? 'sender' : c.includes('filesink') ? 'recorder' : c.includes('gst-launch') ? 'composite' : 'other';
    out[kind] += t;
  }
  return out;
}

async function source(pipeline: MediaPipeline, base: number): Promise<{ ep: RtpEndpoint; sender: RealMediaSender }> {
  const ep = pipeline.createRtpEndpoint({ direction: 'recvonly' });
  const offer = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=s', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${base + 2} RTP/AVP 111`, 'a=rtpmap:111 opus/48000/2', 'a=sendonly', `m=video ${base} RTP/AVPF 96`, 'a=rtpmap:96 VP8/90000', 'a=sendonly', ''].join('\r\n');
  const answer = await ep.processOffer(offer);
  const port = Number(/^m=video (\d+) /m.exec(answer)![1]);
  const sender = new RealMediaSender({ ports: [base, base + 1], width: 640, height: 480, videoBitrate: 800_000 });
  await sender.start();
  sender.relayTo({ video: port, audio: port });
  return { ep, sender };
}

async function measure(label: string): Promise<void> {
  const c0 = childCpu();
  const n0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const c1 = childCpu();
  const n1 = process.cpuUsage(n0);
  const seconds = (performance.now() - t0) / 1000;
  const pct = (ticks: number) => ((100 * ticks) / TICK / seconds).toFixed(1);
  console.log(
    `${label}: recorder processes ${pct(c1.recorder - c0.recorder)}%, composite processes ${pct(c1.composite - c0.composite)}%, ` +
      `Node ${((100 * (n1.user + n1.system)) / 1e6 / seconds).toFixed(1)}% (of one core; test senders ${pct(c1.sender - c0.sender)}% not counted)`,
  );
}

const pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [55000, 55199] });
const a = await source(pipeline, 55900);
const b = await source(pipeline, 55904);
try {
  await sleep(2000);
  await measure('baseline: two live sources, nothing recorded');

  const recorders = [a, b].map((p, i) => {
    const r = pipeline.createRecorderEndpoint({ uri: pathToFileURL(join(dir, `p${i}.webm`)).href });
    p.ep.connect(r);
    return r;
  });
  await Promise.all(recorders.map((r) => r.record()));
  await sleep(2000);
  await measure('A) one WebM per participant (remux only)');
  await Promise.all(recorders.map((r) => r.stopAndWait()));
  for (const r of recorders) r.close();

  const composite = pipeline.createComposite();
  for (const p of [a, b]) p.ep.connect(composite.createHubPort());
  const recorder = pipeline.createRecorderEndpoint({ uri: pathToFileURL(join(dir, 'mix.webm')).href });
  composite.createHubPort().connect(recorder);
  await recorder.record();
  await sleep(3000);
  await measure('B) one WebM of the call through a Composite (640x480 grid at 15 fps)');
  await recorder.stopAndWait();
} finally {
  pipeline.close();
  await a.sender.close();
  await b.sender.close();
  rmSync(dir, { recursive: true, force: true });
}
