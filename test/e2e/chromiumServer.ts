/**
 * Global set-up of the projects with browser test files (heavy, typescript heavy): one
 * headless Chromium for all of them. Each file connects to it (`openChromium()` in
 * `sharedChromium.ts`) and opens its own contexts, instead of launching and closing a
 * browser of its own: that took 3-5 s a file on a busy 2-core machine, for some fifteen
 * files. The browser's flags are those of `launchChromium()` (fake camera and
 * microphone, loopback candidates). The projects that run this set-up share the one
 * browser; the last one's teardown closes it.
 *
 * When Chromium is missing, nothing is started: the files then launch their own, which
 * fails under CI and skips loudly elsewhere, as before.
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserServer } from 'playwright-core';
import type { TestProject } from 'vitest/node';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './browser.js';
import './sharedChromium.js';

const KEY = Symbol.for('roundtable.test.chromium');
type WithChromium = typeof globalThis & { [KEY]?: { server: Promise<BrowserServer>; users: number } };

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!existsSync(CHROMIUM_PATH)) return undefined;
  const g = globalThis as WithChromium;
  const shared = (g[KEY] ??= { server: chromium.launchServer({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], headless: true }), users: 0 });
  shared.users++;
  project.provide('chromiumWsEndpoint', (await shared.server).wsEndpoint());
  return async () => {
    if (--shared.users > 0) return;
    delete g[KEY];
    await (await shared.server).close();
  };
}
