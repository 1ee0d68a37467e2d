/**
 * The soak itself: a real `roundtable start` (everything in one process), rooms of
 * simulated participants from the bench's load generator with churn, IM traffic, a
 * recording of room 0, and a loopback test every minute; window after window it
 * measures loss and delay and samples the server. Then churn stops (the settled
 * check), everyone leaves (the end check), and the leak criteria are applied.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AddCommand, ParticipantStatus, WorkerReport } from '../ipc.js';
import { machineInfo, readMachineCpu, readProc, type MachineInfo } from '../proc.js';
import { StunServer } from '../stun.js';
import { histogramQuantileMs, mergeHistograms } from '../stats.js';
import { REPO_ROOT, RoundtableTarget } from '../targets.js';
import { nowUs } from '../traffic.js';
import { WorkerPool } from '../WorkerPool.js';
import { ImTraffic, type ImCounts } from './ImTraffic.js';
import { checkLeaks, type Check, type HandleSample } from './leaks.js';
import { loopbackProbe, type LoopbackResult } from './LoopbackProbe.js';
import { Membership, type Member } from './Membership.js';
import type { SoakOptions } from './options.js';
import { ServerSampler, type ServerReading } from './ServerSampler.js';

/** One window of the load: the server's sample at its end, and what the participants measured in it. */
export interface SoakPoint extends ServerReading {
  /** The WebRTC endpoints the people in the rooms need at that moment (n² per room of n). */
  expectedEndpoints: number;
  participants: number;
  /** Remote streams flowing to the participants, and how many the people present should get (the clients' view). */
  streamsFlowing: number;
  streamsExpected: number;
  /** Loss over the streams whose both ends stayed the whole window and had flowed before it. */
  loss: number;
  /** One-way delay of every packet received in the window. */
  p50Ms: number;
  p99Ms: number;
  serverCpuPct: number;
  /** CPU of the whole machine, % of one core (others' work included). */
  machineCpuPct: number;
  /** The busiest load-generator worker's event-loop delay p99 in the window, ms: above 50 ms it was starved of CPU, and loss and delay are its own. */
  generatorLoopP99Ms: number;
}

export interface SoakResult {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: SoakOptions;
  /** The idle server before any load. */
  start: ServerReading | undefined;
  points: SoakPoint[];
  /** The server sampled every `sampleS` under load (the drift criteria's samples), with who was present. */
  handles: HandleSample[];
  settled: { reading: ServerReading; expectedEndpoints: number; streamsFlowing: number; streamsExpected: number } | undefined;
  end: ServerReading | undefined;
  loopbacks: LoopbackResult[];
  im: ImCounts | undefined;
  recordings: { started: number; errors: string[] };
  churn: { joins: number; leaves: number; joinErrors: string[] };
  /** Over the whole load: loss and delay of every window together. */
  overall: { loss: number; p99Ms: number; p50Ms: number };
  checks: Check[];
  /** Leak criteria all met, and the run reached its end. */
  ok: boolean;
  problems: string[];
  serverLog: string;
}

export type Progress = (line: string) => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port nobody listens on now (bound and released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function runSoak(options: SoakOptions, workDir: string, progress: Progress): Promise<SoakResult> {
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const host = '127.0.0.1';
  mkdirSync(workDir, { recursive: true });
  const [port, metricsPort] = [await freePort(), await freePort()];
  const target = new RoundtableTarget({ dir: workDir, host, netns: false }, 'roundtable', 0, REPO_ROOT, {}, { port, metricsPort, portRange: options.portRange, readyTimeoutMs: 300_000 });
  const result: SoakResult = {
    startedAt,
    finishedAt: startedAt,
    machine: machineInfo(),
    options,
    start: undefined,
    points: [],
    handles: [],
    settled: undefined,
    end: undefined,
    loopbacks: [],
    im: undefined,
    recordings: { started: 0, errors: [] },
    churn: { joins: 0, leaves: 0, joinErrors: [] },
    overall: { loss: Number.NaN, p99Ms: Number.NaN, p50Ms: Number.NaN },
    checks: [],
    ok: false,
    problems: [],
    serverLog: join(workDir, 'roundtable.log'),
  };
  let starting: Promise<WorkerPool> | undefined;
  let pool: WorkerPool | undefined;
  let im: ImTraffic | undefined;
  let churnTimer: NodeJS.Timeout | undefined;
  let handleSampling: { stop: () => Promise<void> } | undefined;
  const stun = new StunServer();
  const membership = new Membership(options.rooms, options.roomSize, options.workers, 'soak');
  const histograms: Array<Record<string, number>> = [];
  const skipped: string[] = [];
  const lossTotals = { expected: 0, received: 0 };
  try {
    progress(`starting the server (http ${port}, metrics ${metricsPort}, media ${options.portRange}) and ${options.workers} load-generator workers`);
    starting = WorkerPool.start(options.workers, 300_000);
    starting.catch(() => undefined);
    const endpoint = await target.start();
    const sampler = new ServerSampler(target.pid, target.metricsUrl, t0);
    await sleep(3000);
    result.start = await sampler.read();
    progress(`idle server: RSS ${result.start.rssMb.toFixed(0)} MiB, ${result.start.fds} fds, ${result.start.udpPorts} UDP ports, ${result.start.children} children`);
    const stunUrl = await stun.listen(host);
    pool = await starting;
    const workers = pool;
    const addCommand = (m: Member): AddCommand => ({
      type: 'add',
      run: 1,
      endpoint,
      participants: [{ id: m.id, room: m.room, index: 0, username: m.username }],
      roomSize: options.roomSize,
      idBase: 0,
      traffic: options.traffic,
      joinStaggerMs: 0,
      fastReceive: true,
      // The soak's leak criteria and figures were set on the seed's words; it stays on them
      // (the bench measures the bundled words).
      roundtableWords: 'seed',
      host,
      openMembership: true,
      roomPrefix: 'soak',
    });
    const join = (room: number) => {
      const m = membership.add(room);
      workers.send(workers.workers[m.worker]!, addCommand(m));
      result.churn.joins++;
    };
    const leave = (m: Member) => {
      membership.remove(m.id);
      workers.send(workers.workers[m.worker]!, { type: 'remove', ids: [m.id] });
      result.churn.leaves++;
    };

    // IM users sign in first: six password hashes, before the rooms' burst of them.
    im = await ImTraffic.start(endpoint.kind === 'roundtable' ? endpoint.signalingUrl : '', 'soak', options.imUsers, options.imEveryMs);
    progress(`filling ${options.rooms} rooms of ${options.roomSize}`);
    for (let i = 0; i < options.roomSize; i++) {
      for (let room = 0; room < options.rooms; room++) {
        join(room);
        await sleep(options.joinStaggerMs);
      }
    }
    const record = async (action: 'start' | 'stop'): Promise<void> => {
      for (let attempt = 0; attempt < 10; attempt++) {
        for (const w of workers.workers) {
          const answer = workers.next(w, 'roomAnswer', 20_000);
          workers.send(w, { type: 'roomRequest', room: 0, request: 'room.record', fields: { action } });
          const reply = await answer.catch((error: unknown) => ({ type: 'roomAnswer' as const, error: String(error) }));
          if (!reply.error) {
            if (action === 'start') result.recordings.started++;
            return;
          }
          if (!reply.error.includes('no participant')) {
            result.recordings.errors.push(`${action}: ${reply.error}`);
            if (reply.error.includes('INVALID_STATE')) return; // already (not) recording: nothing to do
          }
        }
        await sleep(2000);
      }
      result.recordings.errors.push(`${action}: no participant of room 0 could ask`);
    };
    await record('start');
    progress(`recording room 0: ${result.recordings.started ? 'started' : `not started (${result.recordings.errors.at(-1) ?? '?'})`}`);

    churnTimer = setInterval(() => {
      const room = Math.floor(Math.random() * options.rooms);
      const present = membership.present(room);
      if (present.length >= options.roomSize) leave(present[Math.floor(Math.random() * present.length)]!);
      else join(room);
    }, options.churnS * 1000);

    const loadEnd = Date.now() + options.minutes * 60_000;
    handleSampling = sampleHandles(sampler, options.sampleS * 1000, (reading) => {
      result.handles.push({ ...reading, present: Array.from({ length: options.rooms }, (_, room) => membership.present(room).length) });
    });
    let lastLoopback = 0;
    let lastRotate = Date.now();
    while (Date.now() < loadEnd) {
      target.check();
      const startUs = nowUs() + 100_000;
      const endUs = startUs + Math.min(options.windowS * 1000, Math.max(2000, loadEnd - Date.now())) * 1000;
      const cpu0 = readProc(target.pid);
      const machine0 = readMachineCpu();
      workers.broadcast({ type: 'window', startUs, endUs });
      await sleep((endUs - nowUs()) / 1000 + 1000);
      const cpu1 = readProc(target.pid);
      const machine1 = readMachineCpu();
      // A worker starved of CPU on a busy machine may answer late: that window is lost, not the run.
      const reports = await workers.reports(60_000).catch((error: unknown) => {
        skipped.push(String(error));
        return undefined;
      });
      const status = await askStatus(workers);
      if (!reports || !status) {
        progress(`window skipped: a load-generator worker did not answer (${skipped.length} so far)`);
        continue;
      }
      const reading = await sampler.read();
      const seconds = (endUs - startUs) / 1e6 + 1;
      const figures = windowFigures(reports, status, membership, startUs, endUs);
      histograms.push(...reports.map((r) => r.delayHistogram));
      lossTotals.expected += figures.expected;
      lossTotals.received += figures.received;
      for (const p of status) for (const e of p.errors) if (result.churn.joinErrors.length < 20 && !result.churn.joinErrors.includes(e)) result.churn.joinErrors.push(e);
      const point: SoakPoint = {
        ...reading,
        expectedEndpoints: membership.expectedEndpoints(),
        participants: membership.present().length,
        streamsFlowing: figures.streamsFlowing,
        streamsExpected: figures.streamsExpected,
        loss: figures.loss,
        p50Ms: figures.p50Ms,
        p99Ms: figures.p99Ms,
        serverCpuPct: cpu0 && cpu1 ? ((cpu1.cpuUs - cpu0.cpuUs) / 1e6 / seconds) * 100 : Number.NaN,
        machineCpuPct: ((machine1.busyUs - machine0.busyUs) / 1e6 / seconds) * 100,
        generatorLoopP99Ms: Math.max(...reports.map((r) => r.loopDelayP99Ms)),
      };
      result.points.push(point);
      progress(
        `${(point.t / 60).toFixed(1)} min: RSS ${point.rssMb.toFixed(0)} MiB, heap ${point.heapMb.toFixed(0)} MiB, ${point.fds} fds, ${point.udpPorts} UDP ports, ${point.children} children, endpoints ${point.endpoints}/${point.expectedEndpoints}, streams ${point.streamsFlowing}/${point.streamsExpected}, loss ${(point.loss * 100).toFixed(2)} %, p99 ${point.p99Ms.toFixed(0)} ms, server CPU ${point.serverCpuPct.toFixed(0)} %, machine ${point.machineCpuPct.toFixed(0)} %, generator loop p99 ${point.generatorLoopP99Ms.toFixed(0)} ms`,
      );
      membership.prune(startUs - 600e6);
      if (Date.now() - lastLoopback >= options.loopbackEveryS * 1000 && Date.now() < loadEnd) {
        lastLoopback = Date.now();
        const probe = await loopbackProbe(`ws://${host}:${port}/ws/loopback`, host, stunUrl, 4000, (Date.now() - t0) / 1000);
        result.loopbacks.push(probe);
        progress(`loopback: ${probe.ok ? `ok, ${probe.received}/${probe.sent} packets back, p99 ${probe.p99Ms.toFixed(0)} ms, connected in ${probe.connectMs.toFixed(0)} ms` : `FAILED: ${probe.error ?? '?'}`}`);
      }
      if (options.recordRotateMin > 0 && Date.now() - lastRotate >= options.recordRotateMin * 60_000 && Date.now() < loadEnd) {
        lastRotate = Date.now();
        await record('stop');
        await sleep(2000);
        await record('start');
        progress(`recording rotated (${result.recordings.started} started)`);
      }
    }

    progress('churn stopped; waiting for the rooms to settle');
    clearInterval(churnTimer);
    churnTimer = undefined;
    await handleSampling.stop();
    handleSampling = undefined;
    im.stop();
    const settleEnd = Date.now() + 60_000;
    for (;;) {
      target.check();
      const status = (await askStatus(workers)) ?? [];
      const flow = streamCounts(status, membership);
      const reading = await sampler.read();
      const expectedEndpoints = membership.expectedEndpoints();
      result.settled = { reading, expectedEndpoints, ...flow };
      // The server's endpoints are what the criterion is about; streams that never started (a stalled handshake) are reported.
      if (reading.endpoints === expectedEndpoints || Date.now() > settleEnd) break;
      await sleep(2000);
    }
    progress(`settled: endpoints ${result.settled.reading.endpoints}/${result.settled.expectedEndpoints}, streams ${result.settled.streamsFlowing}/${result.settled.streamsExpected}`);

    if (result.recordings.started > 0) await record('stop');
    progress('everyone leaves');
    await Promise.all(
      workers.workers.map((w, i) => {
        const ids = membership.present().filter((m) => m.worker === i).map((m) => m.id);
        const done = workers.next(w, 'removed', 60_000);
        workers.send(w, { type: 'remove', ids });
        return done;
      }),
    );
    for (const m of membership.present()) membership.remove(m.id);
    result.im = im.figures;
    im.close();
    im = undefined;
    const start = result.start;
    const endBy = Date.now() + 90_000;
    for (;;) {
      target.check();
      await sleep(3000);
      const reading = await sampler.read();
      result.end = reading;
      const back = reading.endpoints === 0 && reading.pipelines === 0 && reading.children <= start.children && reading.udpPorts <= start.udpPorts && reading.signalingConnections === 0;
      if (back || Date.now() > endBy) break;
    }
    progress(`end: RSS ${result.end.rssMb.toFixed(0)} MiB, ${result.end.fds} fds, ${result.end.udpPorts} UDP ports, ${result.end.children} children, ${result.end.endpoints} endpoints, ${result.end.pipelines} pipelines`);
  } catch (error) {
    result.problems.push(`the soak stopped early: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    if (churnTimer) clearInterval(churnTimer);
    await handleSampling?.stop();
    if (im) {
      result.im ??= im.figures;
      im.close();
    }
    pool ??= await starting?.catch(() => undefined);
    await pool?.close();
    stun.close();
    await target.stop();
  }
  const merged = mergeHistograms(histograms);
  result.overall = {
    loss: lossTotals.expected > 0 ? 1 - lossTotals.received / lossTotals.expected : Number.NaN,
    p50Ms: histogramQuantileMs(merged, 0.5),
    p99Ms: histogramQuantileMs(merged, 0.99),
  };
  if (result.start) result.checks = checkLeaks({ start: result.start, handles: result.handles, settled: result.settled, end: result.end });
  if (skipped.length > 0) result.problems.push(`${skipped.length} window(s) skipped: a load-generator worker did not answer in time (${skipped[0]})`);
  const failedLoopbacks = result.loopbacks.filter((l) => !l.ok);
  if (failedLoopbacks.length > 0) result.problems.push(`${failedLoopbacks.length} of ${result.loopbacks.length} loopback tests failed: ${failedLoopbacks.map((l) => l.error).slice(0, 3).join('; ')}`);
  if (result.recordings.errors.length > 0) result.problems.push(`recording: ${result.recordings.errors.slice(0, 3).join('; ')}`);
  if (!(lossTotals.expected > 0)) result.problems.push('no stream flowed through a whole window: loss could not be measured');
  result.ok = result.start !== undefined && result.checks.length > 0 && result.checks.every((c) => c.ok) && !result.problems.some((p) => p.startsWith('the soak stopped early'));
  result.finishedAt = new Date().toISOString();
  return result;
}

/**
 * Samples the server every `periodMs` until stopped, handing each reading with the load
 * at that moment to `record` (the membership is read when the reading is in, which is
 * when the /proc and /metrics figures were taken, within milliseconds).
 */
function sampleHandles(sampler: ServerSampler, periodMs: number, record: (reading: ServerReading) => void): { stop: () => Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const next = Date.now() + periodMs;
      const reading = await sampler.read().catch(() => undefined);
      if (reading && !stopped) record(reading);
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** Every worker's participants, or undefined when a worker did not answer within a minute. */
async function askStatus(workers: WorkerPool): Promise<ParticipantStatus[] | undefined> {
  try {
    return (await workers.ask({ type: 'status' }, 'status', 60_000)).flatMap((s) => s.participants);
  } catch {
    return undefined;
  }
}

/** Flowing streams against those expected: every present participant that joined should get audio and video of every other. */
export function streamCounts(status: readonly ParticipantStatus[], membership: Membership): { streamsFlowing: number; streamsExpected: number } {
  const joined = new Map(status.filter((p) => p.joined && membership.get(p.id)?.removedUs === undefined).map((p) => [p.id, p]));
  let streamsFlowing = 0;
  let streamsExpected = 0;
  for (const p of joined.values()) {
    const heard = new Set(p.streams);
    for (const other of joined.values()) {
      if (other.id === p.id || other.room !== p.room) continue;
      for (const kind of ['audio', 'video']) {
        streamsExpected++;
        if (heard.has(`${other.id}:${kind}`)) streamsFlowing++;
      }
    }
  }
  return { streamsFlowing, streamsExpected };
}

/**
 * Loss and delay of one window. Loss counts only the streams (receiver, sender, kind)
 * whose both ends were in the room from the window's start to a second after its end,
 * and which had delivered a packet before the window: churn's joins and leaves are not
 * loss (a stream that never started shows in streams flowing vs expected instead).
 */
export function windowFigures(reports: readonly WorkerReport[], status: readonly ParticipantStatus[], membership: Membership, startUs: number, endUs: number) {
  const sent = new Map<string, number>();
  for (const r of reports) for (const [k, v] of Object.entries(r.sent)) sent.set(k, (sent.get(k) ?? 0) + v);
  const firstPackets = new Map<number, Record<string, number>>();
  for (const r of reports) for (const j of r.joins) firstPackets.set(j.id, j.firstPacketUs);
  let expected = 0;
  let received = 0;
  for (const r of reports) {
    for (const d of r.downlinks) {
      if (!membership.stayed(d.receiver, startUs, endUs + 1e6) || !membership.stayed(d.sender, startUs, endUs + 1e6)) continue;
      const first = firstPackets.get(d.receiver)?.[`${d.sender}:${d.kind}`];
      if (first === undefined || first >= startUs) continue;
      const e = sent.get(`${d.sender}:${d.kind}`) ?? 0;
      if (e === 0) continue;
      expected += e;
      received += Math.min(d.received, e);
    }
  }
  const histogram = mergeHistograms(reports.map((r) => r.delayHistogram));
  return {
    expected,
    received,
    loss: expected > 0 ? 1 - received / expected : Number.NaN,
    p50Ms: histogramQuantileMs(histogram, 0.5),
    p99Ms: histogramQuantileMs(histogram, 0.99),
    ...streamCounts(status, membership),
  };
}
