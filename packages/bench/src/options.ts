/** Command-line options of `npm run bench`. */
import { parseArgs } from 'node:util';
import { SIMULCAST_REQUESTS, type RoundtableWords, type SimulcastRequest } from './ipc.js';
import { DEFAULT_TRAFFIC, SIMULCAST_LAYERS, type TrafficOptions } from './traffic.js';

export const TARGET_NAMES = ['roundtable', 'janus', 'janus-el2', 'floor'] as const;

export interface BenchOptions {
  quick: boolean;
  json: boolean;
  /** Loads measured in full (rooms of `roomSize`), e.g. [1, 2]. */
  rooms: number[];
  /** Capacity search: keep adding rooms after the largest of `rooms` up to this many (0: no search). */
  maxRooms: number;
  roomSize: number;
  durationS: number;
  warmupS: number;
  /** Alternating runs per load and target (medians are taken over them). */
  runs: number;
  targets: string[];
  /** Extra Roundtable targets: `roundtable@<git ref>` (that revision's `roundtable start`). */
  roundtableRefs: string[];
  /** Extra Roundtable targets: `roundtable:<label>` with environment variables. */
  roundtableEnvs: Array<{ label: string; env: Record<string, string> }>;
  workers: number;
  outDir: string | undefined;
  traffic: TrafficOptions;
  joinTimeoutS: number;
  /** Also copy the report and chart to docs/bench/latest.md and latest.svg (for the README). */
  saveLatest: boolean;
  /** Simulated participants receive through werift's own SRTP/RTP stack (slow) instead of the engine's SRTP. */
  weriftReceive: boolean;
  /** Participant k starts joining k * joinStaggerMs after the first. */
  joinStaggerMs: number;
  /** Run without the network namespace (no Janus). */
  noNetns: boolean;
  /** The group-call words Roundtable participants speak (default 'bundled'; see JoinCommand.roundtableWords). */
  roundtableWords: RoundtableWords;
  /**
   * CPU hog processes beside the bench: with N > 0, every load of `rooms` is measured
   * quiet and with N processes spinning (alternating); the capacity search stays quiet.
   * Default 0 (quiet only).
   */
  busy: number;
  /**
   * The simulcast load: Roundtable's and Janus's participants publish their video as
   * SIMULCAST_LAYERS (three layers) instead of one stream at `traffic.videoKbps`; the floor
   * keeps the one stream (marked so in the report). Default false.
   */
  simulcast: boolean;
  /** A simulcast load: what each receiver asks of the publishers' video (default 'mixed'). */
  simulcastRequest: SimulcastRequest;
}

export const HELP = `npm run bench -- [options]

Simulated 9-person group calls (real WebRTC: ICE, DTLS, SRTP) against Roundtable, Janus
VideoRoom (default threading and event_loops = 2) and a bare UDP relay (the floor), in
alternating runs; writes a Markdown report, an SVG chart and JSON to bench-results/<time>/.

  --quick                 smoke run (~1-1.5 min, 4 targets): 1 room, 1 run, 3 s windows, every figure
  --json                  print the results as JSON on stdout (progress goes to stderr)
  --rooms 1,2             loads measured, in rooms of --room-size (default 1,2; quick 1)
  --max-rooms N           capacity search: add rooms up to N until loss > 1 %, p99 > 100 ms
                          or the server saturates a core (default 6; quick: no search)
  --room-size N           participants per room (default 9)
  --duration S            measurement window per run, seconds (default 10; quick 3)
  --warmup S              seconds of media before the window (default 2; quick 1)
  --runs N                alternating runs per load and target (default 3; quick 1)
  --bitrate KBPS          video bitrate per publisher (default 500)
  --targets LIST          of roundtable,janus,janus-el2,floor (default all)
  --roundtable-ref REF    also measure \`roundtable start\` of git revision REF (repeatable),
                          e.g. the commit before the fast path: target roundtable@REF
  --roundtable-env L:K=V[,K=V]  also measure Roundtable with these environment variables
                          (repeatable): target roundtable:L
  --workers N             load-generator processes (default: number of cores)
  --out DIR               results folder (default bench-results/<timestamp>)
  --join-timeout S        longest wait for every remote stream to flow (default 60; quick 30)
  --join-stagger MS       participants start joining this far apart (default 300)
  --werift-receive        participants receive through werift's SRTP/RTP stack (~40-50 µs per
                          packet) instead of the engine's native-crypto SRTP
  --roundtable-words W    bundled (default): Roundtable participants publish on one connection
                          and answer the server's subscribeOffer on another (2 per participant,
                          what the SDK speaks); seed: receiveVideoFrom per sender (1 + N-1)
  --busy N                also measure every load of --rooms with N processes spinning on the
                          CPU beside the bench (quiet and busy runs alternate; default 0: quiet only)
  --simulcast             the simulcast load: Roundtable's and Janus's participants publish three
                          video layers (rid q/h/f: 150/500/1500 kb/s at 320x180/640x360/1280x720,
                          an SSRC each, MID and RID header extensions) instead of one stream at
                          --bitrate, and the report gives CPU per forwarded and per received
                          packet, and which layers the receivers got. The floor keeps one stream
                          (marked)
  --simulcast-request R   what each receiver asks of every publisher's video (subscribeQuality):
                          mixed (default: low, medium, high by place in the room, so every layer
                          is taken), none (the server's choice: the highest), low, medium, high.
                          Roundtable's publishers stop sending the layers nobody takes
                          (publishLayers); Janus asks no such thing
  --save-latest           also copy report.md and the chart to docs/bench/latest.md, latest.svg
  --no-netns              do not create the network namespace (Janus is then left out)
  --help
`;

function list(value: string | undefined, fallback: number[]): number[] {
  if (!value) return fallback;
  const out = value.split(',').map((v) => Number(v.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--rooms: expected positive integers, got '${value}'`);
  return out;
}

function num(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what}: expected a positive number, got '${value}'`);
  return n;
}

export function parseOptions(argv: string[], cores: number): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      rooms: { type: 'string' },
      'max-rooms': { type: 'string' },
      'room-size': { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      runs: { type: 'string' },
      bitrate: { type: 'string' },
      targets: { type: 'string' },
      'roundtable-ref': { type: 'string', multiple: true },
      'roundtable-env': { type: 'string', multiple: true },
      workers: { type: 'string' },
      out: { type: 'string' },
      'no-netns': { type: 'boolean', default: false },
      'join-timeout': { type: 'string' },
      'join-stagger': { type: 'string' },
      'save-latest': { type: 'boolean', default: false },
      'werift-receive': { type: 'boolean', default: false },
      'roundtable-words': { type: 'string' },
      busy: { type: 'string' },
      simulcast: { type: 'boolean', default: false },
      'simulcast-request': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const rooms = list(values.rooms, quick ? [1] : [1, 2]);
  const targets = values.targets ? values.targets.split(',').map((t) => t.trim()) : [...TARGET_NAMES];
  for (const t of targets) if (!(TARGET_NAMES as readonly string[]).includes(t)) throw new Error(`--targets: unknown target '${t}' (one of ${TARGET_NAMES.join(', ')})`);
  const roundtableEnvs = (values['roundtable-env'] ?? []).map((spec) => {
    const [label, rest = ''] = spec.split(/:(.*)/s);
    if (!label || !/^[A-Za-z0-9_.-]+$/.test(label)) throw new Error(`--roundtable-env: expected LABEL:K=V[,K=V], got '${spec}'`);
    const env: Record<string, string> = {};
    for (const pair of rest.split(',').filter(Boolean)) {
      const i = pair.indexOf('=');
      if (i < 1) throw new Error(`--roundtable-env: expected K=V, got '${pair}'`);
      env[pair.slice(0, i)] = pair.slice(i + 1);
    }
    return { label, env };
  });
  const words = values['roundtable-words'] ?? 'bundled';
  if (words !== 'bundled' && words !== 'seed') throw new Error(`--roundtable-words: expected bundled or seed, got '${words}'`);
  const busy = values.busy !== undefined ? Number(values.busy) : 0;
  if (!Number.isInteger(busy) || busy < 0 || busy > 64) throw new Error(`--busy: expected a number of processes (0-64), got '${values.busy}'`);
  const simulcast = values.simulcast ?? false;
  const simulcastRequest = values['simulcast-request'] ?? 'mixed';
  if (!(SIMULCAST_REQUESTS as readonly string[]).includes(simulcastRequest)) throw new Error(`--simulcast-request: expected one of ${SIMULCAST_REQUESTS.join(', ')}, got '${simulcastRequest}'`);
  if (values['simulcast-request'] !== undefined && !simulcast) throw new Error('--simulcast-request: only with --simulcast');
  if (simulcast && words !== 'bundled') throw new Error('--simulcast: needs the bundled words (publish), not --roundtable-words seed');
  return {
    quick,
    json: values.json ?? false,
    rooms,
    maxRooms: values['max-rooms'] !== undefined ? Math.floor(num(values['max-rooms'], 0, '--max-rooms')) : quick ? 0 : 6,
    roomSize: Math.floor(num(values['room-size'], 9, '--room-size')),
    durationS: num(values.duration, quick ? 3 : 10, '--duration'),
    warmupS: num(values.warmup, quick ? 1 : 2, '--warmup'),
    runs: Math.floor(num(values.runs, quick ? 1 : 3, '--runs')),
    targets,
    roundtableRefs: values['roundtable-ref'] ?? [],
    roundtableEnvs,
    workers: Math.floor(num(values.workers, Math.max(2, cores), '--workers')),
    outDir: values.out,
    traffic: { ...DEFAULT_TRAFFIC, videoKbps: num(values.bitrate, DEFAULT_TRAFFIC.videoKbps, '--bitrate'), simulcast: simulcast ? SIMULCAST_LAYERS.map((l) => ({ ...l })) : undefined },
    joinTimeoutS: num(values['join-timeout'], quick ? 30 : 60, '--join-timeout'),
    noNetns: values['no-netns'] ?? false,
    saveLatest: values['save-latest'] ?? false,
    weriftReceive: values['werift-receive'] ?? false,
    joinStaggerMs: values['join-stagger'] !== undefined ? Number(values['join-stagger']) : 300,
    roundtableWords: words,
    busy,
    simulcast,
    simulcastRequest: simulcastRequest as SimulcastRequest,
  };
}
