import type {
  DraftContext,
  Drafter,
  DraftTree,
  KeepPlan,
  TargetModel,
  TargetStep,
  Verifier,
  VerifyInput,
  VerifyResult,
} from '@treespec/core';

/**
 * A target that always continues a fixed script: after position p it predicts `script[p + 1]`
 * (one-hot logits). Generation through the real loop then yields exactly the script, which
 * lets a test decide the text and, through {@link ScriptedDrafter}, how many tokens each step
 * commits.
 */
export class ScriptedTarget implements TargetModel {
  readonly featureSize = 0;
  readonly maxContext = 4096;
  private cached = 0;
  private logits = new Float32Array(0);

  constructor(
    private readonly script: Int32Array,
    readonly vocabSize: number,
  ) {}

  get cachedLength(): number {
    return this.cached;
  }

  reset(): void {
    this.cached = 0;
  }

  async prefill(tokens: Int32Array): Promise<TargetStep> {
    this.cached += tokens.length;
    return { rows: tokens.length, logits: new Float32Array(0), features: null };
  }

  async verify(tree: DraftTree): Promise<TargetStep> {
    const v = this.vocabSize;
    if (this.logits.length < tree.size * v) this.logits = new Float32Array(tree.size * v);
    const logits = this.logits.subarray(0, tree.size * v);
    logits.fill(0);
    for (let i = 0; i < tree.size; i++) {
      const next = this.cached + tree.depths[i]! + 1;
      logits[i * v + (next < this.script.length ? this.script[next]! : 0)] = 1;
    }
    return { rows: tree.size, logits, features: null };
  }

  commit(plan: KeepPlan): void {
    this.cached += plan.count;
  }
}

/** Drafts a chain of the script's next tokens, as long as `lengths` says for each step (cycled). */
export class ScriptedDrafter implements Drafter {
  readonly name = 'scripted';
  readonly needsFeatures = false;
  readonly maxTreeSize = 16;
  private step = 0;

  constructor(
    private readonly script: Int32Array,
    private readonly lengths: readonly number[],
  ) {}

  reset(): void {
    this.step = 0;
  }

  propose(context: DraftContext, tree: DraftTree): void {
    const n = this.lengths.length === 0 ? 0 : Math.min(this.lengths[this.step++ % this.lengths.length]!, 15);
    let parent = 0;
    for (let d = 1; d <= n && context.length - 1 + d < this.script.length; d++) {
      parent = tree.add(parent, this.script[context.length - 1 + d]!, -d);
    }
  }
}

/** Greedy verification: follow the child equal to the target's argmax until there is none. */
export class ArgmaxVerifier implements Verifier {
  readonly name = 'argmax';

  reset(): void {}

  verify(input: VerifyInput, result: VerifyResult): void {
    const { tree, logits, vocabSize } = input;
    let node = 0;
    result.path[0] = 0;
    result.pathLength = 1;
    while (true) {
      let best = 0;
      for (let t = 1; t < vocabSize; t++)
        if (logits[node * vocabSize + t]! > logits[node * vocabSize + best]!) best = t;
      let child = -1;
      for (let c = node + 1; c < tree.size; c++) {
        if (tree.parents[c] === node && tree.tokens[c] === best) {
          child = c;
          break;
        }
      }
      if (child < 0) {
        result.bonusToken = best;
        return;
      }
      result.path[result.pathLength++] = child;
      node = child;
    }
  }
}
