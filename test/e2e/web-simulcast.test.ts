/**
 * End to end: simulcast through the server in a room of three Chromium pages of the web
 * app (issue #20, points 1, 3, 4). Ida publishes her camera as simulcast layers; Jon's
 * small window shows her in a small tile and Kai's big one in a big tile: the tiles'
 * sizes go to the server (`subscribeQuality`), which forwards each the layer that fits.
 * Jon's window grows: he switches up, and the layer nobody takes any more is paused at
 * Ida's sender (`publishLayers`); it comes back when his window shrinks again.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { skipBrowserTests } from './browser.js';
import { appState, signUp, webAppSuite, type AppUser } from './webApp.js';

declare global {
  interface Window {
    /** Every peer connection the page made (this test's init script). */
    __pcs?: RTCPeerConnection[];
  }
}

/** Keeps the page's peer connections reachable, for their stats. */
function collectPeers(): void {
  const Original = window.RTCPeerConnection;
  const pcs: RTCPeerConnection[] = [];
  window.__pcs = pcs;
  window.RTCPeerConnection = class extends Original {
    constructor(config?: RTCConfiguration) {
      super(config);
      pcs.push(this);
    }
  };
}

/**
 * Asks the camera for 640x360: the fake camera's default (320x240 here) is too small for
 * Chromium to send more than one layer (it sends two from 480x270, three from 960x540).
 */
function camera360p(): void {
  const devices = navigator.mediaDevices;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints?: MediaStreamConstraints) =>
    original(constraints?.video ? { ...constraints, video: { ...(typeof constraints.video === 'object' ? constraints.video : {}), width: 640, height: 360 } } : constraints);
}

/** The video the page decodes that has the most frames (the only camera on in the room but its own): frames and width. */
async function decodedVideo(page: Page): Promise<{ frames: number; width: number }> {
  return page.evaluate(async () => {
    let best = { frames: 0, width: 0 };
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s['type'] !== 'inbound-rtp' || s['kind'] !== 'video') return;
        const frames = Number(s['framesDecoded'] ?? 0);
        if (frames > best.frames) best = { frames, width: Number(s['frameWidth'] ?? 0) };
      });
    }
    return best;
  });
}

interface SentLayer {
  rid: string;
  packets: number;
  active: boolean;
}

/** What the page's camera sends, per simulcast layer in the sender's order (lowest first): packets sent and whether the encoding is active. */
async function sentLayers(page: Page): Promise<SentLayer[]> {
  return page.evaluate(async () => {
    const out: Array<{ rid: string; packets: number; active: boolean }> = [];
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      const packets = new Map<string, number>();
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s['type'] === 'outbound-rtp' && s['kind'] === 'video' && typeof s['rid'] === 'string') packets.set(s['rid'], Number(s['packetsSent'] ?? 0));
      });
      for (const sender of pc.getSenders()) for (const e of sender.getParameters().encodings ?? []) if (e.rid) out.push({ rid: e.rid, packets: packets.get(e.rid) ?? 0, active: e.active !== false });
    }
    return out;
  });
}

describe.skipIf(skipBrowserTests('simulcast in the web app'))('simulcast through the server, in Chromium', () => {
  const suite = webAppSuite({ portRange: [58300, 58359] });

  it('a small tile gets a lower layer than a big one; a tile that grows switches up with frames decoding, and the layer nobody takes then is paused at the publisher and resumed when wanted', async () => {
    const small = { width: 260, height: 420 };
    const big = { width: 1280, height: 800 };
    const [ida, jon, kai] = await Promise.all([
      signUp(suite.browser, suite.server, 'ida', 'en-US', { context: { viewport: big } }),
      signUp(suite.browser, suite.server, 'jon', 'en-US', { context: { viewport: small } }),
      signUp(suite.browser, suite.server, 'kai', 'en-US', { context: { viewport: big } }),
    ]);
    const everyone: AppUser[] = [ida!, jon!, kai!];
    suite.users.push(...everyone);
    for (const u of everyone) await u.context.addInitScript(collectPeers);
    await ida!.context.addInitScript(camera360p);
    const room = `simulcast-${process.pid}`;
    for (const u of everyone) {
      // A new document, so that the init script runs in it.
      await u.page.goto('about:blank');
      await u.page.goto(`${suite.server.url}#/room/${room}`);
      await u.page
        .getByTestId('call-screen')
        .waitFor({ timeout: 45_000 })
        .catch(async (error: unknown) => {
          throw new Error(`${u.username}'s room screen did not open: ${String(error)}\napp: ${JSON.stringify(await appState(u.page))}\npage log:\n${u.logs.join('\n')}`);
        });
    }
    // Only Ida's camera is on: what Jon and Kai decode is hers.
    for (const u of [jon!, kai!]) await u.page.getByTestId('toggle-camera').click();
    const context = async (): Promise<string> => JSON.stringify({ jon: await decodedVideo(jon!.page), kai: await decodedVideo(kai!.page), ida: await sentLayers(ida!.page), logs: [...jon!.logs, ...kai!.logs].slice(-10) });

    // The high layer's width: what Kai decodes when the two are seen to differ (read again later, it may be
    // the lower layer's for a moment: his layers follow his downlink estimate, which a loaded machine moves).
    let high = 0;
    await expect
      .poll(async () => {
        const [j, k] = [await decodedVideo(jon!.page), await decodedVideo(kai!.page)];
        const differ = j.frames > 20 && k.frames > 20 && j.width > 0 && j.width < k.width;
        if (differ) high = k.width;
        return differ;
      }, { timeout: 45_000, interval: 500 })
      .toBe(true)
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await context()}`);
      });
    console.log(`simulcast web: layers differ ${await context()}`);
    const layers = await sentLayers(ida!.page);
    expect(layers.length, await context()).toBeGreaterThanOrEqual(2);
    const lowest = async (): Promise<SentLayer> => (await sentLayers(ida!.page))[0]!;

    // Jon's window grows: his tile asks for more, and he decodes what Kai decodes.
    await jon!.page.setViewportSize(big);
    const before = await decodedVideo(jon!.page);
    await expect
      .poll(async () => {
        const j = await decodedVideo(jon!.page);
        return j.width === high && j.frames > before.frames + 20;
      }, { timeout: 30_000, interval: 500 })
      .toBe(true)
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await context()}`);
      });

    console.log(`simulcast web: jon switched up ${await context()}`);
    // Nobody takes the lowest layer now: Ida's sender was asked to pause it, and sends none of it.
    await expect.poll(async () => (await lowest()).active, { timeout: 20_000 }).toBe(false);
    const paused = (await lowest()).packets;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await lowest()).packets, await context()).toBeLessThanOrEqual(paused + 2);

    // Jon's window shrinks again: the lowest layer is wanted, comes back, and he decodes it.
    await jon!.page.setViewportSize(small);
    await expect.poll(async () => (await lowest()).active, { timeout: 20_000 }).toBe(true);
    await expect.poll(async () => (await lowest()).packets, { timeout: 20_000 }).toBeGreaterThan(paused + 20);
    await expect
      .poll(async () => (await decodedVideo(jon!.page)).width, { timeout: 30_000, interval: 500 })
      .toBeLessThan(high)
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await context()}`);
      });
    for (const u of everyone) await u.page.getByTestId('hang-up').click();
  }, 150_000);
});
