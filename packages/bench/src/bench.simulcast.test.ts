import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quickRun } from './quickRun.js';

/*
 * The simulcast load (issue 20, point 8) works end to end: a quick run on Roundtable only,
 * rooms of 4, with --simulcast (receivers ask low, medium and high by their place in the
 * room). It shows behaviour, not speed: every publisher's three layers reach the server
 * (each is forwarded to some receiver: the server only forwards what it received), every
 * receiver gets every publisher's video, and the figures the report gives for it are there.
 * No assertion on any value of CPU, loss or delay.
 */


interface Spread {
  median: number | null;
}

interface Layer {
  rid: string;
  packetsInPerS: number | null;
  packetsOutPerS: number | null;
  downlinks: number | null;
}

describe('npm run bench -- --quick --simulcast', () => {
  const out = mkdtempSync(join(tmpdir(), 'rtbench-simulcast-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('Roundtable publishers send three layers, each reaches the server and is forwarded, every receiver gets every video, and the report gives the simulcast figures', async () => {
    const { code, stdout, stderr } = await quickRun(['--targets', 'roundtable', '--simulcast', '--out', out]);
    expect(code, stderr).toBe(0);

    const result = JSON.parse(stdout) as {
      aggregates: Array<Record<string, unknown> & { target: string; rooms: number; simulcast: boolean; layers: Layer[] }>;
      samples: Array<{ target: string; error?: string; notes: string[]; simulcast: boolean; downlinks: number; joinFailures: number }>;
    };
    expect(result.samples.filter((s) => s.error)).toEqual([]);
    const sample = result.samples[0]!;
    expect(sample.simulcast).toBe(true);
    // Every receiver got every publisher's audio and video (4 x 3 of each).
    expect(sample.joinFailures, sample.notes.join('; ')).toBe(0);
    expect(sample.downlinks).toBe(24);

    const agg = result.aggregates.find((a) => a.target === 'roundtable' && a.rooms === 1)!;
    expect(agg.simulcast).toBe(true);
    expect(agg.layers.map((l) => l.rid)).toEqual(['q', 'h', 'f']);
    for (const layer of agg.layers) {
      // Sent by the publishers, and forwarded: the server received it.
      expect(layer.packetsInPerS, `${layer.rid} in`).toBeGreaterThan(0);
      expect(layer.packetsOutPerS, `${layer.rid} out`).toBeGreaterThan(0);
      expect(layer.downlinks, `${layer.rid} downlinks`).toBeGreaterThan(0);
    }
    // Each of the 12 video downlinks got its video mostly on one layer.
    expect(agg.layers.reduce((n, l) => n + (l.downlinks ?? 0), 0)).toBe(12);
    // The full size costs the most packets.
    expect(agg.layers[2]!.packetsInPerS!).toBeGreaterThan(agg.layers[0]!.packetsInPerS!);
    for (const figure of ['usPerPacket', 'usPerPacketIn', 'loss', 'delayP99Ms']) {
      const value = (agg[figure] as Spread).median;
      expect(typeof value === 'number' && Number.isFinite(value), `${figure} = ${String(value)}`).toBe(true);
    }
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('## Simulcast load');
    expect(report).toContain('µs / received packet');
    expect(report).toContain('roundtable (simulcast)');
  }, 150_000);
});
