/**
 * End to end: Chromium publishes simulcast (two layers, 320x180 and 640x360) to the
 * engine's WebRtcTransport, and two receivers of it decode different layers (issue #20,
 * points 1, 3, 4). One page holds the publisher and both receivers' peer connections;
 * the test does the SDK's part of pausing (RTCRtpEncodingParameters.active) when the
 * producer says which layers are wanted.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../../packages/media/src/net/UdpMux.js';
import { DtlsCertificate } from '../../packages/media/src/transport/DtlsSession.js';
import type { Producer } from '../../packages/media/src/transport/Producer.js';
import { WebRtcTransport } from '../../packages/media/src/transport/WebRtcTransport.js';
import { skipBrowserTests } from './browser.js';
import { openChromium } from './sharedChromium.js';
import { Engine } from '../../packages/media/src/index.js';

/** This file's media engine. */
const engine = new Engine();

type SimulcastPage = { send: RTCPeerConnection; recv: Record<string, RTCPeerConnection>; setActive(active: Record<string, boolean>): Promise<void> };

async function openPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.setContent('<canvas id="c" width="640" height="360"></canvas>');
  await page.evaluate(() => {
    const w = window as unknown as SimulcastPage;
    w.send = new RTCPeerConnection();
    w.recv = { a: new RTCPeerConnection(), b: new RTCPeerConnection() };
    const canvas = document.getElementById('c') as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    let n = 0;
    setInterval(() => {
      ctx.fillStyle = `rgb(${(n * 5) % 255}, 80, ${(n * 3) % 255})`;
      ctx.fillRect(0, 0, 640, 360);
      ctx.fillStyle = 'white';
      ctx.font = '40px sans-serif';
      ctx.fillText(String(n++), 20 + (n % 500), 180);
    }, 40);
    const track = canvas.captureStream(25).getVideoTracks()[0]!;
    const transceiver = w.send.addTransceiver(track, {
      direction: 'sendonly',
      sendEncodings: [
        { rid: 'q', scaleResolutionDownBy: 2, maxBitrate: 250_000 },
        { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 900_000 },
      ],
    });
    // One setParameters at a time, as the SDK does: two at once read the same parameters
    // and the second is refused (a pause or a resume asked just after another was lost).
    let chain: Promise<unknown> = Promise.resolve();
    w.setActive = (active) => {
      const run = chain.then(async () => {
        const parameters = transceiver.sender.getParameters();
        for (const encoding of parameters.encodings) if (encoding.rid !== undefined && encoding.rid in active) encoding.active = active[encoding.rid]!;
        await transceiver.sender.setParameters(parameters);
      });
      chain = run.catch(() => undefined);
      return run;
    };
  });
  return page;
}

async function publish(page: Page, transport: WebRtcTransport): Promise<string> {
  const offer = await page.evaluate(async () => {
    const pc = (window as unknown as SimulcastPage).send;
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription!.sdp;
  });
  const answer = transport.processOffer(offer);
  await page.evaluate((sdp) => (window as unknown as SimulcastPage).send.setRemoteDescription({ type: 'answer', sdp }), answer);
  return answer;
}

async function subscribe(page: Page, name: string, transport: WebRtcTransport): Promise<void> {
  const answer = await page.evaluate(
    async ({ sdp, name }) => {
      const pc = (window as unknown as SimulcastPage).recv[name]!;
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      return pc.localDescription!.sdp;
    },
    { sdp: transport.createOffer(), name },
  );
  transport.processAnswer(answer);
}

interface Decoded {
  frames: number;
  width: number;
}

/** What each receiver decodes: frames so far and the width of the last one. */
function decoded(page: Page): Promise<Record<string, Decoded>> {
  return page.evaluate(async () => {
    const out: Record<string, { frames: number; width: number }> = {};
    for (const [name, pc] of Object.entries((window as unknown as SimulcastPage).recv)) {
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s['type'] === 'inbound-rtp' && s['kind'] === 'video') out[name] = { frames: Number(s['framesDecoded'] ?? 0), width: Number(s['frameWidth'] ?? 0) };
      });
    }
    return out;
  });
}

async function poll<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 25_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    value = await read();
  }
  return value;
}

/** Whether layer `index` of `producer` stopped arriving: no packet in the last 1.5 s. */
async function layerSilent(producer: Producer, index: number): Promise<boolean> {
  const before = producer.layers[index]!.stats.packets;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return producer.layers[index]!.stats.packets === before;
}

describe.skipIf(skipBrowserTests('simulcast with Chromium'))('simulcast with Chromium', () => {
  let browser: Browser | undefined;
  const muxes: UdpMux[] = [];
  const transports: WebRtcTransport[] = [];

  beforeAll(async () => {
    browser = await openChromium();
  });

  afterAll(async () => {
    for (const t of transports) t.close();
    for (const m of muxes) m.release();
    await browser?.close();
  });

  // The default packet path (the native core when it loads: layers are its streams, tapped up for
  // the selection, and each consumer feeds its own entry back), and the TypeScript one.
  it.each([
    ['default', [58200, 58231], undefined],
    ['typescript', [58232, 58263], 'typescript'],
  ] as const)('(%s packet path) Chromium publishes two layers; one receiver decodes the low one and another the high one; a lower available bitrate switches the second down with frames decoding, the layer nobody takes is paused at the sender and comes back when wanted', async (_path, ports, packetCore) => {
    const mux = await engine.sockets.acquire('127.0.0.1', ports, 'test', packetCore);
    muxes.push(mux);
    const certificate = await DtlsCertificate.generate();
    const send = new WebRtcTransport({ mux, certificate });
    const recvA = new WebRtcTransport({ mux, certificate });
    const recvB = new WebRtcTransport({ mux, certificate });
    transports.push(send, recvA, recvB);
    const page = await openPage(browser!);
    const answer = await publish(page, send);
    expect(answer).toMatch(/a=simulcast:recv q;f\r\n/);
    const video = [...send.producers.values()].find((p) => p.kind === 'video')!;
    expect(video.layers.map((l) => l.rid)).toEqual(['q', 'f']);
    // The SDK's part: the layers nobody takes are paused at the sender.
    const layerEvents: boolean[][] = [];
    video.on('layers', (active) => {
      layerEvents.push(active);
      page.evaluate((a) => (window as unknown as SimulcastPage).setActive(a), { q: active[0]!, f: active[1]! }).catch(() => undefined);
    });

    const a = recvA.consume(video);
    a.setRequest({ maxLayer: 0 });
    const b = recvB.consume(video);
    b.setRequest({ maxLayer: 1 });
    await subscribe(page, 'a', recvA);
    await subscribe(page, 'b', recvB);
    const context = (): string => JSON.stringify({ send: send.getStats(), recvA: recvA.getStats(), recvB: recvB.getStats(), layers: video.layers.map((l) => l.stats), a: a.stats, b: b.stats, targets: [a.targetLayer, b.targetLayer], current: [a.currentLayer, b.currentLayer], layerEvents, path: send.packetPath });

    let d = await poll(() => decoded(page), (x) => (x['a']?.frames ?? 0) > 10 && (x['b']?.frames ?? 0) > 10 && (x['b']?.width ?? 0) > (x['a']?.width ?? 0));
    expect(d['a']?.frames ?? 0, `${JSON.stringify(d)} ${context()}`).toBeGreaterThan(10);
    expect(d['b']!.width, `${JSON.stringify(d)} ${context()}`).toBeGreaterThan(d['a']!.width);
    expect([a.currentLayer, b.currentLayer]).toEqual([0, 1]);
    const high = d['b']!.width;

    // B's downlink allows little: it switches to the low layer at its keyframe, and goes on decoding.
    recvB.setAvailableBitrate(100_000);
    const framesBefore = d['b']!.frames;
    d = await poll(() => decoded(page), (x) => (x['b']?.width ?? 0) < high && (x['b']?.frames ?? 0) > framesBefore + 10);
    expect(d['b']!.width, `${JSON.stringify(d)} ${context()}`).toBeLessThan(high);
    expect(d['b']!.frames).toBeGreaterThan(framesBefore + 10);
    expect(b.currentLayer).toBe(0);
    // Nobody takes f now: the sender was asked to pause it, and its packets stop arriving.
    expect(layerEvents.at(-1)).toEqual([true, false]);
    expect(await poll(() => layerSilent(video, 1), (silent) => silent, 15_000), context()).toBe(true);

    // The limit lifted: f is wanted again, comes back, and B decodes it.
    recvB.setAvailableBitrate(Infinity);
    expect(layerEvents.at(-1)).toEqual([true, true]);
    const resumedFrom = video.layers[1]!.stats.packets;
    d = await poll(() => decoded(page), (x) => (x['b']?.width ?? 0) === high && video.layers[1]!.stats.packets > resumedFrom + 50);
    expect(video.layers[1]!.stats.packets, context()).toBeGreaterThan(resumedFrom + 50);
    expect(d['b']!.width, context()).toBe(high);
    const last = await decoded(page);
    const after = await poll(() => decoded(page), (x) => (x['a']?.frames ?? 0) > last['a']!.frames + 5 && (x['b']?.frames ?? 0) > last['b']!.frames + 5);
    expect(after['b']!.frames).toBeGreaterThan(last['b']!.frames + 5);
    expect(after['a']!.width).toBeLessThan(high);
    expect(send.getStats().droppedSrtp + recvA.getStats().droppedSrtp + recvB.getStats().droppedSrtp).toBe(0);
  });
});
