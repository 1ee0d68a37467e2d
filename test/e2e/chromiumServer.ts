/**
 * Global set-up of the heavy test group: one headless Chromium for all its browser test
 * files. Each file connects to it (`openChromium()` in `sharedChromium.ts`) and opens its
 * own contexts, instead of launching and closing a browser of its own: that took 3-5 s a
 * file on a busy 2-core machine, for some fifteen files. The browser's flags are those of
 * `launchChromium()` (fake camera and microphone, loopback candidates).
 *
 * When Chromium is missing, nothing is started: the files then launch their own, which
 * fails under CI and skips loudly elsewhere, as before.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { TestProject } from 'vitest/node';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './browser.js';
import './sharedChromium.js';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!existsSync(CHROMIUM_PATH)) return undefined;
  const server = await chromium.launchServer({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], headless: true });
  project.provide('chromiumWsEndpoint', server.wsEndpoint());
  return () => server.close();
}
