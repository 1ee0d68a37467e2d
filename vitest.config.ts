import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Test files that load the machine: headless Chromium (several browser contexts that
 * encode and decode video), the benchmark, GStreamer/FFmpeg children (recording,
 * playback, the MCU mix, filters), calls of nine WebRTC peers in one process; and those
 * that time another client's round trips under a flood. They run one at a time, so that
 * two of them never share the 2 cores and starve each other's handshakes, media clocks
 * or event loops.
 */
const HEAVY = [
  'test/e2e/**/*.test.ts',
  'packages/bench/src/bench.test.ts',
  // A quick bench run of the simulcast load (Roundtable only, rooms of 4).
  'packages/bench/src/bench.simulcast.test.ts',
  'packages/media/src/mcu/{ChildProcesses,Composite}.test.ts',
  'packages/media/src/recording/**/*.test.ts',
  'packages/media/src/filters/{filters,overlays}.test.ts',
  'packages/kurento/src/{Composite,filters,recording,httpRecording,HttpPostEndpoint,magicMirror,limits}.test.ts',
  'packages/signaling/src/{Signaling,calls/CallService}.test.ts',
  'packages/media/src/webrtc/{SinglePort,ImpairedNetwork}.test.ts',
  // The downlink estimate under a tbf limit (network namespaces, libwebrtc).
  'packages/media/src/transport/WebRtcTransport.bwe.test.ts',
  // Nine werift peers (eighteen connections) in one process against a media node.
  'packages/signaling/src/media/nodes/MediaNodeRoomOfNine.test.ts',
  'packages/signaling/src/media/{RoomRecording,HybridRoom,RecordingChildKilled}.test.ts',
  'packages/signaling/src/recording/**/*.test.ts',
  'packages/client/src/{Recording,HybridCall,WorkerKilled,BundledRoom}.test.ts',
  'packages/server/src/{cli,recordings}.test.ts',
];

/**
 * The soak's 2-minute run (`packages/bench/src/soak/soak.test.ts`, a whole server under
 * simulated load with a recording) is not in HEAVY: it waits for its minute of load
 * more than it computes (38 s of CPU in 145 s of wall time), so it runs beside the light
 * files rather than holding the heavy group for a minute and a half; it is started first.
 */
const LONGEST_FIRST = ['packages/bench/src/soak/soak.test.ts'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => (LONGEST_FIRST.some((path) => spec.moduleId.endsWith(path)) ? 0 : 1);
    // Array.prototype.sort is stable: the rest keep the base order (cached durations, else size).
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

/**
 * The packet path (media.packetCore). `npm test` runs every file on the default, `auto`:
 * the native packet core, which `npm install` builds (under CI=true a missing build fails
 * its tests). The files below run a second time on the TypeScript path (the reference,
 * and the fallback of an install without a compiler), as the project 'typescript'. Not
 * the whole suite twice: it would add about 15 minutes to a suite that must stay under 15.
 * Only what depends on the path: the transport's and the bridge's own files already run
 * on both paths in one run (`packetPathsUnderTest()`); these are the layers above them and
 * the socket under them, about 45 s one at a time:
 * - the shared socket on the dgram backend (the native core owns it otherwise): UdpMux,
 *   and werift endpoints on it (SinglePort);
 * - rooms on transports with their JavaScript sinks: bundled rooms with the seed words'
 *   bridges (in process and in workers), ICE restarts on them, a mixed-audio room (the
 *   Composite through bridges), and Chromium in a bundled room.
 * They run last, one at a time: never beside their own native run (same UDP ports, and
 * the heavy ones must be alone). `ROUNDTABLE_PACKET_CORE=typescript npm test` still runs
 * everything on the TypeScript path.
 */
const TYPESCRIPT_PATH = [
  'packages/media/src/net/UdpMux.test.ts',
  'packages/media/src/webrtc/SinglePort.test.ts',
  'packages/signaling/src/media/BundledRoom.test.ts',
  'packages/signaling/src/media/HybridRoom.test.ts',
  'packages/client/src/IceRestart.test.ts',
  'test/e2e/web-room-bundled.test.ts',
];

/** Light files at a time: 2 by default; `ROUNDTABLE_TEST_WORKERS=1` runs them one by one (a machine busy with other work). */
const LIGHT_WORKERS = Number(process.env['ROUNDTABLE_TEST_WORKERS'] ?? '') || 2;

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
        test: { name: 'light', include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'], exclude: ['**/node_modules/**', ...HEAVY], maxWorkers: LIGHT_WORKERS, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // One Chromium for all the group's browser files (test/e2e/chromiumServer.ts); each connects to it.
        test: { name: 'heavy', include: HEAVY, maxWorkers: 1, sequence: { groupOrder: 1 }, globalSetup: ['test/e2e/chromiumServer.ts'] },
      },
      {
        extends: true,
        test: { name: 'typescript', include: TYPESCRIPT_PATH, env: { ROUNDTABLE_PACKET_CORE: 'typescript' }, maxWorkers: 1, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
