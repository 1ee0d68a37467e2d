import { afterAll, afterEach, beforeAll } from 'vitest';
import { StunServer } from '../net/StunServer.js';

export interface TestPeerEnvironment {
  /** The loopback STUN server's URL, every test peer is given it (set in beforeAll). */
  readonly stunUrl: string;
  /** Functions run, last first, after each test. */
  readonly cleanup: Array<() => unknown>;
}

/**
 * The set-up most WebRTC test files share: one loopback STUN server for the file, and
 * a cleanup list emptied after each test.
 */
export function useTestPeerEnvironment(): TestPeerEnvironment {
  const stun = new StunServer();
  let stunUrl = '';
  const cleanup: Array<() => unknown> = [];
  beforeAll(async () => {
    stunUrl = (await stun.listen()).url;
  });
  afterAll(() => stun.close());
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  return {
    get stunUrl() {
      return stunUrl;
    },
    cleanup,
  };
}
