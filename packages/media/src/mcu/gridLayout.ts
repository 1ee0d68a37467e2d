export interface Cell {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Most tiles the grid shows (3x3); further video inputs are mixed in audio only. */
export const MAX_TILES = 9;

/** Columns x rows for `count` tiles: 1, 2x1, 2x2, 3x3. */
export function gridShape(count: number): { columns: number; rows: number } {
  if (count <= 1) return { columns: 1, rows: 1 };
  if (count === 2) return { columns: 2, rows: 1 };
  if (count <= 4) return { columns: 2, rows: 2 };
  return { columns: 3, rows: 3 };
}

/** Even numbers keep I420 chroma planes aligned. */
const even = (n: number): number => n - (n % 2);

/**
 * The tiles of a `width` x `height` frame for `count` inputs, row by row (at most
 * MAX_TILES). Tiles have even sizes; the rest of the frame stays background.
 */
export function gridLayout(count: number, width: number, height: number): Cell[] {
  const n = Math.min(Math.max(count, 0), MAX_TILES);
  const { columns, rows } = gridShape(n);
  const w = even(Math.floor(width / columns));
  const h = even(Math.floor(height / rows));
  const cells: Cell[] = [];
  for (let i = 0; i < n; i++) {
    cells.push({ x: (i % columns) * w, y: Math.floor(i / columns) * h, width: w, height: h });
  }
  return cells;
}
