import { describe, expect, it } from 'vitest';
import { LayerController, type BitrateState, type ControlledConsumer } from './LayerController.js';
import { threeLayers as layers } from './testLayers.js';

/** One consumer on a fake clock: `step(ms, bps)` advances time and runs the controller with that estimate. */
function rig(options: ConstructorParameters<typeof LayerController>[0] = {}, start = 2) {
  const controller = new LayerController(options);
  const consumer: ControlledConsumer = { id: 'c', layers: layers(), cap: 2, current: start, target: start, tileArea: 1 };
  let now = 0;
  const probes: Array<{ at: number; bps: number }> = [];
  let probing = false;
  const step = (ms: number, budget: number, extra: Partial<BitrateState> = {}): number => {
    now += ms;
    const d = controller.update(now, { budget, estimated: true, fixed: 0, probing, ...extra }, [consumer]);
    consumer.target = d.targets[0]!;
    consumer.current = consumer.target;
    if (d.probe !== undefined) {
      probes.push({ at: now, bps: d.probe });
      probing = true;
    }
    return consumer.target;
  };
  /** Runs `ms` in 100 ms ticks at `budget`; the target at the end. */
  const run = (ms: number, budget: number): number => {
    let t = consumer.target;
    for (let i = 0; i < ms; i += 100) t = step(100, budget);
    return t;
  };
  return { controller, consumer, step, run, probes, feedback: () => (probing = false), now: () => now };
}

describe('LayerController: the downlink estimate moves the layers (issue #20, points 2 and 3)', () => {
  it('a rate set by hand, or no estimate yet, is applied at once, up and down', () => {
    const { controller, consumer } = rig();
    const hand = (budget: number): number => controller.update(0, { budget, estimated: false, fixed: 0, probing: false }, [consumer]).targets[0]!;
    expect(hand(100_000)).toBe(0);
    consumer.target = consumer.current = 0;
    expect(hand(Infinity)).toBe(2);
    expect(hand(700_000)).toBe(1);
  });

  it('steps down once the estimate has stayed under the layer for the hold, not for a shorter dip', () => {
    const { step, run } = rig({ downHoldMs: 600 });
    expect(run(1000, 2_000_000)).toBe(2);
    // A dip of 400 ms (a keyframe's burst, a busy moment): f stays.
    expect(run(400, 900_000)).toBe(2);
    expect(run(500, 2_000_000)).toBe(2);
    // Under it for good: h after the hold, not before.
    expect(step(100, 900_000)).toBe(2);
    expect(run(400, 900_000)).toBe(2);
    expect(run(200, 900_000)).toBe(1);
    // Far under everything: the lowest layer, video is not switched off.
    expect(run(1000, 50_000)).toBe(0);
  });

  it('keeps a layer while the estimate pays for 80 % of it (GCC after a spurious overuse), between that and the step-up headroom nothing moves', () => {
    const { run, controller } = rig({ downHoldMs: 600, downTolerance: 0.8, upMargin: 1.1 });
    // f costs 1.5 M: at 1.3 M (0.87 of it) for a long while, it stays.
    expect(run(10_000, 1_300_000)).toBe(2);
    expect(controller.stats.stepsDown).toBe(0);
    // At 1.15 M (0.77) it goes, to what 1.15 M pays for.
    expect(run(700, 1_150_000)).toBe(1);
    // And h (500 k) is kept down to 400 k; back up to f only with 1.65 M.
    expect(run(5000, 420_000)).toBe(1);
    expect(run(5000, 1_600_000)).toBe(1);
    expect(run(2100, 1_700_000)).toBe(2);
  });

  it('steps up only once the estimate has allowed the layer, with headroom, for the hold', () => {
    const { run } = rig({ upHoldMs: 2000, upMargin: 1.1 }, 0);
    // 520 k would pay for h (500 k) but not with 10 % headroom.
    expect(run(5000, 520_000)).toBe(0);
    // 560 k does: after 2 s, not before.
    expect(run(1500, 560_000)).toBe(0);
    expect(run(600, 560_000)).toBe(1);
    // A rise that does not hold restarts the wait.
    expect(run(1000, 1_700_000)).toBe(1);
    expect(run(200, 600_000)).toBe(1);
    expect(run(1900, 1_700_000)).toBe(1);
    expect(run(200, 1_700_000)).toBe(2);
  });

  it('probes toward what the next layer needs when it does not fit, steps up at once when the probe reaches it, and not again before the wait', () => {
    const { run, step, probes, feedback, controller } = rig({ probeWaitMs: 2000, probeGain: 1.2, upMargin: 1.1 }, 0);
    step(100, 300_000);
    // h needs 500 k, with headroom 550 k; the probe aims 20 % above: 660 k.
    expect(probes).toHaveLength(1);
    expect(probes[0]!.bps).toBeCloseTo(660_000, -2);
    // While its feedback is out, no other.
    run(1000, 300_000);
    expect(probes).toHaveLength(1);
    // The feedback: the link carried it, the estimate took it. The step is made at once.
    feedback();
    expect(step(100, 660_000)).toBe(1);
    expect(controller.stats).toMatchObject({ probes: 1, probesReached: 1, stepsUp: 1 });
    // f needs 1.65 M: the next probe comes after the wait, not before.
    const at = probes.length;
    run(1800, 660_000);
    expect(probes).toHaveLength(at);
    run(400, 660_000);
    expect(probes).toHaveLength(at + 1);
    expect(probes.at(-1)!.bps).toBeCloseTo(1_500_000 * 1.1 * 1.2, -3);
  });

  it('a probe that does not reach its goal makes the next one wait longer, up to the longest wait; one that does brings the wait back', () => {
    const { run, step, probes, feedback, controller } = rig({ probeWaitMs: 2000, probeWaitMaxMs: 6000 }, 0);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const n = probes.length;
      while (probes.length === n) step(100, 300_000);
      // The link carried no more than before.
      feedback();
      step(100, 310_000);
      waits.push(controller.stats.probeWaitMs);
    }
    expect(waits).toEqual([3000, 4500, 6000, 6000, 6000]);
    const gaps = probes.slice(1).map((p, i) => p.at - probes[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(3000);
    expect(gaps[3]).toBeGreaterThanOrEqual(6000);
    expect(gaps[3]).toBeLessThan(6500);
    // This time the link carries it.
    while (probes.length === 5) step(100, 300_000);
    feedback();
    expect(step(100, 700_000)).toBe(1);
    expect(controller.stats.probeWaitMs).toBe(2000);
    expect(run(100, 700_000)).toBe(1);
  });

  it('a step up undone within seconds (the probe passed, the link did not carry the layer) counts as a failed probe', () => {
    const { run, step, probes, feedback, controller } = rig({ probeWaitMs: 2000, downHoldMs: 600 }, 0);
    step(100, 300_000);
    feedback();
    expect(step(100, 700_000)).toBe(1);
    // The layer congests the link: the estimate falls under it.
    expect(run(700, 300_000)).toBe(0);
    expect(controller.stats).toMatchObject({ stepsUp: 1, stepsDown: 1, probeWaitMs: 3000 });
    // And no probe before the (longer) wait.
    const n = probes.length;
    run(2900, 300_000);
    expect(probes).toHaveLength(n);
  });

  it('a request or a layer that stops arriving moves the target at once, whatever the holds', () => {
    const { consumer, step } = rig({ downHoldMs: 5000, upHoldMs: 5000 });
    expect(step(100, 2_000_000)).toBe(2);
    consumer.cap = 0;
    expect(step(100, 2_000_000)).toBe(0);
    consumer.cap = 2;
    // Back up for the request: still the hold (the estimate decides how high).
    expect(step(100, 2_000_000)).toBe(0);
    consumer.layers = layers([{}, {}, { arriving: false, available: false }]);
    consumer.target = consumer.current = 2;
    expect(step(100, 2_000_000)).toBe(1);
  });

  it('nothing to probe when every consumer has what its request allows; a refused probe is asked again after the wait', () => {
    const { step, probes, controller } = rig({ probeWaitMs: 2000 }, 2);
    for (let i = 0; i < 50; i++) step(100, 2_000_000);
    expect(probes).toHaveLength(0);
    const small = rig({ probeWaitMs: 2000 }, 0);
    small.step(100, 300_000);
    expect(small.probes).toHaveLength(1);
    small.controller.probeRefused(small.now());
    small.feedback();
    for (let i = 0; i < 19; i++) small.step(100, 300_000);
    expect(small.probes).toHaveLength(1);
    small.step(100, 300_000);
    expect(small.probes).toHaveLength(2);
    expect(controller.stats.probes).toBe(0);
  });
});
