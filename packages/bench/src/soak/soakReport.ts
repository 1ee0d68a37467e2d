/** The soak's report: Markdown (report.md) and the chart over time (soak.svg). */
import { stackedLineChart } from '../chart.js';
import { fmt } from '../report.js';
import type { SoakResult } from './Soak.js';

const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(2)} %` : '—');

export function soakMarkdown(r: SoakResult): string {
  const o = r.options;
  const last = r.points.at(-1);
  const first = r.points[0];
  const lines: string[] = [];
  lines.push(`# Roundtable soak, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC: ${r.ok ? 'no leak found' : '**FAILED**'}`);
  lines.push('');
  lines.push(`Machine: ${r.machine.cores} cores, ${r.machine.cpuModel}, Linux ${r.machine.kernel}, Node ${r.machine.node}. Median machine CPU during the load: ${fmt(median(r.points.map((p) => p.machineCpuPct)), 0)} % of one core (the server's: ${fmt(median(r.points.map((p) => p.serverCpuPct)), 0)} %); the busiest load-generator worker's event loop ran a median ${fmt(median(r.points.map((p) => p.generatorLoopP99Ms)), 0)} ms late at p99 (above 50 ms it is starved of CPU, and loss and delay are more its own than the server's).`);
  lines.push('');
  lines.push(
    `Load: ${o.minutes} min of ${o.rooms} rooms of up to ${o.roomSize} simulated participants (real WebRTC; audio ${o.traffic.audioPps} packets/s, video ${o.traffic.videoKbps} kb/s each), someone joining or leaving every ${o.churnS} s (${r.churn.joins} joins, ${r.churn.leaves} leaves), ${o.imUsers} IM users sending a message every ${o.imEveryMs} ms in turn, room 0 recorded (${r.recordings.started} recording(s)${o.recordRotateMin > 0 ? `, a new one every ${o.recordRotateMin} min` : ''}), a loopback test every ${o.loopbackEveryS} s; a window of ${o.windowS} s and a sample after each.`,
  );
  lines.push('');
  lines.push('## The server, start to end');
  lines.push('');
  lines.push('| figure | idle start | first sample under load | last sample under load | settled (churn stopped) | end (everyone gone) |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  const row = (name: string, get: (x: NonNullable<SoakResult['start']>) => number, digits = 0) =>
    lines.push(`| ${name} | ${r.start ? fmt(get(r.start), digits) : '—'} | ${first ? fmt(get(first), digits) : '—'} | ${last ? fmt(get(last), digits) : '—'} | ${r.settled ? fmt(get(r.settled.reading), digits) : '—'} | ${r.end ? fmt(get(r.end), digits) : '—'} |`);
  row('RSS, MiB', (x) => x.rssMb);
  row('heap used (main thread), MiB', (x) => x.heapMb);
  row('file descriptors', (x) => x.fds);
  row('UDP ports (server and children)', (x) => x.udpPorts);
  row('child processes', (x) => x.children);
  row('WebRTC endpoints alive', (x) => x.endpoints);
  row('media pipelines', (x) => x.pipelines);
  lines.push(`| WebRTC endpoints expected | 0 | ${first ? first.expectedEndpoints : '—'} | ${last ? last.expectedEndpoints : '—'} | ${r.settled ? r.settled.expectedEndpoints : '—'} | 0 |`);
  lines.push('');
  lines.push(`Media over the whole load: loss ${pct(r.overall.loss)} (streams whose both ends stayed a whole window), one-way delay p50 ${fmt(r.overall.p50Ms)} ms, p99 ${fmt(r.overall.p99Ms)} ms; per window: p99 median ${fmt(median(r.points.map((p) => p.p99Ms)))} ms, worst ${fmt(Math.max(...r.points.map((p) => p.p99Ms).filter(Number.isFinite)))} ms; loss worst window ${pct(Math.max(...r.points.map((p) => p.loss).filter(Number.isFinite)))}.`);
  if (r.settled) lines.push(`Settled: ${r.settled.streamsFlowing} of ${r.settled.streamsExpected} remote streams flowing to the participants.`);
  const okLoops = r.loopbacks.filter((l) => l.ok);
  lines.push(`Loopback tests: ${okLoops.length} of ${r.loopbacks.length} passed (connected in a median ${fmt(median(okLoops.map((l) => l.connectMs)), 0)} ms; p99 delay median ${fmt(median(okLoops.map((l) => l.p99Ms)))} ms).`);
  if (r.im) lines.push(`IM: ${r.im.sent} messages sent, ${r.im.failed} refused, ${r.im.delivered} of ${r.im.expectedDeliveries} deliveries to the other members, ${r.im.historyReads} history reads.`);
  lines.push('');
  lines.push('## Leak criteria');
  lines.push('');
  lines.push('| criterion | result | measured |');
  lines.push('|---|---|---|');
  for (const c of r.checks) lines.push(`| ${c.name} | ${c.ok ? 'ok' : '**LEAK**'} | ${c.detail} |`);
  lines.push('');
  if (r.problems.length > 0 || r.churn.joinErrors.length > 0) {
    lines.push('## Problems during the run');
    lines.push('');
    for (const p of r.problems) lines.push(`- ${p}`);
    for (const e of r.churn.joinErrors.slice(0, 10)) lines.push(`- participant: ${e}`);
    lines.push('');
  }
  lines.push(`How it is measured and the criteria: docs/soak.md. Chart: soak.svg. Every sample: soak.json. The server's log: ${r.serverLog}.`);
  lines.push('');
  return lines.join('\n');
}

export function soakChart(r: SoakResult): string {
  const min = (t: number) => t / 60;
  const line = (name: string, get: (p: SoakResult['points'][number]) => number, dashed = false) => ({ name, dashed, points: r.points.map((p) => ({ x: min(p.t), y: get(p) })) });
  return stackedLineChart(`Roundtable soak, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC`, 'minutes since the start', [
    { title: 'Memory', yLabel: 'MiB', series: [line('RSS', (p) => p.rssMb), line('heap (main)', (p) => p.heapMb)] },
    { title: 'Handles', yLabel: 'count', series: [line('file descriptors', (p) => p.fds), line('UDP ports', (p) => p.udpPorts), line('child processes', (p) => p.children)] },
    { title: 'WebRTC endpoints', yLabel: 'count', series: [line('alive', (p) => p.endpoints), line('expected', (p) => p.expectedEndpoints, true)] },
    { title: 'One-way delay', yLabel: 'ms', series: [line('p99', (p) => p.p99Ms), line('p50', (p) => p.p50Ms)] },
    { title: 'Loss', yLabel: '%', series: [line('loss', (p) => p.loss * 100)] },
  ]);
}

function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)]! : Number.NaN;
}
