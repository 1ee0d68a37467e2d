import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canUseNetns } from './netns.js';
import { janusInstalled } from './targets.js';
import { quickRun } from './quickRun.js';

/*
 * The bench is a benchmark, not a test: this only proves that the quick run completes
 * and reports every figure (no assertion on any value). Janus needs root (a network
 * namespace) and the janus package: without them it is left out, loudly, except under
 * CI, where .ci/run installs Janus and runs as root, and the test then requires it.
 */

const inCi = (() => {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
})();
const janusPossible = canUseNetns() && janusInstalled();
if (!janusPossible && !inCi) {
  const line = '!'.repeat(78);
  console.warn(`\n${line}\n!! bench quick run WITHOUT Janus: it needs root (ip netns) and the janus package.\n!! Under CI (CI set) this fails instead.\n${line}\n`);
}
// roundtable, one Janus and the floor: janus-el2 is the same code with one config line
// more, and would add a quarter to the run time. Rooms of 4 instead of 9: every code
// path and figure is the same, with less than half the peer connections and a fifth
// of the forwarded packets, which keeps this run short while other test files share
// the two cores. Roundtable's participants speak the bundled words (the default): two
// connections each, which the server's count must show.
const targets = janusPossible || inCi ? 'roundtable,janus,floor' : 'roundtable,floor';

const FIGURES = [
  'serverCpuPct', 'usPerPacket', 'usPerMbit', 'packetsInPerS', 'packetsOutPerS', 'forwardedMbps', 'loss', 'worstDownlinkLoss',
  'delayP50Ms', 'delayP99Ms', 'joinP50Ms', 'joinMaxMs', 'rssPerParticipantMb', 'generatorCpuPct', 'generatorLoopDelayP99Ms',
] as const;

interface Spread {
  median: number | null;
}

describe('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'rtbench-test-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('completes and reports every figure for every target, with ratios, capacity, report and chart', async () => {
    const { code, stdout, stderr } = await quickRun(['--targets', targets, '--out', out]);
    expect(code, stderr).toBe(0);

    const result = JSON.parse(stdout) as {
      targets: Array<{ name: string }>;
      skipped: Array<{ name: string; reason: string }>;
      aggregates: Array<Record<string, unknown> & { target: string; rooms: number }>;
      capacity: Array<{ target: string; rooms: number; roomsPerCoreByCpu: number | null }>;
      samples: Array<{ target: string; error?: string }>;
    };
    const expected = targets.split(',');
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(result.skipped, 'targets that did not run').toEqual([]);
    expect(result.targets.map((t) => t.name).sort()).toEqual([...expected].sort());
    expect(result.samples.filter((s) => s.error)).toEqual([]);
    for (const target of expected) {
      const agg = result.aggregates.find((a) => a.target === target && a.rooms === 1);
      expect(agg, target).toBeDefined();
      for (const figure of FIGURES) {
        const value = (agg![figure] as Spread).median;
        expect(typeof value === 'number' && Number.isFinite(value), `${target} ${figure} = ${String(value)}`).toBe(true);
      }
      expect(result.capacity.find((c) => c.target === target), `${target} capacity`).toBeDefined();
    }
    // Roundtable's participants spoke the bundled words: two server connections each, counted by the server.
    const roundtable = result.aggregates.find((a) => a.target === 'roundtable' && a.rooms === 1) as (Record<string, unknown> & { bundled: boolean }) | undefined;
    expect(roundtable?.bundled).toBe(true);
    expect((roundtable?.['serverConnectionsPerRoom'] as Spread).median).toBe(8);
    // Each packet reaches each subscriber once (a server sending twice, or a participant counting twice, shows here).
    for (const target of expected) expect((result.aggregates.find((a) => a.target === target && a.rooms === 1)?.['duplicatesPerS'] as Spread | undefined)?.median, `${target} duplicates/s`).toBe(0);
    expect(report).toContain('server connections / room');
    expect(report).toContain('Roundtable / better Janus');
    expect(report).toContain('Roundtable / floor');
    expect(report).toContain('rooms per core');
    expect(readFileSync(join(out, 'cpu-vs-rooms.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    expect(existsSync(join(out, 'results.json'))).toBe(true);
  }, 150_000);
});
