/**
 * End to end: Chromium restarts ICE (pc.restartIce() and a new offer) on a connection to
 * a WebRtcEndpoint mid-stream; the endpoint answers with new credentials on the same
 * DTLS session, and the page keeps decoding what comes back. Everything on 127.0.0.1.
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
  /** The ICE ufrag Chromium's transport uses now. */
  localUfrag: string;
}

type PageWindow = { pc: RTCPeerConnection; candidates: RTCIceCandidateInit[] };

async function openPublisher(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.setContent('<canvas id="c" width="160" height="120"></canvas>');
  await page.evaluate(() => {
    const w = window as unknown as PageWindow;
    const pc = new RTCPeerConnection();
    w.pc = pc;
    w.candidates = [];
    pc.onicecandidate = (e) => {
      if (e.candidate) w.candidates.push(e.candidate.toJSON());
    };
    const canvas = document.getElementById('c') as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    let n = 0;
    setInterval(() => {
      ctx.fillStyle = `rgb(${(n * 5) % 255}, 80, ${(n * 3) % 255})`;
      ctx.fillRect(0, 0, 160, 120);
      ctx.fillStyle = 'white';
      ctx.fillText(String(n++), 10 + (n % 100), 60);
    }, 33);
    const stream = canvas.captureStream(30);
    const audio = new AudioContext();
    const osc = audio.createOscillator();
    const dest = audio.createMediaStreamDestination();
    osc.connect(dest);
    osc.start();
    pc.addTransceiver(stream.getVideoTracks()[0]!, { direction: 'sendrecv' });
    pc.addTransceiver(dest.stream.getAudioTracks()[0]!, { direction: 'sendrecv' });
  });
  return page;
}

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
  if (!restart) {
    // The endpoint's candidates, of this generation and of the restart's.
    ep.on('iceCandidate', (c) => {
      void page.evaluate((c) => (window as unknown as PageWindow).pc.addIceCandidate(c).catch(() => undefined), {
        candidate: c.candidate,
        sdpMid: c.sdpMid ?? '0',
        sdpMLineIndex: c.sdpMLineIndex ?? 0,
      });
    });
  }
  await page.evaluate((sdp) => (window as unknown as PageWindow).pc.setRemoteDescription({ type: 'answer', sdp }), answer);
  if (!restart) await ep.gatherCandidates();
  const deadline = Date.now() + 5000;
  const added = new Set<string>();
  while (Date.now() < deadline && added.size === 0) {
    const list = await page.evaluate(() => (window as unknown as PageWindow).candidates);
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
    const pc = (window as unknown as PageWindow).pc;
    let framesDecoded = 0;
    let audioPackets = 0;
    let localUfrag = '';
    (await pc.getStats()).forEach((s: Record<string, unknown>) => {
      if (s['type'] === 'inbound-rtp' && s['kind'] === 'video') framesDecoded += Number(s['framesDecoded'] ?? 0);
      if (s['type'] === 'inbound-rtp' && s['kind'] === 'audio') audioPackets += Number(s['packetsReceived'] ?? 0);
      if (s['type'] === 'transport') localUfrag = String(s['iceLocalUsernameFragment'] ?? '');
    });
    return { framesDecoded, audioPackets, connectionState: pc.connectionState, localUfrag };
  });
}

async function waitForMedia(page: Page, frames: number, audioPackets: number): Promise<PageStats> {
  const deadline = Date.now() + TIMEOUT_MS;
  let last = await stats(page);
  while (Date.now() < deadline && !(last.framesDecoded > frames && last.audioPackets > audioPackets)) {
    await new Promise((r) => setTimeout(r, 250));
    last = await stats(page);
  }
  return last;
}

describe.skipIf(skipBrowserTests('ICE restart with Chromium'))('ICE restart with Chromium', () => {
  let browser: Browser | undefined;
  let pipeline: MediaPipeline | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    pipeline?.close();
    await browser?.close();
  });

  it('Chromium restarts ICE mid-stream with a loopback endpoint: new credentials, same DTLS, and it keeps decoding what comes back', async () => {
    pipeline = new MediaPipeline({ iceAddresses: ['127.0.0.1'], portRange: [53800, 53899] });
    const page = await openPublisher(browser!);
    const loop = pipeline.createWebRtcEndpoint();
    loop.connect(loop);
    const dtls: string[] = [];
    loop.on('dtlsStateChange', (s) => dtls.push(s));
    await negotiate(page, loop, false);
    const first = await waitForMedia(page, 20, 50);
    expect(first.framesDecoded, JSON.stringify(first)).toBeGreaterThan(20);

    await negotiate(page, loop, true);

    const after = await waitForMedia(page, first.framesDecoded + 30, first.audioPackets + 50);
    expect(after.framesDecoded, JSON.stringify(after)).toBeGreaterThan(first.framesDecoded + 30);
    expect(after.audioPackets).toBeGreaterThan(first.audioPackets + 50);
    expect(after.localUfrag).not.toBe(first.localUfrag);
    expect(after.connectionState).toBe('connected');
    expect(loop.iceRestartCount).toBe(1);
    expect(dtls.filter((s) => s === 'connected')).toHaveLength(1);
  });
});
