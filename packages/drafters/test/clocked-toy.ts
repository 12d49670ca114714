import type {
  DraftContext,
  Drafter,
  DraftOutcome,
  DraftTree,
  TargetCallOptions,
  TargetModel,
} from '@treespec/core';
import type { ToyTarget } from '@treespec/core/testing';

/** A fake clock in milliseconds that the toy target and drafter advance by what their work would cost. */
export class Clock {
  now = 0;
  readonly read = (): number => this.now;
}

/** Costs of the clocked toy: verification by tree size, drafting by draft calls (depths + 1). */
export interface ToyCosts {
  verify: (treeSize: number) => number;
  draftCall: number;
}

/** A toy target whose verifications advance a {@link Clock} by their modelled cost. */
export class ClockedTarget implements TargetModel {
  constructor(
    readonly inner: ToyTarget,
    readonly clock: Clock,
    public costs: ToyCosts,
  ) {}
  get vocabSize() {
    return this.inner.vocabSize;
  }
  get featureSize() {
    return this.inner.featureSize;
  }
  get maxContext() {
    return this.inner.maxContext;
  }
  get cachedLength() {
    return this.inner.cachedLength;
  }
  reset() {
    this.inner.reset();
  }
  prefill(tokens: Int32Array, options?: TargetCallOptions) {
    return this.inner.prefill(tokens, options);
  }
  verify(tree: DraftTree, options?: TargetCallOptions) {
    this.clock.now += this.costs.verify(tree.size);
    return this.inner.verify(tree, options);
  }
  commit(plan: Parameters<TargetModel['commit']>[0]) {
    this.inner.commit(plan);
  }
}

/** A drafter whose proposals advance a {@link Clock} by one draft call per depth, plus one to commit. */
export class ClockedDrafter implements Drafter {
  readonly name: string;
  readonly needsFeatures: boolean;
  readonly maxTreeSize: number;
  constructor(
    public inner: Drafter,
    readonly target: ClockedTarget,
  ) {
    this.name = inner.name;
    this.needsFeatures = inner.needsFeatures;
    this.maxTreeSize = inner.maxTreeSize;
  }
  reset(seed?: number) {
    this.inner.reset(seed);
  }
  async propose(context: DraftContext, tree: DraftTree) {
    await this.inner.propose(context, tree);
    this.target.clock.now += this.target.costs.draftCall * (tree.maxDepth() + 1);
  }
  observe(outcome: DraftOutcome) {
    this.inner.observe?.(outcome);
  }
}
