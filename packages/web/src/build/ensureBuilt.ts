/**
 * Builds the web app (`vite build`, programmatically) into packages/web/dist when the
 * bundle is missing or older than its sources: this package's index.html, vite config
 * and src/, and the SDK and protocol sources it bundles. `npm start` runs it first (the
 * root `prestart` script); the browser tests call ensureWebBuilt() in their set-up.
 *
 *   tsx packages/web/src/build/ensureBuilt.ts [--force]
 *
 * Several processes may ask at once (test files run in parallel): a lock directory
 * makes one build while the others wait for it.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WEB_DIST = path.join(WEB_ROOT, 'dist');
const PACKAGES = path.dirname(path.resolve(WEB_ROOT));
const SOURCES = [
  path.join(WEB_ROOT, 'index.html'),
  path.join(WEB_ROOT, 'vite.config.ts'),
  path.join(WEB_ROOT, 'src'),
  path.join(PACKAGES, 'client', 'src'),
  path.join(PACKAGES, 'protocol', 'src'),
];
const LOCK = path.join(WEB_ROOT, '.build-lock');
/** A lock older than this was left by a build that died. */
const STALE_LOCK_MS = 120_000;

function newestMtime(file: string): number {
  let info;
  try {
    info = statSync(file);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(file)) {
    // Tests are not in the bundle: adding or editing one does not make it stale.
    if (entry === 'node_modules' || entry === 'build' || entry.endsWith('.test.ts')) continue;
    newest = Math.max(newest, newestMtime(path.join(file, entry)));
  }
  return newest;
}

/** Why the bundle needs building, or undefined when dist/ is up to date. */
export function staleReason(): string | undefined {
  let built: number;
  try {
    built = statSync(path.join(WEB_DIST, 'index.html')).mtimeMs;
  } catch {
    return 'packages/web/dist is missing';
  }
  const newest = Math.max(...SOURCES.map(newestMtime));
  return newest > built ? 'its sources changed since the last build' : undefined;
}

export async function buildWeb(): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: path.join(WEB_ROOT, 'vite.config.ts'), root: WEB_ROOT, logLevel: 'warn' });
}

function tryLock(): boolean {
  try {
    mkdirSync(LOCK);
    return true;
  } catch {
    try {
      if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
    } catch {
      // removed meanwhile
    }
    return false;
  }
}

/** Builds dist/ if it is missing or stale; resolves with what happened. */
export async function ensureWebBuilt(options: { force?: boolean; log?: (line: string) => void } = {}): Promise<'fresh' | 'built'> {
  const log = options.log ?? (() => undefined);
  for (;;) {
    const reason = options.force ? 'a build was asked for' : staleReason();
    if (!reason) return 'fresh';
    if (tryLock()) {
      try {
        // Another process may have finished a build between our check and the lock.
        const still = options.force ? reason : staleReason();
        if (!still) return 'fresh';
        log(`building the web app (${still})...`);
        await buildWeb();
        log('web app built into packages/web/dist');
        return 'built';
      } finally {
        rmSync(LOCK, { recursive: true, force: true });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureWebBuilt({ force: process.argv.includes('--force'), log: (line) => console.log(`roundtable: ${line}`) }).catch((error: unknown) => {
    console.error('roundtable: building the web app failed:', error);
    process.exitCode = 1;
  });
}
