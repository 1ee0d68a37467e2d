/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time, with %.
 * Run: npx tsx packages/media/scripts/profileSummary.ts file.cpuprofile [top=25] [lastMs]
 * lastMs: only the samples of the profile's last lastMs milliseconds (the measured window).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, lastArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profileSummary.ts file.cpuprofile [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
const at: number[] = [];
let t = 0;
for (const dt of profile.timeDeltas) at.push((t += dt));
const from = lastArg ? t - Number(lastArg) * 1000 : -Infinity;
for (let i = 0; i < profile.samples.length; i++) {
  if (at[i]! < from) continue;
  const node = byId.get(profile.samples[i]!)!;
  const dt = profile.timeDeltas[i] ?? 0;
  const url = node.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/packages\//, 'packages/');
  const key = `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
}
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
const busy = total - idle;
console.log(`total ${(total / 1000).toFixed(0)} ms, busy (not idle) ${(busy / 1000).toFixed(0)} ms; % below are of busy time`);
for (const [key, us] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25))) {
  console.log(`${((us / busy) * 100).toFixed(1).padStart(5)} %  ${key}`);
}
