import { DraftTree, KeepPlan } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { OnnxCausalLm } from './causal-lm-runner.js';
import { KvCache } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';

const LAYOUT: CausalLmLayout = {
  vocabSize: 5,
  hiddenSize: 4,
  layers: 2,
  kvHeads: 1,
  headDim: 2,
  maxContext: 64,
  dtype: 'float32',
  attention: 'plain',
  names: {
    inputIds: 'input_ids',
    positionIds: 'position_ids',
    attentionBias: 'attention_bias',
    pastKeys: ['past_key.0', 'past_key.1'],
    pastValues: ['past_value.0', 'past_value.1'],
    logits: 'logits',
    feature: 'feature',
    presentKeys: ['present_key.0', 'present_key.1'],
    presentValues: ['present_value.0', 'present_value.1'],
  },
};

/**
 * A stand-in session for the runner's fetch logic: it records the fetched names and returns, for
 * each, a tensor of the new rows filled with the row's input id.
 */
function recordingSession(): { session: InferenceSession; fetched: string[][] } {
  const fetched: string[][] = [];
  const session = {
    async run(feeds: Record<string, Tensor>, fetches: readonly string[]) {
      fetched.push([...fetches]);
      const ids = feeds.input_ids!.data as BigInt64Array;
      const rows = ids.length;
      const out: Record<string, Tensor> = {};
      for (const name of fetches) {
        if (name === 'greedy_token') {
          out[name] = new Tensor(
            'int32',
            Int32Array.from(ids, (id) => Number(id) + 1),
            [1, rows],
          );
          continue;
        }
        const width = name === 'logits' ? 5 : name === 'feature' ? 4 : name === 'logit_sum' ? 1 : 2;
        const data = new Float32Array(rows * width);
        for (let r = 0; r < rows; r++) data.fill(Number(ids[r]), r * width, (r + 1) * width);
        out[name] = new Tensor('float32', data, [1, rows, width]);
      }
      return out;
    },
    async release() {},
  };
  return { session: session as unknown as InferenceSession, fetched };
}

describe('OnnxCausalLm fetches', () => {
  it('leaves the logits unfetched in a prefill and fetches them to verify a tree', async () => {
    const { session, fetched } = recordingSession();
    const runner = new OnnxCausalLm(session, LAYOUT, { prefillChunk: 4 });
    await runner.prefill(Int32Array.from([7, 8, 9, 10, 11, 12]));
    expect(fetched).toEqual([
      ['present_key.0', 'present_key.1', 'present_value.0', 'present_value.1'],
      ['present_key.0', 'present_key.1', 'present_value.0', 'present_value.1'],
    ]);
    expect(runner.cachedLength).toBe(6);
    const { cache } = runner;
    if (!(cache instanceof KvCache)) throw new Error('plain attention keeps a KvCache');
    expect(Array.from(cache.keyTensor(1, 6).data as Float32Array)).toEqual([
      7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
    ]);

    const tree = new DraftTree(2);
    tree.reset(3);
    tree.add(0, 4, 0);
    const step = await runner.verify(tree);
    expect(fetched[2]).toEqual(['logits', ...fetched[0]!]);
    expect(Array.from(step.logits)).toEqual([3, 3, 3, 3, 3, 4, 4, 4, 4, 4]);
  });

  it('fetches the features of a prefill when asked, still without the logits', async () => {
    const { session, fetched } = recordingSession();
    const runner = new OnnxCausalLm(session, LAYOUT);
    const step = await runner.prefill(Int32Array.from([5, 6]), { features: true });
    expect(fetched[0]).toEqual([
      'present_key.0',
      'present_key.1',
      'present_value.0',
      'present_value.1',
      'feature',
    ]);
    expect(Array.from(step.features!)).toEqual([5, 5, 5, 5, 6, 6, 6, 6]);
  });

  it("fetches the rows' greedy tokens and logit sums instead of the logits when a verification asks", async () => {
    const layout: CausalLmLayout = {
      ...LAYOUT,
      names: { ...LAYOUT.names, greedy: { token: 'greedy_token', logitSum: 'logit_sum' } },
    };
    const { session, fetched } = recordingSession();
    const runner = new OnnxCausalLm(session, layout);
    expect(runner.greedyTokens).toBe(true);
    expect(new OnnxCausalLm(session, LAYOUT).greedyTokens).toBe(false);
    await runner.prefill(Int32Array.from([5, 6]));
    const tree = new DraftTree(2);
    tree.reset(3);
    tree.add(0, 4, 0);
    const greedy = await runner.verify(tree, { greedy: true, features: true });
    expect(fetched[1]).toEqual(['greedy_token', 'logit_sum', ...fetched[0]!, 'feature']);
    expect(greedy.logits.length).toBe(0);
    expect(Array.from(greedy.greedyTokens!)).toEqual([4, 5]);
    expect(Array.from(greedy.logitSums!)).toEqual([3, 4]);
    runner.commit(Object.assign(new KeepPlan(1), { count: 1 }));
    const full = await runner.verify(tree);
    expect(fetched[2]).toEqual(['logits', ...fetched[0]!]);
    expect(full.greedyTokens).toBeUndefined();
    expect(Array.from(full.logits)).toEqual([3, 3, 3, 3, 3, 4, 4, 4, 4, 4]);
  });

  it('scores the last row of each prefill chunk and every row of a verification, where the graph takes score_rows', async () => {
    const layout: CausalLmLayout = { ...LAYOUT, names: { ...LAYOUT.names, scoreRows: 'score_rows' } };
    const scored: number[] = [];
    const { session } = recordingSession();
    const run = session.run.bind(session);
    session.run = ((feeds: Record<string, Tensor>, fetches: readonly string[]) => {
      scored.push(Number((feeds.score_rows!.data as BigInt64Array)[0]));
      return run(feeds, fetches as never);
    }) as InferenceSession['run'];
    const runner = new OnnxCausalLm(session, layout, { prefillChunk: 4 });
    await runner.prefill(Int32Array.from([7, 8, 9, 10, 11, 12]));
    const tree = new DraftTree(3);
    tree.reset(3);
    tree.add(0, 4, 0);
    tree.add(0, 5, 0);
    await runner.verify(tree);
    expect(scored).toEqual([1, 1, 3]);
    // A graph converted without the input is fed none.
    const { session: older } = recordingSession();
    const fed: string[][] = [];
    const runOlder = older.run.bind(older);
    older.run = ((feeds: Record<string, Tensor>, fetches: readonly string[]) => {
      fed.push(Object.keys(feeds));
      return runOlder(feeds, fetches as never);
    }) as InferenceSession['run'];
    await new OnnxCausalLm(older, LAYOUT).prefill(Int32Array.from([7, 8]));
    expect(fed).toHaveLength(1);
    expect(fed[0]).toContain('input_ids');
    expect(fed[0]).not.toContain('score_rows');
  });
});
