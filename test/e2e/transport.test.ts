/**
 * End to end: Chromium against the engine's own WebRtcTransport (ICE-lite, DTLS,
 * SRTP, producers and consumers; issue #18). One page has two peer connections: one
 * publishes a canvas video and an oscillator on a sending transport, the other
 * receives consumers of them on a receiving transport, which renegotiates under media.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../../packages/media/src/net/UdpMux.js';
import { DtlsCertificate } from '../../packages/media/src/transport/DtlsSession.js';
import { WebRtcTransport } from '../../packages/media/src/transport/WebRtcTransport.js';
import { skipBrowserTests } from './browser.js';
import { openChromium } from './sharedChromium.js';
import { Engine } from '../../packages/media/src/index.js';

/** This file's media engine. */
const engine = new Engine();

type TransportPage = { send: RTCPeerConnection; recv: RTCPeerConnection };

async function openPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.setContent('<canvas id="c" width="320" height="240"></canvas>');
  await page.evaluate(() => {
    const w = window as unknown as TransportPage;
    w.send = new RTCPeerConnection();
    w.recv = new RTCPeerConnection();
    const canvas = document.getElementById('c') as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    let n = 0;
    setInterval(() => {
      ctx.fillStyle = `rgb(${(n * 5) % 255}, 80, ${(n * 3) % 255})`;
      ctx.fillRect(0, 0, 320, 240);
      ctx.fillStyle = 'white';
      ctx.fillText(String(n++), 10 + (n % 260), 120);
    }, 33);
    const audio = new AudioContext();
    const osc = audio.createOscillator();
    const dest = audio.createMediaStreamDestination();
    osc.connect(dest);
    osc.start();
    w.send.addTransceiver(canvas.captureStream(30).getVideoTracks()[0]!, { direction: 'sendonly' });
    w.send.addTransceiver(dest.stream.getAudioTracks()[0]!, { direction: 'sendonly' });
  });
  return page;
}

async function publish(page: Page, transport: WebRtcTransport): Promise<void> {
  const offer = await page.evaluate(async () => {
    const pc = (window as unknown as TransportPage).send;
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription!.sdp;
  });
  const answer = transport.processOffer(offer);
  await page.evaluate((sdp) => (window as unknown as TransportPage).send.setRemoteDescription({ type: 'answer', sdp }), answer);
}

async function subscribe(page: Page, transport: WebRtcTransport): Promise<void> {
  const answer = await page.evaluate(async (sdp) => {
    const pc = (window as unknown as TransportPage).recv;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    return pc.localDescription!.sdp;
  }, transport.createOffer());
  transport.processAnswer(answer);
}

/** Per SSRC the page receives: decoded frames (video) or packets (audio). */
function received(page: Page): Promise<Record<number, number>> {
  return page.evaluate(async () => {
    const out: Record<number, number> = {};
    (await (window as unknown as TransportPage).recv.getStats()).forEach((s: Record<string, unknown>) => {
      if (s['type'] === 'inbound-rtp') out[Number(s['ssrc'])] = Number(s[s['kind'] === 'video' ? 'framesDecoded' : 'packetsReceived'] ?? 0);
    });
    return out;
  });
}

async function until(page: Page, done: (r: Record<number, number>) => boolean, timeoutMs = 20_000): Promise<Record<number, number>> {
  const deadline = Date.now() + timeoutMs;
  let r = await received(page);
  while (!done(r) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    r = await received(page);
  }
  return r;
}

describe.skipIf(skipBrowserTests('engine transport with Chromium'))('engine transport with Chromium', () => {
  let browser: Browser | undefined;
  let mux: UdpMux | undefined;
  const transports: WebRtcTransport[] = [];

  beforeAll(async () => {
    browser = await openChromium();
    mux = await engine.sockets.acquire('127.0.0.1', [65200, 65231]);
  });

  afterAll(async () => {
    for (const t of transports) t.close();
    mux?.release();
    await browser?.close();
  });

  it('Chromium publishes on a sending transport and decodes several consumers on one receiving transport, which adds and removes m-lines under media', async () => {
    const certificate = await DtlsCertificate.generate();
    const send = new WebRtcTransport({ mux: mux!, certificate });
    const recv = new WebRtcTransport({ mux: mux!, certificate });
    transports.push(send, recv);
    const page = await openPage(browser!);
    await publish(page, send);
    const video = [...send.producers.values()].find((p) => p.kind === 'video')!;
    const audio = [...send.producers.values()].find((p) => p.kind === 'audio')!;
    expect(video.codec.mimeType.toLowerCase()).toBe('video/vp8');

    const consumers = [recv.consume(video), recv.consume(audio), recv.consume(video)];
    await subscribe(page, recv);
    let r = await until(page, (x) => consumers.every((c) => (x[c.ssrc] ?? 0) > 10));
    expect(consumers.map((c) => (r[c.ssrc] ?? 0) > 10), JSON.stringify({ r, send: send.getStats(), recv: recv.getStats() })).toEqual([true, true, true]);

    // Under media: a fourth consumer, then the second video one removed.
    const fourth = recv.consume(video);
    await subscribe(page, recv);
    r = await until(page, (x) => (x[fourth.ssrc] ?? 0) > 10);
    expect(r[fourth.ssrc]).toBeGreaterThan(10);
    consumers[2]!.close();
    await subscribe(page, recv);
    const before = await received(page);
    const kept = [consumers[0]!, consumers[1]!, fourth];
    r = await until(page, (x) => kept.every((c) => (x[c.ssrc] ?? 0) > (before[c.ssrc] ?? 0) + 10));
    expect(kept.every((c) => (r[c.ssrc] ?? 0) > (before[c.ssrc] ?? 0) + 10), JSON.stringify(r)).toBe(true);
    const transceivers = await page.evaluate(() => (window as unknown as TransportPage).recv.getTransceivers().map((t) => ({ mid: t.mid, dir: t.currentDirection })));
    expect(transceivers.find((t) => t.mid === consumers[2]!.mid)?.dir ?? 'stopped').toBe('stopped');

    // The first m-line (the BUNDLE tag) removed: it stays in the BUNDLE group, inactive, so
    // that Chromium keeps its bundled transport and the others' media goes on.
    consumers[0]!.close();
    const offer = recv.createOffer();
    expect(/^a=group:BUNDLE (.*)$/m.exec(offer)?.[1]?.split(' ')[0]).toBe(consumers[0]!.mid);
    expect(offer).toMatch(new RegExp(`m=video 9 [^\\r]*\\r\\n(?:[^m][^\\r]*\\r\\n)*?a=mid:${consumers[0]!.mid}\\r\\n(?:[^m][^\\r]*\\r\\n)*?a=inactive`));
    await subscribe(page, recv);
    const before2 = await received(page);
    const left = [consumers[1]!, fourth];
    r = await until(page, (x) => left.every((c) => (x[c.ssrc] ?? 0) > (before2[c.ssrc] ?? 0) + 10));
    expect(left.every((c) => (r[c.ssrc] ?? 0) > (before2[c.ssrc] ?? 0) + 10), JSON.stringify(r)).toBe(true);
    expect(video.stats.keyframeRequestsSent).toBeGreaterThan(0);
    expect(send.getStats().droppedSrtp + recv.getStats().droppedSrtp).toBe(0);
    // Chromium takes transport-cc on the receiving transport: its feedback is read (none refused) and makes the downlink estimate.
    const stats = recv.getStats();
    expect(stats.transportCcFeedbacks).toBeGreaterThan(10);
    expect(stats.invalidTransportCc).toBe(0);
    expect(stats.bandwidthEstimate?.source).toBe('transport-cc');
    expect(stats.bandwidthEstimate?.ackedBitrate).toBeGreaterThan(0);
    console.log(`Chromium receiver: ${stats.transportCcFeedbacks} transport-cc feedbacks, estimate ${Math.round(recv.availableBitrate! / 1000)} kbit/s, acknowledged ${Math.round(stats.bandwidthEstimate!.ackedBitrate! / 1000)} kbit/s`);
  });
});
