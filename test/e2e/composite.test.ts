/**
 * End to end: a real Chromium (fake camera and microphone) in a Composite with a werift
 * peer that sends a 440 Hz tone as Opus. Chromium must decode what the MCU makes: the
 * audio mix (it carries the tone) and the VP8 grid at the configured size. All traffic
 * stays on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { liveChildPids } from '@roundtable/media';
import { createWeriftPeer, McuTestPeer, negotiate, StunServer, waitForConnected } from '@roundtable/media/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipBrowserTests } from './browser.js';
import { openChromium } from './sharedChromium.js';
import { Engine } from '../../packages/media/src/index.js';

/** This file's media engine. */
const engine = new Engine();

const skip = skipBrowserTests('Composite in Chromium');
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [56850, 56899] as [number, number] };

let browser: Browser | undefined;
let http: Server | undefined;
let pageUrl = '';
const stun = new StunServer();
let stunUrl = '';

beforeAll(async () => {
  if (skip) return;
  stunUrl = (await stun.listen()).url;
  // A page on 127.0.0.1 is a secure context: getUserMedia works there.
  http = createServer((_req, res) => res.end('<!doctype html><title>composite</title><button id="play">play</button><audio id="out"></audio>'));
  await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', () => resolve()));
  pageUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  browser = await openChromium();
});
afterAll(async () => {
  await browser?.close();
  http?.close();
  stun.close();
});

interface InboundSnapshot {
  connectionState: string;
  audioPackets: number;
  audioEnergy: number;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
}

async function snapshot(page: Page): Promise<InboundSnapshot> {
  return page.evaluate(async () => {
    const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
    const stats: Array<Record<string, unknown>> = [];
    (await pc.getStats()).forEach((s: Record<string, unknown>) => stats.push(s));
    const inbound = (kind: string) => stats.find((s) => s['type'] === 'inbound-rtp' && s['kind'] === kind) ?? {};
    const a = inbound('audio');
    const v = inbound('video');
    return {
      connectionState: pc.connectionState,
      audioPackets: Number(a['packetsReceived'] ?? 0),
      audioEnergy: Number(a['totalAudioEnergy'] ?? 0),
      framesDecoded: Number(v['framesDecoded'] ?? 0),
      frameWidth: Number(v['frameWidth'] ?? 0),
      frameHeight: Number(v['frameHeight'] ?? 0),
    };
  });
}

describe.skipIf(skip)('Composite with a real Chromium', () => {
  it('Chromium decodes the audio mix (the other peer’s tone) and the VP8 grid at the configured size', async () => {
    const pipeline = engine.createPipeline(MEDIA);
    const composite = pipeline.createComposite({ video: { width: 480, height: 360, frameRate: 15 } });
    const pc = createWeriftPeer(stunUrl);
    const tone = new McuTestPeer({ frequency: 440, video: { port: 56990, color: 'blue' } });
    const context = await browser!.newContext();
    try {
      // The werift peer: a 440 Hz tone and a blue picture.
      tone.attach(pc);
      const toneEp = pipeline.createWebRtcEndpoint();
      const tonePort = composite.createHubPort();
      toneEp.connect(tonePort);
      tonePort.connect(toneEp);
      await negotiate(pc, toneEp);
      await waitForConnected(pc);
      await tone.start();

      // Chromium: fake camera and microphone, offer with all its candidates.
      const page = await context.newPage();
      await page.goto(pageUrl);
      const offer = await page.evaluate(async () => {
        const pc = new RTCPeerConnection();
        (window as unknown as { pc: RTCPeerConnection }).pc = pc;
        // Received audio is played (that is when Chromium measures its energy); the click below allows it.
        pc.addEventListener('track', (e) => {
          if (e.track.kind !== 'audio') return;
          const out = document.getElementById('out') as HTMLAudioElement;
          out.srcObject = e.streams[0] ?? new MediaStream([e.track]);
          document.getElementById('play')!.addEventListener('click', () => void out.play());
        });
        const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
        for (const track of media.getTracks()) pc.addTrack(track, media);
        await pc.setLocalDescription(await pc.createOffer());
        await new Promise<void>((resolve) => {
          if (pc.iceGatheringState === 'complete') resolve();
          pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
          setTimeout(resolve, 3000);
        });
        return pc.localDescription!.sdp;
      });
      const browserEp = pipeline.createWebRtcEndpoint();
      const browserPort = composite.createHubPort();
      browserEp.connect(browserPort);
      browserPort.connect(browserEp);
      browserEp.on('iceCandidate', (c) => {
        void page.evaluate((init) => (window as unknown as { pc: RTCPeerConnection }).pc.addIceCandidate(init), { candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 });
      });
      const answer = await browserEp.processOffer(offer);
      await page.evaluate((sdp) => (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({ type: 'answer', sdp }), answer);
      await browserEp.gatherCandidates();
      await page.waitForFunction(() => (document.getElementById('out') as HTMLAudioElement).srcObject !== null, undefined, { timeout: 20_000 });
      await page.click('#play');

      let last: InboundSnapshot | undefined;
      const deadline = Date.now() + 45_000;
      while (Date.now() < deadline) {
        last = await snapshot(page);
        if (last.audioPackets > 100 && last.audioEnergy > 0.01 && last.framesDecoded > 15 && last.frameWidth > 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(last?.connectionState).toBe('connected');
      expect(last!.audioPackets).toBeGreaterThan(100);
      // The mix Chromium gets carries the werift peer's tone (its own microphone is not in it).
      expect(last!.audioEnergy).toBeGreaterThan(0.01);
      expect(last!.framesDecoded).toBeGreaterThan(15);
      expect([last!.frameWidth, last!.frameHeight]).toEqual([480, 360]);
      // And the werift peer gets its mix (Chromium's microphone), never its own tone.
      await until(() => tone.levels([440], 2000).get(440)! < 300 && tone.receivedPcm.length > 100);
    } finally {
      await context.close();
      await tone.close();
      await pc.close();
      pipeline.close();
      await composite.whenStopped();
    }
    expect(liveChildPids()).toEqual([]);
  });
});

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
