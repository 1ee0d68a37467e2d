/** Command-line options of `npm run soak`. */
import { parseArgs } from 'node:util';
import { DEFAULT_TRAFFIC, type TrafficOptions } from '../traffic.js';

export interface SoakOptions {
  /** Length of the load, minutes (the settle and end phases come after). */
  minutes: number;
  rooms: number;
  roomSize: number;
  /** Someone joins or leaves a room every this many seconds. */
  churnS: number;
  /** Measurement window (loss, delay); a sample of the server follows each. */
  windowS: number;
  /** The server is sampled this often under load (RSS, heap, fds, UDP ports, children), for their drift; apart from the windows. */
  sampleS: number;
  /** A loopback test every this many seconds. */
  loopbackEveryS: number;
  /** IM users in the group conversation, and a message from the next of them every imEveryMs. */
  imUsers: number;
  imEveryMs: number;
  /** The recording of room 0 is stopped and a new one started every this many minutes (0: one for the whole run). */
  recordRotateMin: number;
  workers: number;
  traffic: TrafficOptions;
  /** Media UDP range of the server. */
  portRange: string;
  outDir: string | undefined;
  json: boolean;
  /** Participants of the first fill start joining this far apart. */
  joinStaggerMs: number;
}

export const SOAK_DEFAULTS = {
  minutes: 30,
  rooms: 3,
  roomSize: 9,
  churnS: 4,
  windowS: 20,
  sampleS: 1,
  loopbackEveryS: 60,
  imUsers: 6,
  imEveryMs: 1000,
  recordRotateMin: 10,
  bitrate: 100,
  portRange: '58000-58899',
  joinStaggerMs: 300,
} as const;

export const SOAK_HELP = `npm run soak -- [options]

A long run of a real Roundtable server (\`roundtable start\`, everything in one process):
rooms of simulated participants (real WebRTC) with churn, IM traffic, a recording
running and a loopback test every minute. Samples RSS, heap, file descriptors, UDP
ports, child processes, endpoints alive vs expected, p99 delay and loss over time;
writes report.md, soak.svg and soak.json to soak-results/<time>/; exits 1 on a leak
(criteria: docs/soak.md).

  --minutes N             length of the load (default ${SOAK_DEFAULTS.minutes}); hours are fine
  --rooms N               rooms (default ${SOAK_DEFAULTS.rooms})
  --room-size N           people per room at most (default ${SOAK_DEFAULTS.roomSize}); churn keeps each between N-1 and N
  --churn S               someone joins or leaves every S seconds (default ${SOAK_DEFAULTS.churnS})
  --window S              measurement window, and sample period (default ${SOAK_DEFAULTS.windowS})
  --sample-every S        the server sampled this often for the leak drift (default ${SOAK_DEFAULTS.sampleS})
  --loopback-every S      a loopback test every S seconds (default ${SOAK_DEFAULTS.loopbackEveryS})
  --im-users N            IM users in one group conversation (default ${SOAK_DEFAULTS.imUsers})
  --im-every MS           a message every MS milliseconds, from each user in turn (default ${SOAK_DEFAULTS.imEveryMs})
  --record-rotate M       stop the recording and start a new one every M minutes; 0: one recording (default ${SOAK_DEFAULTS.recordRotateMin})
  --bitrate KBPS          video per publisher (default ${SOAK_DEFAULTS.bitrate}: a grid thumbnail; the bench's 500
                          would take more than this machine's two cores at 3 rooms of 9)
  --workers N             load-generator processes (default: number of cores)
  --port-range MIN-MAX    the server's media UDP ports (default ${SOAK_DEFAULTS.portRange})
  --out DIR               results folder (default soak-results/<timestamp>)
  --json                  print the result as JSON on stdout (progress goes to stderr)
  --help
`;

function num(value: string | undefined, fallback: number, what: string, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`${what}: expected a number ≥ ${min}, got '${value}'`);
  return n;
}

export function parseSoakOptions(argv: string[], cores: number): SoakOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string' },
      rooms: { type: 'string' },
      'room-size': { type: 'string' },
      churn: { type: 'string' },
      window: { type: 'string' },
      'sample-every': { type: 'string' },
      'loopback-every': { type: 'string' },
      'im-users': { type: 'string' },
      'im-every': { type: 'string' },
      'record-rotate': { type: 'string' },
      bitrate: { type: 'string' },
      workers: { type: 'string' },
      'port-range': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const portRange = values['port-range'] ?? SOAK_DEFAULTS.portRange;
  if (!/^\d+-\d+$/.test(portRange)) throw new Error(`--port-range: expected MIN-MAX, got '${portRange}'`);
  return {
    minutes: num(values.minutes, SOAK_DEFAULTS.minutes, '--minutes', 0.5),
    rooms: Math.floor(num(values.rooms, SOAK_DEFAULTS.rooms, '--rooms')),
    roomSize: Math.floor(num(values['room-size'], SOAK_DEFAULTS.roomSize, '--room-size', 2)),
    churnS: num(values.churn, SOAK_DEFAULTS.churnS, '--churn', 0.5),
    windowS: num(values.window, SOAK_DEFAULTS.windowS, '--window', 2),
    sampleS: num(values['sample-every'], SOAK_DEFAULTS.sampleS, '--sample-every', 0.2),
    loopbackEveryS: num(values['loopback-every'], SOAK_DEFAULTS.loopbackEveryS, '--loopback-every', 5),
    imUsers: Math.floor(num(values['im-users'], SOAK_DEFAULTS.imUsers, '--im-users', 2)),
    imEveryMs: num(values['im-every'], SOAK_DEFAULTS.imEveryMs, '--im-every', 50),
    recordRotateMin: num(values['record-rotate'], SOAK_DEFAULTS.recordRotateMin, '--record-rotate', 0),
    workers: Math.floor(num(values.workers, Math.max(2, cores), '--workers')),
    traffic: { ...DEFAULT_TRAFFIC, videoKbps: num(values.bitrate, SOAK_DEFAULTS.bitrate, '--bitrate') },
    portRange,
    outDir: values.out,
    json: values.json ?? false,
    joinStaggerMs: SOAK_DEFAULTS.joinStaggerMs,
  };
}
