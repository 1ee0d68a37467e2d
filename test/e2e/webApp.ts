/**
 * Helpers for the web app's browser tests: a server serving the built bundle (built
 * once, when stale, by ensureWebBuilt), users signed up through the UI in their own
 * browser contexts, and readers of the app's debug hook (`window.__roundtable`).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions, Page, WebSocketRoute } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { ensureWebBuilt } from '../../packages/web/src/build/ensureBuilt.js';
import { startServer, type RunningServer } from '../../packages/server/src/index.js';
import { WebRtcEndpoint } from '../../packages/media/src/index.js';
import { openChromium } from './sharedChromium.js';

export const SCREENSHOT_DIR = path.resolve('test-results', 'screenshots');
/** How long media may take to start flowing on a busy 2-core machine. */
export const MEDIA_TIMEOUT_MS = 30_000;

export interface AppServerOptions {
  /** UDP ports of the media engine (each test file has its own range). */
  portRange: [number, number];
  /** Default 60 s (the server's). */
  ringTimeoutMs?: number;
  /** Folder of recordings. Default: the server's (a temporary folder with the in-memory database). */
  recordingsDir?: string;
  /** How long a dropped member is kept (ms). Default 15 s (the server's); tests of what follows it shorten it. */
  disconnectGraceMs?: number;
}

/** Builds the bundle if needed, then starts the whole server on 127.0.0.1 with an in-memory database. */
export async function startAppServer(options: AppServerOptions): Promise<RunningServer> {
  await ensureWebBuilt();
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    media: { iceAddresses: ['127.0.0.1'], portRange: options.portRange },
    signaling: {
      dbPath: ':memory:',
      iceServers: [],
      ringTimeoutMs: options.ringTimeoutMs ?? 60_000,
      ...(options.recordingsDir ? { recordingsDir: options.recordingsDir } : {}),
      ...(options.disconnectGraceMs ? { disconnectGraceMs: options.disconnectGraceMs } : {}),
    },
    logger: pino({ level: process.env['LOG_LEVEL'] ?? 'warn' }),
  });
  appServers.add(server);
  return server;
}

/** The servers started here: endpointDump() looks into their media engines. */
const appServers = new Set<RunningServer>();

/** What a describe block of web app tests shares: one server, one Chromium, and the users of the test running now. */
export interface WebAppSuite {
  readonly server: RunningServer;
  readonly browser: Browser;
  /** Users to close after the test (`user()` adds its own). */
  readonly users: AppUser[];
  /** Signs up a user who is closed after the test. */
  user(prefix: string, locale?: string, options?: SignUpOptions): Promise<AppUser>;
}

/**
 * Registers the hooks of a describe block of web app tests: the server and Chromium start
 * before its first test and stop after its last; each test's users are closed after it.
 */
export function webAppSuite(options: AppServerOptions): WebAppSuite {
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const users: AppUser[] = [];
  beforeAll(async () => {
    server = await startAppServer(options);
    browser = await openChromium();
  });
  afterEach(async () => {
    await Promise.all(users.splice(0).map((u) => u.context.close().catch(() => undefined)));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  const suite: WebAppSuite = {
    get server(): RunningServer {
      if (!server) throw new Error('the web app server has not started');
      return server;
    },
    get browser(): Browser {
      if (!browser) throw new Error('Chromium has not started');
      return browser;
    },
    users,
    async user(prefix, locale, signUpOptions) {
      const u = await signUp(suite.browser, suite.server, prefix, locale, signUpOptions);
      users.push(u);
      return u;
    },
  };
  return suite;
}

/** One person: a browser context (own storage, fake camera) with the app open and signed in. */
export interface AppUser {
  username: string;
  displayName: string;
  id: string;
  context: BrowserContext;
  page: Page;
  /** The page's console errors and uncaught exceptions, for failure messages. */
  logs: string[];
}

let counter = 0;

/** A fresh username per call: tests never share users. */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}${counter}_${process.pid}`.toLowerCase().slice(0, 32);
}

export interface SignUpOptions {
  /**
   * Show the pre-join screen before calls and rooms (the app's default). Default false:
   * the user's "Show this before every call" preference is off, so a call starts at once,
   * as the tests of calls expect.
   */
  prejoin?: boolean;
  /** Browser context settings over the desktop defaults (e.g. a phone's viewport and touch). */
  context?: BrowserContextOptions;
}

/** Opens the app in a new context and registers `prefix`-named user through the form. */
export async function signUp(browser: Browser, server: RunningServer, prefix: string, locale = 'en-US', options: SignUpOptions = {}): Promise<AppUser> {
  const context = await browser.newContext({ locale, viewport: { width: 1024, height: 700 }, ...options.context });
  if (!options.prejoin) {
    await context.addInitScript(() => {
      try {
        if (location.protocol.startsWith('http') && localStorage.getItem('roundtable.prejoin') === null) localStorage.setItem('roundtable.prejoin', 'off');
      } catch {
        // no storage on this page
      }
    });
  }
  const page = await context.newPage();
  const logs: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') logs.push(`[${message.type()}] ${message.text()}`);
  });
  page.on('pageerror', (error) => logs.push(`[pageerror] ${error.message}`));
  const username = uniqueName(prefix);
  const displayName = prefix.charAt(0).toUpperCase() + prefix.slice(1);
  await page.goto(server.url);
  await page.getByTestId('login-mode-toggle').click();
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill('correct horse battery');
  await page.getByTestId('login-display-name').fill(displayName);
  await page.getByTestId('login-submit').click();
  await expect.poll(() => page.getByTestId('me-name').textContent(), { timeout: 10_000 }).toBe(displayName);
  const state = await appState(page);
  return { username, displayName, id: String(state['me']), context, page, logs };
}

/** `from` finds `to` by username and opens their 1:1 chat, without asking to be a contact (a stranger's way in). */
export async function openChatWith(from: AppUser, to: AppUser): Promise<void> {
  const page = from.page;
  await page.getByTestId('nav-contacts').click();
  await page.getByTestId('contact-search').fill(to.username);
  await page.getByTestId('contact-search-submit').click();
  await page.getByTestId('search-result').waitFor();
  await page.getByTestId('message-contact').click();
  await expect.poll(() => page.getByTestId('chat-title').textContent(), { timeout: 10_000 }).toBe(to.displayName);
}

/**
 * `from` finds `to` by username and asks them to be a contact, `to` accepts the request
 * on their Contacts page (both are contacts then), and `from` opens their 1:1 chat.
 */
export async function addContactAndOpenChat(from: AppUser, to: AppUser): Promise<void> {
  const page = from.page;
  await page.getByTestId('nav-contacts').click();
  await page.getByTestId('contact-search').fill(to.username);
  await page.getByTestId('contact-search-submit').click();
  await page.getByTestId('search-result').waitFor();
  await page.getByTestId('add-contact').click();
  await page.locator(`[data-testid="contact-pending"][data-username="${to.username}"]`).waitFor();
  await to.page.getByTestId('nav-contacts').click();
  await to.page.locator(`[data-testid="contact-request"][data-username="${from.username}"] [data-testid="accept-contact"]`).click({ timeout: 10_000 });
  await to.page.locator(`[data-testid="contact-item"][data-username="${from.username}"]`).waitFor();
  await page.locator(`[data-testid="contact-item"][data-username="${to.username}"]`).waitFor({ timeout: 10_000 });
  await page.getByTestId('message-contact').click();
  await expect.poll(() => page.getByTestId('chat-title').textContent(), { timeout: 10_000 }).toBe(to.displayName);
}

/** Opens the conversation named `name` from the chat list (it arrives by notification). */
export async function openConversation(user: AppUser, name: string): Promise<void> {
  await user.page.getByTestId('nav-chats').click();
  await user.page.locator(`[data-testid="conversation-item"][data-name="${name}"]`).click({ timeout: 10_000 });
  await expect.poll(() => user.page.getByTestId('chat-title').textContent(), { timeout: 10_000 }).toBe(name);
}

export async function sendMessage(user: AppUser, text: string): Promise<void> {
  await user.page.getByTestId('composer-input').fill(text);
  await user.page.getByTestId('composer-send').click();
}

/** The app's debug snapshot (`window.__roundtable.state()`). */
export function appState(page: Page): Promise<Record<string, unknown>> {
  return page.evaluate(() => window.__roundtable?.state() ?? {});
}

export interface CallSnapshot {
  id: string;
  kind: string;
  phase: string;
  endReason: string | null;
  participants: Array<{ id: string; state: string }>;
}

export async function callState(page: Page): Promise<CallSnapshot | null> {
  return ((await appState(page))['call'] as CallSnapshot | null | undefined) ?? null;
}

export interface MediaFrom {
  videoFramesDecoded: number;
  videoPacketsReceived: number;
  audioPacketsReceived: number;
  audioBytesReceived: number;
}

/** What `user` has received from each of `senders` (from the browser's getStats()). */
export async function mediaFrom(user: AppUser, senders: AppUser[]): Promise<Record<string, MediaFrom>> {
  const stats = await user.page.evaluate(() => window.__roundtable?.stats() ?? Promise.resolve(null));
  const result: Record<string, MediaFrom> = {};
  for (const sender of senders) {
    const p = stats?.participants[sender.id];
    result[sender.username] = { videoFramesDecoded: p?.videoFramesDecoded ?? 0, videoPacketsReceived: p?.videoPacketsReceived ?? 0, audioPacketsReceived: p?.audioPacketsReceived ?? 0, audioBytesReceived: p?.audioBytesReceived ?? 0 };
  }
  return result;
}

/** Every inbound stream of `user`'s peer connections (connection index, mid, kind, the participant it is shown as, packets): for failure messages. */
async function inboundStreams(user: AppUser): Promise<unknown> {
  return user.page.evaluate(async () => (await window.__roundtable?.stats())?.inbound ?? null).catch((error: unknown) => String(error));
}

/**
 * Waits until `user` has decoded at least `frames` video frames and received `audioPackets`
 * audio packets from every one of `senders` (video is skipped for voice calls).
 */
export async function waitForMediaFrom(user: AppUser, senders: AppUser[], options: { frames?: number; audioPackets?: number; video?: boolean } = {}): Promise<Record<string, MediaFrom>> {
  const frames = options.frames ?? 30;
  const audioPackets = options.audioPackets ?? 50;
  const deadline = Date.now() + MEDIA_TIMEOUT_MS;
  let last: Record<string, MediaFrom> = {};
  while (Date.now() < deadline) {
    last = await mediaFrom(user, senders);
    const done = Object.values(last).every((m) => (options.video === false || m.videoFramesDecoded >= frames) && m.audioPacketsReceived >= audioPackets);
    if (done) return last;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(
    `${user.username} did not receive media from ${senders.map((s) => s.username).join(', ')} within ${MEDIA_TIMEOUT_MS / 1000} s\n` +
      `received: ${JSON.stringify(last)}\ninbound streams: ${JSON.stringify(await inboundStreams(user))}\ncall: ${JSON.stringify(await callState(user.page))}\npage log:\n${user.logs.join('\n')}`,
  );
}

/**
 * Waits until `user` decodes more video frames and receives more audio from each of
 * `senders` than it had: media still flows (e.g. after someone else left).
 */
export async function waitForMoreMediaFrom(user: AppUser, senders: AppUser[]): Promise<void> {
  const before = await mediaFrom(user, senders);
  const deadline = Date.now() + MEDIA_TIMEOUT_MS;
  let last = before;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    last = await mediaFrom(user, senders);
    const more = senders.every((s) => last[s.username]!.videoFramesDecoded > before[s.username]!.videoFramesDecoded && last[s.username]!.audioPacketsReceived > before[s.username]!.audioPacketsReceived);
    if (more) return;
  }
  const stats = await user.page.evaluate(() => window.__roundtable?.stats() ?? Promise.resolve(null));
  throw new Error(
    `${user.username}: media from ${senders.map((s) => s.username).join(', ')} stopped\nbefore: ${JSON.stringify(before)}\nafter: ${JSON.stringify(last)}\nstats: ${JSON.stringify(stats)}\n` +
      `call: ${JSON.stringify(await callState(user.page))}\nmedia server endpoints:\n${await endpointDump()}\npage log:\n${user.logs.join('\n')}`,
  );
}

/** Video from `sender` decodes at `user` now (frames grow between two samples a second apart): a new link carries it, not an old one's count. */
export async function videoFlows(user: AppUser, sender: AppUser): Promise<void> {
  await expect
    .poll(
      async () => {
        const before = (await mediaFrom(user, [sender]))[sender.username]!.videoFramesDecoded;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return (await mediaFrom(user, [sender]))[sender.username]!.videoFramesDecoded - before;
      },
      { timeout: MEDIA_TIMEOUT_MS, interval: 500 },
    )
    .toBeGreaterThan(5);
}

/** A user's signaling socket, routed through the test: `cut()` closes it and refuses new ones until `restore()`. */
export interface SignalingSwitch {
  cut(): Promise<void>;
  restore(): void;
}

/**
 * Routes `user`'s signaling WebSocket (`/ws`) through Playwright (the page reloads to take
 * the route; the stored session signs it in again), so a test can take it offline:
 * `cut()` closes both sides of the open socket and closes each new one at once, as a
 * network that is gone would, until `restore()`. Media is not touched.
 */
export async function routeSignaling(user: AppUser): Promise<SignalingSwitch> {
  let offline = false;
  const open: Array<{ page: WebSocketRoute; server: WebSocketRoute }> = [];
  await user.context.routeWebSocket(/\/ws$/, (ws) => {
    if (offline) {
      void ws.close();
      return;
    }
    open.push({ page: ws, server: ws.connectToServer() });
  });
  await user.page.reload();
  await expect.poll(() => user.page.getByTestId('me-name').textContent(), { timeout: 10_000 }).toBe(user.displayName);
  return {
    async cut() {
      offline = true;
      for (const socket of open.splice(0)) {
        await socket.server.close().catch(() => undefined);
        await socket.page.close().catch(() => undefined);
      }
    },
    restore() {
      offline = false;
    },
  };
}

/**
 * Records on `user`'s page, from now on, every "left" notice shown and every removal of
 * `watched`'s tile (a leave and a join would remove it); read with `flickers()`.
 */
export async function watchForFlicker(user: AppUser, watched: AppUser): Promise<() => Promise<string[]>> {
  await user.page.evaluate((id) => {
    const w = window as unknown as { __flicker?: string[] };
    w.__flicker = [];
    const tile = `[data-testid="tile"][data-user-id="${id}"]`;
    const notice = '[data-testid="peer-notice"]';
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of Array.from(r.addedNodes)) if (n instanceof Element && (n.matches(notice) || n.querySelector(notice))) w.__flicker!.push(`notice: ${n.textContent ?? ''}`);
        for (const n of Array.from(r.removedNodes)) if (n instanceof Element && (n.matches(tile) || n.querySelector(tile))) w.__flicker!.push('tile removed');
      }
    }).observe(document.body, { childList: true, subtree: true });
  }, watched.id);
  return () => user.page.evaluate(() => (window as unknown as { __flicker?: string[] }).__flicker ?? []);
}

/** Waits for the call screen of `user` to be in `phase` (CONNECTED, OUTGOING...). */
export async function waitForPhase(user: AppUser, phase: string, timeout = MEDIA_TIMEOUT_MS): Promise<void> {
  try {
    await user.page.locator(`[data-testid="call-screen"][data-phase="${phase}"]`).waitFor({ timeout });
  } catch (error) {
    const state = await appState(user.page).catch(() => ({}));
    // The connections' states and inbound streams: which of the call's connections is stuck.
    const stats = await user.page.evaluate(() => window.__roundtable?.stats() ?? Promise.resolve(null)).catch(() => null);
    throw new Error(`${user.username}'s call screen did not reach ${phase}: ${String(error)}\napp: ${JSON.stringify(state)}\nstats: ${JSON.stringify(stats)}\npage log:\n${user.logs.join('\n')}`, { cause: error });
  }
}

/** The call records in the open conversation's timeline, as shown. */
export async function callRecords(user: AppUser): Promise<string[]> {
  return user.page.getByTestId('call-record').allTextContents();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * The media server's WebRTC endpoints in this process over two seconds: state, video
 * source, and packets in and out per kind (totals, and + what moved meanwhile). For failure messages.
 */
export async function endpointDump(): Promise<string> {
  const sample = (): Map<string, { line: string; counts: number[] }> => {
    const out = new Map<string, { line: string; counts: number[] }>();
    for (const pipeline of [...appServers].flatMap((server) => server.engine.pipelines())) {
      for (const element of pipeline.getElements()) {
        if (!(element instanceof WebRtcEndpoint)) continue;
        const stats = element.getStats();
        const source = element.getSourceConnections('video')[0]?.source.id.slice(-12) ?? '-';
        out.set(element.id, { line: `${element.id.slice(-20)} ${element.getConnectionState()} source=${source}`, counts: [stats.audio.packetsReceived, stats.audio.packetsSent, stats.video.packetsReceived, stats.video.packetsSent] });
      }
    }
    return out;
  };
  const first = sample();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const lines: string[] = [];
  for (const [id, now] of sample()) {
    const was = first.get(id)?.counts ?? [0, 0, 0, 0];
    const [ai, ao, vi, vo] = now.counts.map((n, i) => `${n}(+${n - (was[i] ?? 0)})`);
    lines.push(`${now.line} audio in ${ai} out ${ao}, video in ${vi} out ${vo}`);
  }
  return lines.join('\n');
}

/** What a viewer's page showed of a member while that member was "reconnecting". */
export interface ReconnectingView {
  /** The "*Name* is reconnecting…" line. */
  notice: string;
  /** The member's tile's `data-reconnecting` ('true' while dimmed), or null without a tile. */
  tile: string | null;
  /** The headcount shown (`participant-count`'s `data-count`), or null without one. */
  count: string | null;
}

/**
 * Records on `viewer`'s page, from now on, every state shown while `watched` is reconnecting
 * (the notice, their tile, the headcount), however short the state: a test of what follows
 * a grace period can shorten the grace and still check what was shown within it. Read with
 * the returned function.
 */
export async function watchReconnecting(viewer: AppUser, watched: AppUser): Promise<() => Promise<ReconnectingView[]>> {
  await viewer.page.evaluate((id) => {
    const w = window as unknown as { __reconnecting?: string[] };
    w.__reconnecting = [];
    const look = (): void => {
      const notice = document.querySelector(`[data-testid="peer-reconnecting"][data-user-id="${id}"]`);
      if (!notice) return;
      const tile = document.querySelector(`[data-testid="tile"][data-user-id="${id}"]`);
      const count = document.querySelector('[data-testid="participant-count"]');
      const view = JSON.stringify({ notice: notice.textContent ?? '', tile: tile?.getAttribute('data-reconnecting') ?? null, count: count?.getAttribute('data-count') ?? null });
      if (!w.__reconnecting!.includes(view)) w.__reconnecting!.push(view);
    };
    new MutationObserver(look).observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true });
    look();
  }, watched.id);
  return async () => (await viewer.page.evaluate(() => (window as unknown as { __reconnecting?: string[] }).__reconnecting ?? [])).map((view) => JSON.parse(view) as ReconnectingView);
}
