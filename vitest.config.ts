import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Test files that must have the machine to themselves: headless Chromium (several
 * browser contexts that encode and decode video; coturn in some), the benchmark, the
 * calls of nine WebRTC peers in one process, the real-time mixes heard through FFTs
 * (the Composites), and the files whose behaviour is a bound on time: another client's
 * round trips under a flood, video freezes through a lossy relay, a recording's length
 * against the wall clock beside its own CPU hogs or a late joiner, a second signal
 * ending the server at once. They run one at a time, so that two of them never share
 * the 2 cores and starve each other's handshakes, media clocks or event loops.
 */
const ALONE = [
  'test/e2e/**/*.test.ts',
  'packages/bench/src/bench.test.ts',
  'packages/kurento/src/{limits,Composite}.test.ts',
  'packages/signaling/src/{Signaling,calls/CallService}.test.ts',
  'packages/media/src/webrtc/{SinglePort,ImpairedNetwork}.test.ts',
  'packages/media/src/mcu/Composite.test.ts',
  'packages/media/src/recording/RecordingUnderLoad.test.ts',
  'packages/signaling/src/media/RoomRecording.test.ts',
  'packages/server/src/cli.test.ts',
];

/**
 * Test files with GStreamer/FFmpeg children (recording, playback, filters) or a whole
 * server under simulated load (the soak's 2-minute run): they wait for media time more
 * than they compute (23 such files, the Composites, the room recording and the CLI
 * included, took 280 s of CPU in all over 886 s of wall time two at a time on a machine
 * loaded by others; the soak alone 38 s in 145 s). Two of them run at a time,
 * after the light files and apart from the ALONE ones (a file in both lists is ALONE).
 */
const HEAVY = [
  'packages/bench/src/soak/soak.test.ts',
  'packages/media/src/mcu/{ChildProcesses,Composite}.test.ts',
  'packages/media/src/recording/**/*.test.ts',
  'packages/media/src/filters/{filters,overlays}.test.ts',
  'packages/kurento/src/{Composite,filters,recording,httpRecording,HttpPostEndpoint,magicMirror}.test.ts',
  'packages/signaling/src/media/{RoomRecording,HybridRoom,RecordingChildKilled}.test.ts',
  'packages/signaling/src/recording/**/*.test.ts',
  'packages/client/src/{Recording,HybridCall,WorkerKilled}.test.ts',
  'packages/server/src/{cli,recordings}.test.ts',
];

/**
 * Files that take a minute or more, started first in their group so that the group does
 * not end on one of them while the other worker has nothing left to do.
 */
const LONGEST = ['packages/bench/src/soak/soak.test.ts'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const i = LONGEST.findIndex((path) => spec.moduleId.endsWith(path));
      return i < 0 ? LONGEST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep the base order (cached durations, else size).
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

/**
 * Files at a time: light ones 2 by default, HEAVY ones 2; `ROUNDTABLE_TEST_WORKERS=1`
 * runs every file one by one (a machine busy with other work).
 */
const WORKERS = Number(process.env['ROUNDTABLE_TEST_WORKERS'] ?? '') || 2;

export default defineConfig({
  test: {
    // WebRTC handshakes and browser start-up take seconds on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        // Everything else: unit tests, and WebRTC/signaling tests between Node peers that
        // mostly wait (handshakes, timers, sockets). Two files at a time; each file has its
        // own UDP port range, and the engine takes the next free port when one is busy.
        extends: true,
        test: { name: 'light', include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'], exclude: ['**/node_modules/**', ...HEAVY, ...ALONE], maxWorkers: WORKERS, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'heavy', include: HEAVY, exclude: ['**/node_modules/**', ...ALONE], maxWorkers: WORKERS, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
