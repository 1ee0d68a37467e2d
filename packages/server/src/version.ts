import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** This package's version (`roundtable --version`, the `roundtable_info` metric). */
export function serverVersion(): string {
  if (cached === undefined) {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const value = typeof pkg === 'object' && pkg !== null ? (pkg as Record<string, unknown>)['version'] : undefined;
    cached = typeof value === 'string' ? value : 'unknown';
  }
  return cached;
}
