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
 * of the run: `project file  wall s  cpu s  cores`. Linux only (`/proc/stat`, read by the
 * bench's readMachineCpu()).
 */
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { readMachineCpu } from '../packages/bench/src/proc.js';

interface CpuSample {
  /** CPU time spent not idle, all cores, µs. */
  busyUs: number;
  at: number;
}

function sample(): CpuSample {
  return { busyUs: readMachineCpu().busyUs, at: performance.now() };
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
      cpuS: (end.busyUs - start.busyUs) / 1e6,
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
