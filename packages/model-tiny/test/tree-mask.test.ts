import { readFileSync } from 'node:fs';
import {
  causalBias,
  emptyCache,
  MASKED,
  maxAbsDiff,
  runDecoder,
  runSequence,
} from '@treespec/convert/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_MODEL_IDS, tinyTestVectorsPath } from '../src/node.js';
import { type LoadedModel, loadTinyModel } from './helpers/bundle.js';
import { seededRandom } from './helpers/random.js';

/**
 * A node's logits computed inside a tree and along its path as a plain sequence differ only by
 * float32 summation order (the masked columns contribute exact zeros after softmax): measured
 * below 3e-5 on logits of magnitude ~10. 2e-4 leaves headroom; a leaked sibling or a wrong
 * position changes logits by 0.1 or more.
 */
const TOLERANCE = 2e-4;

describe('tree attention bias on the converted tiny target', () => {
  const prompt = (
    JSON.parse(readFileSync(tinyTestVectorsPath(TINY_MODEL_IDS.target), 'utf8')) as {
      cases: { prompt_ids: number[] }[];
    }
  ).cases[2]!.prompt_ids;
  let target: LoadedModel;
  beforeAll(async () => {
    target = await loadTinyModel(TINY_MODEL_IDS.target);
  });
  afterAll(async () => {
    await target.session.release();
  });

  it('gives every node of random trees the logits of its root-to-node path run as a plain sequence', async () => {
    const random = seededRandom(2024);
    const vocab = target.entry.dims.vocab;
    const p = prompt.length - 1;
    const prefill = await runSequence(target.session, target.shape, prompt.slice(0, p));
    for (const size of [6, 11, 17, 24, 32]) {
      const parents = [-1];
      const tokens = [prompt[p]!];
      for (let i = 1; i < size; i++) {
        parents.push(Math.floor(random() * i));
        tokens.push(3 + Math.floor(random() * (vocab - 3)));
      }
      const depth = parents.map(() => 0);
      for (let i = 1; i < size; i++) depth[i] = depth[parents[i]!]! + 1;
      const bias = new Float32Array(size * (p + size)).fill(MASKED);
      for (let i = 0; i < size; i++) {
        bias.fill(0, i * (p + size), i * (p + size) + p);
        for (let a = i; a !== -1; a = parents[a]!) bias[i * (p + size) + p + a] = 0;
      }
      const tree = await runDecoder(
        target.session,
        target.shape,
        tokens,
        depth.map((d) => p + d),
        bias,
        prefill.cache,
      );
      const treeLogits = tree.outputs.logits!.data as Float32Array;
      for (let i = 0; i < size; i++) {
        const path: number[] = [];
        for (let a = i; a !== -1; a = parents[a]!) path.unshift(tokens[a]!);
        const plain = await runDecoder(
          target.session,
          target.shape,
          path,
          path.map((_, k) => p + k),
          causalBias(p, path.length),
          prefill.cache,
        );
        const last = (plain.outputs.logits!.data as Float32Array).subarray(
          (path.length - 1) * vocab,
          path.length * vocab,
        );
        expect(
          maxAbsDiff(treeLogits.subarray(i * vocab, (i + 1) * vocab), last),
          `tree of ${size}, node ${i}`,
        ).toBeLessThan(TOLERANCE);
      }
    }
  });

  it("changes a node's logits when a sibling is made visible (the bias is really applied)", async () => {
    const vocab = target.entry.dims.vocab;
    const tokens = prompt.slice(0, 3);
    const parents = [-1, 0, 0];
    const run = async (leak: boolean) => {
      const bias = new Float32Array(9).fill(MASKED);
      for (let i = 0; i < 3; i++) for (let a = i; a !== -1; a = parents[a]!) bias[i * 3 + a] = 0;
      if (leak) bias[2 * 3 + 1] = 0;
      const { outputs } = await runDecoder(
        target.session,
        target.shape,
        tokens,
        [0, 1, 1],
        bias,
        emptyCache(target.shape.layers),
      );
      return (outputs.logits!.data as Float32Array).slice(2 * vocab, 3 * vocab);
    };
    expect(maxAbsDiff(await run(false), await run(true))).toBeGreaterThan(0.05);
  });
});
