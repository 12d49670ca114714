import type { DraftContext, Drafter, DraftOutcome, DraftTree, TreeGrowth } from '@treespec/core';
import {
  Clock,
  ClockedTarget,
  ToyDrafter,
  type ToyDraftQuality,
  type ToyLanguageModel,
  type ToyTarget,
  type VerifyCosts,
} from '@treespec/core/testing';
import { BudgetController, type BudgetControllerOptions } from '../src/index.js';
import type { CountingGrowth } from './helpers.js';
import { ToyDraftHead } from './toy-draft-model.js';

/** Costs of the clocked toy: verification by tree size, drafting by draft calls (depths + 1). */
export interface ToyCosts extends VerifyCosts {
  draftCall: number;
}

/**
 * A drafter whose proposals advance a {@link Clock} by one draft call per depth of the kept tree,
 * plus one to commit; or, given the {@link CountingGrowth} it drafts with, by one call per depth
 * it expanded, as a model drafter makes them (the first call also commits).
 */
export class ClockedDrafter implements Drafter {
  readonly name: string;
  readonly needsFeatures: boolean;
  readonly maxTreeSize: number;
  constructor(
    public inner: Drafter,
    readonly target: ClockedTarget<ToyTarget, ToyCosts>,
    readonly counted?: CountingGrowth,
  ) {
    this.name = inner.name;
    this.needsFeatures = inner.needsFeatures;
    this.maxTreeSize = inner.maxTreeSize;
  }
  reset(seed?: number, temperature?: number) {
    this.inner.reset(seed, temperature);
  }
  async propose(context: DraftContext, tree: DraftTree) {
    const before = this.counted?.expansions ?? 0;
    await this.inner.propose(context, tree);
    const calls = this.counted ? this.counted.expansions - before : tree.maxDepth() + 1;
    this.target.clock.now += this.target.costs.draftCall * calls;
    if (calls > 0) this.target.drafted = true;
  }
  observe(outcome: DraftOutcome) {
    this.inner.observe?.(outcome);
  }
  catchUpWithin(rows: number) {
    this.inner.catchUpWithin?.(rows);
  }
}

/** A toy EAGLE head whose commits advance the clock by `rowMs` per row: catching up costs by the row. */
export class RowClockedHead extends ToyDraftHead {
  constructor(
    model: ToyLanguageModel,
    readonly clock: Clock,
    readonly rowMs: number,
  ) {
    super(model, { featureSize: 3 });
  }
  override commit(tokens: Int32Array, features: Float32Array, rows: number, k: number) {
    this.clock.now += this.rowMs * rows;
    return super.commit(tokens, features, rows, k);
  }
}

export { Clock, ClockedTarget };

/**
 * A budget controller over two toy drafters of `quality` on a clocked toy target: one drafting
 * greedy trees with `growths.greedy`, one sampling at temperature 1 (seed 3) with `growths.sampled`.
 */
export function greedyAndSampledController(
  target: ClockedTarget<ToyTarget, ToyCosts>,
  growths: { greedy: TreeGrowth; sampled: TreeGrowth },
  quality: ToyDraftQuality,
  options: BudgetControllerOptions = {},
): BudgetController {
  const greedy = new ToyDrafter({ target: target.inner, growth: growths.greedy, quality });
  const sampled = new ToyDrafter({
    target: target.inner,
    growth: growths.sampled,
    quality,
    sample: { temperature: 1, seed: 3 },
  });
  return new BudgetController(
    { drafter: new ClockedDrafter(greedy, target), growth: growths.greedy },
    {
      clock: target.clock.read,
      sampling: { drafter: new ClockedDrafter(sampled, target), growth: growths.sampled },
      ...options,
    },
  );
}
