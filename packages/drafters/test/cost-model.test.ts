import { DraftTree, Xoshiro128 } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { AcceptanceCalibration, RobustAverage, SizedCost, StepCostModel } from '../src/index.js';

describe('step cost model', () => {
  it('drops a lone spike such as a GC pause, but follows a cost that really changed', () => {
    const avg = new RobustAverage(0.1);
    for (let i = 0; i < 10; i++) avg.record(10);
    expect(avg.record(200)).toBe(false);
    expect(avg.mean).toBe(10);
    expect(avg.record(10)).toBe(true);
    // Three in a row: the machine got slower.
    expect(avg.record(50)).toBe(false);
    expect(avg.record(50)).toBe(false);
    expect(avg.record(50)).toBe(true);
    expect(avg.mean).toBeCloseTo(14, 5);
    expect(avg.record(Number.NaN)).toBe(false);
    expect(avg.record(-1)).toBe(false);
  });

  it('given a drop factor, restarts from the median of three timings in a row that fell by more than it', () => {
    const avg = new RobustAverage(0.1, 3, 1.5);
    for (let i = 0; i < 12; i++) avg.record(9);
    // A process's first cold calls priced it at 9; warm, it costs about 3.
    avg.record(3.2);
    avg.record(2.9);
    expect(avg.mean).toBeGreaterThan(7);
    avg.record(3.1);
    expect(avg.mean).toBe(3.1);
    // Noise within the factor, or a run it breaks, moves it at the smoothing's pace.
    for (const ms of [2.2, 2.1, 3.1, 2.0, 2.1]) avg.record(ms);
    expect(avg.mean).toBeGreaterThan(2.6);
    // Without the factor it follows at that pace alone.
    const plain = new RobustAverage(0.1);
    for (let i = 0; i < 12; i++) plain.record(9);
    for (let i = 0; i < 3; i++) plain.record(3);
    expect(plain.mean).toBeGreaterThan(7);
  });

  it('starts from the median of its first three observations, so neither a slow nor a fast one sticks', () => {
    const avg = new RobustAverage(0.1);
    avg.record(9.6);
    expect(avg.mean).toBe(9.6);
    avg.record(1.2);
    expect(avg.mean).toBe(1.2);
    avg.record(1.5);
    expect(avg.mean).toBe(1.5);
    avg.record(1.9);
    expect(avg.mean).toBeCloseTo(1.6, 6);
    const fast = new RobustAverage(0.1);
    for (const ms of [4, 0.5, 4.2]) fast.record(ms);
    expect(fast.mean).toBe(4);
  });

  it('prices unmeasured sizes from a line through the measured ones', () => {
    const cost = new SizedCost(40, 0.1, 9);
    for (let i = 0; i < 5; i++) {
      cost.record(1, 10);
      cost.record(11, 20);
    }
    expect(cost.at(1)).toBe(10);
    expect(cost.at(6)).toBeCloseTo(15, 6);
    expect(cost.at(31)).toBeCloseTo(40, 6);
  });

  it('assumes cost in proportion to size + offset while a single size is measured', () => {
    const cost = new SizedCost(40, 0.1, 9);
    expect(cost.at(5)).toBeNaN();
    cost.record(1, 10);
    expect(cost.at(11)).toBeCloseTo(20, 6);
  });

  it('stops trusting a size not measured for a while, as the load on the machine may have changed', () => {
    const cost = new SizedCost(40, 0.1, 9);
    for (let i = 0; i < 5; i++) cost.record(1, 10);
    for (let i = 0; i < 5; i++) cost.record(11, 20);
    expect(cost.at(1)).toBe(10);
    // The machine got twice as slow: only size 11 is measured from now on.
    for (let i = 0; i < 200; i++) cost.record(11, 40);
    expect(cost.age(1)).toBe(205);
    expect(cost.at(1)).toBeCloseTo(20, 3);
    expect(cost.at(11)).toBeCloseTo(40, 3);
  });

  it('ages its sizes by the steps it is told of, and forgets a size to start its average again', () => {
    const cost = new SizedCost(6, 0.1, 1);
    for (let i = 0; i < 3; i++) cost.record(2, 9);
    // Steps that timed nothing here (plain steps, for a drafting price) still age it.
    for (let i = 0; i < 70; i++) cost.tick();
    expect(cost.age(2)).toBe(70);
    expect(cost.at(2)).toBe(9);
    cost.forget(2);
    expect(cost.observations(2)).toBe(0);
    cost.record(2, 1.5);
    expect(cost.at(2)).toBe(1.5);
    expect(cost.age(2)).toBe(0);
  });

  it('never prices a smaller size below its share of the smallest measured one', () => {
    const cost = new SizedCost(40, 0.1, 9);
    for (let i = 0; i < 5; i++) {
      cost.record(5, 10);
      cost.record(6, 30);
    }
    expect(cost.at(1)).toBeCloseTo((10 * 10) / 14, 6);
  });

  it('never prices a size above a larger one it trusts, however slow its one early timing was', () => {
    // Draft depths on a cold process: depth 1 timed once during a warm-up spike, depth 5 often.
    const cost = new SizedCost(8, 0.1, 1);
    cost.record(1, 6.4);
    for (let i = 0; i < 10; i++) cost.record(5, 3.7);
    expect(cost.at(1)).toBe(3.7);
    expect(cost.at(3)).toBeLessThanOrEqual(3.7);
    // With three timings of its own, depth 1 is priced by them.
    cost.record(1, 1.0);
    cost.record(1, 1.1);
    expect(cost.at(1)).toBeCloseTo(1.1, 6);
    expect(cost.at(8)).toBeGreaterThan(3.7);
  });

  it('seeds from stored measurements and round-trips them through a snapshot', () => {
    const model = new StepCostModel(33, 0.1);
    const draft = new SizedCost(6, 0.1, 1);
    model.seed(
      {
        verifyMs: [
          [1, 8],
          [33, 12],
          [99, 1],
        ],
        draftMs: [[5, 3]],
        overheadMs: 0.5,
      },
      draft,
    );
    expect(model.verify.at(1)).toBe(8);
    expect(model.overheadMs()).toBe(0.5);
    expect(model.stepMs(draft.at(5), 33)).toBeCloseTo(15.5, 6);
    expect(model.snapshot(draft)).toEqual({
      verifyMs: [
        [1, 8],
        [33, 12],
      ],
      draftMs: [[5, 3]],
      overheadMs: 0.5,
    });
  });

  it('fills a table of every size with exactly the prices it gives one size at a time', () => {
    const rng = new Xoshiro128(7);
    for (const fitFrom of [1, 2]) {
      const cost = new SizedCost(25, 0.1, 9, fitFrom);
      const table = new Float64Array(26);
      const expectTable = () => {
        cost.pricesInto(table);
        for (let size = 1; size <= 25; size++) expect(Object.is(table[size], cost.at(size))).toBe(true);
      };
      expectTable();
      // Sizes measured often and seldom, some gone stale, slow and fast ones, a cost that jumps.
      for (let i = 0; i < 400; i++) {
        const size =
          rng.nextFloat() < 0.5 ? 1 + Math.floor(rng.nextFloat() * 4) : 1 + Math.floor(rng.nextFloat() * 25);
        cost.record(size, (3 + 0.2 * size) * (0.5 + rng.nextFloat()) * (i > 200 ? 2 : 1));
        if (i % 7 === 0) expectTable();
      }
    }
  });
});

describe('the price of a plain step', () => {
  it('is its own timings alone, left out of the line through the trees', () => {
    const costs = new StepCostModel(32, 0.1);
    for (let i = 0; i < 5; i++) {
      costs.verify.record(1, 3);
      costs.verify.record(4, 10);
      costs.verify.record(8, 11);
    }
    expect(costs.plainMs()).toBe(3);
    // Through 4 and 8 only: the plain step's 3 ms would have pulled size 2 down to 7.
    expect(costs.verify.at(2)).toBeCloseTo(9.5, 6);
  });

  it('is never above a fresh verification of a tree, and starts again once stale', () => {
    const costs = new StepCostModel(32, 0.1);
    for (let i = 0; i < 3; i++) costs.verify.record(1, 40);
    costs.verify.record(4, 2);
    // One timing of a tree is too few to bound it.
    expect(costs.plainMs()).toBe(40);
    for (let i = 0; i < 2; i++) costs.verify.record(4, 10);
    expect(costs.plainMs()).toBe(10);
    for (let i = 0; i < 70; i++) costs.verify.record(4, 10);
    costs.verify.record(1, 3);
    expect(costs.verify.at(1)).toBe(3);
  });

  it('has a steady price that rides out a burst of slow steps the trees, timed seldom, never saw', () => {
    const costs = new StepCostModel(32, 0.1);
    for (let i = 0; i < 10; i++) costs.verify.record(3, 2.6);
    for (let i = 0; i < 100; i++) costs.recordPlain(2);
    // Eight plain steps a third slower, as a shared machine's bursts: the price of now nears the
    // tree's 2.6 ms, the steady price stays near 2.1.
    for (let i = 0; i < 8; i++) costs.recordPlain(2.7);
    expect(costs.plainMs()).toBeGreaterThan(2.35);
    expect(costs.plainMs(true)).toBeGreaterThan(2.09);
    expect(costs.plainMs(true)).toBeLessThan(2.11);
    // A lasting change is followed within about a hundred steps.
    for (let i = 0; i < 100; i++) costs.recordPlain(2.7);
    expect(costs.plainMs(true)).toBeGreaterThan(2.6);
    // Both are never above a fresh tree's verification, and start again once stale.
    costs.verify.record(3, 2.6);
    expect(costs.plainMs(true)).toBe(2.6);
    for (let i = 0; i < 70; i++) costs.verify.record(3, 2.6);
    costs.recordPlain(1.5);
    expect(costs.plainMs(true)).toBe(1.5);
    expect(costs.plainMs()).toBe(1.5);
  });
});

describe('acceptance calibration', () => {
  function tree(scores: Array<[number, number]>): DraftTree {
    // [parent, logProb of the path] pairs.
    const t = new DraftTree(scores.length + 1);
    t.reset(0);
    for (const [parent, score] of scores) t.add(parent, 1, score);
    return t;
  }

  it('learns how much the drafter over- or under-states acceptance, per depth', () => {
    const cal = new AcceptanceCalibration(3, 0.1);
    expect(cal.factor(1)).toBe(1);
    // The drafter claims 0.8 at depth 1 and 0.4 at depth 2; the target accepts depth 1 half the
    // time and depth 2 never.
    const t = tree([
      [0, Math.log(0.8)],
      [1, Math.log(0.4)],
    ]);
    for (let i = 0; i < 300; i++) cal.record(t, i % 2);
    expect(cal.factor(1)).toBeCloseTo(0.5 / 0.8, 1);
    expect(cal.factor(2)).toBeLessThan(0.01);
    expect(cal.factor(3)).toBe(1);
    expect(cal.chance(1, 0.8)).toBeCloseTo(0.5, 1);
    expect(cal.chance(1, 5)).toBe(1);
  });
});

describe('smooth prices for trees sized by value', () => {
  it('prices every size along the line through the tree sizes, the sizes below it by their own timings or the line', () => {
    const cost = new SizedCost(12, 0.1, 9, 2);
    const out = new Float64Array(13);
    // One tree size timed: the line runs through it and the plain step, not in proportion to size + 9.
    for (let i = 0; i < 4; i++) {
      cost.record(1, 10);
      cost.record(5, 54);
    }
    cost.linePricesInto(out);
    expect(out[1]).toBeCloseTo(10);
    expect(out[3]).toBeCloseTo(32);
    // Two tree sizes: the line through them alone, the plain step by its own timing.
    for (let i = 0; i < 4; i++) cost.record(9, 70);
    cost.linePricesInto(out);
    expect(out[1]).toBeCloseTo(10);
    expect(out[7]).toBeCloseTo(62);
    // No plain step timed yet (a drafter that only drafts): the line (16 at size 1), never NaN, and
    // no lower than in proportion to size + 9 from the smallest size timed (20 × 10 / 12).
    const trees = new SizedCost(12, 0.1, 9, 2);
    for (let i = 0; i < 4; i++) {
      trees.record(3, 20);
      trees.record(7, 28);
    }
    trees.linePricesInto(out);
    expect(out[1]).toBeCloseTo((20 * 10) / 12);
  });

  it('leaves a size timed once or twice out of the line while two sizes are timed more often, so one early spike cannot price every tree', () => {
    const cost = new SizedCost(12, 0.1, 9, 2);
    const out = new Float64Array(13);
    // Session 50's lock-out: a GC pause in the first verification of two nodes (103 ms, where it
    // costs 2.7) priced every size near 5 ms along a flat line, twice a 1.8 ms plain step, so no
    // tree kept a node and size 2 was never timed again.
    cost.record(2, 103);
    const timings = new Map([
      [3, 2.7],
      [5, 2.9],
      [7, 3.4],
      [11, 4.1],
    ]);
    for (let i = 0; i < 5; i++) {
      cost.record(1, 1.8);
      for (const [size, ms] of timings) cost.record(size, ms);
    }
    cost.linePricesInto(out);
    expect(out[2]).toBeGreaterThan(2.4);
    expect(out[2]).toBeLessThan(2.7);
    expect(out[11]).toBeCloseTo(4.1, 0);
    // Its own timings count once it has three: the median of the first three drops the spike.
    cost.record(2, 2.5);
    cost.record(2, 2.6);
    expect(cost.observations(2)).toBe(3);
    cost.linePricesInto(out);
    expect(out[2]).toBeLessThan(2.7);
    // With one size timed that often, the others are all there is to fit.
    const early = new SizedCost(12, 0.1, 9, 2);
    for (let i = 0; i < 3; i++) early.record(3, 2.7);
    early.record(7, 3.5);
    early.linePricesInto(out);
    expect(out[7]).toBeCloseTo(3.5, 6);
  });

  it('lowers a line through stale tree sizes alone to the fresh plain price, its slope kept', () => {
    const cost = new SizedCost(12, 0.1, 9, 2);
    const out = new Float64Array(13);
    // Session 55's lock: tree sizes timed in a process's first cold calls (about twice their price),
    for (let i = 0; i < 3; i++) {
      cost.record(2, 7);
      cost.record(6, 8);
      cost.record(10, 9);
    }
    // then 65 plain steps at 2.4 ms: every tree size is stale.
    for (let i = 0; i < 65; i++) cost.record(1, 2.4);
    cost.linePricesInto(out);
    // The line (6.5 ms at size 1, 0.25 a node) meets the fresh plain price at size 1.
    expect(out[1]).toBeCloseTo(2.4);
    expect(out[2]).toBeCloseTo(2.65);
    expect(out[10]).toBeCloseTo(4.65);
    // The prices a choice among candidates reads keep the stale level.
    expect(cost.at(2)).toBeCloseTo(7);
    // One fresh tree size: the line runs through what is fresh, unlowered.
    cost.record(4, 3.1);
    cost.linePricesInto(out);
    expect(out[4]).toBeCloseTo(3.1);
    // A line below the plain price is not raised.
    const cheap = new SizedCost(12, 0.1, 9, 2);
    for (let i = 0; i < 3; i++) {
      cheap.record(2, 2.5);
      cheap.record(6, 3.5);
    }
    for (let i = 0; i < 65; i++) cheap.record(1, 3);
    cheap.linePricesInto(out);
    expect(out[2]).toBeCloseTo(2.5);
  });
});
