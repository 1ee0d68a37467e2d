import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Test files that load the machine: headless Chromium (several browser contexts that
 * encode and decode video), the benchmark, calls of nine WebRTC peers in one process,
 * media children under load, and those that time another client's round trips under a
 * flood or a limited link. They run one at a time, so that two of them never share the
 * 2 cores and starve each other's handshakes, media clocks or event loops.
 */
const HEAVY = [
  'test/e2e/**/*.test.ts',
  'packages/bench/src/bench.test.ts',
  // A quick bench run of the simulcast load (Roundtable only, rooms of 4).
  'packages/bench/src/bench.simulcast.test.ts',
  'packages/media/src/mcu/ChildProcesses.test.ts',
  'packages/media/src/recording/RecordingUnderLoad.test.ts',
  'packages/kurento/src/{magicMirror,limits}.test.ts',
  // A Kurento recording (arrival clock) uploaded over HTTP: its file must be no longer than
  // the wall time from record() to the stop, +0.2 s. Beside the first group's four files it
  // came out 0.32 s longer once (2026-12-08): GStreamer's jitter buffer fits the arrival
  // clock, and a starved recorder stretches it (docs/recording.md).
  'packages/kurento/src/httpRecording.test.ts',
  'packages/signaling/src/{Signaling,calls/CallService}.test.ts',
  // The downlink estimate under a tbf limit (network namespaces, libwebrtc).
  'packages/media/src/transport/WebRtcTransport.bwe.test.ts',
  // Nine werift peers (eighteen connections) in one process against a media node.
  'packages/signaling/src/media/nodes/MediaNodeRoomOfNine.test.ts',
  'packages/signaling/src/media/{HybridRoom,RecordingChildKilled}.test.ts',
  'packages/signaling/src/recording/RecordingUpload.test.ts',
  'packages/client/src/{HybridCall,WorkerKilled,BundledRoom}.test.ts',
  'packages/server/src/{cli,recordings}.test.ts',
];

/**
 * Files with GStreamer/FFmpeg children (recording, playback, the MCU mix, filters) or
 * TURN relays that wait on media clocks far more than they compute: measured alone on a
 * quiet machine (2026-12-07, machine-wide CPU over each file's wall time), 0.07 to 0.45
 * of one core each, 290 s of wall time for 103 s of CPU. They ran in the heavy group, one
 * at a time, where they held the 2 cores idle for five minutes; they run in the first
 * group, beside the light files (which keep 0.9 of the 2 cores busy, two at a time),
 * not beside a browser. Not here: browser files, even the quiet ones (they share the
 * heavy group's Chromium), and files that time a limited link (`bwe`, simulcast).
 */
const CLOCKED = [
  'test/e2e/{turn,turnRestart}.test.ts',
  'packages/media/src/mcu/Composite.test.ts',
  'packages/media/src/recording/{segments,RecorderEndpoint,PlayerEndpoint}.test.ts',
  'packages/media/src/filters/{filters,overlays}.test.ts',
  'packages/media/src/webrtc/{SinglePort,ImpairedNetwork}.test.ts',
  'packages/kurento/src/{Composite,filters,recording,HttpPostEndpoint}.test.ts',
  'packages/signaling/src/media/RoomRecording.test.ts',
  'packages/signaling/src/recording/RecordingService.test.ts',
  'packages/client/src/Recording.test.ts',
];

/**
 * The first group's longest files, started first in this order so that the short ones
 * fill the workers around them (on a clean clone vitest has no durations to sort by, and
 * would start the largest files first). The soak's 2-minute run
 * (`packages/bench/src/soak/soak.test.ts`, a whole server under simulated load with a
 * recording) is not in HEAVY: it waits for its minute of load more than it computes (38 s
 * of CPU in 145 s of wall time), so it runs beside the light files rather than holding
 * the heavy group for a minute and a half.
 */
const LONGEST_FIRST = [
  'packages/bench/src/soak/soak.test.ts',
  'packages/signaling/src/Quotas.test.ts',
  'packages/media/src/mcu/Composite.test.ts',
  'packages/media/src/webrtc/Consent.test.ts',
  'packages/signaling/src/media/RoomRecording.test.ts',
  'packages/media/src/transport/WebRtcTransport.follow.test.ts',
  'packages/media/src/transport/WebRtcTransport.test.ts',
  'packages/media/src/recording/RecorderEndpoint.test.ts',
  'packages/media/src/filters/filters.test.ts',
  'packages/media/src/transport/WebRtcTransport.ice.test.ts',
  'packages/signaling/src/media/workers/WorkerMediaServer.test.ts',
  'packages/media/src/filters/overlays.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const group = (spec: TestSpecification): number => spec.project.config.sequence.groupOrder;
    const rank = (spec: TestSpecification): number => {
      const at = LONGEST_FIRST.findIndex((path) => spec.moduleId.endsWith(path));
      if (at !== -1) return at;
      // The first group's TypeScript-path files last, their native runs first (see TYPESCRIPT_PATH).
      const twin = TYPESCRIPT_PATH.some((path) => spec.moduleId.endsWith(path));
      if (!twin) return LONGEST_FIRST.length + 1;
      return spec.project.name === 'typescript' ? LONGEST_FIRST.length + 2 : LONGEST_FIRST.length;
    };
    // Array.prototype.sort is stable: the rest keep the base order (cached durations, else size).
    return sorted.sort((a, b) => group(a) - group(b) || rank(a) - rank(b));
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
 *   and Kurento endpoints on it (SinglePort, and their negotiation, ICE restarts and
 *   packet counters: WebRtcEndpoint, Negotiation, IceRestart, PacketPath);
 * - rooms on transports with their JavaScript sinks: bundled rooms with the seed words'
 *   bridges (in process and in workers), ICE restarts on them, a mixed-audio room (the
 *   Composite through bridges), and Chromium in a bundled room.
 * Never beside their own native run (the same fixed UDP ports in some files, and the heavy
 * ones must be alone): the ones that are not heavy run in the first group, as its last
 * files (project 'typescript'), their native runs among its first (NATIVE_TWINS_FIRST in
 * the sequencer), so the native run has ended long before; the two heavy ones run last,
 * one at a time (project 'typescript-heavy'). `ROUNDTABLE_PACKET_CORE=typescript npm test`
 * still runs everything on the TypeScript path.
 */
const TYPESCRIPT_PATH = [
  'packages/media/src/net/UdpMux.test.ts',
  'packages/media/src/webrtc/SinglePort.test.ts',
  // Kurento's endpoints on the own transport, which runs on either packet path.
  'packages/media/src/webrtc/WebRtcEndpoint.test.ts',
  'packages/media/src/webrtc/Negotiation.test.ts',
  'packages/media/src/webrtc/IceRestart.test.ts',
  'packages/media/src/webrtc/PacketPath.test.ts',
  'packages/signaling/src/media/BundledRoom.test.ts',
  'packages/client/src/IceRestart.test.ts',
];
const TYPESCRIPT_PATH_HEAVY = ['packages/signaling/src/media/HybridRoom.test.ts', 'test/e2e/web-room-bundled.test.ts'];

/**
 * Files at a time in the first group (light, clocked and typescript): 4 by default. The
 * group then keeps 1.55 of the 2 cores busy on average (measured: 433 s of CPU in 282 s);
 * `ROUNDTABLE_TEST_WORKERS=1` runs them one by one (a machine busy with other work).
 */
const LIGHT_WORKERS = Number(process.env['ROUNDTABLE_TEST_WORKERS'] ?? '') || 4;

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
        // mostly wait (handshakes, timers, sockets). Four files at a time; each file has its
        // own UDP port range, and the engine takes the next free port when one is busy.
        extends: true,
        test: { name: 'light', include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'], exclude: ['**/node_modules/**', ...HEAVY, ...CLOCKED], maxWorkers: LIGHT_WORKERS, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // In the light files' group and pool (a group has one worker count): see CLOCKED.
        test: { name: 'clocked', include: CLOCKED, maxWorkers: LIGHT_WORKERS, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // One Chromium for all the group's browser files (test/e2e/chromiumServer.ts); each connects to it.
        test: { name: 'heavy', include: HEAVY, exclude: ['**/node_modules/**', ...CLOCKED], maxWorkers: 1, sequence: { groupOrder: 1 }, globalSetup: ['test/e2e/chromiumServer.ts'] },
      },
      {
        extends: true,
        test: { name: 'typescript', include: TYPESCRIPT_PATH, env: { ROUNDTABLE_PACKET_CORE: 'typescript' }, maxWorkers: LIGHT_WORKERS, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'typescript-heavy', include: TYPESCRIPT_PATH_HEAVY, env: { ROUNDTABLE_PACKET_CORE: 'typescript' }, maxWorkers: 1, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
