import { describe, expect, it } from 'vitest';
import { checkLeaks, drift, robustSlope, type HandleSample, type LeakInput } from './leaks.js';
import type { ServerReading } from './ServerSampler.js';

function reading(t: number, over: Partial<ServerReading> = {}): ServerReading {
  return { t, rssMb: 300, heapMb: 40, fds: 70, children: 4, childNames: [], udpPorts: 12, serverUdpPorts: 3, endpoints: 80, pipelines: 3, signalingConnections: 30, roomsOpen: 3, ...over };
}

function handle(r: ServerReading, present: number[]): HandleSample {
  return { ...r, present };
}

const idle = { endpoints: 0, pipelines: 0, children: 0, udpPorts: 1, serverUdpPorts: 1, fds: 50, signalingConnections: 0, roomsOpen: 0 };

/** 40 samples, 20 s apart, under a load that does not change (the handles sampled with them); `shape` changes each. */
function run(shape: (t: number, i: number) => Partial<ServerReading>): LeakInput {
  const load = Array.from({ length: 40 }, (_, i) => reading(60 + i * 20, shape(60 + i * 20, i)));
  return { start: reading(0, idle), handles: load.map((r) => handle(r, [9, 9, 9])), settled: { reading: reading(900), expectedEndpoints: 80 }, end: reading(960, idle) };
}

/**
 * The 2-minute soak's load, second by second: 2 rooms of up to 4, one minute of churn
 * (an event every 3 s; `rooms` says which room each changes), room 0 recorded and
 * loopback tests at 24 s and 66 s. What the server holds follows who is there, as in a
 * real run: its own media port and the recording's two sockets; the recording's four
 * children, and its grid child with a port per tile and one for RTCP; for 4 s after room
 * 0 changes a second grid child beside it, for the new layout, its ports bound a second
 * after it starts; a socket and a pipe per person and child; the loopback test's
 * pipeline and endpoint. `kept` is what a leak would keep: ports or descriptors of the
 * server per churn event, or the old grid child at each change of room 0.
 */
function churnRun(rooms: number[], kept: { portsPerEvent?: number; fdsPerEvent?: number; gridChildren?: boolean } = {}): LeakInput & { windows: ServerReading[] } {
  const present = [4, 4];
  const lastChange = [-99, -99];
  const lastJoin = [-99, -99];
  let events = 0;
  let room0Changes = 0;
  const handles: HandleSample[] = [];
  const windows: ServerReading[] = [];
  for (let t = 15; t < 75; t++) {
    if ((t - 15) % 3 === 0) {
      const room = rooms[(t - 15) / 3]!;
      present[room] = present[room]! >= 4 ? present[room]! - 1 : present[room]! + 1;
      lastChange[room] = t;
      if (present[room] === 4) lastJoin[room] = t;
      events++;
      if (room === 0) room0Changes++;
    }
    const regrid = t - lastChange[0]! < 4;
    const regridBound = regrid && t - lastChange[0]! >= 1;
    const loopback = (t >= 24 && t < 28) || (t >= 66 && t < 70) ? 1 : 0;
    const children = 5 + (regrid ? 1 : 0) + (kept.gridChildren ? room0Changes : 0);
    const sockets = 3 + present[0]! + present[1]!;
    const serverUdpPorts = 3 + events * (kept.portsPerEvent ?? 0);
    const childPorts = present[0]! + 1 + (regridBound ? present[0]! + 1 : 0) + (kept.gridChildren ? room0Changes * 4 : 0);
    const r = reading(t, {
      children,
      udpPorts: serverUdpPorts + childPorts,
      serverUdpPorts,
      fds: 50 + sockets + 2 * children + loopback + events * (kept.fdsPerEvent ?? 0),
      endpoints: present.reduce((sum, n, room) => sum + n * n - (t - lastJoin[room]! < 1 ? n - 1 : 0), 0) + loopback,
      pipelines: 2 + loopback,
      signalingConnections: sockets,
      roomsOpen: 2,
    });
    handles.push(handle(r, [...present]));
    if ((t - 19) % 5 === 0) windows.push(r);
  }
  return { start: reading(0, idle), windows, handles, settled: { reading: reading(80, { endpoints: 32 }), expectedEndpoints: 32 }, end: reading(85, idle) };
}

/** Room of each churn event: room 0 changes often early, then not until late in the second half, when its new grids are in the window samples. */
const CHURN_ROOMS = [0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0];

const failed = (input: LeakInput) => checkLeaks(input).filter((c) => !c.ok).map((c) => c.name);

describe('soak leak criteria', () => {
  it('robustSlope() ignores one outlier and a GC sawtooth', () => {
    const saw = Array.from({ length: 30 }, (_, i) => ({ t: i, y: 100 + (i % 5) * 4 + (i === 17 ? 500 : 0) }));
    expect(Math.abs(robustSlope(saw))).toBeLessThan(0.5);
    expect(robustSlope([{ t: 0, y: 0 }, { t: 10, y: 20 }])).toBe(2);
  });

  it('a flat run with a sawtooth of memory and handles passes every criterion', () => {
    expect(failed(run((_t, i) => ({ rssMb: 300 + (i % 6) * 8, heapMb: 40 + (i % 4) * 6, fds: 70 + (i % 3), udpPorts: 12 + (i % 2), serverUdpPorts: 3 + (i % 2) })))).toEqual([]);
  });

  it('memory that keeps growing in the second half is a leak, RSS and heap each', () => {
    expect(failed(run((t) => ({ rssMb: 300 + t * 0.2 })))).toEqual(['drift: RSS']);
    expect(failed(run((t) => ({ heapMb: 40 + t * 0.1 })))).toEqual(['drift: heap']);
  });

  it('growth only during warm-up (the first half) is not a leak', () => {
    expect(failed(run((_t, i) => ({ rssMb: i < 20 ? 200 + i * 5 : 300 })))).toEqual([]);
  });

  it('one file descriptor and one port per churn event, or a child that stays, is a leak', () => {
    expect(failed(run((_t, i) => ({ fds: 70 + i * 2, udpPorts: 12 + i, serverUdpPorts: 3 + i })))).toEqual(['drift: file descriptors', 'drift: UDP ports']);
    const input = run(() => ({}));
    input.end = { ...input.end!, children: 1, childNames: ['gst-launch-1.0'], fds: 60 };
    expect(failed(input)).toEqual(['end: child processes ≤ start', 'end: file descriptors ≤ start + 8']);
  });

  it('handles that follow who is in the rooms, new grids beside the running one and loopback tests are no leak, where the slope of every port at the windows saw one', () => {
    const input = churnRun(CHURN_ROOMS);
    expect(drift(input.windows, (r) => r.udpPorts).growth).toBeGreaterThan(4);
    expect(failed(input)).toEqual([]);
  });

  it('on top of that membership, one port or one descriptor kept per churn event, or the old grid child kept at each change of room 0, is a leak', () => {
    expect(failed(churnRun(CHURN_ROOMS, { portsPerEvent: 1 }))).toEqual(['drift: UDP ports']);
    expect(failed(churnRun(CHURN_ROOMS, { fdsPerEvent: 1 }))).toEqual(['drift: file descriptors']);
    expect(failed(churnRun(CHURN_ROOMS, { gridChildren: true }))).toContain('drift: child processes');
  });

  it('a run with too few samples in its second half fails', () => {
    const input = churnRun(CHURN_ROOMS);
    input.handles = input.handles.slice(0, 2);
    expect(failed(input)).toEqual(['drift over the second half']);
  });

  it('endpoints beyond what the rooms need once settled, or left at the end, are leaks', () => {
    const input = run(() => ({}));
    input.settled = { reading: reading(900, { endpoints: 83 }), expectedEndpoints: 81 };
    input.end = { ...input.end!, endpoints: 2, pipelines: 1 };
    expect(failed(input)).toEqual(['settled: WebRTC endpoints ≤ expected', 'end: no WebRTC endpoint left', 'end: no media pipeline left']);
  });

  it('a run that stopped early fails: no settled or end phase, too few samples', () => {
    expect(failed({ start: reading(0), handles: [handle(reading(10), [9])], settled: undefined, end: undefined })).toEqual([
      'settled: WebRTC endpoints ≤ expected',
      'end: back to the idle start',
      'drift over the second half',
    ]);
  });
});
