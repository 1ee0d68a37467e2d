import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** How long a child gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 1000;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers run synchronously: a signal is all that can be sent from there.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * Spawns a media child process (gst-launch-1.0) owned by this process: it is killed
 * when this process exits, also by a signal or a crash (through `setpriv --pdeathsig`,
 * the kernel's parent-death signal, when util-linux provides it), so it never outlives
 * the server.
 */
export function spawnOwnedChild(command: string, args: string[]): ChildProcess {
  installExitHook();
  const child = existsSync(SETPRIV)
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** Stops a child: SIGTERM, then SIGKILL after a grace period; resolves once it has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    timer.unref();
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Pids of the media children alive now (for tests and metrics). */
export function liveChildPids(): number[] {
  return [...live].map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
}
