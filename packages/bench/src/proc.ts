/** CPU time and memory of a process, from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
