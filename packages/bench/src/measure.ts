/**
 * One measurement: R rooms of N participants against one target, for a fixed window.
 * Join, wait until every remote stream flows, warm up, measure, collect, leave.
 */
import type { CpuHog } from './CpuHog.js';
import type { ParticipantSpec, RoundtableWords, SimulcastRequest, WorkerMessage, WorkerReport } from './ipc.js';
import { readMachineCpu, readProc } from './proc.js';
import { histogramQuantileMs, mergeHistograms, quantile } from './stats.js';
import type { Target } from './targets.js';
import type { TargetEndpoint } from './ipc.js';
import { nowUs, type TrafficOptions } from './traffic.js';
import type { WorkerPool } from './WorkerPool.js';

export interface MeasureOptions {
  rooms: number;
  roomSize: number;
  durationS: number;
  warmupS: number;
  traffic: TrafficOptions;
  host: string;
  /** Longest wait for every remote stream to flow. */
  joinTimeoutS: number;
  /** Downlinks unprotect with the engine's SRTP instead of werift's stack. */
  fastReceive: boolean;
  /** Participants start joining this far apart (all at once would be a burst of DTLS handshakes). */
  joinStaggerMs: number;
  /** Roundtable participants' group-call words. */
  roundtableWords: RoundtableWords;
  /** Processes spinning beside the bench during this measurement (resumed for it, paused after); none: quiet. */
  hog?: CpuHog;
  /** A simulcast load (traffic.simulcast; Roundtable and Janus targets): what receivers ask of each publisher's video. Default 'none'. */
  simulcastRequest?: SimulcastRequest;
}

/** A simulcast layer's traffic in one measurement. */
export interface LayerFigures {
  rid: string;
  /** Packets/s the publishers sent on this layer (what the server received of it). */
  packetsInPerS: number;
  /** Packets/s of this layer the receivers got. */
  packetsOutPerS: number;
  /** Video downlinks (receiver, sender) that got most of their packets on this layer in the window. */
  downlinks: number;
}

/** The figures of one measurement. Rates are per second of the window. */
export interface Sample {
  target: string;
  rooms: number;
  roomSize: number;
  run: number;
  /** CPU hog processes spinning during the measurement (0: quiet). */
  busy: number;
  /** CPU the hog processes used in the window, % of one core. */
  hogCpuPct: number;
  windowS: number;
  /** user+sys CPU of the server process in the window, % of one core. */
  serverCpuPct: number;
  /** Server CPU µs per packet delivered to a subscriber. */
  usPerPacket: number;
  /** Server CPU µs per packet the publishers sent (received by the server): with simulcast it receives three layers and forwards one per receiver. */
  usPerPacketIn: number;
  /** The publishers sent simulcast (three layers); false: one video stream (the floor always). */
  simulcast: boolean;
  /** Simulcast: each layer's packets in and out, and how many video downlinks got it (empty otherwise). */
  layers: LayerFigures[];
  /** Server CPU µs per megabit delivered to subscribers (RTP payload + 12-byte header). */
  usPerMbit: number;
  packetsInPerS: number;
  packetsOutPerS: number;
  /** Packets a subscriber received a second time, per second (not in packetsOutPerS nor in the CPU per packet): a server that sends a packet twice pays for it and the subscriber gains nothing. */
  duplicatesPerS: number;
  forwardedMbps: number;
  /** Loss over all downlinks (1 - received / expected), and the worst downlink's, as fractions. */
  loss: number;
  worstDownlinkLoss: number;
  downlinks: number;
  delayP50Ms: number;
  delayP99Ms: number;
  joinP50Ms: number;
  joinMaxMs: number;
  /** Participants whose every remote stream never arrived. */
  joinFailures: number;
  /** The server's WebRTC connections per room once media flowed (its /metrics; NaN when it does not say). */
  serverConnectionsPerRoom: number;
  /** Roundtable: p99 event-loop delay of the server's main thread over the window, ms (its /metrics; with media workers the rooms run on other threads). */
  serverLoopDelayP99Ms: number;
  /** Peer connections per participant, on the load generator's side. */
  connectionsPerParticipant: number;
  /** Roundtable: every participant spoke the bundled words. */
  bundled: boolean;
  rssIdleMb: number;
  rssLoadMb: number;
  rssPerParticipantMb: number;
  /** Load-generator CPU: all workers together and the busiest one, % of one core. */
  generatorCpuPct: number;
  generatorMaxWorkerPct: number;
  /** p99 event-loop delay of the busiest worker in the window, ms (> 50 ms: the generator is starved). */
  generatorLoopDelayP99Ms: number;
  /** CPU used by other processes of the machine during the window (the hog's not counted), % of one core (others' work skews every figure). */
  otherCpuPct: number;
  /** The generator (or the machine) was saturated: its figures are not the server's limit. */
  generatorBound: boolean;
  /** What went wrong without spoiling the whole sample (e.g. streams that never arrived). */
  notes: string[];
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function measure(target: Target, endpoint: TargetEndpoint, pool: WorkerPool, options: MeasureOptions, run: number, cores: number, onPhase: (phase: string) => void): Promise<Sample> {
  const { rooms, roomSize } = options;
  const participants = rooms * roomSize;
  const idle = readProc(target.pid);
  const idBase = run * 1000;
  const specs: ParticipantSpec[][] = pool.workers.map(() => []);
  for (let room = 0; room < rooms; room++) {
    for (let index = 0; index < roomSize; index++) {
      const n = room * roomSize + index;
      specs[n % specs.length]!.push({ id: idBase + n, room, index });
    }
  }
  const hog = options.hog;
  // Roundtable's and Janus's participants publish simulcast; the floor's keep one stream (it has no layers to choose from).
  const layers = target.family !== 'floor' ? (options.traffic.simulcast ?? []) : [];
  const traffic: TrafficOptions = { ...options.traffic, simulcast: layers.length > 0 ? layers : undefined };
  const base: Sample = { ...emptySample(target.name, rooms, roomSize, run), busy: hog?.count ?? 0, simulcast: layers.length > 0 };
  const notes: string[] = [];
  // Busy from the first join to the last leave: joins and handshakes happen on a busy machine too.
  hog?.resume();
  try {
    onPhase('joining');
    const joined = await Promise.all(
      pool.workers.map((w, i) => {
        const answer = pool.next(w, 'joined', options.joinTimeoutS * 1000 + 60_000);
        pool.send(w, { type: 'join', run, endpoint, participants: specs[i]!, roomSize, idBase, traffic, host: options.host, joinStaggerMs: options.joinStaggerMs, fastReceive: options.fastReceive, roundtableWords: options.roundtableWords, simulcastRequest: options.simulcastRequest });
        return answer;
      }),
    );
    const joinError = joined.find((j) => j.error)?.error;
    if (joinError) throw new Error(`join failed: ${joinError}`);
    if (target.subscribePhase) {
      onPhase('subscribing');
      const subscribed = await pool.ask({ type: 'subscribe' }, 'subscribed', options.joinTimeoutS * 1000 + 30_000);
      const error = subscribed.find((s) => s.error)?.error;
      if (error) throw new Error(`subscribe failed: ${error}`);
    }
    onPhase('waiting for media');
    const deadline = Date.now() + options.joinTimeoutS * 1000;
    let status: Array<Extract<WorkerMessage, { type: 'status' }>> = [];
    for (;;) {
      target.check();
      status = await pool.ask({ type: 'status' }, 'status', 10_000);
      const flowing = status.reduce((n, s) => n + s.streamsFlowing, 0);
      const expected = status.reduce((n, s) => n + s.streamsExpected, 0);
      onPhase(`waiting for media ${flowing}/${expected} streams`);
      if (flowing >= expected) break;
      if (Date.now() > deadline) {
        const errors = status.flatMap((s) => s.errors);
        notes.push(`${flowing}/${expected} remote streams flowing after ${options.joinTimeoutS} s${errors.length ? `; participant errors: ${errors.slice(0, 3).join('; ')}` : ''}`);
        break;
      }
      await sleep(250);
    }
    onPhase('warming up');
    await sleep(options.warmupS * 1000);
    // Connections once every stream flowed, before the window (a scrape costs the server a little CPU).
    // (It also starts the server's loop-delay histogram afresh for the window.)
    const server = await target.serverMetrics?.();
    const people = status.flatMap((s) => s.participants);
    const connections = {
      serverPerRoom: server && server.rooms > 0 ? server.connections / server.rooms : Number.NaN,
      perParticipant: people.length > 0 ? people.reduce((n, p) => n + p.connections, 0) / people.length : Number.NaN,
      bundled: people.length > 0 && people.every((p) => p.bundled === true),
    };
    const startUs = nowUs() + 200_000;
    const endUs = startUs + options.durationS * 1e6;
    pool.broadcast({ type: 'window', startUs, endUs });
    await sleep((startUs - nowUs()) / 1000);
    const server0 = readProc(target.pid);
    const workers0 = pool.pids.map((pid) => readProc(pid));
    const machine0 = readMachineCpu();
    const hog0 = hog?.cpuUs() ?? 0;
    onPhase('measuring');
    await sleep((endUs - nowUs()) / 1000);
    const server1 = readProc(target.pid);
    const workers1 = pool.pids.map((pid) => readProc(pid));
    const machine1 = readMachineCpu();
    const hog1 = hog?.cpuUs() ?? 0;
    const serverAfter = await target.serverMetrics?.();
    onPhase('collecting');
    await sleep(1000); // packets sent at the end of the window are still on their way
    const reports = await pool.reports();
    target.check();
    if (!server0 || !server1 || !idle) throw new Error('the server process is gone');
    const windowS = (endUs - startUs) / 1e6;
    const workerPct = workers0.map((w0, i) => {
      const w1 = workers1[i];
      return w0 && w1 ? ((w1.cpuUs - w0.cpuUs) / 1e6 / windowS) * 100 : Number.NaN;
    });
    return figures({ ...base, notes }, reports, {
      windowS,
      serverCpuUs: server1.cpuUs - server0.cpuUs,
      rssIdle: idle.rssBytes,
      rssLoad: server1.rssBytes,
      participants,
      workerPct,
      cores,
      machineBusyPct: ((machine1.busyUs - machine0.busyUs) / 1e6 / windowS) * 100,
      hogPct: ((hog1 - hog0) / 1e6 / windowS) * 100,
      connections,
      serverLoopDelayP99Ms: serverAfter?.loopDelayP99Ms ?? Number.NaN,
      layerRids: layers.map((l) => l.rid),
    });
  } catch (error) {
    return { ...base, error: error instanceof Error ? error.message : String(error) };
  } finally {
    onPhase('leaving');
    await pool.ask({ type: 'leave' }, 'left', 60_000).catch(() => undefined);
    hog?.pause();
    await sleep(500);
  }
}

interface Raw {
  windowS: number;
  serverCpuUs: number;
  rssIdle: number;
  rssLoad: number;
  participants: number;
  workerPct: number[];
  cores: number;
  machineBusyPct: number;
  /** CPU of the hog processes, % of one core. */
  hogPct: number;
  connections: { serverPerRoom: number; perParticipant: number; bundled: boolean };
  serverLoopDelayP99Ms: number;
  /** Simulcast: the layers' rids, lowest first (empty: one stream). */
  layerRids: string[];
}

function figures(base: Sample, reports: WorkerReport[], raw: Raw): Sample {
  const sent = new Map<string, number>();
  for (const r of reports) for (const [k, v] of Object.entries(r.sent)) sent.set(k, (sent.get(k) ?? 0) + v);
  let expected = 0;
  let received = 0;
  const losses: number[] = [];
  const layerCount = raw.layerRids.length;
  const layerSent = (sender: number, layer: number) => sent.get(`${sender}:video:${layer}`) ?? 0;
  const layers = raw.layerRids.map((rid) => ({ rid, packetsIn: 0, packetsOut: 0, downlinks: 0 }));
  for (const [k, v] of sent) {
    const layer = Number(k.split(':')[2]);
    if (k.split(':').length === 3 && layers[layer]) layers[layer].packetsIn += v;
  }
  for (const r of reports) {
    for (const d of r.downlinks) {
      if (layerCount > 0 && d.kind === 'video') {
        // A receiver gets one layer at a time and may move between them in the window: what
        // it got of each layer's packets, as a share of what was sent on it, adds up to 1
        // when nothing was lost (e.g. half the window on f, half on h: ~0.5 + ~0.5).
        let coverage = 0;
        let most = -1;
        let mostSent = 0;
        for (let l = 0; l < layerCount; l++) {
          const s = layerSent(d.sender, l);
          const got = d.layers?.[l] ?? 0;
          mostSent = Math.max(mostSent, s);
          if (got > 0) layers[l]!.packetsOut += got;
          if (got > 0 && (most < 0 || got > (d.layers?.[most] ?? 0))) most = l;
          if (s > 0) coverage += Math.min(got, s) / s;
        }
        if (most >= 0) layers[most]!.downlinks++;
        if (mostSent === 0) continue;
        coverage = Math.min(1, coverage);
        const e = coverage > 0 ? d.received / coverage : mostSent;
        expected += e;
        received += coverage > 0 ? d.received : 0;
        losses.push(1 - coverage);
        continue;
      }
      const e = sent.get(`${d.sender}:${d.kind}`) ?? 0;
      if (e === 0) continue;
      const got = Math.min(d.received, e);
      expected += e;
      received += got;
      losses.push(1 - got / e);
    }
  }
  const receivedPackets = reports.reduce((n, r) => n + r.receivedPackets, 0);
  const duplicatePackets = reports.reduce((n, r) => n + r.duplicatePackets, 0);
  if (process.env['RTBENCH_DEBUG']) for (const r of reports) for (const d of r.downlinks) if (d.duplicates > 0) process.stderr.write(`DUP ${d.receiver}>${d.sender}:${d.kind} received ${d.received} duplicates ${d.duplicates}\n`);
  const receivedBytes = reports.reduce((n, r) => n + r.receivedBytes, 0);
  const sentPackets = reports.reduce((n, r) => n + r.sentPackets, 0);
  const histogram = mergeHistograms(reports.map((r) => r.delayHistogram));
  const joins = joinTimesMs(reports);
  const joinOk = joins.filter((j): j is number => j !== null);
  const generatorCpuPct = raw.workerPct.reduce((a, b) => a + b, 0);
  const generatorMaxWorkerPct = Math.max(...raw.workerPct);
  const serverCpuPct = (raw.serverCpuUs / 1e6 / raw.windowS) * 100;
  const otherCpuPct = Math.max(0, raw.machineBusyPct - serverCpuPct - generatorCpuPct - raw.hogPct);
  // The hog's CPU is meant: "the whole machine busy" counts the bench's own processes only.
  const benchBusyPct = raw.machineBusyPct - raw.hogPct;
  const loopDelayP99Ms = Math.max(...reports.map((r) => r.loopDelayP99Ms));
  return {
    ...base,
    windowS: raw.windowS,
    serverCpuPct,
    usPerPacket: receivedPackets > 0 ? raw.serverCpuUs / receivedPackets : Number.NaN,
    usPerPacketIn: sentPackets > 0 ? raw.serverCpuUs / sentPackets : Number.NaN,
    layers: layers.map((l) => ({ rid: l.rid, packetsInPerS: l.packetsIn / raw.windowS, packetsOutPerS: l.packetsOut / raw.windowS, downlinks: l.downlinks })),
    usPerMbit: receivedBytes > 0 ? raw.serverCpuUs / ((receivedBytes * 8) / 1e6) : Number.NaN,
    packetsInPerS: sentPackets / raw.windowS,
    packetsOutPerS: receivedPackets / raw.windowS,
    duplicatesPerS: duplicatePackets / raw.windowS,
    forwardedMbps: (receivedBytes * 8) / 1e6 / raw.windowS,
    loss: expected > 0 ? 1 - received / expected : 1,
    worstDownlinkLoss: losses.length ? Math.max(...losses) : 1,
    downlinks: losses.length,
    delayP50Ms: histogramQuantileMs(histogram, 0.5),
    delayP99Ms: histogramQuantileMs(histogram, 0.99),
    joinP50Ms: quantile(joinOk, 0.5),
    joinMaxMs: joinOk.length ? Math.max(...joinOk) : Number.NaN,
    joinFailures: joins.length - joinOk.length,
    serverConnectionsPerRoom: raw.connections.serverPerRoom,
    serverLoopDelayP99Ms: raw.serverLoopDelayP99Ms,
    connectionsPerParticipant: raw.connections.perParticipant,
    bundled: raw.connections.bundled,
    hogCpuPct: raw.hogPct,
    rssIdleMb: raw.rssIdle / 2 ** 20,
    rssLoadMb: raw.rssLoad / 2 ** 20,
    rssPerParticipantMb: (raw.rssLoad - raw.rssIdle) / 2 ** 20 / raw.participants,
    generatorCpuPct,
    generatorMaxWorkerPct,
    // A worker near a full core, or the machine near all of its cores, limits what is measured.
    generatorLoopDelayP99Ms: loopDelayP99Ms,
    otherCpuPct,
    // A worker near a full core, a worker whose timers run late (starved of CPU), or the
    // machine near all of its cores: what is measured is then not the server's limit.
    // With --busy the hog fills the machine on purpose: its share is left out of the last check.
    generatorBound: generatorMaxWorkerPct > 90 || loopDelayP99Ms > 50 || benchBusyPct > raw.cores * 100 * 0.9,
  };
}

/**
 * Join time of each participant: for every remote stream, from the moment both ends had
 * asked to join (the later of the two join requests) to its first packet; the slowest
 * stream counts. Null when a stream never arrived. (Participants join a little apart, so
 * "from my own join request" would count the wait for people who had not arrived yet.)
 */
export function joinTimesMs(reports: WorkerReport[]): Array<number | null> {
  const starts = new Map<number, number>();
  for (const r of reports) for (const j of r.joins) starts.set(j.id, j.startUs);
  return reports.flatMap((r) =>
    r.joins.map((j) => {
      let worst = 0;
      let complete = true;
      for (const sender of j.remotes) {
        for (const kind of ['audio', 'video']) {
          const first = j.firstPacketUs[`${sender}:${kind}`];
          if (first === undefined) {
            complete = false;
            continue;
          }
          worst = Math.max(worst, first - Math.max(j.startUs, starts.get(sender) ?? j.startUs));
        }
      }
      return complete ? worst / 1000 : null;
    }),
  );
}

function emptySample(target: string, rooms: number, roomSize: number, run: number): Sample {
  const nan = Number.NaN;
  return {
    target,
    rooms,
    roomSize,
    run,
    busy: 0,
    hogCpuPct: 0,
    windowS: 0,
    serverCpuPct: nan,
    usPerPacket: nan,
    usPerPacketIn: nan,
    simulcast: false,
    layers: [],
    usPerMbit: nan,
    packetsInPerS: nan,
    packetsOutPerS: nan,
    duplicatesPerS: nan,
    forwardedMbps: nan,
    loss: nan,
    worstDownlinkLoss: nan,
    downlinks: 0,
    delayP50Ms: nan,
    delayP99Ms: nan,
    joinP50Ms: nan,
    joinMaxMs: nan,
    joinFailures: rooms * roomSize,
    serverConnectionsPerRoom: nan,
    serverLoopDelayP99Ms: nan,
    connectionsPerParticipant: nan,
    bundled: false,
    rssIdleMb: nan,
    rssLoadMb: nan,
    rssPerParticipantMb: nan,
    generatorCpuPct: nan,
    generatorMaxWorkerPct: nan,
    generatorLoopDelayP99Ms: nan,
    otherCpuPct: nan,
    generatorBound: false,
    notes: [],
  };
}
