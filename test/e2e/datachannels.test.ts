/**
 * End to end: Chromium's data channels (libwebrtc's SCTP) against a WebRtcEndpoint with
 * useDataChannels, on the engine's own transport (our DCEP over werift-sctp over our DTLS
 * session; until 2026-12-08 also on a werift peer connection, the other carrier then). The page offers a
 * receive-only audio section (the endpoint needs one) and a data channel; the endpoint
 * echoes its data to itself. Everything stays on 127.0.0.1.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaPipeline, type WebRtcEndpoint } from '../../packages/media/src/index.js';
import { until } from '../../packages/media/src/testing/harness.js';
import { skipBrowserTests } from './browser.js';
import { trickleLoopbackFromPage, trickleToPage, type PageWindow } from './endpointPage.js';
import { openChromium } from './sharedChromium.js';
import { Engine } from '../../packages/media/src/index.js';

/** This file's media engine. */
const engine = new Engine();

/** What the page keeps of its channels: messages as text (binary as "bin:<length>:<first byte>"), states, announced channels. */
type DataWindow = PageWindow & {
  channel: RTCDataChannel;
  received: string[];
  announced: Array<{ label: string; protocol: string; ordered: boolean; id: number | null; closed: boolean }>;
  announcedChannels: RTCDataChannel[];
};

async function openDataPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.setContent('<p>data channels</p>');
  await page.evaluate(() => {
    const w = window as unknown as DataWindow;
    const pc = new RTCPeerConnection();
    w.pc = pc;
    w.candidates = [];
    w.received = [];
    w.announced = [];
    w.announcedChannels = [];
    pc.onicecandidate = (e) => {
      if (e.candidate) w.candidates.push(e.candidate.toJSON());
    };
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const channel = pc.createDataChannel('chat');
    channel.binaryType = 'arraybuffer';
    channel.onmessage = (e) => {
      const data = e.data as string | ArrayBuffer;
      w.received.push(typeof data === 'string' ? data : `bin:${data.byteLength}:${new Uint8Array(data)[0] ?? ''}`);
    };
    w.channel = channel;
    pc.ondatachannel = (e) => {
      const c = e.channel;
      const entry = { label: c.label, protocol: c.protocol, ordered: c.ordered, id: c.id, closed: false };
      c.onclose = () => {
        entry.closed = true;
      };
      w.announced.push(entry);
      w.announcedChannels.push(c);
    };
  });
  return page;
}

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

function pageState(page: Page): Promise<{ channel: string; received: string[]; announced: DataWindow['announced'] }> {
  return page.evaluate(() => {
    const w = window as unknown as DataWindow;
    return { channel: w.channel.readyState, received: [...w.received], announced: w.announced.map((a) => ({ ...a })) };
  });
}

async function untilPage(page: Page, check: (s: Awaited<ReturnType<typeof pageState>>) => boolean, what: string): Promise<Awaited<ReturnType<typeof pageState>>> {
  const deadline = Date.now() + 20_000;
  let last = await pageState(page);
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in 20 s: ${JSON.stringify(last).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await pageState(page);
  }
  return last;
}

describe.skipIf(skipBrowserTests('data channels with Chromium'))('data channels with Chromium', () => {
  let browser: Browser | undefined;
  const pipelines: MediaPipeline[] = [];

  beforeAll(async () => {
    browser = await openChromium();
  });

  afterAll(async () => {
    for (const p of pipelines) p.close();
    await browser?.close();
  });

  // The largest message our a=max-message-size (262144) lets Chromium send, and empty messages (RFC 8831 §6.6: PPID 56/57
  // and one byte; werift's peer connection echoed one as a DATA chunk without user data, which Chromium does not deliver).
  it('the page\'s channel opens and echoes text, binary, empty and the largest messages allowed; a server channel opens and closes at the page; the page closing its channel closes it at the endpoint', async () => {
    const firstPort = 58660;
    const largest = 262_144;
    const pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [firstPort, firstPort + 19] });
    pipelines.push(pipeline);
    const page = await openDataPage(browser!);
    try {
      const ep = pipeline.createWebRtcEndpoint({ useDataChannels: true });
      ep.connectData(ep);
      const opened: number[] = [];
      const closed: number[] = [];
      ep.on('dataChannelOpen', (id) => opened.push(id));
      ep.on('dataChannelClose', (id) => closed.push(id));

      await connect(page, ep);
      await untilPage(page, (s) => s.channel === 'open', 'the page channel opening');
      await until(() => opened.length === 1, 20_000);

      await page.evaluate(
        ({ size }) => {
          const c = (window as unknown as DataWindow).channel;
          c.send('hello');
          c.send(new Uint8Array([7, 8, 9]));
          c.send('');
          c.send(new Uint8Array(0));
          c.send(new Uint8Array(size).fill(5));
        },
        { size: largest },
      );
      const expected = ['hello', 'bin:3:7', '', 'bin:0:', `bin:${largest}:5`];
      const echoed = await untilPage(page, (s) => s.received.length === expected.length, 'the echoes');
      expect(echoed.received).toEqual(expected);
      expect(ep.getStats().data).toMatchObject({ channelsOpened: 1, messagesReceived: expected.length, messagesSent: expected.length, bytesReceived: largest + 8 });

      ep.createDataChannel('from-server', { ordered: false, protocol: 'p1' });
      await until(() => opened.length === 2, 20_000);
      const announced = await untilPage(page, (s) => s.announced.length === 1, 'the server channel announced');
      expect(announced.announced[0]).toMatchObject({ label: 'from-server', protocol: 'p1', ordered: false, id: opened[1] });

      ep.closeDataChannel(opened[1]!);
      await untilPage(page, (s) => s.announced[0]!.closed, 'the server channel closing at the page');
      await until(() => closed.includes(opened[1]!), 20_000);

      await page.evaluate(() => (window as unknown as DataWindow).channel.close());
      await until(() => closed.includes(opened[0]!), 20_000);
      expect(ep.getStats().data.channelsClosed).toBe(2);
    } finally {
      await page.close();
    }
  });
});
