/**
 * End to end: a group call of 4 in the web app, in one headless Chromium with a browser
 * context per person, through the media server of the server started here. Everyone
 * decodes everyone else's video and audio (from getStats()); one leaves and the others'
 * screens update; the initiator ends the call for all; the record is in the group chat.
 * Also inviting a member mid-call, and open rooms joined by link.
 */
import { describe, expect, it } from 'vitest';
import { skipBrowserTests } from './browser.js';
import { addContactAndOpenChat, callRecords, callState, openConversation, screenshot, signUp, waitForMediaFrom, waitForMoreMediaFrom, waitForPhase, type AppUser, webAppSuite } from './webApp.js';

describe.skipIf(skipBrowserTests('web app group call'))('web app group call in Chromium', () => {
  const suite = webAppSuite({ portRange: [54600, 54999] });
  const users = suite.users;

  it('4 people: everyone decodes everyone else, one leaves and the others update, the initiator ends it', async () => {
    const [ann, ben, cat, dan] = await Promise.all(['ann', 'ben', 'cat', 'dan'].map((name) => signUp(suite.browser, suite.server, name)));
    users.push(ann!, ben!, cat!, dan!);
    const everyone = [ann!, ben!, cat!, dan!];
    const others = (me: AppUser): AppUser[] => everyone.filter((u) => u !== me);

    const t0 = Date.now();
    const mark = (what: string): void => console.log(`group test: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Ann adds the others as contacts and makes a group with them.
    for (const u of others(ann!)) await addContactAndOpenChat(ann!, u);
    await ann!.page.getByTestId('nav-chats').click();
    await ann!.page.getByTestId('new-group').click();
    await ann!.page.getByTestId('group-name').fill('Standup');
    for (const u of others(ann!)) await ann!.page.locator(`[data-testid="member-option"][data-username="${u.username}"]`).check();
    await ann!.page.getByTestId('picker-confirm').click();
    await expect.poll(() => ann!.page.getByTestId('chat-title').textContent(), { timeout: 10_000 }).toBe('Standup');
    for (const u of others(ann!)) await openConversation(u, 'Standup');

    mark('group made');
    // A video call to all three (the picker starts with every member ticked).
    await ann!.page.getByTestId('call-video').click();
    expect(await ann!.page.locator('[data-testid="member-option"]:checked').count()).toBe(3);
    await ann!.page.getByTestId('picker-confirm').click();
    await waitForPhase(ann!, 'OUTGOING', 10_000);
    mark('ringing');
    await Promise.all(
      others(ann!).map(async (u) => {
        await u.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
        await u.page.getByTestId('accept-call').click();
      }),
    );
    mark('all accepted');
    await Promise.all(everyone.map((u) => waitForPhase(u, 'CONNECTED')));
    mark('all connected');
    await Promise.all(everyone.map((u) => waitForMediaFrom(u, others(u), { frames: 20, audioPackets: 50 })));
    for (const u of everyone) {
      await expect.poll(() => u.page.locator('[data-testid="tile"][data-has-video="true"]').count(), { timeout: 15_000 }).toBe(3);
    }
    mark('all decode all');
    await screenshot(ann!.page, 'group-call-4');
    await screenshot(dan!.page, 'group-call-4-member');

    mark('screenshots');
    // Dan leaves: the others drop his tile and the call goes on.
    await dan!.page.getByTestId('hang-up').click();
    await dan!.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
    for (const u of [ann!, ben!, cat!]) {
      await u.page.locator(`[data-testid="tile"][data-user-id="${dan!.id}"]`).waitFor({ state: 'detached', timeout: 15_000 });
      expect(await u.page.getByTestId('tile').count()).toBe(2);
      expect((await callState(u.page))?.phase).toBe('CONNECTED');
    }
    // Media still flows between those who stayed.
    await Promise.all([waitForMoreMediaFrom(ann!, [ben!, cat!]), waitForMoreMediaFrom(ben!, [ann!, cat!]), waitForMoreMediaFrom(cat!, [ann!, ben!])]);

    mark('dan left');
    // Ann (the initiator) ends it for everyone.
    await ann!.page.getByTestId('hang-up').click();
    for (const u of [ann!, ben!, cat!]) await u.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
    for (const u of everyone) await expect.poll(() => callRecords(u), { timeout: 10_000 }).toEqual([expect.stringMatching(/^\[video call\] \d\d:\d\d$/)]);
    await screenshot(ben!.page, 'group-chat-after-call');
    // One scenario of several steps with 4 browser contexts (sign-ups, contacts, the group, the call): longer than one step's 60 s.
  }, 180_000);

  it('the initiator invites a member during a group call: the invitee rings, joins, and all three decode each other', async () => {
    const [gus, hal, ivy] = await Promise.all(['gus', 'hal', 'ivy'].map((name) => signUp(suite.browser, suite.server, name)));
    users.push(gus!, hal!, ivy!);
    for (const u of [hal!, ivy!]) await addContactAndOpenChat(gus!, u);
    await gus!.page.getByTestId('nav-chats').click();
    await gus!.page.getByTestId('new-group').click();
    await gus!.page.getByTestId('group-name').fill('Trio');
    for (const u of [hal!, ivy!]) await gus!.page.locator(`[data-testid="member-option"][data-username="${u.username}"]`).check();
    await gus!.page.getByTestId('picker-confirm').click();
    for (const u of [hal!, ivy!]) await openConversation(u, 'Trio');

    // Gus rings only Hal.
    await gus!.page.getByTestId('call-video').click();
    await gus!.page.locator(`[data-testid="member-option"][data-username="${ivy!.username}"]`).uncheck();
    await gus!.page.getByTestId('picker-confirm').click();
    await hal!.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
    await hal!.page.getByTestId('accept-call').click();
    await Promise.all([waitForPhase(gus!, 'CONNECTED'), waitForPhase(hal!, 'CONNECTED')]);
    expect(await ivy!.page.getByTestId('incoming-call').count()).toBe(0);
    // Only the initiator may invite.
    expect(await hal!.page.getByTestId('invite-open').count()).toBe(0);

    await gus!.page.getByTestId('invite-open').click();
    await gus!.page.locator(`[data-testid="member-option"][data-username="${ivy!.username}"]`).check();
    await gus!.page.getByTestId('picker-confirm').click();
    await ivy!.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
    await ivy!.page.getByTestId('accept-call').click();

    await Promise.all([waitForMediaFrom(gus!, [hal!, ivy!], { frames: 10 }), waitForMediaFrom(hal!, [gus!, ivy!], { frames: 10 }), waitForMediaFrom(ivy!, [gus!, hal!], { frames: 10 })]);
    for (const u of [gus!, hal!]) await u.page.locator(`[data-testid="tile"][data-user-id="${ivy!.id}"]`).waitFor({ timeout: 10_000 });
    await gus!.page.getByTestId('hang-up').click();
    for (const u of [hal!, ivy!]) await u.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
  }, 120_000);

  it('open rooms by link: two people who open #/room/<name> see and hear each other; leaving updates the other', async () => {
    const [eve, fay] = await Promise.all(['eve', 'fay'].map((name) => signUp(suite.browser, suite.server, name)));
    users.push(eve!, fay!);
    const room = `standup-${process.pid}`;

    await eve!.page.goto(`${suite.server.url}#/room/${room}`);
    await eve!.page.getByTestId('call-screen').waitFor({ timeout: 10_000 });
    expect(await eve!.page.getByTestId('call-screen').getAttribute('data-kind')).toBe('room');
    await fay!.page.goto(`${suite.server.url}#/room/${room}`);

    await Promise.all([waitForMediaFrom(eve!, [fay!]), waitForMediaFrom(fay!, [eve!])]);
    await eve!.page.locator(`[data-testid="tile"][data-user-id="${fay!.id}"][data-has-video="true"]`).waitFor({ timeout: 10_000 });
    await screenshot(fay!.page, 'room');

    await fay!.page.getByTestId('hang-up').click();
    await fay!.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
    await eve!.page.locator(`[data-testid="tile"][data-user-id="${fay!.id}"]`).waitFor({ state: 'detached', timeout: 15_000 });
    await eve!.page.getByTestId('hang-up').click();
    await eve!.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
  });
});
