import type { BenchResult } from './bench.js';
export function markdownReport(result: BenchResult): string {
  return JSON.stringify(result.aggregates, null, 1);
}
