/**
 * End to end: the loopback page in a real Chromium (fake camera and microphone)
 * against the server and media engine in this process. All ICE traffic stays on
 * 127.0.0.1: the media engine gathers only there and the browser may see other
 * addresses of the machine, which the test never uses.
 */
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../packages/server/src/index.js';
import { WsTestClient } from '../../packages/server/src/testing/WsTestClient.js';
import { skipBrowserTests } from './browser.js';
import { openChromium } from './sharedChromium.js';

const MEDIA_TIMEOUT_MS = 30_000;
/** An offer Chromium 156 made for sendrecv audio + video (fake devices); valid SDP the server must answer. */
const CHROMIUM_OFFER = readFileSync(new URL('./fixtures/chromium-offer.sdp', import.meta.url), 'utf8');

function startLoopbackServer(): Promise<RunningServer> {
  return startServer({
    host: '127.0.0.1',
    port: 0,
    media: { iceAddresses: ['127.0.0.1'], portRange: [48000, 48999] },
    logger: pino({ level: process.env['LOG_LEVEL'] ?? 'warn' }),
  });
}

interface RtpTotals {
  packets: number;
  payloadBytes: number;
}

interface LoopbackSnapshot {
  connectionState: string | null;
  videoFramesDecoded: number;
  audioPacketsReceived: number;
  /** What the browser sent and what came back, per kind (payload bytes: header extensions may differ). */
  sent: { audio: RtpTotals; video: RtpTotals };
  received: { audio: RtpTotals; video: RtpTotals };
  roundTripTimeMs: number | null;
  candidateAddresses: { local: string[]; remote: string[]; selectedLocal: string | null; selectedRemote: string | null };
  pageErrors: string[];
}

/** Reads the page's RTCPeerConnection stats, from the browser's own getStats(). */
function snapshot(page: Page): Promise<LoopbackSnapshot | null> {
  return page.evaluate(async () => {
    type Stat = Record<string, unknown>;
    const loopback = (window as unknown as { roundtableLoopback?: { pc: RTCPeerConnection | null; state: { roundTripTimeMs: number | null; errors: string[] } } }).roundtableLoopback;
    if (!loopback?.pc) return null;
    const stats = new Map<string, Stat>();
    (await loopback.pc.getStats()).forEach((s: Stat) => stats.set(String(s['id']), s));
    const all = [...stats.values()];
    const inbound = (kind: string): Stat | undefined => all.find((s) => s['type'] === 'inbound-rtp' && s['kind'] === kind);
    const totals = (type: string, kind: string, packets: string, bytes: string): { packets: number; payloadBytes: number } => {
      const matching = all.filter((s) => s['type'] === type && s['kind'] === kind);
      return {
        packets: matching.reduce((sum, s) => sum + Number(s[packets] ?? 0), 0),
        payloadBytes: matching.reduce((sum, s) => sum + Number(s[bytes] ?? 0), 0),
      };
    };
    const addressOf = (id: unknown): string | null => {
      const candidate = typeof id === 'string' ? stats.get(id) : undefined;
      return candidate ? String(candidate['address'] ?? candidate['ip']) : null;
    };
    const transport = all.find((s) => s['type'] === 'transport');
    const pair = transport ? stats.get(String(transport['selectedCandidatePairId'])) : undefined;
    return {
      connectionState: loopback.pc.connectionState,
      videoFramesDecoded: Number(inbound('video')?.['framesDecoded'] ?? 0),
      audioPacketsReceived: Number(inbound('audio')?.['packetsReceived'] ?? 0),
      sent: {
        audio: totals('outbound-rtp', 'audio', 'packetsSent', 'bytesSent'),
        video: totals('outbound-rtp', 'video', 'packetsSent', 'bytesSent'),
      },
      received: {
        audio: totals('inbound-rtp', 'audio', 'packetsReceived', 'bytesReceived'),
        video: totals('inbound-rtp', 'video', 'packetsReceived', 'bytesReceived'),
      },
      roundTripTimeMs: loopback.state.roundTripTimeMs,
      candidateAddresses: {
        local: all.filter((s) => s['type'] === 'local-candidate').map((s) => String(s['address'])),
        remote: all.filter((s) => s['type'] === 'remote-candidate').map((s) => String(s['address'])),
        selectedLocal: pair ? addressOf(pair['localCandidateId']) : null,
        selectedRemote: pair ? addressOf(pair['remoteCandidateId']) : null,
      },
      pageErrors: [...loopback.state.errors],
    };
  });
}

/** Polls until `done` holds; fails with the last snapshot and the page's console errors. */
async function waitForSnapshot(page: Page, logs: string[], what: string, done: (s: LoopbackSnapshot) => boolean): Promise<LoopbackSnapshot> {
  const deadline = Date.now() + MEDIA_TIMEOUT_MS;
  let last: LoopbackSnapshot | null = null;
  while (Date.now() < deadline) {
    last = await snapshot(page);
    if (last && done(last)) return last;
    if (last?.pageErrors.length) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${what} did not happen within ${MEDIA_TIMEOUT_MS / 1000} s.\nlast stats: ${JSON.stringify(last, null, 2)}\npage console:\n${logs.join('\n')}`);
}

describe.skipIf(skipBrowserTests('loopback page in Chromium'))('loopback page in Chromium', () => {
  let server: RunningServer | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    server = await startLoopbackServer();
    browser = await openChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Opens the loopback page in a fresh context, presses Start and waits until returned media decodes. */
  async function startLoopback(): Promise<{ page: Page; logs: string[]; flowing: LoopbackSnapshot; context: BrowserContext }> {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const logs: string[] = [];
    page.on('console', (message) => logs.push(`[${message.type()}] ${message.text()}`));
    page.on('pageerror', (error) => logs.push(`[pageerror] ${error.message}`));
    await page.goto(`${server!.url}loopback.html`);
    await page.click('#start');
    const flowing = await waitForSnapshot(page, logs, 'decoded returned video and received returned audio',
      (s) => s.videoFramesDecoded > 0 && s.audioPacketsReceived > 0);
    return { page, logs, flowing, context };
  }

  it('plays back the browser’s own audio and video through the media server and shows the round trip', async () => {
    const { page, logs, flowing, context } = await startLoopback();
    try {
      expect(flowing.connectionState).toBe('connected');
      expect(flowing.pageErrors).toEqual([]);

      const measured = await waitForSnapshot(page, logs, 'a measured round trip', (s) => s.roundTripTimeMs !== null);
      expect(measured.roundTripTimeMs).toBeGreaterThanOrEqual(0);
      await expect.poll(() => page.textContent('#rtt')).toMatch(/^\d+(\.\d)? ms$/);

      await page.click('#stop');
      expect(await page.textContent('#phase')).toBe('stopped');
    } finally {
      await context.close();
    }
  });

  it('returns no more than the browser sent: returned packets and payload bytes never exceed those sent', async () => {
    const { page, logs, context } = await startLoopback();
    try {
      // Let a few seconds of media go round before comparing.
      const later = await waitForSnapshot(page, logs, 'three seconds of returned media', (s) => s.received.video.packets > 0 && s.received.audio.packets >= 150);

      for (const kind of ['audio', 'video'] as const) {
        expect(later.received[kind].packets, `${kind} packets`).toBeLessThanOrEqual(later.sent[kind].packets);
        expect(later.received[kind].payloadBytes, `${kind} payload bytes`).toBeLessThanOrEqual(later.sent[kind].payloadBytes);
      }
    } finally {
      await context.close();
    }
  });

  it('keeps ICE on 127.0.0.1: the server offers only 127.0.0.1 and the selected pair is 127.0.0.1 on both ends', async () => {
    const { flowing, context } = await startLoopback();
    try {
      const { remote, selectedLocal, selectedRemote } = flowing.candidateAddresses;
      // Peer-reflexive remote candidates have their address hidden (''); signalled ones must all be 127.0.0.1.
      const signalled = remote.filter((address) => address !== '');
      expect(signalled.length).toBeGreaterThan(0);
      expect(new Set(signalled)).toEqual(new Set(['127.0.0.1']));
      expect({ selectedLocal, selectedRemote }).toEqual({ selectedLocal: '127.0.0.1', selectedRemote: '127.0.0.1' });
    } finally {
      await context.close();
    }
  });
});

describe('loopback signaling from a Node client', () => {
  let server: RunningServer;
  const clients: WsTestClient[] = [];

  beforeAll(async () => {
    server = await startLoopbackServer();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  afterAll(async () => {
    await server.close();
  });

  async function connect(): Promise<WsTestClient> {
    const client = await WsTestClient.connect(`${server.url.replace('http', 'ws')}ws/loopback`);
    clients.push(client);
    return client;
  }

  it.each([
    ['text that is not SDP', 'this is not an SDP offer'],
    ['SDP without media sections', 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n'],
    ['a truncated offer', CHROMIUM_OFFER.slice(0, 400)],
  ])('a malformed offer (%s) gets an error reply and the server keeps serving', async (_what, badOffer) => {
    const first = await connect();

    first.send({ id: 'start', sdpOffer: badOffer });
    const reply = await first.next(10_000);

    expect(reply).toEqual({ id: 'error', message: expect.any(String) });
    expect(first.isOpen).toBe(true);

    // The failed start changed nothing: the same socket can start with a valid offer...
    first.send({ id: 'start', sdpOffer: CHROMIUM_OFFER });
    const answer = await first.nextWithId('startResponse', 10_000);
    expect(answer['sdpAnswer']).toMatch(/^v=0\r\n/);

    // ...and a second session on a new socket works too.
    const second = await connect();
    second.send({ id: 'start', sdpOffer: CHROMIUM_OFFER });
    const secondAnswer = await second.nextWithId('startResponse', 10_000);
    expect(secondAnswer['sdpAnswer']).toMatch(/^v=0\r\n/);

    const candidate = await second.nextWithId('iceCandidate', 10_000);
    expect(candidate['candidate']).toMatchObject({ candidate: expect.stringContaining(' 127.0.0.1 ') });

    const health = await fetch(`${server.url}healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it("a second 'start' on a running session gets an error reply and leaves the session running", async () => {
    const client = await connect();
    client.send({ id: 'start', sdpOffer: CHROMIUM_OFFER });
    await client.nextWithId('startResponse', 10_000);

    client.send({ id: 'start', sdpOffer: CHROMIUM_OFFER });

    expect(await client.nextWithId('error', 10_000)).toEqual({ id: 'error', message: expect.stringMatching(/already running/) });
    // An end-of-candidates marker is accepted only while a loopback runs.
    client.send({ id: 'onIceCandidate', candidate: { candidate: '', sdpMid: '0', sdpMLineIndex: 0 } });
    expect(await client.receivesNoMessageWithId('error', 500)).toBe(true);
    client.send({ id: 'stop' });
    client.send({ id: 'onIceCandidate', candidate: { candidate: '', sdpMid: '0', sdpMLineIndex: 0 } });
    expect(await client.nextWithId('error', 5000)).toEqual({ id: 'error', message: expect.stringMatching(/send 'start' first/) });
  });
});
