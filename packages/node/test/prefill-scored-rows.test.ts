import { join } from 'node:path';
import { writeCausalBias } from '@treespec/core';
import { causalLmLayout } from '@treespec/onnx';
import { Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { createSession } from '../src/index.js';
import { targetEntry } from './converted-target.js';
import { TINY, targetCases } from './tiny.js';

/**
 * The tiny target's `score_rows` input (manifest version 3): a prefill's lm_head covers its last
 * row only, and nothing else a call returns changes with it.
 */
describe("the tiny target's scored rows", () => {
  it('give the last row the logits of a call that scores every row, and every row the same cache entries', async () => {
    const layout = causalLmLayout(targetEntry(TINY));
    const { names, kvHeads, headDim, vocabSize } = layout;
    expect(names.scoreRows).toBe('score_rows');
    const session = await createSession(join(TINY, 'target.onnx'));
    try {
      const ids = targetCases()[0]!.prompt_ids.slice(0, 12);
      const rows = ids.length;
      const bias = new Float32Array(rows * rows);
      writeCausalBias(0, rows, bias);
      const empty = new Tensor('float32', new Float32Array(0), [1, 0, kvHeads, headDim]);
      const feeds = (scored: number): Record<string, Tensor> => {
        const f: Record<string, Tensor> = {
          [names.inputIds]: new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, rows]),
          [names.positionIds]: new Tensor(
            'int64',
            BigInt64Array.from(ids, (_, i) => BigInt(i)),
            [1, rows],
          ),
          [names.attentionBias]: new Tensor('float32', bias, [1, 1, rows, rows]),
          [names.scoreRows!]: new Tensor('int64', BigInt64Array.of(BigInt(scored)), [1]),
          [names.sampler!.uniforms]: new Tensor('float32', new Float32Array(0), [0, 2]),
          [names.sampler!.temperature]: new Tensor('float32', Float32Array.of(1), [1]),
        };
        for (const name of [...names.pastKeys, ...names.pastValues]) f[name] = empty;
        return f;
      };
      const fetches = [
        names.logits,
        names.feature,
        names.greedy!.token,
        ...names.presentKeys,
        ...names.presentValues,
      ];
      const every = await session.run(feeds(rows), fetches);
      const last = await session.run(feeds(1), fetches);
      expect(every[names.logits]!.dims).toEqual([1, rows, vocabSize]);
      expect(last[names.logits]!.dims).toEqual([1, 1, vocabSize]);
      expect(last[names.logits]!.data).toEqual(
        (every[names.logits]!.data as Float32Array).subarray((rows - 1) * vocabSize),
      );
      expect(Array.from(last[names.greedy!.token]!.data as Int32Array)).toEqual([
        (every[names.greedy!.token]!.data as Int32Array)[rows - 1],
      ]);
      for (const name of [names.feature, ...names.presentKeys, ...names.presentValues])
        expect(last[name]!.data, name).toEqual(every[name]!.data);
    } finally {
      await session.release();
    }
  });
});
