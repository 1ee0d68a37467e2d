import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { MediaError, type MediaErrorCode } from './errors.js';
import { PortAllocator } from './PortAllocator.js';
import { Engine } from './Engine.js';

/** This file's media engine. */
const engine = new Engine();

function expectMediaError(fn: () => unknown, code: MediaErrorCode): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(MediaError);
  expect((caught as MediaError).code).toBe(code);
}

/** Small deterministic PRNG (mulberry32), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('PortAllocator', () => {
  it('hands out blocks from the start of the range', () => {
    const ports = new PortAllocator(40000, 40099);

    const first = ports.reserve(2);

    expect(first).toBe(40000);
    expect(ports.inUse).toBe(2);
    expect(ports.size).toBe(100);
  });

  it('hands out consecutive blocks round robin, not reusing a released block at once', () => {
    const ports = new PortAllocator(40000, 40009);

    const a = ports.reserve(2);
    const b = ports.reserve(2);
    ports.release(a, 2);
    const c = ports.reserve(2);

    expect([a, b, c]).toEqual([40000, 40002, 40004]);
  });

  it('wraps to the start of the range when a block no longer fits at the end', () => {
    const ports = new PortAllocator(40000, 40009);
    const blocks = [ports.reserve(3), ports.reserve(3), ports.reserve(3)];
    ports.release(blocks[0]!, 3);

    const wrapped = ports.reserve(3);

    expect(blocks).toEqual([40000, 40003, 40006]);
    expect(wrapped).toBe(40000);
  });

  it('release() makes the ports of a block reusable', () => {
    const ports = new PortAllocator(40000, 40009);
    const blocks = Array.from({ length: 5 }, () => ports.reserve(2));
    ports.release(blocks[2]!, 2);

    const again = ports.reserve(2);

    expect(again).toBe(blocks[2]);
    expect(ports.inUse).toBe(10);
  });

  it('throws MediaError NO_PORT_AVAILABLE when the range is exhausted', () => {
    const ports = new PortAllocator(40000, 40009);
    for (let i = 0; i < 5; i++) ports.reserve(2);

    expectMediaError(() => ports.reserve(1), 'NO_PORT_AVAILABLE');
  });

  it('throws MediaError NO_PORT_AVAILABLE when no free run is long enough', () => {
    const ports = new PortAllocator(40000, 40009);
    const blocks = [ports.reserve(3), ports.reserve(3), ports.reserve(3)];
    ports.release(blocks[1]!, 3);

    expectMediaError(() => ports.reserve(4), 'NO_PORT_AVAILABLE');
    expect(ports.reserve(3)).toBe(blocks[1]);
  });

  it('never hands out a port that is still reserved, across many reservations and releases', () => {
    const ports = new PortAllocator(40000, 40063);
    const rand = random(7);
    const held = new Map<number, number>();
    const owner = new Map<number, number>();

    for (let step = 0; step < 5000; step++) {
      if (held.size > 0 && rand() < 0.45) {
        const starts = [...held.keys()];
        const start = starts[Math.floor(rand() * starts.length)]!;
        const count = held.get(start)!;
        ports.release(start, count);
        held.delete(start);
        for (let p = start; p < start + count; p++) owner.delete(p);
        continue;
      }
      const count = 1 + Math.floor(rand() * 4);
      let start: number;
      try {
        start = ports.reserve(count);
      } catch (e) {
        expect((e as MediaError).code).toBe('NO_PORT_AVAILABLE');
        continue;
      }
      expect(start).toBeGreaterThanOrEqual(40000);
      expect(start + count - 1).toBeLessThanOrEqual(40063);
      for (let p = start; p < start + count; p++) {
        expect(owner.has(p), `port ${p} handed out twice`).toBe(false);
        owner.set(p, start);
      }
      held.set(start, count);
      expect(ports.inUse).toBe(owner.size);
    }
  });

  it('reserveFree() skips a block of which another socket holds a port, and gives up after its attempts', async () => {
    // This file's UDP range: ports the other tests do not bind (65520-65529).
    const ports = new PortAllocator(65520, 65529);
    const other = createSocket('udp4');
    await new Promise<void>((resolve) => other.bind({ port: 65521, address: '127.0.0.1', exclusive: true }, resolve));
    try {
      // 65520-65521 holds 65521: the next block 65522-65523 is handed out instead.
      expect(await ports.reserveFree(2, 'a test child')).toBe(65522);
      expect(ports.inUse).toBe(2);
      // The held port is not left reserved, and every handed-out port can be bound.
      const probe = createSocket('udp4');
      await new Promise<void>((resolve) => probe.bind({ port: 65522, address: '127.0.0.1', exclusive: true }, resolve));
      probe.close();
      await expect(new PortAllocator(65521, 65522).reserveFree(2, 'a test child', 3)).rejects.toMatchObject({ code: 'NO_PORT_AVAILABLE', message: expect.stringContaining('a test child') });
    } finally {
      other.close();
    }
  });

  it('rejects invalid ranges with MediaError INVALID_ARGUMENT', () => {
    expectMediaError(() => new PortAllocator(1000, 2000), 'INVALID_ARGUMENT');
    expectMediaError(() => new PortAllocator(40000, 70000), 'INVALID_ARGUMENT');
    expectMediaError(() => new PortAllocator(40000, 40000), 'INVALID_ARGUMENT');
    expectMediaError(() => new PortAllocator(40010, 40000), 'INVALID_ARGUMENT');
    expectMediaError(() => new PortAllocator(40000.5, 40010), 'INVALID_ARGUMENT');
    expectMediaError(() => new PortAllocator(Number.NaN, 40010), 'INVALID_ARGUMENT');
  });

  it('accepts the widest valid range', () => {
    const ports = new PortAllocator(1024, 65535);

    expect(ports.size).toBe(64512);
  });

  it('rejects a block size below 1 or above the range with MediaError INVALID_ARGUMENT', () => {
    const ports = new PortAllocator(40000, 40009);

    expectMediaError(() => ports.reserve(0), 'INVALID_ARGUMENT');
    expectMediaError(() => ports.reserve(11), 'INVALID_ARGUMENT');
    expect(ports.inUse).toBe(0);
  });

  it('never hands out an excluded port (the single port), in blocks or alone', () => {
    const ports = new PortAllocator(40000, 40009);
    ports.exclude(40000);
    ports.exclude(40005);
    ports.exclude(50000); // outside the range: ignored

    const got = Array.from({ length: 8 }, () => ports.reserve(1));
    expect(got.sort((x, y) => x - y)).toEqual([40001, 40002, 40003, 40004, 40006, 40007, 40008, 40009]);
    expect(ports.inUse).toBe(8);
    expectMediaError(() => ports.reserve(1), 'NO_PORT_AVAILABLE');
    for (const port of got) ports.release(port, 1);
    expect(ports.reserve(4)).toBe(40001);
  });

  it('an engine has one allocator per range', () => {
    const a = engine.ports(41000, 41099);
    const b = engine.ports(41000, 41099);
    const other = engine.ports(41100, 41199);

    expect(a).toBe(b);
    expect(other).not.toBe(a);
  });
});

describe('PortAllocator.bindLoopback', () => {
  const hold = (port: number): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve(socket));
    });

  it('skips a port another socket holds, gives it back, and binds the next', async () => {
    const ports = new PortAllocator(64470, 64479);
    const held = await hold(64470);
    try {
      const { socket, port } = await ports.bindLoopback('a test');
      expect(port).toBe(64471);
      expect(socket.address()).toMatchObject({ address: '127.0.0.1', port: 64471 });
      expect(ports.inUse).toBe(1);
      socket.close();
      ports.release(port, 1);
    } finally {
      held.close();
    }
  });

  it('answers NO_PORT_AVAILABLE naming what it was for once every attempt failed, and keeps nothing reserved', async () => {
    const ports = new PortAllocator(64480, 64481);
    const held = await Promise.all([hold(64480), hold(64481)]);
    try {
      await expect(ports.bindLoopback('a test leg', 2)).rejects.toMatchObject({ code: 'NO_PORT_AVAILABLE', message: expect.stringMatching(/^no free UDP port for a test leg after 2 attempts: /) });
      expect(ports.inUse).toBe(0);
    } finally {
      for (const s of held) s.close();
    }
  });
});
