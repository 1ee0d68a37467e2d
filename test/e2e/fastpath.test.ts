/**
 * End to end: Chromium's libwebrtc against a WebRtcEndpoint on the fast data path
 * (native-crypto SRTP, own forwarding). Chromium publishes a canvas video and an
 * oscillator; one endpoint returns it to the same page (loopback) and a second page
 * receives it through a one-to-many forward. Everything stays on 127.0.0.1.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaPipeline, type WebRtcEndpoint } from '../../packages/media/src/index.js';
import { parseCandidate } from '../../packages/media/src/webrtc/sdp.js';
import { launchChromium, skipBrowserTests } from './browser.js';

const TIMEOUT_MS = 30_000;

interface PageStats {
  framesDecoded: number;
  audioPackets: number;
  connectionState: string;
}

/** Opens a page with an RTCPeerConnection; `publish` adds a canvas track and an oscillator. */
async function openPeer(browser: Browser, publish: boolean): Promise<Page> {
  const page = await browser.newPage();
  await page.setContent('<canvas id="c" width="320" height="240"></canvas>');
  await page.evaluate(async (publish: boolean) => {
    const w = window as unknown as { pc: RTCPeerConnection; candidates: RTCIceCandidateInit[] };
    const pc = new RTCPeerConnection();
    w.pc = pc;
    w.candidates = [];
    pc.onicecandidate = (e) => {
      if (e.candidate) w.candidates.push(e.candidate.toJSON());
    };
    if (publish) {
      const canvas = document.getElementById('c') as HTMLCanvasElement;
      const ctx = canvas.getContext('2d')!;
      let n = 0;
      setInterval(() => {
        ctx.fillStyle = `rgb(${(n * 5) % 255}, 80, ${(n * 3) % 255})`;
        ctx.fillRect(0, 0, 320, 240);
        ctx.fillStyle = 'white';
        ctx.fillText(String(n++), 10 + (n % 200), 100);
      }, 33);
      const stream = canvas.captureStream(30);
      const audio = new AudioContext();
      const osc = audio.createOscillator();
      const dest = audio.createMediaStreamDestination();
      osc.connect(dest);
      osc.start();
      pc.addTransceiver(stream.getVideoTracks()[0]!, { direction: 'sendrecv' });
      pc.addTransceiver(dest.stream.getAudioTracks()[0]!, { direction: 'sendrecv' });
    } else {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
    }
  }, publish);
  return page;
}

async function connect(page: Page, ep: WebRtcEndpoint): Promise<void> {
  const offer = await page.evaluate(async () => {
    const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription!.sdp;
  });
  const answer = await ep.processOffer(offer);
  ep.on('iceCandidate', (c) => {
    void page.evaluate((c) => (window as unknown as { pc: RTCPeerConnection }).pc.addIceCandidate(c), {
      candidate: c.candidate,
      sdpMid: c.sdpMid ?? '0',
      sdpMLineIndex: c.sdpMLineIndex ?? 0,
    });
  });
  await page.evaluate((sdp) => (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({ type: 'answer', sdp }), answer);
  await ep.gatherCandidates();
  // Only the browser's loopback candidates: the test stays on 127.0.0.1.
  const deadline = Date.now() + 5000;
  const added = new Set<string>();
  while (Date.now() < deadline && added.size === 0) {
    const list = await page.evaluate(() => (window as unknown as { candidates: RTCIceCandidateInit[] }).candidates);
    for (const c of list) {
      const parsed = c.candidate ? parseCandidate(c.candidate) : undefined;
      if (!c.candidate || added.has(c.candidate) || parsed?.address !== '127.0.0.1' || parsed.protocol !== 'udp') continue;
      added.add(c.candidate);
      await ep.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null });
    }
    if (added.size === 0) await new Promise((r) => setTimeout(r, 100));
  }
}

function stats(page: Page): Promise<PageStats> {
  return page.evaluate(async () => {
    const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
    let framesDecoded = 0;
    let audioPackets = 0;
    (await pc.getStats()).forEach((s: Record<string, unknown>) => {
      if (s['type'] === 'inbound-rtp' && s['kind'] === 'video') framesDecoded += Number(s['framesDecoded'] ?? 0);
      if (s['type'] === 'inbound-rtp' && s['kind'] === 'audio') audioPackets += Number(s['packetsReceived'] ?? 0);
    });
    return { framesDecoded, audioPackets, connectionState: pc.connectionState };
  });
}

async function waitForMedia(page: Page, frames: number): Promise<PageStats> {
  const deadline = Date.now() + TIMEOUT_MS;
  let last = await stats(page);
  while (Date.now() < deadline && !(last.framesDecoded > frames && last.audioPackets > 50)) {
    await new Promise((r) => setTimeout(r, 250));
    last = await stats(page);
  }
  return last;
}

describe.skipIf(skipBrowserTests('fast path with Chromium'))('fast path with Chromium', () => {
  let browser: Browser | undefined;
  let pipeline: MediaPipeline | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    pipeline?.close();
    await browser?.close();
  });

  it('Chromium media returns through a loopback endpoint and reaches a second page through the fast path, and decodes', async () => {
    pipeline = new MediaPipeline({ iceAddresses: ['127.0.0.1'], portRange: [57400, 57499] });
    const publisher = await openPeer(browser!, true);
    const viewer = await openPeer(browser!, false);
    const loop = pipeline.createWebRtcEndpoint();
    const out = pipeline.createWebRtcEndpoint({ direction: 'sendonly' });
    loop.connect(loop);
    loop.connect(out);
    await connect(publisher, loop);
    await connect(viewer, out);

    const back = await waitForMedia(publisher, 30);
    const seen = await waitForMedia(viewer, 30);
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
