import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from './scheduler.js';

describe('the test scheduler', () => {
  const open: net.Socket[] = [];
  let scheduler: Scheduler | undefined;
  afterEach(() => {
    for (const socket of open.splice(0)) socket.destroy();
    scheduler?.close();
  });

  /** Starts a scheduler; returns how a file asks for its turn (as takeTurn.ts does) and how it gives it back. */
  async function start(maxRunning = 2) {
    const s = new Scheduler(maxRunning);
    scheduler = s;
    const port = await s.listen();
    const known = (): number => s.state().running.length + s.state().waiting.length;
    const sockets = new Map<string, net.Socket>();
    return {
      /** `kind file`, once the scheduler has taken the request (and answered it, when it is the file's turn). */
      async ask(kind: string, file: string): Promise<void> {
        const before = known();
        const socket = net.connect(port, '127.0.0.1', () => socket.write(`${kind} ${file}\n`));
        open.push(socket);
        await expect.poll(known).toBe(before + 1);
        sockets.set(file, socket);
      },
      /** Ends the turn of the last `file` that asked, as a file's last hook (or its dying worker) does. */
      async end(file: string): Promise<void> {
        const before = known();
        sockets.get(file)!.destroy();
        await expect.poll(known).toBe(before - 1);
      },
      running: () => s.state().running,
      waiting: () => s.state().waiting,
    };
  }

  it('runs two files at a time, never two heavy ones; the free lane goes to a waiting heavy file before the light ones', async () => {
    const s = await start();
    await s.ask('heavy', 'h1');
    await s.ask('heavy', 'h2');
    await s.ask('light', 'l1');
    await s.ask('light', 'l2');
    expect(s.running()).toEqual(['h1', 'l1']);

    await s.end('l1');
    // The lane is taken: the other light file goes, not the heavy one.
    expect(s.running()).toEqual(['h1', 'l2']);

    await s.ask('light', 'l3');
    await s.end('h1');
    // The lane is free: the heavy file that waits goes before l3.
    expect(s.running()).toEqual(['l2', 'h2']);
    expect(s.waiting()).toEqual(['l3']);
  });

  it('a file that must be alone waits for the running ones to end, nothing starts meanwhile, and nothing runs beside it', async () => {
    const s = await start();
    await s.ask('light', 'l1');
    await s.ask('alone', 'a');
    await s.ask('light', 'l2');
    expect(s.running()).toEqual(['l1']);

    await s.end('l1');
    expect(s.running()).toEqual(['a']);

    await s.end('a');
    expect(s.running()).toEqual(['l2']);
  });

  it('never runs a file beside its own other run (the two packet paths share its UDP ports)', async () => {
    const s = await start();
    await s.ask('light', 'same');
    await s.ask('light', 'same');
    await s.ask('light', 'other');
    expect(s.running()).toEqual(['same', 'other']);
    expect(s.waiting()).toEqual(['same']);
  });

  it('one file at a time with ROUNDTABLE_TEST_WORKERS=1; a file whose worker dies gives its turn back with its socket', async () => {
    const s = await start(1);
    await s.ask('light', 'l1');
    await s.ask('heavy', 'h1');
    expect(s.running()).toEqual(['l1']);

    await s.end('l1');
    expect(s.running()).toEqual(['h1']);
  });
});
