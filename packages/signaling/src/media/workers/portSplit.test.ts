import { describe, expect, it } from 'vitest';
import { splitMediaPorts } from './portSplit.js';

describe('splitMediaPorts', () => {
  it('port-range mode gives each worker its own contiguous slice, covering the range', () => {
    const split = splitMediaPorts({ portRange: [40000, 40099], udpPort: false } as never, 3);
    expect(split).toEqual([{ portRange: [40000, 40033] }, { portRange: [40034, 40066] }, { portRange: [40067, 40099] }]);
  });

  it('one worker in port-range mode keeps the whole range', () => {
    expect(splitMediaPorts({ portRange: [50000, 50999], udpPort: false } as never, 1)).toEqual([{ portRange: [50000, 50999] }]);
  });

  it('single-port mode by default: the range is cut the same way, each engine takes the first free port of its own slice', () => {
    const split = splitMediaPorts({ portRange: [40000, 40099] }, 2);
    expect(split).toEqual([{ portRange: [40000, 40049] }, { portRange: [40050, 40099] }]);
  });

  it('single-port mode with udpPort outside the range: udpPort + k, the whole range split', () => {
    const split = splitMediaPorts({ portRange: [40000, 40019], udpPort: 3478 } as never, 2);
    expect(split).toEqual([
      { portRange: [40000, 40009], udpPort: 3478 },
      { portRange: [40010, 40019], udpPort: 3479 },
    ]);
  });

  it('single-port mode with udpPort inside the range: the slices come from the larger stretch beside the shared ports', () => {
    const split = splitMediaPorts({ portRange: [40000, 40099], udpPort: 40080 } as never, 2);
    expect(split).toEqual([
      { portRange: [40000, 40039], udpPort: 40080 },
      { portRange: [40040, 40079], udpPort: 40081 },
    ]);
    for (const w of split) for (const other of split) expect(other.udpPort! < w.portRange[0] || other.udpPort! > w.portRange[1]).toBe(true);
  });

  it('the engine defaults apply when nothing is set', () => {
    expect(splitMediaPorts({}, 2)).toEqual([{ portRange: [40000, 44999] }, { portRange: [45000, 49999] }]);
  });

  it('slices never overlap and stay inside the range, for any worker count', () => {
    for (const udpPort of [false, undefined, 40010, 40000] as const) {
      for (let n = 1; n <= 12; n++) {
        const split = splitMediaPorts({ portRange: [40000, 40200], ...(udpPort === undefined ? {} : { udpPort }) } as never, n);
        expect(split).toHaveLength(n);
        const ports = split.flatMap((w) => [w.portRange[0], w.portRange[1]]);
        for (let i = 1; i < ports.length; i++) expect(ports[i]!).toBeGreaterThan(ports[i - 1]!);
        expect(ports[0]).toBeGreaterThanOrEqual(40000);
        expect(ports.at(-1)).toBeLessThanOrEqual(40200);
        if (typeof udpPort !== 'number') expect(split.every((w) => w.udpPort === undefined)).toBe(true);
        else {
          expect(split.map((w) => w.udpPort)).toEqual(split.map((_, k) => udpPort + k));
          for (const w of split) for (const other of split) expect(other.udpPort! < w.portRange[0] || other.udpPort! > w.portRange[1]).toBe(true);
        }
      }
    }
  });

  it('a range too small for the workers is refused with the numbers', () => {
    expect(() => splitMediaPorts({ portRange: [40000, 40020], udpPort: false } as never, 4)).toThrow(/40000-40020 is too small for 4 media engines/);
    expect(() => splitMediaPorts({ portRange: [40000, 40099] }, 0)).toThrow(RangeError);
    expect(() => splitMediaPorts({ portRange: [40000, 40030], udpPort: 40000 } as never, 4)).toThrow(/besides the shared ports 40000-40003/);
    expect(() => splitMediaPorts({ portRange: [40000, 40099], udpPort: 65535 } as never, 2)).toThrow(/beyond 65535/);
  });
});
