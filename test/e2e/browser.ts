/**
 * Shared set-up for real-browser tests: Debian's Chromium driven by playwright-core,
 * with a fake camera and microphone. Playwright's own browser download does not work
 * here, so the system browser is the only one used.
 *
 * When Chromium is missing, browser tests fail under CI (CI must have installed it:
 * `.ci/run` does) and are skipped, loudly, on a developer's machine.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--no-sandbox',
  '--disable-gpu',
  // This machine's network is closed: without these, Chromium keeps trying to reach Google's hosts.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

function missingMessage(): string {
  return `Chromium not found at ${CHROMIUM_PATH}; install it with: apt-get install chromium`;
}

/**
 * True when browser tests cannot run and should be skipped: Chromium is missing and
 * this is not CI. Warns loudly when it says so. Under CI it returns false even when
 * Chromium is missing, so that `launchChromium()` fails the tests.
 */
export function skipBrowserTests(suite: string): boolean {
  if (existsSync(CHROMIUM_PATH) || inCi()) return false;
  const line = '!'.repeat(78);
  console.warn(`\n${line}\n!! SKIPPING browser tests "${suite}": ${missingMessage()}.\n!! Under CI (CI set) these tests fail instead.\n${line}\n`);
  return true;
}

/** Launches headless Chromium (with `extraArgs` after the usual ones); throws a clear error if it is not installed. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(missingMessage());
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true });
}
