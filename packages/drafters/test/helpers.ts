import {
  type DraftContext,
  type Drafter,
  type DraftOutcome,
  type DraftTree,
  type GenerationResult,
  SpeculativeDecoder,
  type StepEvent,
  type TargetModel,
  type TreeGrowth,
  type Verifier,
} from '@treespec/core';
import { chiSquareTest, referenceGreedy, type ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { createVerifier, GreedyVerifier, LogitsPipeline, resolveSampling } from '@treespec/sampling';
import { expect } from 'vitest';

/** Runs one speculative generation of `model` with `drafter` and returns its result. */
export async function generate(
  model: ToyLanguageModel,
  drafter: Drafter | null,
  prompt: readonly number[],
  maxTokens: number,
  options: { verifier?: Verifier; featureSize?: number } = {},
): Promise<GenerationResult> {
  const target = new ToyTarget(model, { featureSize: options.featureSize ?? 0 });
  const decoder = new SpeculativeDecoder({
    target,
    drafter,
    verifier: options.verifier ?? new GreedyVerifier(),
  });
  return decoder.generate(prompt, { maxTokens });
}

/** Generates greedily with `drafter` and checks the output against plain greedy decoding. */
export async function expectGreedyIdentity(
  model: ToyLanguageModel,
  drafter: Drafter,
  prompt: readonly number[],
  maxTokens: number,
  featureSize = 0,
): Promise<GenerationResult> {
  const result = await generate(model, drafter, prompt, maxTokens, { featureSize });
  expect(Array.from(result.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens })));
  return result;
}

/**
 * A prompt that repeats itself: `seed`, the model's own greedy continuation of it, then `seed`
 * again. A toy model's next token depends only on its last `order` tokens, so after this prompt
 * it says the same continuation again — what quoting or rewriting a passage looks like.
 */
export function repeatingPrompt(model: ToyLanguageModel, seed: readonly number[], passage: number): number[] {
  const continuation = Array.from(referenceGreedy(model, seed, { maxTokens: passage }));
  return [...seed, ...continuation, ...seed];
}

/** Counts a growth's draft calls: the `nextFrontier` calls that return nodes to expand. */
export class CountingGrowth implements TreeGrowth {
  expansions = 0;
  constructor(readonly inner: TreeGrowth) {}
  get maxNodes() {
    return this.inner.maxNodes;
  }
  get maxTreeSize() {
    return this.inner.maxTreeSize;
  }
  get maxDepth() {
    return this.inner.maxDepth;
  }
  get maxFrontier() {
    return this.inner.maxFrontier;
  }
  get maxChildren() {
    return this.inner.maxChildren;
  }
  get prunes() {
    return this.inner.prunes;
  }
  get generated() {
    return this.inner.generated;
  }
  begin(rootToken: number) {
    this.inner.begin(rootToken);
  }
  nextFrontier(out: Int32Array) {
    const n = this.inner.nextFrontier(out);
    if (n > 0) this.expansions++;
    return n;
  }
  childrenWanted(node: number) {
    return this.inner.childrenWanted(node);
  }
  addChild(parent: number, token: number, logProb: number) {
    return this.inner.addChild(parent, token, logProb);
  }
  tokenOf(node: number) {
    return this.inner.tokenOf(node);
  }
  parentOf(node: number) {
    return this.inner.parentOf(node);
  }
  depthOf(node: number) {
    return this.inner.depthOf(node);
  }
  scoreOf(node: number) {
    return this.inner.scoreOf(node);
  }
  finish(tree: DraftTree) {
    this.inner.finish(tree);
  }
  capNext(depth: number, nodes: number) {
    this.inner.capNext?.(depth, nodes);
  }
}

/**
 * Wraps a feature drafter and checks that across steps it is shown every feature row exactly
 * once, in order, up to the newest committed position — whichever steps it drafts.
 */
export class FeatureLedger implements Drafter {
  readonly name: string;
  readonly needsFeatures = true;
  readonly maxTreeSize: number;
  /** Calls that drafted. */
  proposals = 0;
  private next = 0;

  constructor(readonly inner: Drafter) {
    this.name = inner.name;
    this.maxTreeSize = inner.maxTreeSize;
  }

  reset(): void {
    this.next = 0;
    this.proposals = 0;
    this.inner.reset();
  }

  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    if (context.featureRows > 0) {
      if (context.featureStart !== this.next) {
        throw new Error(`feature rows start at ${context.featureStart}, expected ${this.next}`);
      }
      this.next = context.featureStart + context.featureRows;
    }
    if (this.next !== context.length - 1) {
      throw new Error(`features shown up to ${this.next - 1}, expected ${context.length - 2}`);
    }
    this.proposals++;
    await this.inner.propose(context, tree);
  }

  observe(outcome: DraftOutcome): void {
    this.inner.observe?.(outcome);
  }
}

/** The prompt of {@link sampleTwoTokens}. */
const SAMPLED_PROMPT = [1, 2];

/**
 * Samples `samples` generations after the prompt [1, 2] with `drafter` over `target` (the toy
 * `model`), stochastic verification at `temperature` (default 1) with seeds 0 … samples − 1, and
 * compares their first two tokens with the exact distribution of plain sampling (Pearson's
 * chi-square). Each generation asks for three tokens, so the first step drafts two deep (the
 * loop drafts no deeper than the tokens left, less the bonus token) and both tokens can come
 * from accepted drafts. Returns the p-value, the tokens produced per verification step and the
 * candidate kinds of the trees drafted (the last token, taken alone, drafts none).
 */
export async function sampleTwoTokens(
  model: ToyLanguageModel,
  target: TargetModel,
  drafter: Drafter,
  samples: number,
  options: { onStep?: (event: StepEvent) => void; temperature?: number } = {},
): Promise<{ pValue: number; tokensPerStep: number; draftedKinds: Set<string> }> {
  const { onStep, temperature = 1 } = options;
  const draftedKinds = new Set<string>();
  const step = (event: StepEvent) => {
    if (event.tree.size > 1) draftedKinds.add(event.tree.candidateKind);
    onStep?.(event);
  };
  const counts = new Map<string, number>();
  let steps = 0;
  let produced = 0;
  for (let i = 0; i < samples; i++) {
    const decoder = new SpeculativeDecoder({
      target,
      drafter,
      verifier: createVerifier({ temperature, seed: i }),
    });
    const r = await decoder.generate(SAMPLED_PROMPT, { maxTokens: 3, onStep: step });
    const key = Array.from(r.tokens.subarray(0, 2)).join(',');
    counts.set(key, (counts.get(key) ?? 0) + 1);
    steps += r.stats.steps;
    produced += r.tokens.length;
  }
  const { pValue } = chiSquareTest(counts, firstTwoTokens(model, SAMPLED_PROMPT, temperature), samples);
  return { pValue, tokensPerStep: produced / steps, draftedKinds };
}

/**
 * The exact distribution of the first two tokens that plain sampling at `temperature` draws after
 * `prompt` from `model`, keyed `"a,b"`: what a lossless sampling drafter must reproduce.
 */
function firstTwoTokens(
  model: ToyLanguageModel,
  prompt: readonly number[],
  temperature: number,
): Map<string, number> {
  const vocab = model.vocabSize;
  const pipeline = new LogitsPipeline(vocab, resolveSampling({ temperature }));
  const logits = new Float32Array(vocab);
  const probs = new Float64Array(vocab);
  const expected = new Map<string, number>();
  const at = prompt.length;
  model.logits(prompt, at, logits, 0);
  pipeline.distribution(logits, 0, at - 1, probs);
  const first = Array.from(probs);
  for (let a = 0; a < vocab; a++) {
    model.logits([...prompt, a], at + 1, logits, 0);
    pipeline.distribution(logits, 0, at, probs);
    for (let b = 0; b < vocab; b++) expected.set(`${a},${b}`, first[a]! * probs[b]!);
  }
  return expected;
}
