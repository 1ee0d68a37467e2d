/**
 * End to end: Chromium restarts ICE (pc.restartIce() and a new offer) on a connection to
 * a WebRtcEndpoint mid-stream; the endpoint answers with new credentials on the same
 * DTLS session, and the page keeps decoding what comes back. Everything on 127.0.0.1.
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

/** Offers from the page (a restart offer with `restart`), answers with the endpoint, and trickles the page's loopback candidates of this offer. */
async function negotiate(page: Page, ep: WebRtcEndpoint, restart: boolean): Promise<void> {
  const offer = await page.evaluate(async (restart: boolean) => {
    const w = window as unknown as PageWindow;
    w.candidates = [];
    if (restart) w.pc.restartIce();
    await w.pc.setLocalDescription(await w.pc.createOffer());
    return w.pc.localDescription!.sdp;
  }, restart);
  const answer = await ep.processOffer(offer);
  // The endpoint's candidates, of this generation and of the restart's.
  if (!restart) trickleToPage(page, ep, true);
  await page.evaluate((sdp) => (window as unknown as PageWindow).pc.setRemoteDescription({ type: 'answer', sdp }), answer);
  if (!restart) await ep.gatherCandidates();
  await trickleLoopbackFromPage(page, ep);
}

describe.skipIf(skipBrowserTests('ICE restart with Chromium'))('ICE restart with Chromium', () => {
  let browser: Browser | undefined;
  let pipeline: MediaPipeline | undefined;

  beforeAll(async () => {
    browser = await openChromium();
  });

  afterAll(async () => {
    pipeline?.close();
    await browser?.close();
  });

  it('Chromium restarts ICE mid-stream with a loopback endpoint: new credentials, same DTLS, and it keeps decoding what comes back', async () => {
    pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [53800, 53899] });
    const page = await openEndpointPage(browser!, { publish: true, width: 160, height: 120 });
    const loop = pipeline.createWebRtcEndpoint();
    loop.connect(loop);
    const dtls: string[] = [];
    loop.on('dtlsStateChange', (s) => dtls.push(s));
    await negotiate(page, loop, false);
    const first = await waitForPageMedia(page, 20, 50);
    expect(first.framesDecoded, JSON.stringify(first)).toBeGreaterThan(20);

    await negotiate(page, loop, true);

    const after = await waitForPageMedia(page, first.framesDecoded + 30, first.audioPackets + 50);
    expect(after.framesDecoded, JSON.stringify(after)).toBeGreaterThan(first.framesDecoded + 30);
    expect(after.audioPackets).toBeGreaterThan(first.audioPackets + 50);
    expect(after.localUfrag).not.toBe(first.localUfrag);
    expect(after.connectionState).toBe('connected');
    expect(loop.iceRestartCount).toBe(1);
    expect(dtls.filter((s) => s === 'connected')).toHaveLength(1);
  });
});
