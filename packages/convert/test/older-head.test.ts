import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DraftModelStep } from '@treespec/core';
import {
  checkGraph,
  EAGLE_HEAD_IO,
  eagleHeadLayout,
  type ManifestModel,
  OnnxEagleHead,
} from '@treespec/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEagleHeadGraph } from '../src/eagle-head-graph.js';
import {
  Checkpoint,
  convertCausalLM,
  convertEagleHead,
  DEFAULT_GRAPH_OPTIONS,
  Fp32Weights,
  parseEagleHeadConfig,
} from '../src/index.js';
import { writeModelFile } from '../src/model-file.js';
import { readConfigJson } from '../src/read-config.js';
import { MASKED, maxAbsDiff, openSession } from '../src/testing/index.js';
import { type VariantSpec, writeVariantCheckpoint } from './helpers/random-checkpoint.js';
import { writeHeadCheckpoint } from './helpers/random-head.js';

const TARGET: VariantSpec = {
  architecture: 'LlamaForCausalLM',
  vocab: 80,
  hidden: 32,
  intermediate: 40,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  tie: false,
  dtype: 'BF16',
  seed: 31,
};

/** The input names of a head converted before `score_rows` existed. */
const { scoreRows: _, ...OLDER_INPUTS } = EAGLE_HEAD_IO.inputs;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-older-head-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Builds the head at `head` as it was converted before `score_rows`: every row scored. */
async function writeOlderHead(out: string, head: string, target: string): Promise<void> {
  const config = parseEagleHeadConfig((await readConfigJson(head)).json, 'config.json');
  const checkpoint = await Checkpoint.open(head);
  const base = await Checkpoint.open(target);
  await writeModelFile(out, 'older-head', (g) =>
    buildEagleHeadGraph(
      g,
      checkpoint,
      config,
      {
        embedding: base.matrix('model.embed_tokens.weight', TARGET.vocab, TARGET.hidden),
        lmHead: base.matrix('lm_head.weight', TARGET.vocab, TARGET.hidden),
        prefix: '',
        fcBias: true,
      },
      new Fp32Weights(),
      DEFAULT_GRAPH_OPTIONS,
      64,
      { inputs: OLDER_INPUTS, outputs: EAGLE_HEAD_IO.outputs },
    ),
  );
  await Promise.all([checkpoint.close(), base.close()]);
}

/** A copy of what a step holds for its rows (the runner reuses its arrays). */
function copy(step: DraftModelStep) {
  return {
    rows: step.rows,
    hidden: step.hidden.slice(0, step.rows * TARGET.hidden),
    topLogProbs: step.topLogProbs.slice(0, step.rows * step.k),
    topTokens: Array.from(step.topTokens.subarray(0, step.rows * step.k)),
  };
}

describe('OnnxEagleHead on heads with and without score_rows', () => {
  it('returns the same steps from a head converted before score_rows (scoring every row) as from one with it', async () => {
    const target = join(root, 'target');
    const head = join(root, 'head');
    const out = join(root, 'onnx');
    await writeVariantCheckpoint(target, TARGET);
    await writeHeadCheckpoint(head, TARGET, 77);
    await convertCausalLM({ checkpoint: target, out });
    const { model } = await convertEagleHead({ checkpoint: head, target, out, maxContext: 64 });
    await writeOlderHead(out, head, target);
    const older: ManifestModel = {
      ...model,
      id: 'older-head',
      file: 'older-head.onnx',
      inputs: OLDER_INPUTS,
    };

    const steps: Array<Array<ReturnType<typeof copy>>> = [];
    for (const entry of [model, older]) {
      const file = join(out, entry.file);
      const session = checkGraph(await openSession(file), entry, file);
      // Chunks of 3 rows: a commit of 5 rows runs as 3 + 2, and only the last chunk's newest row returns.
      const runner = new OnnxEagleHead(session, eagleHeadLayout(entry), { chunk: 3 });
      const features = Float32Array.from({ length: 7 * TARGET.hidden }, (_, i) => Math.sin(i * 0.41) * 2);
      const taken: Array<ReturnType<typeof copy>> = [];
      taken.push(copy(await runner.commit(Int32Array.of(4, 9, 33, 71, 12), features, 5, 3)));
      // Two draft rows at the same depth, each seeing the committed rows and itself.
      const bias = new Float32Array(2 * 7);
      for (let r = 0; r < 2; r++)
        for (let c = 0; c < 7; c++) bias[r * 7 + c] = c < 5 || c === 5 + r ? 0 : MASKED;
      const drafted = await runner.draft(
        Int32Array.of(50, 7),
        features.subarray(5 * TARGET.hidden),
        Int32Array.of(5, 5),
        bias,
        2,
        3,
      );
      taken.push(copy(drafted));
      taken.push(copy(await runner.commit(Int32Array.of(50, 7), features.subarray(5 * TARGET.hidden), 2, 3)));
      steps.push(taken);
      await runner.dispose();
    }
    const [current, before] = steps as [(typeof steps)[0], (typeof steps)[0]];
    expect(current.map((s) => s.rows)).toEqual([1, 2, 1]);
    for (let i = 0; i < current.length; i++) {
      expect(before[i]!.rows).toBe(current[i]!.rows);
      expect(before[i]!.topTokens).toEqual(current[i]!.topTokens);
      expect(maxAbsDiff(before[i]!.hidden, current[i]!.hidden)).toBeLessThan(1e-5);
      expect(maxAbsDiff(before[i]!.topLogProbs, current[i]!.topLogProbs)).toBeLessThan(1e-5);
    }
  }, 60_000);
});
