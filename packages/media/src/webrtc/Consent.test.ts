import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { StunServer } from '../net/StunServer.js';

import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

const stun = new StunServer();
let stunUrl = '';
beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterAll(() => stun.close());

describe('WebRtcEndpoint consent freshness', () => {
  it('an endpoint whose peer vanishes goes to failed within ~30 s and releases its ports', async () => {
    const pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [44500, 44599] });
    const ep = pipeline.createWebRtcEndpoint({ direction: 'recvonly' });
    const child = spawn(process.execPath, [fileURLToPath(new URL('../testing/remotePeer.mjs', import.meta.url)), stunUrl], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      const connected = new Promise<void>((resolve) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const msg = JSON.parse(line) as { offer?: string; candidate?: string; sdpMid?: string; sdpMLineIndex?: number; state?: string };
          if (msg.offer) {
            void ep.processOffer(msg.offer).then(async (answer) => {
              child.stdin.write(`${JSON.stringify({ answer })}\n`);
              await ep.gatherCandidates();
            });
          } else if (msg.candidate) {
            void ep.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdpMid ?? null, sdpMLineIndex: msg.sdpMLineIndex ?? null });
          } else if (msg.state === 'connected') {
            resolve();
          }
        });
      });
      ep.on('iceCandidate', (c) => child.stdin.write(`${JSON.stringify(c)}\n`));
      await connected;
      await ep.waitFor('mediaFlowingIn', 10_000, (kind, flowing) => kind === 'audio' && flowing);
      // Single-port mode (the default): the endpoint holds the shared socket, no port of the range.
      const port = ep.sharedUdpPort;
      expect(port).toBeGreaterThanOrEqual(44500);
      expect(engine.sockets.find('127.0.0.1', port!)?.getStats().bindings).toBe(1);
      const start = Date.now();
      child.kill('SIGKILL');
      await ep.waitFor('connectionStateChange', 60_000, (state) => state === 'failed');
      const seconds = (Date.now() - start) / 1000;
      expect(seconds).toBeGreaterThan(5);
      expect(seconds).toBeLessThan(50);
      expect(ep.getConnectionState()).toBe('failed');
      expect(pipeline.ports.inUse).toBe(0);
      expect(ep.sharedUdpPort).toBeUndefined();
      // It was the last user: the shared socket is closed.
      expect(engine.sockets.find('127.0.0.1', port!)).toBeUndefined();
      await ep.waitFor('mediaFlowingIn', 5_000, (kind, flowing) => kind === 'audio' && !flowing).catch(() => undefined);
      expect(ep.isMediaFlowingIn('audio')).toBe(false);
    } finally {
      child.kill('SIGKILL');
      pipeline.close();
    }
  }, 90_000);
});
