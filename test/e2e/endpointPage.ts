/**
 * A bare Chromium page with one RTCPeerConnection talking straight to a WebRtcEndpoint
 * (no signaling server): the page set-up, candidate trickling kept on 127.0.0.1, and
 * the page's inbound stats. Shared by the engine-level browser tests.
 */
import type { Browser, Page } from 'playwright-core';
import type { WebRtcEndpoint } from '../../packages/media/src/index.js';
import { parseCandidate } from '../../packages/media/src/webrtc/sdp.js';

/** What the page keeps on `window`. */
export type PageWindow = { pc: RTCPeerConnection; candidates: RTCIceCandidateInit[] };

export interface PageStats {
  framesDecoded: number;
  audioPackets: number;
  connectionState: string;
  /** The ICE ufrag Chromium's transport uses now. */
  localUfrag: string;
}

/**
 * Opens a page with an RTCPeerConnection that collects its ICE candidates. `publish`
 * adds a canvas video track (width x height, 30 fps) and an oscillator, sendrecv;
 * otherwise it receives video and audio only.
 */
export async function openEndpointPage(browser: Browser, options: { publish: boolean; width: number; height: number }): Promise<Page> {
  const page = await browser.newPage();
  await page.setContent(`<canvas id="c" width="${options.width}" height="${options.height}"></canvas>`);
  await page.evaluate(({ publish, width, height }) => {
    const w = window as unknown as PageWindow;
    const pc = new RTCPeerConnection();
    w.pc = pc;
    w.candidates = [];
    pc.onicecandidate = (e) => {
      if (e.candidate) w.candidates.push(e.candidate.toJSON());
    };
    if (!publish) {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      return;
    }
    const canvas = document.getElementById('c') as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    let n = 0;
    setInterval(() => {
      ctx.fillStyle = `rgb(${(n * 5) % 255}, 80, ${(n * 3) % 255})`;
      ctx.fillRect(0, 0, width, height);
      ctx.fillStyle = 'white';
      ctx.fillText(String(n++), 10 + (n % (width - 60)), height / 2);
    }, 33);
    const stream = canvas.captureStream(30);
    const audio = new AudioContext();
    const osc = audio.createOscillator();
    const dest = audio.createMediaStreamDestination();
    osc.connect(dest);
    osc.start();
    pc.addTransceiver(stream.getVideoTracks()[0]!, { direction: 'sendrecv' });
    pc.addTransceiver(dest.stream.getAudioTracks()[0]!, { direction: 'sendrecv' });
  }, options);
  return page;
}

/**
 * Sends the endpoint's ICE candidates (of every generation) to the page. With
 * `ignoreStale`, the page ignores a candidate it refuses (one of a generation an ICE
 * restart replaced); otherwise a refusal fails the test.
 */
export function trickleToPage(page: Page, ep: WebRtcEndpoint, ignoreStale = false): void {
  ep.on('iceCandidate', (c) => {
    void page.evaluate(
      ({ init, ignoreStale }) => {
        const added = (window as unknown as PageWindow).pc.addIceCandidate(init);
        return ignoreStale ? added.catch(() => undefined) : added;
      },
      { init: { candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 }, ignoreStale },
    );
  });
}

/**
 * Hands the page's candidates gathered so far to the endpoint, only its UDP ones on
 * 127.0.0.1 (the test stays on loopback); waits up to 5 s for the first.
 */
export async function trickleLoopbackFromPage(page: Page, ep: WebRtcEndpoint): Promise<void> {
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

export function pageStats(page: Page): Promise<PageStats> {
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

/** Polls the page's stats until it decoded more than `frames` frames and received more than `audioPackets` audio packets, or `timeoutMs` passed. */
export async function waitForPageMedia(page: Page, frames: number, audioPackets: number, timeoutMs = 30_000): Promise<PageStats> {
  const deadline = Date.now() + timeoutMs;
  let last = await pageStats(page);
  while (Date.now() < deadline && !(last.framesDecoded > frames && last.audioPackets > audioPackets)) {
    await new Promise((r) => setTimeout(r, 250));
    last = await pageStats(page);
  }
  return last;
}
