/**
 * Which packet paths tests run on. The native core is built by `npm install` when a C++
 * compiler is there: under CI=true a missing build fails the tests that need it; without
 * CI they skip with a loud warning, as tests of other missing tools do.
 */
import { choosePacketCore, packetCoreSetting, type PacketCorePath } from './PacketCore.js';

let warned = false;

/** True when the native core's own tests can run (the addon loads). Throws under CI when it does not. */
export function nativeCoreUnderTest(): boolean {
  const choice = choosePacketCore('auto');
  if (choice.path === 'native') return true;
  if (process.env['CI'] === 'true') throw new Error(`CI=true: the native packet core must be built (npm ci builds it with g++): ${choice.reason}`);
  if (!warned) {
    warned = true;
    console.warn(`\n!!! SKIPPING the native packet core's tests: ${choice.reason}\n`);
  }
  return false;
}

/**
 * The paths a transport test runs on: the one ROUNDTABLE_PACKET_CORE names when it is
 * native or typescript (the whole suite on one path), else both.
 */
export function packetPathsUnderTest(): PacketCorePath[] {
  const setting = packetCoreSetting();
  if (setting === 'typescript') return ['typescript'];
  if (setting === 'native') return ['native'];
  return nativeCoreUnderTest() ? ['typescript', 'native'] : ['typescript'];
}
