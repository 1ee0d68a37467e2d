/**
 * `npm run screenshots`: screenshots of the web app for docs/web.md, on a desktop and a
 * phone, in English and Chinese: the chat and the call screen. Starts the whole server
 * (in-memory database, media on 127.0.0.1), builds the bundle when stale, drives Debian's
 * headless Chromium (fake camera and microphone) and writes PNGs into docs/web/.
 *
 * Chinese text and emoji need fonts on the machine that takes them (Debian:
 * fonts-wqy-microhei, fonts-noto-color-emoji); without them they show as boxes.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../../../server/src/index.js';
import { launchChromium } from '../../../../test/e2e/browser.js';
import { ensureWebBuilt } from './ensureBuilt.js';

const OUT_DIR = path.resolve(import.meta.dirname, '../../../../docs/web');
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const TIMEOUT = 30_000;

interface Person {
  page: Page;
  username: string;
  displayName: string;
}

interface Script {
  /** The browser's language: the app picks Chinese for zh*. */
  locale: string;
  prefix: 'en' | 'zh';
  desktopName: string;
  phoneName: string;
  messages: [string, string, string];
  inCall: string;
}

const SCRIPTS: Script[] = [
  { locale: 'en-US', prefix: 'en', desktopName: 'Alice Chen', phoneName: 'Bob Li', messages: ['Morning! Do you have 10 minutes for the Q3 budget?', 'Sure, call me now.', 'Calling you.'], inCall: 'Sharing the sheet in a second.' },
  { locale: 'zh-CN', prefix: 'zh', desktopName: '陈爱丽', phoneName: '李博', messages: ['早上好！有十分钟聊一下第三季度预算吗？', '可以，现在打给我吧。', '马上打给你。'], inCall: '我马上把表格发给你。' },
];

async function register(browser: Browser, server: RunningServer, locale: string, options: BrowserContextOptions, username: string, displayName: string): Promise<Person> {
  const context = await browser.newContext({ locale, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(server.url);
  await page.getByTestId('login-mode-toggle').click();
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill('correct horse battery');
  await page.getByTestId('login-display-name').fill(displayName);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('sign-out').waitFor();
  return { page, username, displayName };
}

async function shot(page: Page, name: string, settleMs = 800): Promise<void> {
  // Let video frames and fonts settle.
  await page.waitForTimeout(settleMs);
  const file = path.join(OUT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

async function run(browser: Browser, server: RunningServer, script: Script): Promise<void> {
  const stamp = Date.now().toString(36).slice(-5);
  const [desk, phone] = await Promise.all([
    register(browser, server, script.locale, DESKTOP, `${script.prefix}desk${stamp}`, script.desktopName),
    register(browser, server, script.locale, PHONE, `${script.prefix}phone${stamp}`, script.phoneName),
  ]);

  // The desktop user finds the phone user and writes; they talk a little.
  await desk.page.getByTestId('nav-contacts').click();
  await desk.page.getByTestId('contact-search').fill(phone.username);
  await desk.page.getByTestId('contact-search-submit').click();
  await desk.page.getByTestId('add-contact').click();
  await desk.page.getByTestId('message-contact').click();
  await desk.page.getByTestId('chat-title').waitFor();
  const say = async (who: Person, text: string, count: number): Promise<void> => {
    await who.page.getByTestId('composer-input').fill(text);
    await who.page.getByTestId('composer-send').click();
    await desk.page.locator('[data-testid="message-text"]').nth(count - 1).waitFor();
  };
  await say(desk, script.messages[0], 1);
  await phone.page.getByTestId('nav-chats').click();
  await phone.page.getByTestId('conversation-item').first().waitFor();
  await shot(phone.page, `${script.prefix}-phone-chats`);
  await phone.page.getByTestId('conversation-item').first().click();
  await phone.page.getByTestId('chat-title').waitFor();
  await say(phone, script.messages[1], 2);
  await say(desk, script.messages[2], 3);
  await phone.page.locator('[data-testid="message-text"]').nth(2).waitFor();
  await shot(desk.page, `${script.prefix}-desktop-chat`);
  await shot(phone.page, `${script.prefix}-phone-chat`);

  // A video call: the phone answers, raises a hand and reacts; the desktop has the chat open beside the video.
  await desk.page.getByTestId('call-video').click();
  await phone.page.getByTestId('accept-call').click();
  for (const who of [desk, phone]) {
    await who.page.locator('[data-testid="call-screen"][data-phase="CONNECTED"]').waitFor();
    await who.page.locator('[data-testid="tile"][data-has-video="true"]').waitFor();
  }
  await phone.page.getByTestId('toggle-hand').click();
  await desk.page.locator('[data-testid="tile"][data-hand-raised="true"]').waitFor();
  await desk.page.getByTestId('toggle-chat').click();
  await desk.page.getByTestId('incall-input').fill(script.inCall);
  await desk.page.getByTestId('incall-send').click();
  await desk.page.locator('[data-testid="incall-message"]').nth(3).waitFor();
  // A reaction stays 4 s: wait for it while it is sent, then take both pictures at once.
  await phone.page.getByTestId('react-open').click();
  const shown = desk.page.locator('[data-testid="tile-reaction"]').waitFor();
  await phone.page.locator('[data-testid="reaction-option"][data-reaction="👍"]').click();
  await shown;
  await Promise.all([shot(desk.page, `${script.prefix}-desktop-call`, 300), shot(phone.page, `${script.prefix}-phone-call`, 300)]);
  await desk.page.getByTestId('hang-up').click();
  await phone.page.getByTestId('call-screen').waitFor({ state: 'detached' });
  await Promise.all([desk.page.context().close(), phone.page.context().close()]);
}

async function main(): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  await ensureWebBuilt();
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    media: { iceAddresses: ['127.0.0.1'], portRange: [64900, 64949] },
    signaling: { dbPath: ':memory:', iceServers: [], ringTimeoutMs: 60_000 },
    logger: pino({ level: 'warn' }),
  });
  const browser = await launchChromium();
  try {
    for (const script of SCRIPTS) await run(browser, server, script);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
