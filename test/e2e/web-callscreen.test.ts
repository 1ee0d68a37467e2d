/**
 * End to end: the call screen of the web app in headless Chromium. A phone-sized page
 * with touch (portrait and landscape): the controls inside the screen, 44 px or more, no
 * horizontal scrolling; what the other side sees of a muted, camera-off, hand-raising
 * participant (the avatar instead of a frozen frame); the chat beside the video; a
 * reaction; "accept with voice only" then the camera on, reaching the other side as
 * decoded frames.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { skipBrowserTests } from './browser.js';
import { addContactAndOpenChat, mediaFrom, openConversation, screenshot, signUp, waitForMediaFrom, waitForPhase, webAppSuite } from './webApp.js';

const PHONE = { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 };

/** How wide the page lays out beyond the screen (0: no horizontal scrolling). */
function overflowX(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth);
}

/** Every visible call control: its box, and whether it lies inside the screen. */
async function controlBoxes(page: Page): Promise<Array<{ id: string; x: number; y: number; width: number; height: number; inside: boolean }>> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('.controls > button, .controls .secondary.open > button'))
      .filter((b) => b.offsetParent !== null)
      .map((b) => {
        const r = b.getBoundingClientRect();
        return { id: b.dataset['testid'] ?? '?', x: r.x, y: r.y, width: r.width, height: r.height, inside: r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight };
      }),
  );
}

async function expectThumbFriendly(page: Page, what: string): Promise<void> {
  const boxes = await controlBoxes(page);
  expect(boxes.map((b) => b.id), what).toEqual(expect.arrayContaining(['toggle-mute', 'toggle-camera', 'hang-up', 'more-open']));
  for (const b of boxes) {
    expect(b.inside, `${what}: ${b.id} at ${JSON.stringify(b)} is off screen`).toBe(true);
    expect(Math.min(b.width, b.height), `${what}: ${b.id} is smaller than 44 px`).toBeGreaterThanOrEqual(44);
  }
  // The controls sit in the lower part of the screen, in thumb reach.
  const viewport = page.viewportSize()!;
  for (const b of boxes.filter((box) => box.id === 'toggle-mute' || box.id === 'hang-up')) expect(b.y, `${what}: ${b.id} is not at the bottom`).toBeGreaterThan(viewport.height / 2);
  expect(await overflowX(page), `${what}: horizontal overflow`).toBeLessThanOrEqual(0);
}

describe.skipIf(skipBrowserTests('web call screen'))('web call screen in Chromium', () => {
  const suite = webAppSuite({ portRange: [64900, 64949] });
  const users = suite.users;

  it('on a phone: one column, thumb-sized controls inside the screen (portrait and landscape); the other sees mute, camera off (avatar), the raised hand, the in-call chat and a reaction', async () => {
    const [alice, bob] = await Promise.all([signUp(suite.browser, suite.server, 'alice', 'en-US', { context: PHONE }), signUp(suite.browser, suite.server, 'bob')]);
    users.push(alice, bob);
    await addContactAndOpenChat(alice, bob);
    await openConversation(bob, alice.displayName);
    // Every section fits the phone's width; the tab bar is at the bottom.
    for (const section of ['contacts', 'rooms', 'recordings', 'loopback', 'chats']) {
      await alice.page.getByTestId(`nav-${section}`).tap();
      await expect.poll(() => overflowX(alice.page), { timeout: 5000 }).toBeLessThanOrEqual(0);
      const tab = await alice.page.getByTestId(`nav-${section}`).boundingBox();
      expect(tab!.y + tab!.height).toBeGreaterThan(844 - 60);
      expect(Math.min(tab!.width, tab!.height)).toBeGreaterThanOrEqual(44);
    }
    await alice.page.locator(`[data-testid="conversation-item"][data-name="${bob.displayName}"]`).tap();
    await alice.page.getByTestId('chat-title').waitFor();
    // The open chat fills the phone's width; the list gives way to it.
    expect(await overflowX(alice.page)).toBeLessThanOrEqual(0);
    expect(await alice.page.locator('.sidebar').isVisible()).toBe(false);
    const send = await alice.page.getByTestId('composer-send').boundingBox();
    expect(send!.x + send!.width).toBeLessThanOrEqual(390);

    await alice.page.getByTestId('call-video').tap();
    await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
    await bob.page.getByTestId('accept-call').click();
    await Promise.all([waitForPhase(alice, 'CONNECTED'), waitForPhase(bob, 'CONNECTED')]);
    await waitForMediaFrom(bob, [alice], { frames: 10, audioPackets: 20 });
    const tileAtBob = bob.page.locator(`[data-testid="tile"][data-user-id="${alice.id}"]`);
    await tileAtBob.and(bob.page.locator('[data-has-video="true"]')).waitFor({ timeout: 10_000 });
    // Alice's (fake) microphone beeps: her audio level makes her the active speaker on Bob's screen.
    await expect.poll(() => bob.page.getByTestId('call-screen').getAttribute('data-active-speaker'), { timeout: 15_000 }).toBe(alice.id);
    await tileAtBob.and(bob.page.locator('[data-speaking="true"]')).waitFor({ timeout: 5000 });

    await expectThumbFriendly(alice.page, 'portrait');
    await alice.page.getByTestId('more-open').tap();
    await expectThumbFriendly(alice.page, 'portrait, More open');
    await alice.page.getByTestId('more-open').tap();
    await alice.page.setViewportSize({ width: 844, height: 390 });
    await expectThumbFriendly(alice.page, 'landscape');
    await alice.page.setViewportSize({ width: 390, height: 844 });

    // Mute and camera off reach Bob: the mute sign, and Alice's avatar instead of her last frame.
    await alice.page.getByTestId('toggle-mute').tap();
    await alice.page.getByTestId('toggle-camera').tap();
    await tileAtBob.and(bob.page.locator('[data-muted="true"][data-camera-off="true"][data-has-video="false"]')).waitFor({ timeout: 10_000 });
    expect(await tileAtBob.getByTestId('tile-muted').isVisible()).toBe(true);
    expect(await tileAtBob.getByTestId('avatar').textContent()).toBe('AL');
    await screenshot(bob.page, 'callscreen-remote-muted-camera-off');

    // The hand goes up on Bob's screen: on the tile and in the participant list.
    await alice.page.getByTestId('toggle-hand').tap();
    await tileAtBob.and(bob.page.locator('[data-hand-raised="true"]')).waitFor({ timeout: 10_000 });
    await bob.page.getByTestId('toggle-people').click();
    await bob.page.locator(`[data-testid="participant-item"][data-user-id="${alice.id}"][data-hand-raised="true"]`).waitFor({ timeout: 10_000 });

    // The chat beside the video is the conversation's: Alice writes from the call on her phone.
    await alice.page.getByTestId('toggle-chat').tap();
    await alice.page.getByTestId('incall-input').fill('can you hear me?');
    await alice.page.getByTestId('incall-send').tap();
    await bob.page.getByTestId('panel-chat').click();
    await expect.poll(() => bob.page.getByTestId('incall-message-text').allTextContents(), { timeout: 10_000 }).toContain('can you hear me?');
    expect(await overflowX(alice.page)).toBeLessThanOrEqual(0);

    // A reaction from Bob shows over his tile on Alice's phone.
    await bob.page.getByTestId('react-open').click();
    await bob.page.locator('[data-testid="reaction-option"][data-reaction="👏"]').click();
    await alice.page.getByTestId('panel-close').tap();
    await alice.page.locator(`[data-testid="tile"][data-user-id="${bob.id}"] [data-testid="tile-reaction"][data-reaction="👏"]`).waitFor({ timeout: 10_000 });
    await screenshot(alice.page, 'callscreen-phone');

    // Camera on again: the picture comes back instead of the avatar.
    await alice.page.getByTestId('toggle-camera').tap();
    await tileAtBob.and(bob.page.locator('[data-camera-off="false"][data-has-video="true"]')).waitFor({ timeout: 15_000 });
    await alice.page.getByTestId('hang-up').tap();
    await bob.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
  }, 120_000);

  it('"accept with voice only", then the camera on: the caller decodes the callee\'s video; the self-preview shows the user\'s initials', async () => {
    const [carol, dave] = await Promise.all([signUp(suite.browser, suite.server, 'carol'), signUp(suite.browser, suite.server, 'dave')]);
    users.push(carol, dave);
    await addContactAndOpenChat(carol, dave);
    await openConversation(dave, carol.displayName);

    await carol.page.getByTestId('call-video').click();
    await dave.page.getByTestId('accept-voice').click({ timeout: 10_000 });
    await Promise.all([waitForPhase(carol, 'CONNECTED'), waitForPhase(dave, 'CONNECTED')]);
    await waitForMediaFrom(carol, [dave], { video: false, audioPackets: 20 });
    // Voice only: no picture goes out; Carol sees Dave's avatar, Dave sees his own initials.
    const daveAtCarol = carol.page.locator(`[data-testid="tile"][data-user-id="${dave.id}"]`);
    await daveAtCarol.and(carol.page.locator('[data-camera-off="true"][data-has-video="false"]')).waitFor({ timeout: 10_000 });
    expect(await dave.page.getByTestId('local-preview').getByTestId('avatar').textContent()).toBe('DA');
    const button = dave.page.getByTestId('toggle-camera');
    expect(await button.getAttribute('aria-label')).toBe('Turn camera on');
    const before = (await mediaFrom(carol, [dave]))[dave.username]!.videoFramesDecoded;

    await button.click();
    await dave.page.locator('[data-testid="toggle-camera"][data-on="false"]:not([data-voice-only])').waitFor({ timeout: 10_000 });
    await expect
      .poll(async () => (await mediaFrom(carol, [dave]))[dave.username]!.videoFramesDecoded - before, { timeout: 30_000, interval: 500 })
      .toBeGreaterThanOrEqual(30);
    await daveAtCarol.and(carol.page.locator('[data-camera-off="false"][data-has-video="true"]')).waitFor({ timeout: 10_000 });
    // Pinning Dave's tile: the speaker layout with Dave big; pinning again goes back to the grid.
    await daveAtCarol.click();
    await carol.page.locator('[data-testid="call-screen"][data-layout="speaker"]').waitFor({ timeout: 5000 });
    await carol.page.locator(`.stage-main [data-testid="tile"][data-user-id="${dave.id}"][data-pinned="true"]`).waitFor({ timeout: 5000 });
    await carol.page.locator(`[data-testid="tile"][data-user-id="${dave.id}"]`).click();
    await carol.page.locator('[data-testid="call-screen"][data-layout="grid"]').waitFor({ timeout: 5000 });
    await dave.page.locator('[data-testid="local-preview"][data-has-video="true"]').waitFor({ timeout: 10_000 });
    await carol.page.getByTestId('hang-up').click();
    await dave.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
  }, 90_000);

  it('in a room: "copy invite link" gives the room\'s link; mute and a reaction go through the room; the headcount is the people in it', async () => {
    const [erin, fred] = await Promise.all([signUp(suite.browser, suite.server, 'erin'), signUp(suite.browser, suite.server, 'fred')]);
    users.push(erin, fred);
    await erin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.server.url });
    const room = `huddle-${process.pid}`;
    await erin.page.goto(`${suite.server.url}#/room/${room}`);
    await erin.page.getByTestId('call-screen').waitFor({ timeout: 10_000 });
    await fred.page.goto(`${suite.server.url}#/room/${room}`);
    await erin.page.locator(`[data-testid="tile"][data-user-id="${fred.id}"][data-has-video="true"]`).waitFor({ timeout: 30_000 });
    await expect.poll(() => erin.page.getByTestId('participant-count').getAttribute('data-count'), { timeout: 10_000 }).toBe('2');

    await erin.page.getByTestId('copy-invite-link').click();
    const link = `${suite.server.url.replace(/\/$/, '')}/#/room/${room}`;
    await expect.poll(() => erin.page.getByTestId('call-toast').getAttribute('data-link'), { timeout: 5000 }).toBe(link);
    expect(await erin.page.evaluate(() => navigator.clipboard.readText())).toBe(link);

    await fred.page.getByTestId('toggle-mute').click();
    await erin.page.locator(`[data-testid="tile"][data-user-id="${fred.id}"][data-muted="true"]`).waitFor({ timeout: 10_000 });
    await erin.page.getByTestId('react-open').click();
    await erin.page.locator('[data-testid="reaction-option"][data-reaction="🎉"]').click();
    await fred.page.locator(`[data-testid="tile"][data-user-id="${erin.id}"] [data-testid="tile-reaction"][data-reaction="🎉"]`).waitFor({ timeout: 10_000 });
    await fred.page.getByTestId('hang-up').click();
    await expect.poll(() => erin.page.getByTestId('participant-count').getAttribute('data-count'), { timeout: 15_000 }).toBe('1');
    await erin.page.getByTestId('hang-up').click();
  }, 90_000);
});
