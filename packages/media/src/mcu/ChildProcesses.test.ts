import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { until } from '../testing/harness.js';
import { liveChildPids, spawnOwnedChild, stopChild } from './ChildProcesses.js';

const alive = (pid: number): boolean => {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('media child processes', () => {
  it('stopChild() ends a child and it leaves the live list', async () => {
    const child = spawnOwnedChild('sleep', ['30']);
    const pid = child.pid!;
    expect(liveChildPids()).toContain(pid);

    await stopChild(child);

    expect(alive(pid)).toBe(false);
    expect(liveChildPids()).not.toContain(pid);
  });

  it('a child dies with its parent, even when the parent is killed with SIGKILL', async () => {
    const modulePath = fileURLToPath(new URL('./ChildProcesses.ts', import.meta.url));
    const script = `import { spawnOwnedChild } from ${JSON.stringify(modulePath)}; const c = spawnOwnedChild('sleep', ['60']); console.log(c.pid); setInterval(() => {}, 1000);`;
    // Node itself (with tsx's loader), not the tsx wrapper: the killed process must be the parent.
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /\d+\n/.test(out), 30_000);
    const pid = Number(out.trim());
    expect(alive(pid)).toBe(true);

    parent.kill('SIGKILL');

    await until(() => !alive(pid), 10_000);
  });
});
