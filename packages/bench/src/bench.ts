/**
 * The bench itself: starts every target and the load-generator workers, then for each
 * load (rooms of `roomSize`) runs every target in turn, rotating the order each run so
 * that machine drift hits all of them alike; then the capacity search adds rooms until
 * a target breaks a limit. Returns every sample and the medians.
 */
import { mkdirSync } from 'node:fs';
import { CpuHog } from './CpuHog.js';
import { join } from 'node:path';
import type { TargetEndpoint } from './ipc.js';
import { measure, type LayerFigures, type Sample } from './measure.js';
import type { BenchOptions } from './options.js';
import { machineInfo, type MachineInfo } from './proc.js';
import { median, spread, type Spread } from './stats.js';
import { FloorTarget, JanusTarget, RoundtableTarget, extractRevision, janusInstalled, type Target } from './targets.js';
import { WorkerPool } from './WorkerPool.js';

/** Limits of the capacity search (issue 7). */
export const LIMITS = { loss: 0.01, p99Ms: 100, cpuPct: 100 };

export interface Aggregate {
  target: string;
  rooms: number;
  /** CPU hog processes during these runs (0: quiet). */
  busy: number;
  runs: number;
  errors: string[];
  serverCpuPct: Spread;
  usPerPacket: Spread;
  usPerPacketIn: Spread;
  usPerMbit: Spread;
  packetsInPerS: Spread;
  packetsOutPerS: Spread;
  duplicatesPerS: Spread;
  forwardedMbps: Spread;
  loss: Spread;
  worstDownlinkLoss: Spread;
  delayP50Ms: Spread;
  delayP99Ms: Spread;
  joinP50Ms: Spread;
  joinMaxMs: Spread;
  joinFailures: Spread;
  rssPerParticipantMb: Spread;
  rssLoadMb: Spread;
  generatorCpuPct: Spread;
  generatorMaxWorkerPct: Spread;
  generatorLoopDelayP99Ms: Spread;
  otherCpuPct: Spread;
  hogCpuPct: Spread;
  serverConnectionsPerRoom: Spread;
  connectionsPerParticipant: Spread;
  serverLoopDelayP99Ms: Spread;
  /** Roundtable: the participants spoke the bundled words (in most runs). */
  bundled: boolean;
  /** The publishers sent simulcast (a --simulcast run, Roundtable and Janus targets). */
  simulcast: boolean;
  /** Simulcast: each layer's figures, medians over the runs (empty otherwise). */
  layers: LayerFigures[];
  generatorBound: boolean;
  /** Why this load breaks a limit, or undefined when it passes. */
  limit: string | undefined;
}

export interface Capacity {
  target: string;
  /** Most rooms carried within the limits. */
  rooms: number;
  /** What stopped the search: a limit the server broke, the generator, or the end of the search. */
  stoppedBy: string;
  /** Whether `rooms` is the server's own limit (a limit was broken with the generator not saturated). */
  serverLimited: boolean;
  /** Rooms per core extrapolated from CPU % at the largest passing load: rooms / (cpu% / 100). */
  roomsPerCoreByCpu: number;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: BenchOptions;
  targets: Array<{ name: string; description: string }>;
  /** Targets that were asked for but could not run, and why. */
  skipped: Array<{ name: string; reason: string }>;
  samples: Sample[];
  aggregates: Aggregate[];
  capacity: Capacity[];
  netns: boolean;
}

export type Progress = (line: string, transient?: boolean) => void;

const FIGURES = [
  'serverCpuPct', 'usPerPacket', 'usPerPacketIn', 'usPerMbit', 'packetsInPerS', 'packetsOutPerS', 'duplicatesPerS', 'forwardedMbps', 'loss', 'worstDownlinkLoss',
  'delayP50Ms', 'delayP99Ms', 'joinP50Ms', 'joinMaxMs', 'joinFailures', 'rssPerParticipantMb', 'rssLoadMb', 'generatorCpuPct', 'generatorMaxWorkerPct', 'generatorLoopDelayP99Ms', 'otherCpuPct',
  'hogCpuPct', 'serverConnectionsPerRoom', 'connectionsPerParticipant', 'serverLoopDelayP99Ms',
] as const;

/**
 * Server connections a room of `roomSize` may take on the bundled words: one sending and
 * one receiving transport per participant (issue 18: ≤ 18 for 9).
 */
export function maxBundledConnections(roomSize: number): number {
  return 2 * roomSize;
}

export function aggregate(target: string, rooms: number, samples: Sample[], busy = 0): Aggregate {
  const ok = samples.filter((s) => !s.error);
  const agg = Object.fromEntries(FIGURES.map((f) => [f, spread(ok.map((s) => s[f]))])) as Record<(typeof FIGURES)[number], Spread>;
  const generatorBound = ok.filter((s) => s.generatorBound).length * 2 > ok.length;
  const bundled = ok.filter((s) => s.bundled).length * 2 > ok.length;
  const roomSize = samples[0]?.roomSize ?? 0;
  let limit: string | undefined;
  if (ok.length === 0) limit = `failed: ${samples[0]?.error ?? 'no sample'}`;
  // The bundled words' promise, checked on every run: at most two server connections per participant.
  else if (bundled && agg.serverConnectionsPerRoom.max > maxBundledConnections(roomSize)) limit = `${fmtCount(agg.serverConnectionsPerRoom.max)} server connections per room > ${maxBundledConnections(roomSize)} (bundled words)`;
  else if (agg.loss.median > LIMITS.loss) limit = `loss ${(agg.loss.median * 100).toFixed(1)} % > 1 %`;
  else if (agg.delayP99Ms.median > LIMITS.p99Ms) limit = `p99 ${agg.delayP99Ms.median.toFixed(0)} ms > 100 ms`;
  else if (agg.serverCpuPct.median >= LIMITS.cpuPct * 0.95) limit = `server CPU ${agg.serverCpuPct.median.toFixed(0)} % of a core`;
  else if (agg.joinFailures.median > 0) limit = `${agg.joinFailures.median} participants never received every stream`;
  const simulcast = ok.some((s) => s.simulcast);
  const layers = (ok[0]?.layers ?? []).map((l, i) => ({
    rid: l.rid,
    packetsInPerS: median(ok.map((s) => s.layers[i]?.packetsInPerS ?? Number.NaN)),
    packetsOutPerS: median(ok.map((s) => s.layers[i]?.packetsOutPerS ?? Number.NaN)),
    downlinks: median(ok.map((s) => s.layers[i]?.downlinks ?? Number.NaN)),
  }));
  return { target, rooms, busy, runs: samples.length, errors: samples.filter((s) => s.error).map((s) => s.error!), ...agg, bundled, simulcast, layers, generatorBound, limit };
}

function fmtCount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** `workDir` receives the targets' configs, databases and logs (kept for a look after the run). */
export async function runBench(options: BenchOptions, host: string, netns: boolean, workDir: string, progress: Progress): Promise<BenchResult> {
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  mkdirSync(workDir, { recursive: true });
  const dir = workDir;
  const capacityRooms = Math.max(options.maxRooms, ...options.rooms);
  const context = { dir, host, netns };
  const skipped: BenchResult['skipped'] = [];
  const wanted: Target[] = [];
  let slot = 0;
  for (const name of options.targets) {
    if (name === 'roundtable') wanted.push(new RoundtableTarget(context, 'roundtable', slot++));
    else if (name === 'floor') wanted.push(new FloorTarget(context));
    else if (!netns) skipped.push({ name, reason: 'Janus needs the network namespace (root and `ip netns`): libnice gathers no candidate on lo' });
    else if (!janusInstalled()) skipped.push({ name, reason: 'Janus is not installed (apt-get install janus)' });
    else wanted.push(new JanusTarget(context, name, name === 'janus' ? 0 : 1, name === 'janus' ? undefined : 2, capacityRooms, options.roomSize));
  }
  for (const ref of options.roundtableRefs) {
    progress(`extracting roundtable@${ref}`);
    const { root, packetCore } = extractRevision(ref, join(dir, `rev-${ref.replace(/[^A-Za-z0-9_.-]/g, '_')}`));
    progress(`roundtable@${ref}: ${packetCore}`);
    wanted.push(new RoundtableTarget(context, `roundtable@${ref}`, slot++, root, {}, {}, packetCore));
  }
  for (const { label, env } of options.roundtableEnvs) wanted.push(new RoundtableTarget(context, `roundtable:${label}`, slot++, undefined, env));

  const running: Array<{ target: Target; endpoint: TargetEndpoint }> = [];
  let pool: WorkerPool | undefined;
  let hog: CpuHog | undefined;
  const samples: Sample[] = [];
  const aggregates: Aggregate[] = [];
  const capacity: Capacity[] = [];
  try {
    for (const target of wanted) {
      progress(`starting ${target.name}`);
      try {
        running.push({ target, endpoint: await target.start() });
      } catch (error) {
        skipped.push({ name: target.name, reason: `did not start: ${error instanceof Error ? error.message : String(error)}` });
        await target.stop();
      }
    }
    progress(`starting ${options.workers} load-generator workers`);
    pool = await WorkerPool.start(options.workers);
    if (options.busy > 0) {
      progress(`starting ${options.busy} CPU hog processes (they spin during the busy runs only)`);
      hog = CpuHog.start(options.busy);
    }
    let active = [...running];
    const loads = [...new Set([...options.rooms, ...range(Math.max(...options.rooms) + 1, options.maxRooms)])].sort((a, b) => a - b);
    let run = 1;
    for (const rooms of loads) {
      const inSearch = !options.rooms.includes(rooms);
      if (active.length === 0) break;
      // The fixed loads are measured quiet and, with --busy, busy too; the capacity search quiet only.
      const conditions = hog && !inSearch ? [undefined, hog] : [undefined];
      const byTarget = new Map<string, Sample[]>(active.flatMap((t) => conditions.map((c) => [key(t.target.name, c?.count ?? 0), []] as [string, Sample[]])));
      for (let rep = 0; rep < options.runs; rep++) {
        // Rotate the order each repetition: no target always goes first (or last).
        const order = active.map((_, i) => active[(i + rep + rooms) % active.length]!);
        // Quiet and busy alternate too, starting with the other one each repetition.
        const conditionOrder = rep % 2 === 0 ? conditions : [...conditions].reverse();
        for (const condition of conditionOrder) {
          for (const { target, endpoint } of order) {
            const label = `${rooms}x${options.roomSize}${condition ? ` busy ${condition.count}` : ''} ${target.name} run ${rep + 1}/${options.runs}`;
            const sample = await measure(
              target,
              endpoint,
              pool,
              {
                rooms,
                roomSize: options.roomSize,
                durationS: options.durationS,
                warmupS: options.warmupS,
                traffic: options.traffic,
                host,
                joinTimeoutS: options.joinTimeoutS,
                joinStaggerMs: options.joinStaggerMs,
                fastReceive: !options.weriftReceive,
                roundtableWords: options.roundtableWords,
                hog: condition,
                simulcastRequest: options.simulcastRequest,
              },
              run++,
              machine.cores,
              (phase) => progress(`${label}: ${phase}`, true),
            );
            samples.push(sample);
            byTarget.get(key(target.name, condition?.count ?? 0))!.push(sample);
            progress(`${label}: ${summary(sample)}`);
          }
        }
      }
      for (const entry of active) {
        for (const condition of conditions.slice(1)) aggregates.push(aggregate(entry.target.name, rooms, byTarget.get(key(entry.target.name, condition!.count))!, condition!.count));
      }
      const stillActive: typeof active = [];
      for (const entry of active) {
        const agg = aggregate(entry.target.name, rooms, byTarget.get(key(entry.target.name, 0))!);
        aggregates.push(agg);
        if (agg.limit) {
          capacity.push(capacityOf(entry.target.name, aggregates, agg.limit, !agg.generatorBound));
        } else if (agg.generatorBound && (inSearch || rooms === loads[loads.length - 1])) {
          capacity.push(capacityOf(entry.target.name, aggregates, 'the load generator saturated its cores', false));
        } else stillActive.push(entry);
      }
      // Past the fixed loads, a saturated generator ends the search for every target.
      active = stillActive;
    }
    for (const { target } of active) capacity.push(capacityOf(target.name, aggregates, `end of the search (${options.maxRooms || Math.max(...options.rooms)} rooms)`, false));
  } finally {
    hog?.stop();
    await pool?.close();
    for (const { target } of running) await target.stop();
  }
  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    options,
    targets: running.map(({ target }) => ({ name: target.name, description: target.description })),
    skipped,
    samples,
    aggregates,
    capacity,
    netns,
  };
}

function key(target: string, busy: number): string {
  return `${target}/${busy}`;
}

function capacityOf(target: string, aggregates: Aggregate[], stoppedBy: string, serverLimited: boolean): Capacity {
  const passing = aggregates.filter((a) => a.target === target && a.busy === 0 && !a.limit);
  const best = passing.sort((a, b) => b.rooms - a.rooms)[0];
  return {
    target,
    rooms: best?.rooms ?? 0,
    stoppedBy,
    serverLimited,
    roomsPerCoreByCpu: best ? best.rooms / (best.serverCpuPct.median / 100) : Number.NaN,
  };
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

function summary(s: Sample): string {
  if (s.error) return `FAILED: ${s.error}`;
  const connections = Number.isFinite(s.serverConnectionsPerRoom) ? `, ${fmtCount(s.serverConnectionsPerRoom)} server connections/room, server loop p99 ${s.serverLoopDelayP99Ms.toFixed(0)} ms` : '';
  const simulcast = s.simulcast ? ` (simulcast: ${s.usPerPacketIn.toFixed(1)} µs/pkt in; layers in/out pkt/s ${s.layers.map((l) => `${l.rid} ${l.packetsInPerS.toFixed(0)}/${l.packetsOutPerS.toFixed(0)}`).join(', ')})` : '';
  return `cpu ${s.serverCpuPct.toFixed(1)} %, ${s.usPerPacket.toFixed(1)} µs/pkt${simulcast}${connections}, out ${s.packetsOutPerS.toFixed(0)} pkt/s${s.duplicatesPerS > 0 ? ` (+${s.duplicatesPerS.toFixed(0)} duplicates/s)` : ''}, loss ${(s.loss * 100).toFixed(2)} %, p50/p99 ${s.delayP50Ms.toFixed(1)}/${s.delayP99Ms.toFixed(1)} ms, join p50 ${s.joinP50Ms.toFixed(0)} ms, generator ${s.generatorCpuPct.toFixed(0)} % (loop p99 ${s.generatorLoopDelayP99Ms.toFixed(0)} ms), others ${s.otherCpuPct.toFixed(0)} %${s.busy ? `, hog ${s.hogCpuPct.toFixed(0)} %` : ''}${s.generatorBound ? ' (GENERATOR-BOUND)' : ''}`;
}
