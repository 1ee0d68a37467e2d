/** The Markdown report of a bench run. */
import type { Aggregate, BenchResult } from './bench.js';
import { LIMITS } from './bench.js';
import { median, type Spread } from './stats.js';

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

const pct = (n: number, digits = 2) => (Number.isFinite(n) ? `${(n * 100).toFixed(digits)} %` : '—');

/** "median (min–max)" when there is more than one run. */
function withSpread(s: Spread, digits = 1): string {
  if (!Number.isFinite(s.median)) return '—';
  return s.n > 1 ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : fmt(s.median, digits);
}

/** The better-tuned Janus at a load (quiet, or with `busy` hog processes): the lower median µs per forwarded packet. */
export function bestJanus(aggregates: Aggregate[], rooms: number, busy = 0): Aggregate | undefined {
  return aggregates
    .filter((a) => a.rooms === rooms && a.busy === busy && a.target.startsWith('janus') && Number.isFinite(a.usPerPacket.median))
    .sort((a, b) => a.usPerPacket.median - b.usPerPacket.median)[0];
}

export interface Ratio {
  target: string;
  rooms: number;
  busy: number;
  vsJanus: number;
  janusTarget: string | undefined;
  vsFloor: number;
}

/** Roundtable (each variant) over the better Janus and over the floor, in median µs per forwarded packet, per load. */
export function ratios(result: BenchResult): Ratio[] {
  const out: Ratio[] = [];
  for (const { rooms, busy } of loadsOf(result)) {
    const janus = bestJanus(result.aggregates, rooms, busy);
    const floor = result.aggregates.find((a) => a.rooms === rooms && a.busy === busy && a.target === 'floor');
    for (const rt of result.aggregates.filter((a) => a.rooms === rooms && a.busy === busy && a.target.startsWith('roundtable'))) {
      out.push({
        target: rt.target,
        rooms,
        busy,
        vsJanus: janus ? rt.usPerPacket.median / janus.usPerPacket.median : Number.NaN,
        janusTarget: janus?.target,
        vsFloor: floor ? rt.usPerPacket.median / floor.usPerPacket.median : Number.NaN,
      });
    }
  }
  return out;
}

/** Every load measured, quiet first then busy, by rooms. */
export function loadsOf(result: BenchResult): Array<{ rooms: number; busy: number }> {
  const seen = new Map<string, { rooms: number; busy: number }>();
  for (const a of result.aggregates) seen.set(`${a.rooms}/${a.busy}`, { rooms: a.rooms, busy: a.busy });
  return [...seen.values()].sort((a, b) => a.rooms - b.rooms || a.busy - b.busy);
}

/** Issue 18's goal on tail latency: p99 one-way delay at most the better Janus's + 10 ms. */
export const P99_MARGIN_MS = 10;

export function markdownReport(result: BenchResult): string {
  const { machine, options } = result;
  const size = options.roomSize;
  const targets = result.targets.map((t) => t.name);
  const loads = loadsOf(result);
  const get = (target: string, rooms: number, busy: number) => result.aggregates.find((a) => a.target === target && a.rooms === rooms && a.busy === busy);
  const loadName = (rooms: number, busy: number) => `${rooms}×${size}${busy ? ` busy ${busy}` : ''}`;
  const lines: string[] = [];
  lines.push(`# Roundtable benchmark, ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC`);
  lines.push('');
  lines.push(`Machine: ${machine.cores} cores, ${machine.cpuModel}, Linux ${machine.kernel}, Node ${machine.node}.`);
  const others = median(result.samples.filter((s) => !s.error).map((s) => s.otherCpuPct));
  lines.push(`Other processes used a median ${fmt(others, 0)} % of one core during the measurement windows${others > 20 ? ' (**the machine was not quiet: treat these figures as noisy**)' : ''}.`);
  lines.push('');
  lines.push(
    `Load: rooms of ${size}; each participant publishes Opus-sized audio (${options.traffic.audioPps} packets/s of ${options.traffic.audioBytes} B) and VP8-like video at ${options.traffic.videoKbps} kb/s (${options.traffic.fps} frames/s, packets ≤ ${options.traffic.maxVideoPayload} B, a keyframe ${options.traffic.keyframeFactor}× a frame every ${options.traffic.keyframeIntervalS} s), and receives the ${size - 1} others. ` +
      `${options.durationS} s windows after ${options.warmupS} s of warm-up, ${options.runs} alternating run(s) per load and target (medians; min–max in brackets), ${options.workers} load-generator processes. ` +
      `Capacity limits: loss > ${LIMITS.loss * 100} %, p99 delay > ${LIMITS.p99Ms} ms, or the server at a full core. ` +
      `Roundtable participants speak the ${options.roundtableWords === 'bundled' ? 'bundled words (one sending and one receiving connection each, when the server announces them)' : "seed's words (receiveVideoFrom per sender)"}.` +
      `${options.busy > 0 ? ` "busy ${options.busy}": the same load with ${options.busy} processes spinning on the CPU beside the bench (from the first join to the last leave), alternating with the quiet runs.` : ''}${options.quick ? ' **Quick smoke run: figures are indicative only.**' : ''}`,
  );
  if (options.simulcast) {
    const layers = options.traffic.simulcast ?? [];
    lines.push('');
    lines.push(
      `**Simulcast load:** Roundtable's and Janus's participants publish their video as ${layers.length} layers (${layers.map((l) => `${l.rid} ${l.kbps} kb/s at ${l.width}x${l.height}`).join(', ')}; ${options.traffic.fps} frames/s each, an SSRC each, the MID and RID header extensions), ` +
        `receivers ask ${requestText(options.simulcastRequest)} (Roundtable: subscribeQuality; Janus: the subscriber's substream). ` +
        `Roundtable's publishers stop sending the layers nobody takes (publishLayers); Janus asks no such thing, so its publishers send all three whatever is taken. ` +
        `The floor is **not simulcast**: its participants publish one stream at ${options.traffic.videoKbps} kb/s, so its figures and the ratios to it compare a different load.`,
    );
  }
  lines.push('');
  lines.push('Targets:');
  for (const t of result.targets) lines.push(`- \`${t.name}\`: ${t.description}`);
  for (const s of result.skipped) lines.push(`- \`${s.name}\`: **not measured**: ${s.reason}`);
  lines.push('');

  lines.push('## Server CPU per forwarded packet (µs)');
  lines.push('');
  const marked = targets.map((t) => (options.simulcast ? `${t} (${result.aggregates.some((a) => a.target === t && a.simulcast) ? 'simulcast' : 'one stream, not simulcast'})` : t));
  lines.push(`| load | ${marked.join(' | ')} |`);
  lines.push(`|---|${targets.map(() => '---:').join('|')}|`);
  for (const { rooms, busy } of loads) lines.push(`| ${loadName(rooms, busy)} | ${targets.map((t) => withSpread(get(t, rooms, busy)?.usPerPacket ?? emptySpread())).join(' | ')} |`);
  lines.push('');
  const simulcast = result.aggregates.filter((a) => a.simulcast);
  if (simulcast.length > 0) {
    lines.push('## Simulcast load (issue 20)');
    lines.push('');
    lines.push('The server receives every layer some receiver takes and forwards one layer per receiver: "per forwarded packet" divides its CPU by the packets the receivers got, "per received packet" by the packets the publishers sent (every layer, and audio). "Layers" gives each layer\'s packets/s into the server and out to the receivers, and how many video downlinks (receiver, publisher) got most of their packets on it in the window.');
    lines.push('');
    lines.push('| load | target | server CPU % of a core | µs / forwarded packet | µs / received packet | packets in/s | packets out/s | loss (all / worst downlink) | delay p50 / p99 ms | layers: in / out pkt/s (downlinks) |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---|---|---|');
    for (const a of simulcast) {
      const layerText = a.layers.map((l) => `${l.rid} ${fmt(l.packetsInPerS, 0)} / ${fmt(l.packetsOutPerS, 0)} (${fmt(l.downlinks, 0)})`).join('; ');
      lines.push(
        `| ${loadName(a.rooms, a.busy)} | ${a.target} | ${withSpread(a.serverCpuPct)} | ${withSpread(a.usPerPacket)} | ${withSpread(a.usPerPacketIn)} | ${fmt(a.packetsInPerS.median, 0)} | ${fmt(a.packetsOutPerS.median, 0)} | ${pct(a.loss.median)} / ${pct(a.worstDownlinkLoss.median)} | ${fmt(a.delayP50Ms.median)} / ${fmt(a.delayP99Ms.median)} | ${layerText} |`,
      );
    }
    lines.push('');
  }
  const rs = ratios(result);
  if (rs.length > 0) {
    lines.push('Ratios of medians (µs per forwarded packet; below 1 means Roundtable costs less):');
    lines.push('');
    lines.push('| load | target | Roundtable / better Janus | Roundtable / floor |');
    lines.push('|---|---|---:|---:|');
    for (const r of rs) lines.push(`| ${loadName(r.rooms, r.busy)} | ${r.target} | ${fmt(r.vsJanus, 2)}${r.janusTarget ? ` (vs ${r.janusTarget})` : ''} | ${fmt(r.vsFloor, 2)} |`);
    lines.push('');
  }

  const roundtables = targets.filter((t) => t.startsWith('roundtable'));
  if (roundtables.length > 0) {
    lines.push('## Tail latency and connections (issue 18)');
    lines.push('');
    lines.push(`Goal: p99 one-way delay ≤ the better Janus's p99 + ${P99_MARGIN_MS} ms, quiet and busy; at most ${2 * size} server connections per room of ${size} (bundled words: one sending and one receiving per participant); join → first packet of every remote stream p50 < 1 s; server RSS ≤ 1 MB per participant.`);
    lines.push('');
    lines.push('| load | target | p99 ms | better Janus p99 ms | p99 goal | server main-thread loop p99 ms | server connections / room | connections / participant | join p50 ms | RSS MB / participant |');
    lines.push('|---|---|---:|---:|---|---:|---:|---:|---:|---:|');
    for (const { rooms, busy } of loads) {
      const janus = bestJanus(result.aggregates, rooms, busy);
      for (const t of roundtables) {
        const a = get(t, rooms, busy);
        if (!a) continue;
        const goal = janus && Number.isFinite(a.delayP99Ms.median) ? (a.delayP99Ms.median <= janus.delayP99Ms.median + P99_MARGIN_MS ? 'met' : '**not met**') : '—';
        lines.push(
          `| ${loadName(rooms, busy)} | ${t}${a.bundled ? ' (bundled)' : ''} | ${withSpread(a.delayP99Ms)} | ${janus ? `${fmt(janus.delayP99Ms.median)} (${janus.target})` : '—'} | ${goal} | ${fmt(a.serverLoopDelayP99Ms.median, 1)} | ${fmt(a.serverConnectionsPerRoom.median, 0)} | ${fmt(a.connectionsPerParticipant.median, 1)} | ${fmt(a.joinP50Ms.median, 0)} | ${fmt(a.rssPerParticipantMb.median, 2)} |`,
        );
      }
    }
    lines.push('');
  }

  lines.push(`## Capacity: ${size}-person rooms per core`);
  lines.push('');
  lines.push('| target | rooms carried within the limits | what stopped the search | server\'s own limit? | rooms per core, extrapolated from CPU |');
  lines.push('|---|---:|---|---|---:|');
  for (const c of result.capacity) lines.push(`| ${c.target} | ${c.rooms} | ${c.stoppedBy} | ${c.serverLimited ? 'yes' : 'no (lower bound)'} | ${fmt(c.roomsPerCoreByCpu, 1)} |`);
  lines.push('');
  lines.push('"Rooms per core, extrapolated" is rooms ÷ (server CPU % ÷ 100) at the largest load that stayed within the limits: what one core would carry if cost stayed linear. When the search was stopped by the load generator, the measured count is only a lower bound.');
  lines.push('');

  lines.push('## Every figure (medians over runs)');
  lines.push('');
  lines.push('| load | target | server CPU % of a core | µs / packet | µs / Mbit | packets in/s | packets out/s | Mb/s out | loss (all / worst downlink) | delay p50 / p99 ms | join p50 / max ms | server RSS MB / participant | server connections / room | generator CPU % (loop p99 ms) | others % | hog % | limit |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---|---:|---:|---|');
  for (const { rooms, busy } of loads) {
    for (const t of targets) {
      const a = get(t, rooms, busy);
      if (!a) continue;
      const flags = [a.limit ?? 'within limits', a.generatorBound ? 'GENERATOR-BOUND' : ''].filter(Boolean).join('; ');
      lines.push(
        `| ${loadName(rooms, busy)} | ${t} | ${withSpread(a.serverCpuPct)} | ${withSpread(a.usPerPacket)} | ${fmt(a.usPerMbit.median, 0)} | ${fmt(a.packetsInPerS.median, 0)} | ${fmt(a.packetsOutPerS.median, 0)}${a.duplicatesPerS.median > 0 ? ` (+${fmt(a.duplicatesPerS.median, 0)} dup.)` : ''} | ${fmt(a.forwardedMbps.median, 1)} | ${pct(a.loss.median)} / ${pct(a.worstDownlinkLoss.median)} | ${fmt(a.delayP50Ms.median)} / ${fmt(a.delayP99Ms.median)} | ${fmt(a.joinP50Ms.median, 0)} / ${fmt(a.joinMaxMs.median, 0)} | ${fmt(a.rssPerParticipantMb.median, 2)} | ${fmt(a.serverConnectionsPerRoom.median, 0)} | ${fmt(a.generatorCpuPct.median, 0)} (${fmt(a.generatorLoopDelayP99Ms.median, 0)}) | ${fmt(a.otherCpuPct.median, 0)} | ${busy ? fmt(a.hogCpuPct.median, 0) : '—'} | ${flags} |`,
      );
    }
  }
  lines.push('');
  const problems = result.samples.filter((s) => s.error || s.notes.length > 0);
  if (problems.length > 0) {
    lines.push('## Problems during the run');
    lines.push('');
    for (const s of problems) lines.push(`- ${loadName(s.rooms, s.busy)} ${s.target} (run ${s.run}): ${s.error ?? s.notes.join('; ')}`);
    lines.push('');
  }
  const bound = result.aggregates.filter((a) => a.generatorBound);
  if (bound.length > 0) {
    lines.push(`**The load generator was the bottleneck** (a worker above 90 % of a core, its event loop more than 50 ms late at p99, or the whole machine above 90 % busy) at: ${bound.map((a) => `${a.target} ${loadName(a.rooms, a.busy)}`).join(', ')}. Loss and delay there say more about the generator than about the server.`);
    lines.push('');
  }
  lines.push('How the figures are measured: docs/benchmark.md. Chart: cpu-vs-rooms.svg. Raw samples: results.json.');
  lines.push('');
  return lines.join('\n');
}

function requestText(request: BenchResult['options']['simulcastRequest']): string {
  switch (request) {
    case 'mixed':
      return 'low, medium and high by their place in the room (index mod 3: every layer of each publisher is taken)';
    case 'none':
      return "nothing (the server's default: Roundtable forwards the highest layer the downlink carries)";
    default:
      return `${request} of every publisher`;
  }
}

function emptySpread(): Spread {
  return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
}
