/**
 * Global set-up of every test project (light, heavy and the typescript runs side by
 * side): which of the files that vitest has started may run now. Vitest starts more files
 * than may run (`WINDOW`); each one asks for its turn before its first hook
 * (`takeTurn.ts`, a set-up file of every project) and gives it back after its last. At
 * most `RUNNING` files run at a time (two on 2 cores), and of them at most one heavy file:
 * two heavy files starve each other's handshakes, media clocks and event loops (see
 * `HEAVY` in vitest.config.ts), a heavy file beside a light one does not. A few heavy
 * files run with nothing beside them (`ALONE` in vitest.config.ts). When the heavy lane
 * is free, a heavy file that waits goes first: the heavy files, one after the other, are
 * the longest part of the run, and the light ones fill the other core beside them. Files
 * waiting for their turn do nothing (their imports are done meanwhile).
 *
 * A turn is a TCP connection to a server in vitest's own process: a file whose worker
 * dies gives its turn back with its socket.
 */
import net from 'node:net';
import type { TestProject } from 'vitest/node';

/** Files running at a time: 2 by default; `ROUNDTABLE_TEST_WORKERS=1` runs them one by one (a machine busy with other work). */
export const RUNNING = Number(process.env['ROUNDTABLE_TEST_WORKERS'] ?? '') || 2;
/**
 * Files started at a time: the running ones, and three waiting with their imports done,
 * so that a heavy one is ready when the lane frees and a light one when a light one ends.
 */
export const WINDOW = RUNNING + 3;

declare module 'vitest' {
  export interface ProvidedContext {
    /** TCP port on 127.0.0.1 where a file asks for its turn. */
    turnsPort: number;
    /** Set (in its project's config) for a file that takes the heavy lane. */
    heavyFile: boolean;
    /** Heavy files (paths from the root) that run with nothing beside them: they time things that a light file beside them would slow. */
    aloneFiles: string[];
  }
}

/** light: beside anything but its own other run; heavy: one at a time, beside a light file; alone: nothing beside it. */
type Kind = 'light' | 'heavy' | 'alone';

interface Waiter {
  socket: net.Socket;
  kind: Kind;
  /** The test file: two runs of one file (on the two packet paths) never run at once, they share UDP ports. */
  file: string;
  /** When its turn came (ms). */
  started?: number;
}

const START = Date.now();
const seconds = (since = START): string => ((Date.now() - since) / 1000).toFixed(1);
/** With ROUNDTABLE_TEST_TURNS set: a line per turn given and ended (with the CPU the file used), to see where a run's time goes. */
const log = (line: string): void => {
  if (process.env['ROUNDTABLE_TEST_TURNS']) console.log(`turns ${seconds()} s: ${line}`);
};

export class Scheduler {
  private readonly waiting: Waiter[] = [];
  private readonly active = new Set<Waiter>();
  private readonly server = net.createServer((socket) => this.accept(socket));

  /** `maxRunning`: files at a time (default RUNNING). */
  constructor(private readonly maxRunning = RUNNING) {}

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    // It lives as long as vitest's process, and never keeps it alive.
    this.server.unref();
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    this.server.close();
  }

  /** The files running and waiting, in order. */
  state(): { running: string[]; waiting: string[] } {
    return { running: [...this.active].map((w) => w.file), waiting: this.waiting.map((w) => w.file) };
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.once('data', (data) => {
      const [kind, ...file] = data.toString().trim().split(' ');
      const waiter: Waiter = { socket, kind: kind === 'heavy' || kind === 'alone' ? kind : 'light', file: file.join(' ') };
      let cpu = '';
      socket.on('data', (more) => (cpu += more.toString()));
      socket.once('close', () => {
        if (this.active.delete(waiter)) log(`${waiter.kind} ${waiter.file} done after ${seconds(waiter.started)} s, ${cpu.trim() || 'cpu ?'} s`);
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        this.grant();
      });
      this.waiting.push(waiter);
      this.grant();
    });
  }

  private grant(): void {
    for (;;) {
      const running = [...this.active];
      if (running.length >= this.maxRunning || running.some((w) => w.kind === 'alone')) return;
      const laneFree = running.every((w) => w.kind === 'light');
      const ready = this.waiting.filter((w) => !running.some((r) => r.file === w.file));
      // The free lane goes to a heavy file that waits (one that must be alone waits for the
      // light ones to end, and none starts meanwhile); a light file goes when there is room.
      const heavy = laneFree ? ready.find((w) => w.kind !== 'light') : undefined;
      if (heavy?.kind === 'alone' && running.length > 0) return;
      const next = heavy ?? ready.find((w) => w.kind === 'light');
      if (!next) return;
      this.waiting.splice(this.waiting.indexOf(next), 1);
      this.active.add(next);
      next.started = Date.now();
      next.socket.write('go\n');
      log(`${next.kind} ${next.file} starts (${this.waiting.length} waiting)`);
    }
  }
}

const KEY = Symbol.for('roundtable.test.scheduler');
type WithScheduler = typeof globalThis & { [KEY]?: Promise<number> };

export default async function setup(project: TestProject): Promise<void> {
  // One scheduler for all the projects (each runs this set-up).
  const g = globalThis as WithScheduler;
  g[KEY] ??= new Scheduler().listen();
  project.provide('turnsPort', await g[KEY]);
}
