import { type Drafter, DynamicTreeGrowth, SpeculativeDecoder, type TargetCallOptions } from '@treespec/core';
import { referenceGreedy, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { BudgetController, EagleDrafter } from '../src/index.js';
import { Clock, ClockedDrafter, ClockedTarget, type ToyCosts } from './clocked-toy.js';
import { RecordingHead } from './toy-draft-model.js';

const WINDOW = 6;

/** A clocked toy target that records, step by step, whether it was asked for features. */
class FeatureLoggingTarget extends ClockedTarget<ToyTarget, ToyCosts> {
  readonly asked: boolean[] = [];
  override verify(...args: Parameters<ClockedTarget['verify']>) {
    this.asked.push((args[1] as TargetCallOptions | undefined)?.features === true);
    return super.verify(...args);
  }
}

/**
 * The EAGLE controller over a head that drafts the toy model exactly, where a tree costs more than
 * it gains (each node 13 ms against a 10 ms plain step) until `jumpAt` tokens, after which a plain
 * step costs `jumpedMs`: long runs of plain steps far from paying, probing now and then.
 */
async function decode(
  maxTokens: number,
  { jumpAt = Number.POSITIVE_INFINITY, jumpedMs = 10, wrapped = false } = {},
) {
  const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 12, sharpness: 2 });
  const clock = new Clock();
  let plainMs = 10;
  const target = new FeatureLoggingTarget(new ToyTarget(model, { featureSize: 3 }), clock, {
    verify: (n) => (n === 1 ? plainMs : 10) + 13 * (n - 1),
    draftCall: 0.5,
  });
  const head = new RecordingHead(model, { featureSize: 3 });
  const growth = new DynamicTreeGrowth({ topK: 2, frontier: 1, depth: 3, totalTokens: 5 });
  const controller = new BudgetController(
    { drafter: new ClockedDrafter(new EagleDrafter(head, { growth }), target), growth },
    { clock: clock.read, probeCatchUp: WINDOW, probeEvery: 4, maxPlainRun: 64, valueTrees: false },
  );
  // A drafter wrapping the controller that does not pass `wantsStepFeatures` on.
  const wrapper: Drafter = {
    name: 'wrapper',
    needsFeatures: true,
    maxTreeSize: controller.maxTreeSize,
    reset: (seed, temperature) => controller.reset(seed, temperature),
    propose: (context, tree) => controller.propose(context, tree),
    observe: (outcome) => controller.observe(outcome),
  };
  const decoder = new SpeculativeDecoder({
    target,
    drafter: wrapped ? wrapper : controller,
    verifier: new GreedyVerifier(),
  });
  /** Per step: drafted or not, depth, accepted tokens, and the head's commits before it. */
  const steps: Array<{ drafted: boolean; depth: number; accepted: number; commitsBefore: number }> = [];
  let commitsBefore = 0;
  let committed = 0;
  const prompt = [1, 4, 2, 7];
  const result = await decoder.generate(prompt, {
    maxTokens,
    onStep: ({ tree, pathLength }) => {
      steps.push({ drafted: tree.size > 1, depth: tree.maxDepth(), accepted: pathLength - 1, commitsBefore });
      commitsBefore = head.commits.length;
      committed += pathLength;
      // The jump comes at a step whose features were not fetched, deep in a run of plain steps.
      if (committed >= jumpAt && target.asked[target.asked.length - 1] === false) plainMs = jumpedMs;
    },
  });
  expect(Array.from(result.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens })));
  return { steps, asked: target.asked, head };
}

describe('runs of plain steps far from paying', () => {
  it('fetch the features of only the rows their probes catch up on, and the drafts still follow the text', async () => {
    const { steps, asked, head } = await decode(2000);
    const plain = steps.filter((s) => !s.drafted).length;
    const skipped = asked.filter((a) => !a).length;
    expect(plain).toBeGreaterThan(1500);
    // Runs double up to 64 steps; each fetches the features of its last WINDOW + 1 steps.
    expect(skipped).toBeGreaterThan(plain / 2);
    // Every tree follows at least WINDOW + 1 steps whose features were fetched (the start trees
    // and the steps of a drafting run fetch them all), and its drafter caught up on WINDOW rows.
    for (let i = 0; i < steps.length; i++) {
      if (!steps[i]!.drafted) continue;
      for (let j = Math.max(0, i - WINDOW - 1); j < i; j++)
        expect(asked[j], `step ${j} before tree ${i}`).toBe(true);
    }
    expect(Math.max(...head.commits.slice(1))).toBeLessThanOrEqual(WINDOW);
    expect(head.commits.filter((rows) => rows === WINDOW).length).toBeGreaterThan(5);
    // The toy head drafts exactly what it is shown: every drafted path is accepted whole.
    for (const step of steps.filter((s) => s.drafted)) expect(step.accepted).toBe(step.depth);
  });

  it('leave for drafting mid-run after a plain step that fetches features, past the gap', async () => {
    // A plain step becomes four times dearer after token 1200, at a step whose features were skipped.
    const { steps, asked, head } = await decode(1600, { jumpAt: 1200, jumpedMs: 40 });
    const jump = asked.findIndex(
      (a, i) => !a && steps.slice(0, i + 1).reduce((n, s) => n + s.accepted + 1, 0) >= 1200,
    );
    const next = steps.findIndex((s, i) => i > jump && s.drafted);
    expect(next).toBeGreaterThan(jump);
    expect(next - jump).toBeLessThan(64);
    // The tree follows a step that fetched features, after ones that did not: its drafter started
    // again past the gap, on fewer rows than a probe's catch-up.
    expect(asked[next - 1]).toBe(true);
    expect(asked.slice(jump, next - 1)).toContain(false);
    expect(head.commits[steps[next]!.commitsBefore]).toBeLessThan(WINDOW);
    for (const step of steps.filter((s) => s.drafted)) expect(step.accepted).toBe(step.depth);
    // Drafting now pays, and it stays.
    expect(steps.slice(next).filter((s) => s.drafted).length).toBeGreaterThan(steps.slice(next).length / 2);
  });

  it("under a drafter that does not ask, fetch every step's features and show them all, as before", async () => {
    const { steps, asked, head } = await decode(2000, { wrapped: true });
    expect(asked.slice(0, -1)).not.toContain(false);
    expect(steps.filter((s) => !s.drafted).length).toBeGreaterThan(1500);
    expect(head.commits.filter((rows) => rows === WINDOW).length).toBeGreaterThan(5);
    for (const step of steps.filter((s) => s.drafted)) expect(step.accepted).toBe(step.depth);
  });
});
