import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const BUILD = join(here, '..', '..', 'native', 'build.mjs');
const bin = mkdtempSync(join(tmpdir(), 'rt-nocompiler-'));
// A PATH with node and nothing else: no c++, g++, cc or clang++.
symlinkSync(process.execPath, join(bin, 'node'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function withoutCompiler(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
  delete env['CXX'];
  return env;
}

describe('installing without a compiler', () => {
  it('the install script says the TypeScript path will be used and exits 0; the build command itself fails', () => {
    const install = spawnSync(process.execPath, [BUILD, '--install'], { env: withoutCompiler(), encoding: 'utf8' });
    expect(install.status, install.stderr).toBe(0);
    expect(install.stdout).toMatch(/roundtable packet core: no C\+\+ compiler found \(tried c\+\+, g\+\+, clang\+\+\); the TypeScript packet path will be used/);
    const build = spawnSync(process.execPath, [BUILD], { env: withoutCompiler(), encoding: 'utf8' });
    expect(build.status).toBe(1);
  });

  it('without the addon the engine loads: auto picks TypeScript, a shared port binds with a dgram socket, native is refused with the reason', () => {
    const code = `
      const { choosePacketCore } = await import(${JSON.stringify(join(here, 'PacketCore.ts'))});
      const { Engine } = await import(${JSON.stringify(join(here, '..', 'core', 'Engine.ts'))});
      const auto = choosePacketCore('auto');
      const mux = await new Engine().sockets.acquire('127.0.0.1', [65480, 65489], 'test');
      let refused = '';
      try { choosePacketCore('native'); } catch (e) { refused = e.code + ': ' + e.message; }
      console.log(JSON.stringify({ path: auto.path, reason: auto.reason, muxPath: mux.packetPath, socket: mux.socket !== undefined, refused }));
      mux.release();
    `;
    const env = { ...withoutCompiler(), ROUNDTABLE_PACKET_CORE_ADDON: join(bin, 'packet_core.node'), ROUNDTABLE_PACKET_CORE: '' };
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env, encoding: 'utf8', cwd: join(here, '..', '..') });
    const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(result).toMatchObject({ path: 'typescript', muxPath: 'typescript', socket: true });
    expect(result['reason']).toMatch(/not built/);
    expect(result['refused']).toMatch(/^INVALID_ARGUMENT: media.packetCore is native but the native addon is not built/);
  });
});
