/** `npm run soak`: parses the options, runs the soak, writes its report, exits 1 on a leak. See docs/soak.md. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../targets.js';
import { parseSoakOptions, SOAK_HELP } from './options.js';
import { runSoak } from './Soak.js';
import { soakChart, soakMarkdown } from './soakReport.js';

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseSoakOptions(argv, cpus().length);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${SOAK_HELP}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(SOAK_HELP);
    return 0;
  }
  const outDir = resolve(options.outDir ?? join(REPO_ROOT, 'soak-results', new Date().toISOString().replace(/[:.]/g, '-')));
  mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  const result = await runSoak(options, join(outDir, 'server'), (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`));
  const markdown = soakMarkdown(result);
  writeFileSync(join(outDir, 'report.md'), markdown);
  writeFileSync(join(outDir, 'soak.svg'), soakChart(result));
  writeFileSync(join(outDir, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (options.json) process.stdout.write(`${JSON.stringify({ ...result, outDir })}\n`);
  else process.stdout.write(`\n${markdown}\nReport, chart and JSON in ${outDir}\n`);
  return result.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
