import { describe, expect, it } from 'vitest';
import { BandwidthEstimator } from './BandwidthEstimator.js';
import { firstTime, runTrace, type TraceSample } from './testTrace.js';

const MBPS = 1_000_000;
const at = (samples: readonly TraceSample[], t: number): number => samples.find((s) => s.t >= t)!.estimate;
const kbps = (bps: number): string => `${Math.round(bps / 1000)} kbit/s`;

describe('BandwidthEstimator on simulated traces (trace time, no wall clock)', () => {
  it('a steady link holds its rate: 1 Mbit/s sent on a 2.5 Mbit/s link', () => {
    const samples = runTrace({ durationMs: 20_000, capacity: () => 2.5 * MBPS, sendRate: () => 1 * MBPS });
    const after = samples.filter((s) => s.t >= 3000);
    const low = Math.min(...after.map((s) => s.estimate));
    const high = Math.max(...after.map((s) => s.estimate));
    console.log(`steady 1 Mbit/s: estimate ${kbps(low)} to ${kbps(high)} from 3 s to 20 s`);
    expect(low).toBeGreaterThanOrEqual(0.95 * MBPS);
    // 1.5 x what was acknowledged (+ 10 kbit/s), the acknowledged rate measured over 500 ms windows (a few % above the mean at times).
    expect(high).toBeLessThanOrEqual(1.05 * 1.5 * MBPS + 10_000);
  });

  it('a 300 kbit/s bottleneck brings the estimate under 300 kbit/s within a few seconds; lifted, it climbs back', () => {
    // The sender forwards 1 Mbit/s whatever the estimate (nothing selects layers yet): the queue grows, then overflows.
    const limited = (t: number): boolean => t >= 5000 && t < 15_000;
    const samples = runTrace({ durationMs: 25_000, capacity: (t) => (limited(t) ? 300_000 : 2.5 * MBPS), sendRate: () => 1 * MBPS });
    const under = firstTime(samples, 5000, (s) => s.estimate < 300_000);
    const stays = samples.filter((s) => s.t >= under! && s.t < 15_000).every((s) => s.estimate < 300_000);
    const back = firstTime(samples, 15_000, (s) => s.estimate >= 0.9 * MBPS);
    console.log(`bottleneck (open loop): under 300 kbit/s ${under! - 5000} ms after the limit; back to 900 kbit/s ${back! - 15_000} ms after it was lifted`);
    expect(under! - 5000).toBeLessThanOrEqual(4000);
    expect(stays).toBe(true);
    expect(back! - 15_000).toBeLessThanOrEqual(5000);
  });

  it('with a sender that follows the estimate (layer selection), the bottleneck is found and left again', () => {
    const limited = (t: number): boolean => t >= 10_000 && t < 20_000;
    const samples = runTrace({
      durationMs: 40_000,
      capacity: (t) => (limited(t) ? 300_000 : 2.5 * MBPS),
      sendRate: (_t, estimate) => Math.min(estimate, 1.5 * MBPS),
      estimator: { startBitrate: 1 * MBPS },
    });
    const before = at(samples, 9900);
    const under = firstTime(samples, 10_000, (s) => s.estimate < 300_000);
    const meanLimited = samples.filter((s) => s.t >= 13_000 && s.t < 20_000).reduce((sum, s, _i, all) => sum + s.estimate / all.length, 0);
    const up = firstTime(samples, 20_000, (s) => s.estimate >= 600_000);
    const upHigh = firstTime(samples, 20_000, (s) => s.estimate >= 1.2 * MBPS);
    console.log(
      `bottleneck (closed loop): ${kbps(before)} before; under 300 kbit/s ${under! - 10_000} ms after the limit, mean ${kbps(meanLimited)} under it; ` +
        `600 kbit/s ${up! - 20_000} ms and 1.2 Mbit/s ${upHigh === undefined ? 'never' : `${upHigh - 20_000} ms`} after the lift`,
    );
    expect(before).toBeGreaterThan(1 * MBPS);
    expect(under! - 10_000).toBeLessThanOrEqual(4000);
    expect(meanLimited).toBeGreaterThan(150_000);
    expect(meanLimited).toBeLessThan(330_000);
    // Without probing, a sender that sends only the estimate climbs back at GCC's pace (8 % a second at most).
    expect(up! - 20_000).toBeLessThanOrEqual(15_000);
  });

  it('probing when stepping up: a probe cluster every 2 s at twice the estimate finds the lifted limit sooner, and does not lift the estimate over a limit', () => {
    const limited = (t: number): boolean => t >= 10_000 && t < 20_000;
    const run = (probing: boolean): TraceSample[] =>
      runTrace({
        durationMs: 30_000,
        capacity: (t) => (limited(t) ? 300_000 : 2.5 * MBPS),
        sendRate: (_t, estimate) => Math.min(estimate, 1.5 * MBPS),
        estimator: { startBitrate: 1 * MBPS },
        // Layer selection wanting more than the estimate gives (up to 1.5 Mbit/s) probes before stepping up.
        ...(probing ? { probe: (t: number, e: BandwidthEstimator) => (t % 2000 === 0 && e.bitrate < 1.5 * MBPS ? 2 * e.bitrate : undefined) } : {}),
      });
    const plain = run(false);
    const probed = run(true);
    const up = (samples: TraceSample[]): number => firstTime(samples, 20_000, (s) => s.estimate >= 600_000)! - 20_000;
    const meanLimited = probed.filter((s) => s.t >= 13_000 && s.t < 20_000).reduce((sum, s, _i, all) => sum + s.estimate / all.length, 0);
    const highLimited = Math.max(...probed.filter((s) => s.t >= 13_000 && s.t < 20_000).map((s) => s.estimate));
    console.log(`probing: 600 kbit/s ${up(probed)} ms after the lift (without: ${up(plain)} ms); under the limit mean ${kbps(meanLimited)}, at most ${kbps(highLimited)}`);
    expect(up(probed)).toBeLessThan(up(plain));
    expect(up(probed)).toBeLessThanOrEqual(3000);
    expect(meanLimited).toBeLessThan(330_000);
  });

  it('10 % loss lowers the estimate; 1 % does not', () => {
    const run = (loss: number): TraceSample[] => runTrace({ durationMs: 15_000, capacity: () => 10 * MBPS, sendRate: () => 1 * MBPS, loss: () => loss, estimator: { startBitrate: 1 * MBPS } });
    const clean = run(0.01);
    const lossy = run(0.1);
    console.log(`1 % loss: ${kbps(at(clean, 14_900))} at 15 s; 10 % loss: ${kbps(at(lossy, 5000))} at 5 s, ${kbps(at(lossy, 14_900))} at 15 s`);
    expect(at(clean, 14_900)).toBeGreaterThanOrEqual(1 * MBPS);
    expect(at(lossy, 5000)).toBeLessThan(0.95 * MBPS);
    expect(at(lossy, 14_900)).toBeLessThan(at(lossy, 5000));
    expect(at(lossy, 14_900)).toBeLessThan(0.8 * MBPS);
  });

  it('loss-free, the increase is bounded by what the receiver acknowledged', () => {
    const samples = runTrace({ durationMs: 20_000, capacity: () => 10 * MBPS, sendRate: () => 300_000, estimator: { startBitrate: 300_000 } });
    const high = Math.max(...samples.map((s) => s.estimate));
    console.log(`300 kbit/s sent on 10 Mbit/s, no loss: at most ${kbps(high)}`);
    expect(high).toBeLessThanOrEqual(1.5 * 300_000 + 10_000 + 5000);
    expect(at(samples, 19_900)).toBeGreaterThan(300_000);
  });

  it('start value and bounds are kept; REMB is the estimate when no transport-cc feedback comes', () => {
    const e = new BandwidthEstimator({ startBitrate: 5 * MBPS, minBitrate: 100_000, maxBitrate: 2 * MBPS });
    expect(e.bitrate).toBe(2 * MBPS);
    expect(e.onRemb(50_000)).toBe(100_000);
    expect(e.onRemb(800_000)).toBe(800_000);
    expect(e.stats.source).toBe('remb');
    expect(e.onPacketResults([], 0)).toBe(800_000);
  });
});
