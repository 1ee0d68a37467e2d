import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { descendants, openFds, udpPorts } from './proc.js';

// What the soak reads of a process in /proc, checked on this test's own process.
describe('/proc readers of the soak', () => {
  it('udpPorts() finds the port of a UDP socket the process bound, and loses it once closed', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const port = socket.address().port;
    expect(udpPorts([process.pid])).toContain(port);
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    expect(udpPorts([process.pid])).not.toContain(port);
  });

  it('descendants() lists a child and its own child by name, and not once they ended', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' });
    try {
      let names: string[] = [];
      for (let i = 0; i < 50 && !names.includes('sleep'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        names = descendants(process.pid).map((c) => c.comm);
      }
      expect(names).toEqual(expect.arrayContaining(['sh', 'sleep']));
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((resolve) => child.once('exit', resolve));
    expect(descendants(process.pid).some((c) => c.pid === child.pid)).toBe(false);
  });

  it('openFds() counts the files the process opened', () => {
    const before = openFds(process.pid);
    // 16 at once, so that a handle the test runner opens or closes meanwhile cannot hide them.
    const fds = Array.from({ length: 16 }, () => openSync('/proc/self/stat', 'r'));
    try {
      expect(openFds(process.pid)).toBeGreaterThanOrEqual(before + 16);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    expect(openFds(process.pid)).toBeLessThan(before + 16);
    expect(openFds(2 ** 22 + 1)).toBeNaN();
  });
});
