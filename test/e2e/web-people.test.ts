/**
 * End to end, the web app's words and lists: sign-in and registration errors in the
 * user's language next to their field with the rules stated (English and Chinese), a
 * too-long message refused (not cut), a bad room name refused, the chat list re-sorted
 * by new messages with previews kept across a reload, a contact's presence, the
 * tab-title count and desktop notifications, and a walk of the Chinese pages for
 * English words.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { latinWords } from '../../packages/web/src/i18nWords.js';
import { skipBrowserTests } from './browser.js';
import { addContactAndOpenChat, appState, openConversation, screenshot, sendMessage, signUp, type AppUser, webAppSuite } from './webApp.js';

/** The page's visible words, without what users typed or chose (names, device labels, links, avatars' initials). */
function visibleText(page: Page, userStrings: string[]): Promise<string> {
  return page.evaluate((strip) => {
    const skip = (el: Element | null): boolean => !!el?.closest('select, script, style, [data-testid="avatar"], input, textarea');
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const parts: string[] = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (skip(el) || !el || el.getClientRects().length === 0) continue;
      parts.push(node.textContent ?? '');
    }
    let text = parts.join(' ').replace(/https?:\/\/\S+/g, ' ');
    for (const s of strip.sort((a, b) => b.length - a.length)) text = text.split(s).join(' ');
    return text;
  }, userStrings);
}

describe.skipIf(skipBrowserTests('web app words and lists'))('web app: errors, lists, presence, Chinese', () => {
  const suite = webAppSuite({ portRange: [64975, 64984] });
  const users = suite.users;

  async function user(prefix: string, locale = 'en-US', prejoin = false): Promise<AppUser> {
    const u = await signUp(suite.browser, suite.server, prefix, locale, { prejoin });
    users.push(u);
    return u;
  }

  it('sign-in and registration errors are in the user’s language, next to their field, with the rules; no raw server error', async () => {
    const existing = await user('taken');
    const cases = [
      { locale: 'en-US', rule: '3 to 32 characters: lower-case letters a-z, digits and _ . -', pw: 'At least 8 characters.', badName: 'This username cannot be used.', short: 'The password is too short.', taken: 'This username is taken; pick another.', wrong: 'Wrong username or password.' },
      { locale: 'zh-CN', rule: '3 到 32 个字符：小写字母 a-z、数字和 _ . -', pw: '至少 8 个字符。', badName: '不能使用这个用户名。', short: '密码太短。', taken: '这个用户名已被占用，请换一个。', wrong: '用户名或密码错误。' },
    ];
    for (const c of cases) {
      const context = await suite.browser.newContext({ locale: c.locale });
      try {
        const page = await context.newPage();
        await page.goto(suite.server.url);
        await page.getByTestId('login-mode-toggle').click();
        expect(await page.getByTestId('username-rule').textContent()).toBe(c.rule);
        expect(await page.getByTestId('password-rule').textContent()).toBe(c.pw);

        await page.getByTestId('login-username').fill('Bad Name!');
        await page.getByTestId('login-password').fill('short');
        await page.getByTestId('login-submit').click();
        expect(await page.getByTestId('username-error').textContent()).toBe(`${c.badName}${c.rule}`.replace('used.3', 'used. 3'));
        expect(await page.getByTestId('password-error').textContent()).toContain(c.short);
        expect(await page.getByTestId('password-error').textContent()).toContain(c.pw);

        await page.getByTestId('login-username').fill(existing.username);
        await page.getByTestId('login-password').fill('another good password');
        await page.getByTestId('login-submit').click();
        await expect.poll(() => page.getByTestId('username-error').textContent().catch(() => null), { timeout: 10_000 }).toBe(c.taken);

        await page.getByTestId('login-mode-toggle').click();
        await page.getByTestId('login-username').fill(existing.username);
        await page.getByTestId('login-password').fill('not the password');
        await page.getByTestId('login-submit').click();
        await expect.poll(() => page.getByTestId('password-error').textContent().catch(() => null), { timeout: 10_000 }).toBe(c.wrong);
        const body = await page.locator('body').innerText();
        expect(body).not.toMatch(/UNAUTHENTICATED|CONFLICT|login:|register:|Error:/);
        await screenshot(page, `login-error-${c.locale}`);
      } finally {
        await context.close();
      }
    }
  });

  it('a message over 4,000 characters is refused with the rule stated, nothing cut or sent; one of 4,000 arrives whole', async () => {
    const [alice, bob] = await Promise.all([user('alice'), user('bob')]);
    await addContactAndOpenChat(alice, bob);
    await openConversation(bob, alice.displayName);
    const long = 'x'.repeat(102_400);
    await alice.page.getByTestId('composer-input').fill(long);
    expect(await alice.page.getByTestId('composer-error').textContent()).toBe('This message has 102,400 characters; a message has at most 4,000. Shorten it or split it.');
    expect(await alice.page.getByTestId('composer-send').isDisabled()).toBe(true);
    await alice.page.getByTestId('composer-input').press('Enter');
    expect(await alice.page.getByTestId('composer-input').inputValue()).toHaveLength(102_400);
    const exact = 'y'.repeat(4000);
    await sendMessage(alice, exact);
    await expect.poll(() => bob.page.getByTestId('message-text').allTextContents(), { timeout: 10_000 }).toEqual([exact]);
    expect(await alice.page.getByTestId('composer-error').count()).toBe(0);
  });

  it('a room name that cannot be used is refused with the rule, from the form and from a link', async () => {
    const alice = await user('alice');
    await alice.page.goto(`${suite.server.url}#/rooms`);
    await alice.page.getByTestId('room-name').fill('my room');
    await alice.page.getByTestId('room-join').click();
    expect(await alice.page.getByTestId('room-name-error').textContent()).toBe('This room name cannot be used. 1 to 64 characters: letters, digits and _ . - (no spaces).');
    await alice.page.goto(`${suite.server.url}#/room/${encodeURIComponent('a'.repeat(65))}`);
    await alice.page.getByTestId('room-name-error').waitFor();
    expect(await alice.page.getByTestId('call-screen').count()).toBe(0);
    expect((await appState(alice.page))['call']).toBeNull();
  });

  it('the chat list follows new messages (newest first), keeps its previews after a reload, and never says "no conversations" beside a full list', async () => {
    const [alice, bob, carol] = await Promise.all([user('alice'), user('bob'), user('carol')]);
    await addContactAndOpenChat(alice, bob);
    await addContactAndOpenChat(alice, carol);
    await openConversation(bob, alice.displayName);
    await openConversation(carol, alice.displayName);
    const order = (): Promise<Array<string | null>> => alice.page.getByTestId('conversation-item').evaluateAll((items) => items.map((i) => i.getAttribute('data-name')));
    const previews = (): Promise<string[]> => alice.page.getByTestId('conversation-preview').allTextContents();

    await sendMessage(carol, 'from carol');
    await expect.poll(order, { timeout: 10_000 }).toEqual([carol.displayName, bob.displayName]);
    await sendMessage(bob, 'from bob');
    await expect.poll(order, { timeout: 10_000 }).toEqual([bob.displayName, carol.displayName]);
    expect(await previews()).toEqual(['from bob', 'from carol']);

    await alice.page.goto(suite.server.url);
    await alice.page.reload();
    await expect.poll(order, { timeout: 10_000 }).toEqual([bob.displayName, carol.displayName]);
    expect(await previews()).toEqual(['from bob', 'from carol']);
    expect(await alice.page.getByTestId('chat-empty-hint').textContent()).toBe('Pick a conversation on the left.');
    expect(await alice.page.locator('body').innerText()).not.toContain('No conversations yet');
  });

  it('a contact’s presence shows online and offline; a message while away counts in the tab title and shows a desktop notification', async () => {
    const [alice, bob] = await Promise.all([user('alice'), user('bob')]);
    await alice.context.grantPermissions(['notifications'], { origin: new URL(suite.server.url).origin });
    await addContactAndOpenChat(alice, bob);
    await openConversation(bob, alice.displayName);
    const dot = alice.page.locator(`[data-testid="presence"][data-user-id="${bob.id}"]`).first();
    await expect.poll(() => dot.getAttribute('data-online'), { timeout: 10_000 }).toBe('true');
    expect(await dot.textContent()).toContain('online');

    await alice.page.getByTestId('nav-contacts').click();
    await sendMessage(bob, 'are you there?');
    await expect.poll(() => alice.page.title(), { timeout: 10_000 }).toBe('(1) Roundtable');
    await expect.poll(async () => (await appState(alice.page))['notificationsShown'], { timeout: 10_000 }).toBe(1);
    const contactDot = alice.page.locator(`[data-testid="contact-item"] [data-testid="presence"][data-user-id="${bob.id}"]`);
    expect(await contactDot.getAttribute('data-online')).toBe('true');

    await bob.context.close();
    await expect.poll(() => contactDot.getAttribute('data-online'), { timeout: 10_000 }).toBe('false');
    expect(await contactDot.textContent()).toContain('offline');
    await alice.page.getByTestId('nav-chats').click();
    await alice.page.locator(`[data-testid="conversation-item"][data-name="${bob.displayName}"]`).click();
    await expect.poll(() => alice.page.title(), { timeout: 10_000 }).toBe('Roundtable');
  });

  it('the Chinese pages show no English words: chats, contacts, rooms, recordings, self-test, pre-join, errors, sign-in', async () => {
    const [li, wang] = await Promise.all([user('li', 'zh-CN', true), user('wang', 'zh-CN')]);
    await addContactAndOpenChat(li, wang);
    await sendMessage(li, '你好');
    await li.page.getByTestId('composer-input').fill('长'.repeat(4001));
    const names = [li.username, wang.username, li.displayName, wang.displayName, `@${li.username}`, `@${wang.username}`];
    const english: Record<string, string[]> = {};
    const check = async (where: string): Promise<void> => {
      const text = await visibleText(li.page, names);
      // The walk reads the page: its Chinese words are there.
      expect(text.match(/[\u4e00-\u9fff]/g)?.length ?? 0, where).toBeGreaterThan(10);
      const words = latinWords(text);
      if (words.length > 0) english[where] = words;
    };
    await check('chat');
    await li.page.getByTestId('call-video').click();
    await li.page.getByTestId('prejoin').waitFor();
    await check('pre-join');
    await screenshot(li.page, 'prejoin-zh');
    await li.page.getByTestId('prejoin-cancel').click();
    for (const [hash, testId] of [['#/contacts', 'contacts'], ['#/rooms', 'rooms'], ['#/recordings', 'nav-recordings'], ['#/loopback', 'loopback']] as const) {
      await li.page.goto(`${suite.server.url}${hash}`);
      await li.page.getByTestId(testId).first().waitFor();
      await check(hash);
    }
    await li.page.goto(`${suite.server.url}#/rooms`);
    await li.page.getByTestId('room-name').fill('bad name');
    await li.page.getByTestId('room-join').click();
    await check('room error');
    await li.page.getByTestId('sign-out').click();
    await li.page.getByTestId('login-mode-toggle').click();
    await li.page.getByTestId('login-submit').click();
    await check('register errors');
    expect(english).toEqual({});
  });
});
