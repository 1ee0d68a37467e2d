/**
 * The browser of a browser test file: the heavy group's shared Chromium
 * (`chromiumServer.ts`), connected to over its WebSocket. Closing the returned browser
 * closes the contexts this file opened and disconnects; the shared process goes on for
 * the next file. Without the shared one (a run outside the heavy group's set-up, or the
 * shared process gone), the file launches its own.
 */
import { chromium, type Browser } from 'playwright-core';
import { inject } from 'vitest';
import { launchChromium } from './browser.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** WebSocket endpoint of the heavy group's shared Chromium; not provided when none was started. */
    chromiumWsEndpoint: string;
  }
}

export async function openChromium(): Promise<Browser> {
  const endpoint = inject('chromiumWsEndpoint');
  if (!endpoint) return launchChromium();
  try {
    return await chromium.connect(endpoint, { timeout: 30_000 });
  } catch (error) {
    console.warn(`the shared Chromium at ${endpoint} did not answer (${String(error)}); launching one for this file`);
    return launchChromium();
  }
}
