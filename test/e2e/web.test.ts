/**
 * End to end: the web app (packages/web, built bundle) in real headless Chromium with
 * fake camera and microphone, several browser contexts as different users, against the
 * whole server started here. 1:1 chat and calls (P2P and through the media server),
 * decline, call waiting (switch, decline as busy), ring timeout, cancel, the loopback
 * self-test, the language switch.
 * Media is checked from the browsers' own getStats() through the app's debug hook.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../packages/server/src/index.js';
import { skipBrowserTests } from './browser.js';
import { openChromium } from './sharedChromium.js';
import {
  addContactAndOpenChat,
  callRecords,
  appState,
  callState,
  openChatWith,
  openConversation,
  screenshot,
  sendMessage,
  signUp,
  waitForMediaFrom,
  waitForMoreMediaFrom,
  waitForPhase,
  startAppServer,
  type AppUser,
  webAppSuite,
} from './webApp.js';

describe.skipIf(skipBrowserTests('web app'))('web app in Chromium', () => {
  const suite = webAppSuite({ portRange: [54000, 54499] });
  const users = suite.users;

  async function user(prefix: string, locale?: string): Promise<AppUser> {
    const u = await signUp(suite.browser, suite.server, prefix, locale);
    users.push(u);
    return u;
  }

  /** alice and bob, contacts, with their 1:1 chat open on both sides. */
  async function pair(): Promise<[AppUser, AppUser]> {
    const [alice, bob] = await Promise.all([user('alice'), user('bob')]);
    await addContactAndOpenChat(alice, bob);
    await openConversation(bob, alice.displayName);
    return [alice, bob];
  }

  it('serves the built app at / and keeps /healthz, /loopback.html and /ws/loopback', async () => {
    const index = await fetch(suite.server.url);
    const html = await index.text();
    expect(html).toContain('<div id="app">');
    expect(html).toMatch(/src="\/assets\/index-[\w-]+\.js"/);
    expect(await (await fetch(`${suite.server.url}healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${suite.server.url}loopback.html`)).status).toBe(200);
  });

  it('runs under its Content-Security-Policy without a violation, and refuses to be framed by another page', async () => {
    const index = await fetch(suite.server.url);
    expect(index.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    // The bundle has no source maps, and the server would not serve one.
    expect(await index.text()).not.toContain('.map');
    const alice = await user('alice');
    await alice.page.goto(`${suite.server.url}#/loopback`);
    await alice.page.getByTestId('loopback-start').click();
    await expect.poll(() => alice.page.getByTestId('loopback-phase').textContent(), { timeout: 30_000 }).toBe('connected');
    await alice.page.getByTestId('loopback-stop').click();
    expect(alice.logs.filter((line) => /Content Security Policy|Refused to/i.test(line))).toEqual([]);

    // A page elsewhere (here about:blank) that frames the app gets an empty, blocked frame.
    const framer = await alice.context.newPage();
    const blocked: string[] = [];
    framer.on('console', (message) => blocked.push(message.text()));
    await framer.setContent(`<iframe id="victim" src="${suite.server.url}"></iframe>`);
    await expect.poll(() => blocked.some((text) => /frame-ancestors|X-Frame-Options|Refused to (display|frame)/i.test(text)), { timeout: 10_000 }).toBe(true);
    const frame = framer.frames().find((f) => f !== framer.mainFrame());
    expect(await frame?.locator('#app').count().catch(() => 0)).toBe(0);
    await framer.close();
  });

  it('the loopback self-test shows the camera coming back from the server and the round trip', async () => {
    const { context, page } = await suite.browser.newContext().then(async (ctx) => ({ context: ctx, page: await ctx.newPage() }));
    try {
      await page.goto(`${suite.server.url}#/loopback`);
      await page.getByTestId('loopback-start').click();
      await expect.poll(() => page.evaluate(() => (window as unknown as { __roundtableLoopback?: { state: { framesDecoded: number } } }).__roundtableLoopback?.state.framesDecoded ?? 0), { timeout: 30_000 }).toBeGreaterThan(10);
      await expect.poll(() => page.getByTestId('loopback-rtt').textContent(), { timeout: 10_000 }).toMatch(/^\d+(\.\d)? ms$/);
      // The returned video plays in the page, with a real frame size.
      await expect.poll(() => page.locator('[data-testid="loopback-remote-video"]').evaluate((v) => (v as HTMLVideoElement).videoWidth), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(await page.getByTestId('loopback-phase').textContent()).toBe('connected');
      await screenshot(page, 'loopback');
      await page.getByTestId('loopback-stop').click();
      expect(await page.getByTestId('loopback-phase').textContent()).toBe('stopped');
    } finally {
      await context.close();
    }
  });

  it('two users find each other, chat, and see each other’s messages; the UI switches to Chinese', async () => {
    const [alice, bob] = await pair();

    await sendMessage(alice, 'hello bob');
    await expect.poll(() => bob.page.getByTestId('message-text').allTextContents(), { timeout: 10_000 }).toEqual(['hello bob']);
    await sendMessage(bob, 'hi alice');
    await expect.poll(() => alice.page.getByTestId('message-text').allTextContents(), { timeout: 10_000 }).toEqual(['hello bob', 'hi alice']);

    await bob.page.getByTestId('lang-toggle').click();
    expect(await bob.page.getByTestId('call-video').textContent()).toContain('视频通话');
    expect(await bob.page.getByTestId('lang-toggle').textContent()).toBe('English');
    await screenshot(bob.page, 'chat-zh');
    await bob.page.getByTestId('lang-toggle').click();
    expect(await bob.page.getByTestId('call-video').textContent()).toContain('Video call');
    await screenshot(alice.page, 'chat');
  });

  it('a Chinese browser gets the Chinese UI', async () => {
    const li = await user('li', 'zh-CN');
    expect(await li.page.getByTestId('nav-chats').textContent()).toContain('会话');
  });

  it('a page reload keeps you signed in (device token in localStorage); signing out forgets it', async () => {
    const [alice, bob] = await pair();
    await sendMessage(alice, 'before reload');

    await alice.page.reload();

    await expect.poll(() => alice.page.getByTestId('me-name').textContent(), { timeout: 10_000 }).toBe(alice.displayName);
    expect((await appState(alice.page))['me']).toBe(alice.id);
    await openConversation(alice, bob.displayName);
    expect(await alice.page.getByTestId('message-text').allTextContents()).toEqual(['before reload']);
    // The resumed session is a signed-in device like any other: it receives messages.
    await sendMessage(bob, 'after reload');
    await expect.poll(() => alice.page.getByTestId('message-text').allTextContents(), { timeout: 10_000 }).toEqual(['before reload', 'after reload']);

    await alice.page.getByTestId('sign-out').click();
    await alice.page.getByTestId('login').waitFor({ timeout: 10_000 });
    expect((await appState(alice.page))['sessionStored']).toBe(false);
    await alice.page.reload();
    await alice.page.getByTestId('login').waitFor({ timeout: 10_000 });
    expect(await alice.page.getByTestId('me-name').count()).toBe(0);
  });

  for (const topology of ['p2p', 'sfu'] as const) {
    it(`1:1 video call (${topology}): accept, both decode video and audio, hang up, the record is in both timelines`, async () => {
      const [alice, bob] = await pair();
      await alice.page.getByTestId('topology-select').selectOption(topology);

      await alice.page.getByTestId('call-video').click();
      await waitForPhase(alice, 'OUTGOING', 10_000);
      await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
      expect(await bob.page.getByTestId('incoming-text').textContent()).toContain(alice.displayName);
      expect((await appState(bob.page))['ringing']).toBe('incoming');
      await bob.page.getByTestId('accept-call').click();

      await Promise.all([waitForPhase(alice, 'CONNECTED'), waitForPhase(bob, 'CONNECTED')]);
      const [atAlice, atBob] = await Promise.all([waitForMediaFrom(alice, [bob]), waitForMediaFrom(bob, [alice])]);
      expect(atAlice[bob.username]!.videoFramesDecoded).toBeGreaterThanOrEqual(30);
      expect(atBob[alice.username]!.audioBytesReceived).toBeGreaterThan(0);
      // The tile shows the video instead of the avatar; the timer runs; quality is measured.
      await alice.page.locator(`[data-testid="tile"][data-user-id="${bob.id}"][data-has-video="true"]`).waitFor({ timeout: 10_000 });
      await expect.poll(() => alice.page.getByTestId('talk-timer').textContent()).toMatch(/^\d\d:\d\d$/);
      await expect.poll(() => alice.page.getByTestId('quality').getAttribute('data-level'), { timeout: 10_000 }).not.toBe('unknown');
      await screenshot(alice.page, `call-1to1-${topology}`);
      // Mute and camera off go through the SDK and come back in its local media state.
      await alice.page.getByTestId('toggle-mute').click();
      await alice.page.locator('[data-testid="toggle-mute"][data-on="true"]').waitFor({ timeout: 5000 });
      await alice.page.getByTestId('toggle-camera').click();
      await alice.page.locator('[data-testid="toggle-camera"][data-on="true"]').waitFor({ timeout: 5000 });
      await alice.page.getByTestId('toggle-mute').click();
      await alice.page.locator('[data-testid="toggle-mute"][data-on="false"]').waitFor({ timeout: 5000 });
      await alice.page.getByTestId('toggle-camera').click();
      await alice.page.locator('[data-testid="toggle-camera"][data-on="false"]').waitFor({ timeout: 5000 });
      // Device switching: the fake microphones are listed; switching to another one keeps Bob hearing Alice.
      await alice.page.getByTestId('toggle-devices').click();
      const mics = await alice.page.locator('[data-testid="device-audio"] option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
      expect(mics.length).toBeGreaterThan(0);
      await alice.page.getByTestId('device-audio').selectOption(mics[mics.length - 1]!);
      await waitForMoreMediaFrom(bob, [alice]);

      await alice.page.getByTestId('hang-up').click();
      await Promise.all([alice.page.getByTestId('call-screen').waitFor({ state: 'detached' }), bob.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 })]);
      for (const u of [alice, bob]) {
        await expect.poll(() => callRecords(u), { timeout: 10_000 }).toEqual([expect.stringMatching(/^\[video call\] 00:\d\d$/)]);
      }
      await screenshot(bob.page, `chat-after-call-${topology}`);
    });
  }

  it('decline: the caller is told, no call screen stays, and the record says missed call', async () => {
    const [alice, bob] = await pair();
    await alice.page.getByTestId('call-voice').click();
    await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
    await bob.page.getByTestId('decline-call').click();

    await alice.page.locator('[data-testid="call-notice"][data-declined="true"]').waitFor({ timeout: 10_000 });
    expect(await alice.page.getByTestId('call-screen').count()).toBe(0);
    expect(await bob.page.getByTestId('incoming-call').count()).toBe(0);
    for (const u of [alice, bob]) await expect.poll(() => callRecords(u), { timeout: 10_000 }).toEqual(['missed call']);
  });

  it('call waiting: a call to someone in a call shows as waiting; declining it tells the caller busy and the current call goes on', async () => {
    const [alice, bob] = await pair();
    const carol = await user('carol');
    // Carol is a stranger to Bob: she opens a 1:1 chat without asking him, and calls.
    await openChatWith(carol, bob);
    await alice.page.getByTestId('call-voice').click();
    await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
    await bob.page.getByTestId('accept-call').click();
    await waitForPhase(bob, 'CONNECTED');

    await carol.page.getByTestId('call-voice').click();
    await bob.page.locator('[data-testid="incoming-call"][data-waiting="true"]').waitFor({ timeout: 10_000 });
    // Waiting, not ringing over the call.
    expect((await appState(bob.page))['ringing']).toBeNull();
    await bob.page.getByTestId('decline-call').click();

    await carol.page.locator('[data-testid="call-notice"][data-reason="busy"]').waitFor({ timeout: 10_000 });
    expect(await carol.page.getByTestId('call-screen').count()).toBe(0);
    expect(await bob.page.getByTestId('incoming-call').count()).toBe(0);
    expect((await callState(bob.page))?.phase).toBe('CONNECTED');
    await bob.page.getByTestId('hang-up').click();
    await alice.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('call waiting: switching to the waiting call ends the current one for its other side and connects the new one with media', async () => {
    const [alice, bob] = await pair();
    const carol = await user('carol');
    // Carol is a stranger to Bob: she opens a 1:1 chat without asking him, and calls.
    await openChatWith(carol, bob);
    const t0 = Date.now();
    const mark = (what: string): void => console.log(`call waiting test: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await alice.page.getByTestId('call-voice').click();
    await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
    await bob.page.getByTestId('accept-call').click();
    // Answered (Alice heard it): Bob is in the call for the server; media need not flow yet.
    await alice.page.locator('[data-testid="call-screen"][data-phase="CONNECTING"], [data-testid="call-screen"][data-phase="CONNECTED"]').first().waitFor({ timeout: 10_000 });
    const first = (await callState(bob.page))!.id;
    mark('first call answered');

    await carol.page.getByTestId('call-voice').click();
    await bob.page.locator('[data-testid="incoming-call"][data-waiting="true"]').waitFor({ timeout: 10_000 });
    await screenshot(bob.page, 'web-call-waiting');
    await bob.page.getByTestId('switch-call').click();

    // Alice's call ended (Bob hung up on her); Bob and Carol are in the new one, with media.
    await alice.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
    mark('switched');
    await Promise.all([waitForPhase(bob, 'CONNECTED'), waitForPhase(carol, 'CONNECTED')]);
    mark('second call CONNECTED');
    const second = await callState(bob.page);
    expect(second!.id).not.toBe(first);
    expect(second!.participants.map((p) => p.id)).toContain(carol.id);
    await waitForMediaFrom(bob, [carol], { video: false });
    await waitForMediaFrom(carol, [bob], { video: false });
    expect(await bob.page.getByTestId('incoming-call').count()).toBe(0);
    mark('media both ways');
    await carol.page.getByTestId('hang-up').click();
    await bob.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
  }, 90_000);

  it('cancel before answer: the callee stops ringing and both timelines get a missed call', async () => {
    const [alice, bob] = await pair();
    await alice.page.getByTestId('call-video').click();
    await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
    await waitForPhase(alice, 'OUTGOING', 10_000);
    expect((await appState(alice.page))['ringing']).toBe('outgoing');

    await alice.page.getByTestId('hang-up').click();

    await bob.page.getByTestId('incoming-call').waitFor({ state: 'detached', timeout: 10_000 });
    expect(await alice.page.getByTestId('call-screen').count()).toBe(0);
    expect((await appState(bob.page))['ringing']).toBeNull();
    for (const u of [alice, bob]) await expect.poll(() => callRecords(u), { timeout: 10_000 }).toEqual(['missed call']);
  });
});

describe.skipIf(skipBrowserTests('web app ring timeout'))('web app ring timeout in Chromium', () => {
  let server: RunningServer | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    // A short ring: the call is never answered, so no media ports are used.
    server = await startAppServer({ portRange: [54500, 54599], ringTimeoutMs: 3000 });
    browser = await openChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('an unanswered call ends with timeout on both sides and is a missed call', async () => {
    const [alice, bob] = await Promise.all([signUp(browser!, server!, 'alice'), signUp(browser!, server!, 'bob')]);
    try {
      await addContactAndOpenChat(alice, bob);
      await openConversation(bob, alice.displayName);
      await alice.page.getByTestId('call-video').click();
      await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });

      await alice.page.locator('[data-testid="call-notice"][data-reason="timeout"]').waitFor({ timeout: 15_000 });
      await bob.page.getByTestId('incoming-call').waitFor({ state: 'detached', timeout: 10_000 });
      expect(await alice.page.getByTestId('call-notice').textContent()).toContain('No answer');
      for (const u of [alice, bob]) await expect.poll(() => callRecords(u), { timeout: 10_000 }).toEqual(['missed call']);
    } finally {
      await Promise.all([alice.context.close(), bob.context.close()]);
    }
  });
});
