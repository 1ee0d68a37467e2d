import { execFileSync } from 'node:child_process';

/**
 * True when every tool is on PATH. Outside CI a missing tool skips the caller's tests
 * with a loud warning; under CI (CI set) it throws, since CI installs them.
 */
export function requireTools(tools: string[]): boolean {
  const missing = tools.filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return true;
  const message = `missing ${missing.join(', ')} (Debian: gstreamer1.0-tools, gstreamer1.0-plugins-good, ffmpeg)`;
  if (process.env['CI']) throw new Error(`recording tests need ${message}`);
  const line = '!'.repeat(78);
  console.warn(`\n${line}\n!! SKIPPING recording tests: ${message}.\n!! Under CI (CI set) these tests fail instead.\n${line}\n`);
  return false;
}
