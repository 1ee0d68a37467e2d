/**
 * Set-up file of every test project: this file's turn (`scheduler.ts`). It is asked for
 * before the file's first hook, after its imports, and given back after its last hook.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import type {} from './scheduler.js';

/** A turn may come after the longest heavy files and more, on a loaded machine. */
const WAIT_LIMIT_MS = 60 * 60_000;

let turn: net.Socket | undefined;

beforeAll(async () => {
  const port = inject('turnsPort');
  if (!port) return;
  const file = path.relative(process.cwd(), expect.getState().testPath ?? '');
  turn = await new Promise<net.Socket>((resolve, reject) => {
    const kind = inject('aloneFiles')?.includes(file) ? 'alone' : inject('heavyFile') ? 'heavy' : 'light';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${kind} ${file}\n`));
    const closed = (): void => reject(new Error('the test scheduler closed before this file had its turn'));
    socket.once('error', reject);
    socket.once('close', closed);
    socket.once('data', () => {
      socket.off('close', closed);
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
  // Its turn does not keep a finished worker alive; a worker that exits gives the turn back.
  turn.unref();
  cpuAtTurn = cpuSeconds();
}, WAIT_LIMIT_MS);

afterAll(() => {
  // With ROUNDTABLE_TEST_TURNS set, the scheduler logs each turn: it is told the CPU the file used.
  if (process.env['ROUNDTABLE_TEST_TURNS']) turn?.write(`cpu ${(cpuSeconds() - cpuAtTurn).toFixed(1)}\n`);
  turn?.end();
  turn = undefined;
});

let cpuAtTurn = 0;

/** CPU seconds of this worker and of its children that ended (GStreamer, FFmpeg, servers), from /proc. */
function cpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // utime, stime, cutime, cstime: the 14th to 17th fields, the 12th to 15th after the ')' of comm.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) / 100;
  } catch {
    return 0;
  }
}
