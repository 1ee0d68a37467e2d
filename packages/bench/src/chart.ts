/** Pieces of the hand-written SVG charts of the bench (svg.ts) and the soak (soak/soakChart.ts). */

export const COLORS = ['#1f77b4', '#d62728', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round step (1, 2 or 5 times a power of ten) that cuts 0..max into about five parts. */
export function niceStep(max: number): number {
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw;
}

export interface Series {
  name: string;
  points: Array<{ x: number; y: number }>;
  /** Drawn dashed (e.g. what is expected, beside what was measured). */
  dashed?: boolean;
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

/**
 * Line charts that share one x axis, stacked: each panel its own y axis from 0, its
 * series in COLORS order with a legend on the right. Non-finite points are left out.
 */
export function stackedLineChart(title: string, xLabel: string, panels: Panel[], width = 760, panelHeight = 190): string {
  const m = { left: 64, right: 190, top: 40, bottom: 44, gap: 34 };
  const plotW = width - m.left - m.right;
  const plotH = panelHeight - m.gap;
  const height = m.top + panels.length * panelHeight + m.bottom - m.gap + 10;
  const xs = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt.x))).filter(Number.isFinite);
  const maxX = Math.max(1, ...xs);
  const stepX = niceStep(maxX);
  const sx = (x: number) => m.left + (x / maxX) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
  panels.forEach((panel, index) => {
    const top = m.top + index * panelHeight;
    const ys = panel.series.flatMap((s) => s.points.map((pt) => pt.y)).filter(Number.isFinite);
    const maxY = Math.max(1e-9, ...ys);
    const stepY = niceStep(maxY > 0 ? maxY : 1);
    const topY = Math.max(stepY, Math.ceil(maxY / stepY) * stepY);
    const sy = (y: number) => top + plotH - (y / topY) * plotH;
    out.push(`<text x="${m.left}" y="${top - 6}" font-weight="bold">${esc(panel.title)}</text>`);
    for (let y = 0; y <= topY + 1e-9; y += stepY) {
      out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#ddd"/>`);
      out.push(`<text x="${m.left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end">${Number(y.toPrecision(4))}</text>`);
    }
    for (let x = 0; x <= maxX + 1e-9; x += stepX) out.push(`<text x="${sx(x).toFixed(1)}" y="${top + plotH + 14}" text-anchor="middle" fill="#555">${Number(x.toPrecision(4))}</text>`);
    out.push(`<line x1="${m.left}" x2="${m.left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
    out.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(panel.yLabel)}</text>`);
    panel.series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length]!;
      const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
      if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
      else for (const p of pts) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${color}"/>`);
      const ly = top + 8 + i * 18;
      out.push(`<line x1="${m.left + plotW + 14}" x2="${m.left + plotW + 34}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
      out.push(`<text x="${m.left + plotW + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
    });
  });
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
