/**
 * Runs Kurento's own Node tutorial apps, unmodified, against Roundtable's Kurento
 * server, with libwebrtc peers playing the browsers, and checks the media at each
 * receiver.
 *
 *   npm run kurento-tutorials -- --dir <kurento-tutorial-node checkout> [--only hello-world,...] [--keep]
 *
 * The checkout is not part of this repository (Kurento's code is not ours to commit);
 * each app is found as `<dir>/<name>`, `<dir>/kurento-<name>` or
 * `<dir>/tutorials/javascript-node/<name>`. Exits non-zero when any check fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StunServer } from '@roundtable/media/testing';
import { KurentoServer } from '../KurentoServer.js';
import { helloWorld, magicMirror, one2many, one2one, type Check, type ScenarioContext } from './scenarios.js';
import { TutorialApp } from './TutorialApp.js';
import { faceSource } from './faceSource.js';

const APPS: Array<{ name: string; run: (ctx: ScenarioContext) => Promise<Check[]> }> = [
  { name: 'hello-world', run: helloWorld },
  { name: 'one2one-call', run: one2one },
  { name: 'one2many-call', run: one2many },
  { name: 'magic-mirror', run: magicMirror },
];

/** Media ports of the runner's Kurento server (127.0.0.1 only). */
const PORT_RANGE: [number, number] = [63300, 63799];

function findApp(dir: string, name: string): string | undefined {
  return [join(dir, name), join(dir, `kurento-${name}`), join(dir, 'tutorials', 'javascript-node', name)].find((d) => existsSync(join(d, 'server.js')));
}

/**
 * The kurento-client an app was written for. Apps of the 6.x era subscribe to
 * `OnIceCandidate` (and its siblings), events kurento-client 7 refuses on the client
 * side before anything reaches the server; they run with kurento-client 6.
 */
function clientFor(appDir: string): { pkg: string; why: string } {
  const code = readFileSync(join(appDir, 'server.js'), 'utf8');
  const old = /\.on\(\s*['"](OnIceCandidate|OnIceGatheringDone|OnIceComponentStateChanged|OnDataChannelOpened|OnDataChannelClosed)['"]/.exec(code);
  if (old) return { pkg: 'kurento-client-6', why: `kurento-client 6 (the app subscribes to ${old[1]}, which kurento-client 7 refuses)` };
  return { pkg: 'kurento-client', why: 'kurento-client 7' };
}

/**
 * Collects the server's "overlay picture not loaded" reports. The filters log them (as
 * KMS logs a picture it cannot load, and goes on without it); the runner needs them to
 * tell an unreachable picture from a filter that draws nothing.
 */
function watchOverlayFailures(): { since: (mark: number) => string[]; mark: () => number; stop: () => void } {
  const seen: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    const text = args.map(String).join(' ');
    const m = /overlay picture not loaded: (.*)/.exec(text);
    if (m) seen.push(m[1]!);
    warn(...args);
  };
  return { mark: () => seen.length, since: (mark) => seen.slice(mark), stop: () => (console.warn = warn) };
}

function printTable(rows: Array<Check & { app: string }>): void {
  const head = { app: 'App', receiver: 'Receiver', check: 'Check', got: 'Got', ok: 'Result' };
  const cells = rows.map((r) => ({ app: r.app, receiver: r.receiver, check: r.check, got: r.got, ok: r.skipped ? 'SKIPPED' : r.ok ? 'PASS' : 'FAIL' }));
  const keys = ['app', 'receiver', 'check', 'got', 'ok'] as const;
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(head[k].length, ...cells.map((c) => c[k].length))])) as Record<(typeof keys)[number], number>;
  const line = (c: Record<(typeof keys)[number], string>): string => `| ${keys.map((k) => c[k].padEnd(width[k])).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${keys.map((k) => '-'.repeat(width[k] + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { dir: { type: 'string' }, only: { type: 'string' }, keep: { type: 'boolean', default: false } },
  });
  if (!values.dir) {
    console.error('usage: npm run kurento-tutorials -- --dir <kurento-tutorial-node checkout> [--only hello-world,one2one-call,...] [--keep]');
    return 2;
  }
  const dir = resolve(values.dir);
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
  const nodeModules = join(root, 'node_modules');

  const stun = new StunServer();
  const stunUrl = (await stun.listen()).url;
  const server = new KurentoServer({ port: 0, media: { iceAddresses: ['127.0.0.1'], portRange: PORT_RANGE } });
  const kurentoUrl = (await server.listen()).url;
  const face = await faceSource();
  const overlays = watchOverlayFailures();
  console.log(`Roundtable Kurento server at ${kurentoUrl}; tutorial apps from ${dir}`);

  const rows: Array<Check & { app: string }> = [];
  for (const { name, run } of APPS) {
    if (only && !only.has(name)) continue;
    const appDir = findApp(dir, name);
    if (!appDir) {
      rows.push({ app: name, receiver: '-', check: 'app found', got: `no ${name}/server.js under ${dir}`, ok: false });
      continue;
    }
    let app: TutorialApp | undefined;
    const started = Date.now();
    try {
      const client = clientFor(appDir);
      console.log(`${name}: ${appDir}, with ${client.why}`);
      app = await TutorialApp.start(appDir, kurentoUrl, nodeModules, client.pkg);
      // Objects left by an earlier app (a crashed app's session lives on for its grace period) are not this app's.
      const baseline = server.objectCount;
      const mark = overlays.mark();
      const ctx: ScenarioContext = { app, stunUrl, objectCount: () => server.objectCount - baseline, overlayFailures: () => overlays.since(mark), ...face };
      const checks = await run(ctx);
      if (app.exited) checks.push({ receiver: 'app', check: 'app kept running', got: `exited with code ${app.exited.code}`, ok: false });
      for (const c of checks) rows.push({ app: name, ...c });
    } catch (err) {
      rows.push({ app: name, receiver: '-', check: 'scenario ran to the end', got: (err as Error).message.split('\n')[0]!.slice(0, 90), ok: false });
    }
    const failed = rows.some((r) => r.app === name && !r.ok && !r.skipped);
    const skips = rows.filter((r) => r.app === name && r.skipped).length;
    console.log(`${name}: ${failed ? 'FAIL' : 'pass'}${skips ? ` (${skips} skipped)` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (failed && app) console.log(`--- ${name} output (last 40 lines) ---\n${app.log.split('\n').slice(-40).join('\n')}\n---`);
    await app?.stop(values.keep);
    if (values.keep && app) console.log(`${name} kept in ${app.dir}`);
  }

  await server.close();
  stun.close();
  overlays.stop();
  console.log('');
  printTable(rows);
  const failures = rows.filter((r) => !r.ok && !r.skipped).length;
  const skipped = rows.filter((r) => r.skipped);
  console.log(`\n${rows.filter((r) => r.ok).length} passed, ${failures} failed, ${skipped.length} skipped`);
  for (const s of skipped) console.log(`SKIPPED (not a pass): ${s.app} / ${s.check}: ${s.got}`);
  return failures === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
