/**
 * A vitest reporter that says how much of the machine each test file used: the
 * machine-wide CPU time (all processes, so a file's GStreamer, FFmpeg, Chromium or coturn
 * children count) over the file's wall time. It is how a file is placed in
 * `vitest.config.ts` (HEAVY or CLOCKED); meaningful for files run one at a time on a quiet
 * machine, where the machine's CPU is the file's:
 *
 *   npx vitest run --project heavy --reporter=default --reporter=./test/cpuReporter.ts
 *
 * One line per file on standard error at its end, and a table sorted by cores at the end
 * of the run: `project file  wall s  cpu s  cores`. Linux only (`/proc/stat`).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

interface CpuSample {
  /** Jiffies spent not idle, all CPUs. */
  busy: number;
  at: number;
}

/** USER_HZ: /proc/stat counts in hundredths of a second on Linux. */
const TICKS_PER_SECOND = 100;

function sample(): CpuSample {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((sum, x) => sum + x, 0);
  return { busy: total - idle, at: performance.now() };
}

interface FileCpu {
  name: string;
  wallS: number;
  cpuS: number;
}

export default class CpuReporter implements Reporter {
  private readonly started = new Map<string, CpuSample>();
  private readonly files: FileCpu[] = [];

  onTestModuleStart(module: TestModule): void {
    this.started.set(module.id, sample());
  }

  onTestModuleEnd(module: TestModule): void {
    const start = this.started.get(module.id);
    if (!start) return;
    this.started.delete(module.id);
    const end = sample();
    const file: FileCpu = {
      name: `${module.project.name} ${relative(process.cwd(), module.moduleId)}`,
      wallS: (end.at - start.at) / 1000,
      cpuS: (end.busy - start.busy) / TICKS_PER_SECOND,
    };
    this.files.push(file);
    process.stderr.write(`cpu: ${line(file)}\n`);
  }

  onTestRunEnd(): void {
    if (this.files.length === 0) return;
    const rows = [...this.files].sort((a, b) => a.cpuS / a.wallS - b.cpuS / b.wallS).map(line);
    const wall = this.files.reduce((sum, f) => sum + f.wallS, 0);
    const cpu = this.files.reduce((sum, f) => sum + f.cpuS, 0);
    process.stderr.write(`\ncpu per test file (machine-wide CPU over the file's wall time):\n${rows.join('\n')}\nall: ${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU\n`);
  }
}

function line(f: FileCpu): string {
  return `${f.name}  ${f.wallS.toFixed(1)} s  ${f.cpuS.toFixed(1)} s CPU  ${(f.cpuS / Math.max(f.wallS, 0.001)).toFixed(2)} cores`;
}
