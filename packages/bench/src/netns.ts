/**
 * The bench's private network namespace. libnice (Janus) gathers no candidate on `lo`,
 * so the namespace gets a veth pair holding 127.0.0.2 (see /work/shared/notes/janus.md);
 * the namespace has no route out, so all traffic stays on the machine, and its ports
 * are its own. Every target and every worker runs inside it.
 */
import { execFileSync } from 'node:child_process';

export const NETNS_ADDRESS = '127.0.0.2';
export const NETNS_INTERFACE = 'rtb0';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function netnsExists(name: string): boolean {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .some((line) => line.split(' ')[0] === name);
  } catch {
    return false;
  }
}

/** Creates the namespace (replacing a stale one of the same name left by a killed run). */
export function createNetns(name: string): void {
  if (netnsExists(name)) deleteNetns(name);
  ip('netns', 'add', name);
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
    // Both ends inside the namespace; not named veth*, which werift skips.
    ip('-n', name, 'link', 'add', NETNS_INTERFACE, 'type', 'veth', 'peer', 'name', 'rtb1');
    ip('-n', name, 'link', 'set', NETNS_INTERFACE, 'up');
    ip('-n', name, 'link', 'set', 'rtb1', 'up');
    ip('-n', name, 'addr', 'add', `${NETNS_ADDRESS}/32`, 'dev', NETNS_INTERFACE);
    execFileSync('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { stdio: 'ignore' });
  } catch (error) {
    deleteNetns(name);
    throw error;
  }
}

export function deleteNetns(name: string): void {
  try {
    ip('netns', 'del', name);
  } catch {
    // already gone
  }
}

/** Whether this process may create namespaces (root and a working `ip netns`). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Deletes `rtbench-<pid>` namespaces whose bench process is gone (a run killed with SIGKILL cannot clean up). */
export function deleteStaleNetns(prefix: string): string[] {
  let names: string[];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name.startsWith(prefix));
  } catch {
    return [];
  }
  const stale = names.filter((name) => {
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  for (const name of stale) deleteNetns(name);
  return stale;
}
