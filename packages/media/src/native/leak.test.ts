import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import { DtlsCertificate } from '../transport/DtlsSession.js';
import { CLIENT_OFFER } from '../transport/testSdp.js';
import { WebRtcTransport } from '../transport/WebRtcTransport.js';
import { nativeCoreUnderTest } from './testPaths.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 65420-65429.
const native = nativeCoreUnderTest();
let mux: UdpMux;
let certificate: DtlsCertificate;
beforeAll(async () => {
  if (!native) return;
  mux = await engine.sockets.acquire('127.0.0.1', [65420, 65429], 'test', 'native');
  certificate = await DtlsCertificate.generate();
});
afterAll(() => mux?.release());

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** 5,000 pairs: a sending transport with two producers, a receiving one consuming both. */
function churn(pairs: number): void {
  for (let i = 0; i < pairs; i++) {
    const send = new WebRtcTransport({ mux, certificate });
    send.processOffer(CLIENT_OFFER);
    const recv = new WebRtcTransport({ mux, certificate });
    for (const producer of send.producers.values()) recv.consume(producer);
    if (i % 2 === 0) {
      send.close();
      recv.close();
    } else {
      recv.close();
      send.close();
    }
  }
}

describe.runIf(native)('native packet core lifecycle', () => {
  it('10,000 transports created and closed (with producers and consumers) leave nothing in the core, the mux or the heap', { timeout: 120_000 }, async () => {
    const core = mux.native!.core;
    const at = core.stats();
    churn(500); // warm-up: lazily made things (code, pools) are not a leak
    collectGarbage();
    const rssBefore = process.memoryUsage().rss;
    const heapBefore = process.memoryUsage().heapUsed;
    churn(5000);
    await new Promise((r) => setTimeout(r, 100));
    collectGarbage();
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    const after = core.stats();
    expect({ transports: after.transports, producers: after.producers, consumers: after.consumers }).toEqual({ transports: at.transports, producers: at.producers, consumers: at.consumers });
    expect(mux.getStats().bindings).toBe(0);
    // A video producer's ring alone is 24 KB in the core: 10,000 leaked transports would be hundreds of MB.
    expect(rssGrowth, `rss grew ${(rssGrowth / 1e6).toFixed(1)} MB`).toBeLessThan(64 * 1024 * 1024);
    expect(heapGrowth, `heap grew ${(heapGrowth / 1e6).toFixed(1)} MB`).toBeLessThan(32 * 1024 * 1024);
  });
});
