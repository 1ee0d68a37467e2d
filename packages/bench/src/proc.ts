/** CPU time and memory of a process, from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, almost always 100). */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample {
  /** user + system CPU time of every thread of the process, µs. */
  cpuUs: number;
  /** Resident set size, bytes. */
  rssBytes: number;
}

/** Reads /proc/<pid>/stat; undefined when the process is gone. */
export function readProc(pid: number): ProcSample | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuUs: ((utime + stime) * 1e6) / ticksPerSecond(), rssBytes: rssPages * 4096 };
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  kernel: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = 'unknown';
  let cores = 0;
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpuModel;
    cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  } catch {
    // not Linux: leave the defaults
  }
  let kernel = 'unknown';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // idem
  }
  return { cores, cpuModel, kernel, node: process.version };
}

/** Busy and total CPU time of the whole machine (all cores), µs, from /proc/stat. */
export function readMachineCpu(): { busyUs: number; totalUs: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest is counted in user)
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const scale = 1e6 / ticksPerSecond();
  return { busyUs: (total - idle) * scale, totalUs: total * scale };
}

/** A process below another one: its pid and command name. */
export interface ChildProcessInfo {
  pid: number;
  comm: string;
}

/** Every process below `pid` (children, their children, ...), from the parent pids in /proc/<pid>/stat. */
export function descendants(pid: number): ChildProcessInfo[] {
  const parentOf = new Map<number, { ppid: number; comm: string }>();
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      parentOf.set(Number(entry), { ppid, comm });
    } catch {
      // the process ended while we looked
    }
  }
  const out: ChildProcessInfo[] = [];
  const below = new Set([pid]);
  // Parents come before children in pid order almost always; loop until nothing is added, for the rest.
  for (let added = true; added; ) {
    added = false;
    for (const [p, { ppid, comm }] of parentOf) {
      if (below.has(ppid) && !below.has(p)) {
        below.add(p);
        out.push({ pid: p, comm });
        added = true;
      }
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd); NaN when it is gone. */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

/** The socket inodes a process holds (its fds that are `socket:[inode]`). */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSafe(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) out.add(m[1]!);
    } catch {
      // closed while we looked
    }
  }
  return out;
}

/**
 * The local UDP ports bound by sockets of these processes, sorted: their socket fds
 * matched by inode against /proc/net/udp and udp6 (of this network namespace).
 */
export function udpPorts(pids: readonly number[]): number[] {
  const inodes = new Set<string>();
  for (const pid of pids) for (const inode of socketInodes(pid)) inodes.add(inode);
  const ports = new Set<number>();
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      if (cols.length < 10 || !inodes.has(cols[9]!)) continue;
      const port = parseInt(cols[1]!.split(':')[1] ?? '', 16);
      if (Number.isFinite(port)) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
