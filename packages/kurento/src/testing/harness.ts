import kurentoClient, { type KurentoClientInstance } from 'kurento-client';
import { StunServer } from '@roundtable/media/testing';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { KurentoServer, type KurentoServerOptions } from '../KurentoServer.js';

export interface KurentoHarness {
  /** The Kurento Protocol URL of the file's server. */
  readonly url: string;
  /** The loopback STUN server every test peer is given. */
  readonly stunUrl: string;
  readonly server: KurentoServer;
  /** Functions run (last first) after each test. */
  readonly cleanup: Array<() => unknown>;
  /** The unmodified official kurento-client, connected to the file's server; closed after the test. */
  officialClient(): Promise<KurentoClientInstance>;
}

/**
 * One Kurento server (media on 127.0.0.1 in `portRange`) and one loopback STUN server
 * per test file (with `options`, e.g. a recording spool); what a test registers in
 * `cleanup` is undone after it.
 */
export function useKurentoHarness(portRange: [number, number], options: Omit<KurentoServerOptions, 'port' | 'media'> = {}): KurentoHarness {
  const stun = new StunServer();
  const state = { url: '', stunUrl: '', server: undefined as KurentoServer | undefined };
  const cleanup: Array<() => unknown> = [];
  beforeAll(async () => {
    state.server = new KurentoServer({ ...options, port: 0, media: { iceAddresses: ['127.0.0.1'], portRange } });
    state.url = (await state.server.listen()).url;
    state.stunUrl = (await stun.listen()).url;
  });
  afterAll(async () => {
    await state.server?.close();
    stun.close();
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  return {
    get url() {
      return state.url;
    },
    get stunUrl() {
      return state.stunUrl;
    },
    get server() {
      if (!state.server) throw new Error('the Kurento server starts in beforeAll');
      return state.server;
    },
    cleanup,
    officialClient: async () => {
      const client = await kurentoClient(state.url, { failAfter: 1 });
      cleanup.push(() => client.close());
      return client;
    },
  };
}
