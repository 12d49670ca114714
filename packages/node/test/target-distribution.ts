import { DraftTree } from '@treespec/core';
import type { TextGenerator } from '@treespec/generator';

/** Row `row` of `logits` as a distribution at `temperature`, in float64. */
export function softmax(
  logits: Float32Array,
  temperature: number,
  row = 0,
  vocab = logits.length,
): Float64Array {
  const x = logits.subarray(row * vocab, (row + 1) * vocab);
  let max = Number.NEGATIVE_INFINITY;
  for (const l of x) max = Math.max(max, l);
  const p = Float64Array.from(x, (l) => Math.exp((l - max) / temperature));
  const sum = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / sum);
}

/**
 * The target's next-token distribution at `temperature` after `ids`: the prefix prefilled, the last
 * token verified alone.
 */
export async function nextDistribution(
  generator: TextGenerator,
  ids: readonly number[],
  temperature: number,
): Promise<Float64Array> {
  const { target } = generator;
  target.reset();
  await target.prefill(Int32Array.from(ids.slice(0, -1)));
  const root = new DraftTree(1);
  root.reset(ids[ids.length - 1]!);
  const step = await target.verify(root);
  return softmax(step.logits, temperature, 0, target.vocabSize);
}

/**
 * The exact distribution of the first two tokens sampled at `temperature` after `ids`, for a
 * chi-square test: a cell `t1,t2` for each first token of probability at least `topFirst`, and
 * the rest pooled into `other`; `top` holds those first tokens.
 */
export async function firstTwoTokens(
  generator: TextGenerator,
  ids: readonly number[],
  temperature: number,
  topFirst: number,
): Promise<{ expected: Map<string, number>; top: Set<number> }> {
  const first = await nextDistribution(generator, ids, temperature);
  const expected = new Map<string, number>();
  const top = new Set<number>();
  let other = 0;
  for (let t1 = 0; t1 < first.length; t1++) {
    if (first[t1]! < topFirst) {
      other += first[t1]!;
      continue;
    }
    top.add(t1);
    const second = await nextDistribution(generator, [...ids, t1], temperature);
    for (let t2 = 0; t2 < second.length; t2++) expected.set(`${t1},${t2}`, first[t1]! * second[t2]!);
  }
  expected.set('other', other);
  return { expected, top };
}

/** An 11-node draft tree of three levels under `root`, its tokens spread over the vocabulary. */
export function branchingTree(root = 1): DraftTree {
  const tree = new DraftTree(12);
  tree.reset(root);
  for (const [i, parent] of [0, 0, 0, 1, 1, 2, 3, 3, 5, 6, 8].entries()) tree.add(parent, 300 + 37 * i, 0);
  return tree;
}
