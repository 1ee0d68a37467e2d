import { defineConfig } from 'vitest/config';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { WINDOW } from './test/lanes/scheduler.js';

/**
 * Test files that load the machine: headless Chromium (several browser contexts that
 * encode and decode video), the benchmark, GStreamer/FFmpeg children (recording,
 * playback, the MCU mix, filters), whole servers started and killed as processes, calls
 * of nine WebRTC peers in one process; and those that time another client's round trips
 * under a flood. They run one at a time (each beside a light file), so that two of them
 * never share the 2 cores and starve each other's handshakes, media clocks or event
 * loops. The TURN files (`test/e2e/turn*.test.ts`: werift peers through a coturn of their
 * own) are light: they mostly wait (5 s of CPU in 15 s, most of it werift's retries of
 * an allocation coturn refuses).
 */
const HEAVY = [
  'test/e2e/**/!(turn|turnRestart).test.ts',
  'packages/bench/src/bench.test.ts',
  'packages/media/src/mcu/{ChildProcesses,Composite}.test.ts',
  'packages/media/src/recording/**/*.test.ts',
  'packages/media/src/filters/{filters,overlays}.test.ts',
  'packages/kurento/src/{Composite,filters,recording,httpRecording,HttpPostEndpoint,magicMirror,limits}.test.ts',
  'packages/signaling/src/{Signaling,calls/CallService}.test.ts',
  'packages/media/src/webrtc/{SinglePort,ImpairedNetwork}.test.ts',
  // The downlink estimate under a tbf limit (network namespaces, libwebrtc): delays a Chromium neighbour would add.
  'packages/media/src/transport/WebRtcTransport.bwe.test.ts',
  'packages/signaling/src/media/{RoomRecording,HybridRoom,RecordingChildKilled}.test.ts',
  // Nine werift peers (eighteen connections) in one process against a media node.
  'packages/signaling/src/media/nodes/MediaNodeRoomOfNine.test.ts',
  'packages/signaling/src/recording/**/*.test.ts',
  'packages/client/src/{Recording,HybridCall,WorkerKilled,BundledRoom}.test.ts',
  'packages/server/src/{cli,recordings}.test.ts',
  // The soak's 2-minute run: a whole server under the load of 27 simulated participants and a
  // recording. It waits more than it computes (38 s of CPU in 145 s), but beside it a heavy
  // file's nine-person call missed its minute (CI, 2026-12-07): it takes the heavy lane.
  'packages/bench/src/soak/soak.test.ts',
];

/**
 * Heavy files that run with nothing beside them, first: they time things that a light
 * file on the other core would slow on a loaded machine. Another client's round trips
 * under a flood (ping under 100 ms), a recording's length against the wall clock and its
 * audio against its video, the CLI's exit within a bound after a second signal. They are
 * started first, so that they follow one another before the light files start, instead
 * of each waiting for a light one to end.
 */
const ALONE = [
  'packages/kurento/src/limits.test.ts',
  'packages/media/src/recording/RecorderEndpoint.test.ts',
  'packages/signaling/src/media/RoomRecording.test.ts',
  'packages/signaling/src/recording/RecordingService.test.ts',
  'packages/signaling/src/media/RecordingChildKilled.test.ts',
  'packages/kurento/src/recording.test.ts',
  'packages/server/src/cli.test.ts',
];

/**
 * The order in which vitest starts the files (it starts WINDOW at a time, and the
 * scheduler in test/lanes/ decides which of those run): the ALONE files, then the other
 * heavy files with, between two of them, as many light files as keep the light work in
 * step with the heavy work, by share of each list's expected time (vitest's cached
 * durations, or the files' sizes on a first run). So a heavy file is among those started
 * when the heavy lane frees, and a light one when the other core does.
 */
class Lanes extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const path = (spec: TestSpecification): string => relative(this.ctx.config.root, spec.moduleId);
    const alone = sorted.filter((spec) => ALONE.includes(path(spec)) && spec.project.config.provide?.heavyFile === true);
    const heavy = sorted.filter((spec) => !alone.includes(spec) && spec.project.config.provide?.heavyFile === true);
    // Array.prototype.sort is stable: the rest keep the base order (cached durations, else size).
    const light = sorted.filter((spec) => spec.project.config.provide?.heavyFile !== true);
    const heavyWeights = this.weights(heavy);
    const lightWeights = this.weights(light);
    const heavyTotal = heavyWeights.reduce((a, b) => a + b, 0) || 1;
    const lightTotal = lightWeights.reduce((a, b) => a + b, 0) || 1;
    const out: TestSpecification[] = [...alone];
    let heavyDone = 0;
    let lightDone = 0;
    let next = 0;
    heavy.forEach((spec, i) => {
      out.push(spec);
      heavyDone += heavyWeights[i]!;
      while (next < light.length && lightDone / lightTotal < heavyDone / heavyTotal) {
        lightDone += lightWeights[next]!;
        out.push(light[next++]!);
      }
    });
    return [...out, ...light.slice(next)];
  }

  /** Expected times of `specs`: the cached durations when every file has one, else the files' sizes. */
  private weights(specs: TestSpecification[]): number[] {
    const keys = specs.map((spec) => `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`);
    const durations = keys.map((key) => this.ctx.cache.getFileTestResults(key)?.duration);
    if (durations.every((d) => d !== undefined && d > 0)) return durations as number[];
    return keys.map((key) => this.ctx.cache.getFileStats(key)?.size ?? 1);
  }
}

/**
 * The packet path (media.packetCore). `npm test` runs every file on the default, `auto`:
 * the native packet core, which `npm install` builds (under CI=true a missing build fails
 * its tests). The files below run a second time on the TypeScript path (the reference,
 * and the fallback of an install without a compiler), as the projects 'typescript' and 'typescript heavy'. Not
 * the whole suite twice: it would add about 15 minutes to a suite that must stay under 15.
 * Only what depends on the path: the transport's and the bridge's own files already run
 * on both paths in one run (`packetPathsUnderTest()`); these are the layers above them and
 * the socket under them, about 45 s one at a time:
 * - the shared socket on the dgram backend (the native core owns it otherwise): UdpMux,
 *   and werift endpoints on it (SinglePort);
 * - rooms on transports with their JavaScript sinks: bundled rooms with the seed words'
 *   bridges (in process and in workers), ICE restarts on them, a mixed-audio room (the
 *   Composite through bridges), and Chromium in a bundled room.
 * They take turns like the others (the heavy ones in the heavy lane), and never run beside
 * their own native run (same UDP ports). `ROUNDTABLE_PACKET_CORE=typescript npm test`
 * still runs everything on the TypeScript path.
 */
const TYPESCRIPT_PATH = [
  'packages/media/src/net/UdpMux.test.ts',
  'packages/media/src/webrtc/SinglePort.test.ts',
  'packages/signaling/src/media/BundledRoom.test.ts',
  'packages/signaling/src/media/HybridRoom.test.ts',
  'packages/client/src/IceRestart.test.ts',
  'test/e2e/web-room-bundled.test.ts',
];
/** The files of TYPESCRIPT_PATH that are in HEAVY. */
const TYPESCRIPT_PATH_HEAVY = ['packages/media/src/webrtc/SinglePort.test.ts', 'packages/signaling/src/media/HybridRoom.test.ts', 'test/e2e/web-room-bundled.test.ts'];

export default defineConfig({
  test: {
    // WebRTC handshakes and browser start-up take seconds on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    sequence: { sequencer: Lanes },
    // One group: vitest starts WINDOW files at a time, and the scheduler (test/lanes/)
    // lets RUNNING of them run (two: a heavy file and a light one, or two light ones).
    maxWorkers: WINDOW,
    globalSetup: ['test/lanes/scheduler.ts'],
    provide: { aloneFiles: ALONE },
    setupFiles: ['test/lanes/takeTurn.ts'],
    projects: [
      {
        // Everything else: unit tests, and WebRTC/signaling tests between Node peers that
        // mostly wait (handshakes, timers, sockets). Each file has its own UDP port range,
        // and the engine takes the next free port when one is busy.
        extends: true,
        test: { name: 'light', include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'], exclude: ['**/node_modules/**', ...HEAVY] },
      },
      {
        extends: true,
        // One Chromium for all the browser files (test/e2e/chromiumServer.ts); each connects to it.
        test: { name: 'heavy', include: HEAVY, provide: { heavyFile: true }, globalSetup: ['test/e2e/chromiumServer.ts'] },
      },
      {
        extends: true,
        test: { name: 'typescript', include: TYPESCRIPT_PATH, exclude: ['**/node_modules/**', ...TYPESCRIPT_PATH_HEAVY], env: { ROUNDTABLE_PACKET_CORE: 'typescript' } },
      },
      {
        extends: true,
        test: { name: 'typescript heavy', include: TYPESCRIPT_PATH_HEAVY, provide: { heavyFile: true }, globalSetup: ['test/e2e/chromiumServer.ts'], env: { ROUNDTABLE_PACKET_CORE: 'typescript' } },
      },
    ],
  },
});
