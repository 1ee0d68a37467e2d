import type { BenchResult } from './bench.js';
export function svgChart(result: BenchResult): string {
  return `<svg xmlns="http://www.w3.org/2000/svg">${result.aggregates.length}</svg>`;
}
