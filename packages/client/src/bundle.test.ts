import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { describe, expect, it } from 'vitest';

describe('the SDK in a browser bundle', () => {
  it('Vite bundles src/index.ts for the browser with no Node built-ins (node:*, Buffer, process, require)', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'roundtable-sdk-'));
    try {
      await build({
        configFile: false,
        logLevel: 'silent',
        build: { outDir, emptyOutDir: true, minify: false, lib: { entry: fileURLToPath(new URL('./index.ts', import.meta.url)), formats: ['es'], fileName: 'sdk' } },
      });
      const code = await readFile(join(outDir, 'sdk.js'), 'utf8');
      expect(code).toMatch(/RoundtableClient/);
      expect(code).not.toMatch(/from ["']node:|\brequire\(|\bBuffer\.|\bprocess\./);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});
