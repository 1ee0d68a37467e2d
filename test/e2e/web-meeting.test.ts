/**
 * End to end, the web app as a meeting product: the pre-join screen (its choices take
 * effect: joined muted), a page closed mid-call as the other side sees it
 * (reconnecting, then left with a notice), and a reload that rejoins the call.
 * Real Chromium pages against the whole server; media read from getStats().
 */
import { describe, expect, it } from 'vitest';
import { skipBrowserTests } from './browser.js';
import { addContactAndOpenChat, appState, openConversation, screenshot, signUp, videoFlows, waitForMediaFrom, waitForPhase, watchForFlicker, watchReconnecting, type AppUser, type WebAppSuite, webAppSuite } from './webApp.js';

/** alice and bob, contacts, with their 1:1 chat open on both sides; closed after the test. */
async function pair(suite: WebAppSuite, options: { prejoin?: boolean } = {}): Promise<[AppUser, AppUser]> {
  const [alice, bob] = await Promise.all([signUp(suite.browser, suite.server, 'alice', 'en-US', options), signUp(suite.browser, suite.server, 'bob')]);
  suite.users.push(alice, bob);
  await addContactAndOpenChat(alice, bob);
  await openConversation(bob, alice.displayName);
  return [alice, bob];
}

/** Alice video-calls bob (through the media server) and bob accepts: both CONNECTED, media both ways. */
async function connect(alice: AppUser, bob: AppUser): Promise<void> {
  await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
  await bob.page.getByTestId('accept-call').click();
  await Promise.all([waitForPhase(alice, 'CONNECTED'), waitForPhase(bob, 'CONNECTED')]);
}

describe.skipIf(skipBrowserTests('web app meetings'))('web app: pre-join, dropped and reloaded participants', () => {
  const suite = webAppSuite({ portRange: [64950, 64974] });
  const users = suite.users;

  it('the pre-join screen shows the camera and the microphone level, leads to the self-test, and its choices take effect: the call starts muted', async () => {
    const [alice, bob] = await pair(suite, { prejoin: true });
    await alice.page.getByTestId('call-video').click();
    await alice.page.getByTestId('prejoin').waitFor();
    await expect.poll(() => alice.page.getByTestId('prejoin-video').evaluate((v) => (v as HTMLVideoElement).videoWidth), { timeout: 10_000 }).toBeGreaterThan(0);
    // The fake microphone beeps: the meter moves.
    await expect.poll(async () => Number(await alice.page.getByTestId('prejoin-level').getAttribute('data-level')), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await alice.page.getByTestId('prejoin-audio').locator('option').count()).toBeGreaterThan(0);
    expect(await alice.page.getByTestId('prejoin-camera').locator('option').count()).toBeGreaterThan(0);
    await screenshot(alice.page, 'prejoin-en');
    // The self-test is one click away, and nothing was started.
    await alice.page.getByTestId('prejoin-self-test').click();
    await alice.page.getByTestId('loopback').waitFor();
    expect(await bob.page.getByTestId('incoming-call').count()).toBe(0);

    await openConversation(alice, bob.displayName);
    await alice.page.getByTestId('call-video').click();
    await alice.page.getByTestId('prejoin-muted').check();
    await alice.page.getByTestId('prejoin-join').click();
    await connect(alice, bob);

    expect(await alice.page.getByTestId('toggle-mute').getAttribute('data-on')).toBe('true');
    expect((await appState(alice.page))['muted']).toBe(true);
    // Bob gets alice's picture but not one audio packet: the microphone never went out.
    const received = await waitForMediaFrom(bob, [alice], { frames: 20, audioPackets: 0 });
    expect(received[alice.username]!.audioPacketsReceived).toBe(0);
    // Unmuted, her voice reaches him.
    await alice.page.getByTestId('toggle-mute').click();
    await waitForMediaFrom(bob, [alice], { frames: 20, audioPackets: 20 });
    await alice.page.getByTestId('hang-up').click();
  });

  it('a reloaded page offers the call back; one click rejoins it with fresh media and the other side sees the participant reconnect', async () => {
    const [alice, bob] = await pair(suite);
    await alice.page.getByTestId('call-video').click();
    await connect(alice, bob);
    await waitForMediaFrom(alice, [bob], { frames: 10, audioPackets: 10 });

    await alice.page.reload();
    await bob.page.locator(`[data-testid="peer-reconnecting"][data-user-id="${alice.id}"]`).waitFor({ timeout: 10_000 });
    // Her own tile says so too: dimmed, "Reconnecting…" over it.
    const aliceTile = bob.page.locator(`[data-testid="tile"][data-user-id="${alice.id}"]`);
    expect(await aliceTile.getAttribute('data-reconnecting')).toBe('true');
    expect(await aliceTile.getByTestId('tile-reconnecting').textContent()).toBe('Reconnecting…');
    const rejoin = alice.page.getByTestId('rejoin');
    await rejoin.waitFor({ timeout: 10_000 });
    await screenshot(alice.page, 'rejoin-offer');
    await rejoin.click();
    await waitForPhase(alice, 'CONNECTED');
    await expect.poll(() => bob.page.getByTestId('peer-reconnecting').count(), { timeout: 10_000 }).toBe(0);
    expect(await aliceTile.getAttribute('data-reconnecting')).toBe('false');
    expect(await aliceTile.getByTestId('tile-reconnecting').count()).toBe(0);
    // The reloaded page decodes bob from zero; bob decodes alice's new uplink.
    await waitForMediaFrom(alice, [bob], { frames: 20, audioPackets: 20 });
    await videoFlows(bob, alice);
    expect((await appState(bob.page))['call']).toMatchObject({ phase: 'CONNECTED' });
    await bob.page.getByTestId('hang-up').click();
    await expect.poll(() => alice.page.getByTestId('call-screen').count(), { timeout: 10_000 }).toBe(0);
  }, 90_000);

  it('a reloaded page in a room offers it back; one click joins it again, as muted as before', async () => {
    const [alice, bob] = await Promise.all([signUp(suite.browser, suite.server, 'alice'), signUp(suite.browser, suite.server, 'bob')]);
    users.push(alice, bob);
    const room = `reload-${process.pid}`;
    await alice.page.goto(`${suite.server.url}#/room/${room}`);
    await bob.page.goto(`${suite.server.url}#/room/${room}`);
    await Promise.all([waitForPhase(alice, 'CONNECTED'), waitForPhase(bob, 'CONNECTED')]);
    await alice.page.getByTestId('toggle-mute').click();
    await waitForMediaFrom(bob, [alice], { frames: 10, audioPackets: 0 });
    const flickers = await watchForFlicker(bob, alice);

    await alice.page.reload();
    // The room keeps her for the grace period: bob sees her reconnecting, not gone.
    await bob.page.locator(`[data-testid="peer-reconnecting"][data-user-id="${alice.id}"]`).waitFor({ timeout: 10_000 });
    const rejoin = alice.page.getByTestId('rejoin');
    await rejoin.waitFor({ timeout: 10_000 });
    expect(await alice.page.getByTestId('rejoin-banner').textContent()).toContain(`You were in room ${room}`);
    await rejoin.click();
    await waitForPhase(alice, 'CONNECTED');
    expect(await alice.page.getByTestId('toggle-mute').getAttribute('data-on')).toBe('true');
    await waitForMediaFrom(alice, [bob], { frames: 20, audioPackets: 20 });
    await videoFlows(bob, alice);
    await expect.poll(() => bob.page.getByTestId('peer-reconnecting').count(), { timeout: 10_000 }).toBe(0);
    // Back in her place: bob never saw her leave and join again, and still sees her muted.
    expect(await flickers()).toEqual([]);
    await expect.poll(() => bob.page.locator(`[data-testid="tile"][data-user-id="${alice.id}"]`).getAttribute('data-muted'), { timeout: 10_000 }).toBe('true');
  }, 90_000);
});

describe.skipIf(skipBrowserTests('web app meetings, page closed'))('web app: a participant whose page closes', () => {
  // The server keeps a dropped device 15 s by default; this server 5 s, so as not to wait
  // through it. What is shown within it is recorded on the page as it happens.
  const suite = webAppSuite({ portRange: [64550, 64574], disconnectGraceMs: 5000 });

  it('a page closed mid-call: the other side sees "reconnecting", then the call ends with a notice that the connection was lost', async () => {
    const [alice, bob] = await pair(suite);
    await alice.page.getByTestId('call-video').click();
    await connect(alice, bob);
    await waitForMediaFrom(bob, [alice], { frames: 10, audioPackets: 10 });
    const shown = await watchReconnecting(bob, alice);

    await alice.page.close();
    await expect.poll(async () => (await shown()).map((view) => view.notice), { timeout: 10_000 }).toContainEqual(expect.stringContaining(`${alice.displayName} is reconnecting`));
    await screenshot(bob.page, 'peer-reconnecting');
    // After the server's grace the 1:1 call ends, and says why.
    const notice = bob.page.getByTestId('call-notice');
    await notice.waitFor({ timeout: 30_000 });
    expect(await notice.getAttribute('data-dropped')).toBe(alice.id);
    expect(await notice.textContent()).toContain(`${alice.displayName} lost the connection; the call ended.`);
    expect(await bob.page.getByTestId('call-screen').count()).toBe(0);
  }, 90_000);
});
