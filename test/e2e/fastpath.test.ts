/**
 * End to end: Chromium's libwebrtc against a WebRtcEndpoint on the fast data path
 * (native-crypto SRTP, own forwarding). Chromium publishes a canvas video and an
 * oscillator; one endpoint returns it to the same page (loopback) and a second page
 * receives it through a one-to-many forward. Everything stays on 127.0.0.1.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaPipeline, type WebRtcEndpoint } from '../../packages/media/src/index.js';
import { skipBrowserTests } from './browser.js';
import { openChromium } from './sharedChromium.js';
import { openEndpointPage, trickleLoopbackFromPage, trickleToPage, waitForPageMedia, type PageWindow } from './endpointPage.js';
import { Engine } from '../../packages/media/src/index.js';

/** This file's media engine. */
const engine = new Engine();

/** Offers from the page, answers with the endpoint, and trickles both ways (the page's loopback candidates only). */
async function connect(page: Page, ep: WebRtcEndpoint): Promise<void> {
  const offer = await page.evaluate(async () => {
    const pc = (window as unknown as PageWindow).pc;
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription!.sdp;
  });
  const answer = await ep.processOffer(offer);
  trickleToPage(page, ep);
  await page.evaluate((sdp) => (window as unknown as PageWindow).pc.setRemoteDescription({ type: 'answer', sdp }), answer);
  await ep.gatherCandidates();
  await trickleLoopbackFromPage(page, ep);
}

describe.skipIf(skipBrowserTests('fast path with Chromium'))('fast path with Chromium', () => {
  let browser: Browser | undefined;
  let pipeline: MediaPipeline | undefined;

  beforeAll(async () => {
    browser = await openChromium();
  });

  afterAll(async () => {
    pipeline?.close();
    await browser?.close();
  });

  it('Chromium media returns through a loopback endpoint and reaches a second page through the fast path, and decodes', async () => {
    pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [57400, 57499] });
    const publisher = await openEndpointPage(browser!, { publish: true, width: 320, height: 240 });
    const viewer = await openEndpointPage(browser!, { publish: false, width: 320, height: 240 });
    const loop = pipeline.createWebRtcEndpoint();
    const out = pipeline.createWebRtcEndpoint({ direction: 'sendonly' });
    loop.connect(loop);
    loop.connect(out);
    await connect(publisher, loop);
    await connect(viewer, out);

    const back = await waitForPageMedia(publisher, 30, 50);
    const seen = await waitForPageMedia(viewer, 30, 50);
    expect(back.framesDecoded, JSON.stringify(back)).toBeGreaterThan(30);
    expect(back.audioPackets).toBeGreaterThan(50);
    expect(seen.framesDecoded, JSON.stringify(seen)).toBeGreaterThan(30);
    expect(seen.audioPackets).toBeGreaterThan(50);

    const loopStats = loop.getFastPathStats()!;
    const outStats = out.getFastPathStats()!;
    expect(loopStats.rtpIn).toBeGreaterThan(100);
    expect(loopStats.rtpOut).toBeGreaterThan(100);
    expect(loopStats.rtcpIn).toBeGreaterThan(0);
    expect(outStats.rtpOut).toBeGreaterThan(100);
    expect(loopStats.inbound.authFailures + loopStats.inbound.truncated).toBe(0);
    // Both browser pages on the one shared server port (single-port mode, the default).
    expect(loop.sharedUdpPort).toBeDefined();
    expect(out.sharedUdpPort).toBe(loop.sharedUdpPort);
    console.log(`Chromium negotiated SRTP profile ${loopStats.profile}`);
  });
});
