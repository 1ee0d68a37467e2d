/** The chart of a bench run, written by hand: server CPU (% of one core) against rooms, one line per target. */
import type { BenchResult } from './bench.js';
import { COLORS, esc, niceStep } from './chart.js';

export function svgChart(result: BenchResult): string {
  const width = 720;
  const height = 420;
  const m = { left: 64, right: 170, top: 40, bottom: 52 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const series = result.targets.map((t, i) => ({
    name: t.name,
    color: COLORS[i % COLORS.length]!,
    points: result.aggregates
      .filter((a) => a.target === t.name && a.busy === 0 && Number.isFinite(a.serverCpuPct.median))
      .sort((a, b) => a.rooms - b.rooms)
      .map((a) => ({ x: a.rooms, y: a.serverCpuPct.median, lo: a.serverCpuPct.min, hi: a.serverCpuPct.max, within: !a.limit })),
  }));
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1, ...all.map((p) => p.x));
  const maxY = Math.max(10, ...all.map((p) => p.hi));
  const stepY = niceStep(maxY);
  const topY = Math.ceil(maxY / stepY) * stepY;
  const sx = (x: number) => m.left + (maxX === 1 ? plotW / 2 : ((x - 1) / (maxX - 1)) * plotW);
  const sy = (y: number) => m.top + plotH - (y / topY) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="14" font-weight="bold">Server CPU vs ${result.options.roomSize}-person rooms (median, min–max bars)</text>`);
  for (let y = 0; y <= topY + 1e-9; y += stepY) {
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.left - 6}" y="${sy(y) + 4}" text-anchor="end">${Number(y.toFixed(1))}</text>`);
  }
  if (topY >= 100) out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${sy(100)}" y2="${sy(100)}" stroke="#888" stroke-dasharray="6 4"/><text x="${m.left + plotW - 4}" y="${sy(100) - 4}" text-anchor="end" fill="#555">one core</text>`);
  for (let x = 1; x <= maxX; x++) out.push(`<text x="${sx(x)}" y="${m.top + plotH + 18}" text-anchor="middle">${x}</text>`);
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 12}" text-anchor="middle">rooms of ${result.options.roomSize}</text>`);
  out.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">server CPU, % of one core</text>`);
  series.forEach((s, i) => {
    if (s.points.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of s.points) {
      if (Number.isFinite(p.lo) && Number.isFinite(p.hi) && p.hi > p.lo) out.push(`<line x1="${sx(p.x)}" x2="${sx(p.x)}" y1="${sy(p.lo)}" y2="${sy(p.hi)}" stroke="${s.color}"/>`);
      out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="${p.within ? s.color : 'white'}" stroke="${s.color}" stroke-width="1.5"/>`);
    }
    const ly = m.top + 10 + i * 20;
    out.push(`<line x1="${m.left + plotW + 16}" x2="${m.left + plotW + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    out.push(`<text x="${m.left + plotW + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push(`<text x="${m.left + plotW + 16}" y="${m.top + 10 + series.length * 20 + 10}" fill="#555" font-size="11">hollow: outside the limits</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
