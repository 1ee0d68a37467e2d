import { describe, expect, it } from 'vitest';
import { checkLeaks, robustSlope, type LeakInput } from './leaks.js';
import type { ServerReading } from './ServerSampler.js';

function reading(t: number, over: Partial<ServerReading> = {}): ServerReading {
  return { t, rssMb: 300, heapMb: 40, fds: 70, children: 4, childNames: [], udpPorts: 12, endpoints: 80, pipelines: 3, signalingConnections: 30, roomsOpen: 3, ...over };
}

/** 40 samples, 20 s apart, under load; `shape` changes each. */
function run(shape: (t: number, i: number) => Partial<ServerReading>): LeakInput {
  const load = Array.from({ length: 40 }, (_, i) => reading(60 + i * 20, shape(60 + i * 20, i)));
  const idle = { endpoints: 0, pipelines: 0, children: 0, udpPorts: 1, fds: 50, signalingConnections: 0, roomsOpen: 0 };
  return { start: reading(0, idle), load, settled: { reading: reading(900), expectedEndpoints: 80 }, end: reading(960, idle) };
}

const failed = (input: LeakInput) => checkLeaks(input).filter((c) => !c.ok).map((c) => c.name);

describe('soak leak criteria', () => {
  it('robustSlope() ignores one outlier and a GC sawtooth', () => {
    const saw = Array.from({ length: 30 }, (_, i) => ({ t: i, y: 100 + (i % 5) * 4 + (i === 17 ? 500 : 0) }));
    expect(Math.abs(robustSlope(saw))).toBeLessThan(0.5);
    expect(robustSlope([{ t: 0, y: 0 }, { t: 10, y: 20 }])).toBe(2);
  });

  it('a flat run with a sawtooth of memory and handles passes every criterion', () => {
    expect(failed(run((_t, i) => ({ rssMb: 300 + (i % 6) * 8, heapMb: 40 + (i % 4) * 6, fds: 70 + (i % 3), udpPorts: 12 + (i % 2) })))).toEqual([]);
  });

  it('memory that keeps growing in the second half is a leak, RSS and heap each', () => {
    expect(failed(run((t) => ({ rssMb: 300 + t * 0.2 })))).toEqual(['drift: RSS']);
    expect(failed(run((t) => ({ heapMb: 40 + t * 0.1 })))).toEqual(['drift: heap']);
  });

  it('growth only during warm-up (the first half) is not a leak', () => {
    expect(failed(run((_t, i) => ({ rssMb: i < 20 ? 200 + i * 5 : 300 })))).toEqual([]);
  });

  it('one file descriptor and one port per churn event, or a child that stays, is a leak', () => {
    expect(failed(run((_t, i) => ({ fds: 70 + i * 2, udpPorts: 12 + i })))).toEqual(['drift: file descriptors', 'drift: UDP ports']);
    const input = run(() => ({}));
    input.end = { ...input.end!, children: 1, childNames: ['gst-launch-1.0'], fds: 60 };
    expect(failed(input)).toEqual(['end: child processes ≤ start', 'end: file descriptors ≤ start + 8']);
  });

  it('endpoints beyond what the rooms need once settled, or left at the end, are leaks', () => {
    const input = run(() => ({}));
    input.settled = { reading: reading(900, { endpoints: 83 }), expectedEndpoints: 81 };
    input.end = { ...input.end!, endpoints: 2, pipelines: 1 };
    expect(failed(input)).toEqual(['settled: WebRTC endpoints ≤ expected', 'end: no WebRTC endpoint left', 'end: no media pipeline left']);
  });

  it('a run that stopped early fails: no settled or end phase, too few samples', () => {
    expect(failed({ start: reading(0), load: [reading(10)], settled: undefined, end: undefined })).toEqual([
      'settled: WebRTC endpoints ≤ expected',
      'end: back to the idle start',
      'drift over the second half',
    ]);
  });
});
