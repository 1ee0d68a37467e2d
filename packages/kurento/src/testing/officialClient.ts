import { execFileSync } from 'node:child_process';
import type { KurentoObject } from 'kurento-client';

/**
 * Calls a Kurento operation the typings do not list. With a callback: kurento-client
 * resolves a callback-less call of a method without parameters (record(), play()) even
 * when the server answers an error.
 */
export function callOperation<T = unknown>(obj: KurentoObject, operation: string, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const callback = (error: unknown, result: T): void =>
      error ? reject(error instanceof Error ? error : new Error(typeof error === 'object' ? JSON.stringify(error) : String(error))) : resolve(result);
    (obj[operation] as (...a: unknown[]) => unknown).apply(obj, [...args, callback]);
  });
}

/**
 * Whether the media tools a test file needs are installed. Without them the file's tests
 * are skipped with a loud warning, except under CI, where this throws.
 */
export function mediaToolsAvailable(what: string, commands: string[]): boolean {
  try {
    execFileSync('sh', ['-c', commands.map((c) => `command -v ${c}`).join(' && ')], { stdio: 'ignore' });
    return true;
  } catch {
    const names = commands.join(', ');
    if (process.env['CI']) throw new Error(`${what} need ${names} (CI installs them)`);
    console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING ${what}: ${names} missing.\n!! Under CI (CI set) they fail instead.\n${'!'.repeat(78)}\n`);
    return false;
  }
}

/** Writes a 320x240 30 fps VP8 + Opus (440 Hz) WebM test clip of `seconds` to `path`. */
export function makeWebmClip(path: string, seconds = 3): void {
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=30:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`],
    ...['-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '500k', '-c:a', 'libopus', path],
  ]);
}
