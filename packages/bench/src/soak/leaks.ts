/**
 * The soak's leak criteria (docs/soak.md). Each is checked on the samples of a run and
 * says what it compared; any failed criterion makes the soak exit non-zero.
 *
 * - Settled: once churn has stopped and the rooms have settled, the server holds no
 *   more WebRTC endpoints than the people in the rooms need (uplinks + downlinks).
 * - End: once everyone has left (and the recording has stopped), the server is back to
 *   where it started idle: no endpoints or pipelines, no more child processes or UDP
 *   ports than at the start, and at most `fdSlack` more file descriptors.
 * - Drift: over the second half of the load (the first half is warm-up: JIT, allocator
 *   arenas, caches), the growth of RSS, heap, file descriptors, child processes and the
 *   server's own UDP ports, as a robust slope (Theil–Sen: the median of the pairwise
 *   slopes, which a GC sawtooth or one outlier does not move) times the second half's
 *   length, stays within a threshold. The samples are taken every second
 *   (`HandleSample`), not only at the windows' ends, so that counts that go up and down
 *   with each join are seen many times. The children's ports are not in the drift: they
 *   come and go with the children (the recording's grid starts a child per layout beside
 *   the running one, with a port per tile, and keeps the older until the new one sends),
 *   following who is in the recorded room; a child kept too many shows in the
 *   children's drift, and every port of the server and its children is compared with the
 *   idle start at the end.
 */
import type { ServerReading } from './ServerSampler.js';

export interface LeakThresholds {
  /** File descriptors the idle server may hold at the end above the start (lazily opened: SQLite WAL, the metrics scrape's socket). Default 8. */
  fdSlack: number;
  /** RSS growth over the second half: at most the larger of this many MiB and `rssFraction` of its median. Defaults 32 MiB, 10 %. */
  rssMb: number;
  rssFraction: number;
  /** Heap growth over the second half: at most the larger of this many MiB and `heapFraction` of its median. Defaults 16 MiB, 15 %. */
  heapMb: number;
  heapFraction: number;
  /** Growth over the second half of fds, the server's own UDP ports, children. Defaults 8, 4, 2. */
  fdDrift: number;
  portDrift: number;
  childDrift: number;
}

export const DEFAULT_THRESHOLDS: LeakThresholds = { fdSlack: 8, rssMb: 32, rssFraction: 0.1, heapMb: 16, heapFraction: 0.15, fdDrift: 8, portDrift: 4, childDrift: 2 };

/** A sample of the server under load, taken every second (by default) apart from the windows, with who was present for the record. */
export interface HandleSample extends ServerReading {
  /** People present per room, as the soak has asked (joins and leaves sent). */
  present: number[];
}

export interface Check {
  name: string;
  ok: boolean;
  /** What was measured against what, for the report. */
  detail: string;
}

export interface LeakInput {
  /** The idle server before any load. */
  start: ServerReading;
  /** Samples under load every second or so (not only at the windows' ends), in time order. */
  handles: HandleSample[];
  /** After churn stopped and the rooms settled, with the endpoints the people in the rooms need. */
  settled: { reading: ServerReading; expectedEndpoints: number } | undefined;
  /** After everyone left and the recording stopped. */
  end: ServerReading | undefined;
}

/** Theil–Sen slope (per second) of y over t; NaN with fewer than two points. */
export function robustSlope(points: ReadonlyArray<{ t: number; y: number }>): number {
  const pts = points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.y));
  const slopes: number[] = [];
  for (let i = 0; i < pts.length; i++) {
    for (let j = i + 1; j < pts.length; j++) {
      const dt = pts[j]!.t - pts[i]!.t;
      if (dt > 0) slopes.push((pts[j]!.y - pts[i]!.y) / dt);
    }
  }
  if (slopes.length === 0) return Number.NaN;
  slopes.sort((a, b) => a - b);
  const mid = slopes.length / 2;
  return slopes.length % 2 ? slopes[Math.floor(mid)]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
}

/** The second half of the samples under load (by time), and its length in seconds. */
export function secondHalf<S extends { t: number }>(load: readonly S[]): { samples: S[]; seconds: number } {
  if (load.length === 0) return { samples: [], seconds: 0 };
  const mid = (load[0]!.t + load[load.length - 1]!.t) / 2;
  const samples = load.filter((s) => s.t >= mid);
  return { samples, seconds: samples.length > 1 ? samples[samples.length - 1]!.t - samples[0]!.t : 0 };
}

/** Growth of one figure over the second half: robust slope × its length. */
export function drift<S extends { t: number }>(load: readonly S[], figure: (r: S) => number): { growth: number; perHour: number; median: number } {
  const { samples, seconds } = secondHalf(load);
  const slope = robustSlope(samples.map((s) => ({ t: s.t, y: figure(s) })));
  const values = samples.map(figure).filter(Number.isFinite).sort((a, b) => a - b);
  return { growth: slope * seconds, perHour: slope * 3600, median: values.length ? values[Math.floor(values.length / 2)]! : Number.NaN };
}

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

export function checkLeaks(input: LeakInput, th: LeakThresholds = DEFAULT_THRESHOLDS): Check[] {
  const checks: Check[] = [];
  const { start, settled, end } = input;
  if (settled) {
    const { reading, expectedEndpoints } = settled;
    checks.push({ name: 'settled: WebRTC endpoints ≤ expected', ok: reading.endpoints <= expectedEndpoints, detail: `${f(reading.endpoints, 0)} alive, ${expectedEndpoints} expected for the people in the rooms` });
  } else {
    checks.push({ name: 'settled: WebRTC endpoints ≤ expected', ok: false, detail: 'the run did not reach the settled phase' });
  }
  if (end) {
    checks.push({ name: 'end: no WebRTC endpoint left', ok: end.endpoints === 0, detail: `${f(end.endpoints, 0)} alive` });
    checks.push({ name: 'end: no media pipeline left', ok: end.pipelines === 0, detail: `${f(end.pipelines, 0)} open` });
    checks.push({ name: 'end: child processes ≤ start', ok: end.children <= start.children, detail: `${end.children} at the end${end.childNames.length ? ` (${end.childNames.join(', ')})` : ''}, ${start.children} at the start` });
    checks.push({ name: 'end: UDP ports ≤ start', ok: end.udpPorts <= start.udpPorts, detail: `${end.udpPorts} at the end, ${start.udpPorts} at the start` });
    checks.push({ name: `end: file descriptors ≤ start + ${th.fdSlack}`, ok: end.fds <= start.fds + th.fdSlack, detail: `${end.fds} at the end, ${start.fds} at the start` });
  } else {
    checks.push({ name: 'end: back to the idle start', ok: false, detail: 'the run did not reach its end phase' });
  }
  const { samples } = secondHalf(input.handles);
  if (samples.length < 3) {
    checks.push({ name: 'drift over the second half', ok: false, detail: `only ${samples.length} samples in the second half: run longer or sample more often` });
    return checks;
  }
  const rss = drift(input.handles, (r) => r.rssMb);
  const rssLimit = Math.max(th.rssMb, th.rssFraction * rss.median);
  checks.push({ name: 'drift: RSS', ok: rss.growth <= rssLimit, detail: `${f(rss.growth)} MiB over the second half (${f(rss.perHour)} MiB/h), limit ${f(rssLimit)} MiB` });
  const heap = drift(input.handles, (r) => r.heapMb);
  const heapLimit = Math.max(th.heapMb, th.heapFraction * heap.median);
  checks.push({ name: 'drift: heap', ok: Number.isFinite(heap.growth) && heap.growth <= heapLimit, detail: `${f(heap.growth)} MiB over the second half (${f(heap.perHour)} MiB/h), limit ${f(heapLimit)} MiB` });
  for (const [name, figure, limit, note] of [
    ['file descriptors', (r: HandleSample) => r.fds, th.fdDrift, ''],
    ['UDP ports', (r: HandleSample) => r.serverUdpPorts, th.portDrift, " of the server's own"],
    ['child processes', (r: HandleSample) => r.children, th.childDrift, ''],
  ] as const) {
    const d = drift(input.handles, figure);
    const ports = name === 'UDP ports' ? `; with its children's, ${f(Math.min(...samples.map((h) => h.udpPorts)), 0)} to ${f(Math.max(...samples.map((h) => h.udpPorts)), 0)}` : '';
    checks.push({ name: `drift: ${name}`, ok: Number.isFinite(d.growth) && d.growth <= limit, detail: `${f(d.growth)}${note} over the second half (${f(d.perHour)}/h, ${samples.length} samples${ports}), limit ${limit}` });
  }
  return checks;
}
