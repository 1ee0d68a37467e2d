/**
 * `npm run bench`: parses the options, puts the whole bench (targets and workers) in a
 * network namespace of its own when it can (root), runs it, prints the results and
 * writes the report. See docs/benchmark.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { maxBundledConnections, runBench, type Progress } from './bench.js';
import { canUseNetns, createNetns, deleteNetns, deleteStaleNetns, netnsExists, NETNS_ADDRESS } from './netns.js';
import { HELP, parseOptions } from './options.js';
import { markdownReport } from './report.js';
import { svgChart } from './svg.js';
import { REPO_ROOT } from './targets.js';

const IN_NETNS = 'RTBENCH_NETNS';

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(argv, cpus().length);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const inside = process.env[IN_NETNS];
  if (!inside && !options.noNetns && canUseNetns()) return runInNetns(argv);

  const netns = Boolean(inside);
  const host = netns ? NETNS_ADDRESS : '127.0.0.1';
  const progress = progressPrinter();
  const outDir = resolve(options.outDir ?? join(REPO_ROOT, 'bench-results', new Date().toISOString().replace(/[:.]/g, '-')));
  mkdirSync(outDir, { recursive: true });
  const result = await runBench(options, host, netns, join(outDir, 'servers'), progress);
  progress('done');
  const markdown = markdownReport(result);
  writeFileSync(join(outDir, 'report.md'), markdown);
  writeFileSync(join(outDir, 'cpu-vs-rooms.svg'), svgChart(result));
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (options.saveLatest) {
    const docs = join(REPO_ROOT, 'docs/bench');
    mkdirSync(docs, { recursive: true });
    writeFileSync(join(docs, 'latest.md'), markdown.replace('Chart: cpu-vs-rooms.svg.', 'Chart: latest.svg.'));
    writeFileSync(join(docs, 'latest.svg'), svgChart(result));
  }
  if (options.json) process.stdout.write(`${JSON.stringify({ ...result, outDir })}\n`);
  else process.stdout.write(`\n${markdown}\nReport, chart and JSON in ${outDir}\n`);
  // The bundled words' promise (issue 18): a run that broke it fails, whatever else it measured.
  const tooMany = result.samples.filter((s) => s.bundled && s.serverConnectionsPerRoom > maxBundledConnections(options.roomSize));
  for (const s of tooMany) process.stderr.write(`${s.target} ${s.rooms}x${s.roomSize} run ${s.run}: ${s.serverConnectionsPerRoom} server connections per room on the bundled words (at most ${maxBundledConnections(options.roomSize)})\n`);
  return result.samples.length > 0 && result.samples.some((s) => !s.error) && tooMany.length === 0 ? 0 : 1;
}

/**
 * Creates a namespace named after this process, re-runs this command inside it, and
 * always removes it afterwards (ending whatever the inner run left, by its process group).
 */
async function runInNetns(argv: string[]): Promise<number> {
  // Namespaces of bench processes that died without cleaning up.
  deleteStaleNetns('rtbench-');
  const name = `rtbench-${process.pid}`;
  createNetns(name);
  const child = spawn('ip', ['netns', 'exec', name, process.execPath, ...process.execArgv, process.argv[1]!, ...argv], {
    stdio: 'inherit',
    env: { ...process.env, [IN_NETNS]: name },
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const code = await new Promise<number>((done) => child.once('exit', (c, s) => done(c ?? (s ? 1 : 0))));
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL'); // leftovers of the inner run's process group
  } catch {
    // none left
  }
  deleteNetns(name);
  if (netnsExists(name)) process.stderr.write(`warning: could not delete network namespace ${name}\n`);
  return code;
}

function progressPrinter(): Progress {
  const tty = process.stderr.isTTY;
  const started = Date.now();
  let transientShown = false;
  return (line, transient = false) => {
    const text = `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`;
    if (tty) {
      process.stderr.write(`\r\x1b[2K${text}${transient ? '' : '\n'}`);
      transientShown = transient;
    } else if (!transient) {
      process.stderr.write(`${text}\n`);
    }
    void transientShown;
  };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
