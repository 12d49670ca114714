import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DraftModelStep } from '@treespec/core';
import {
  CAUSAL_LM_IO,
  causalLmLayout,
  checkGraph,
  EAGLE_HEAD_IO,
  eagleHeadLayout,
  type ManifestModel,
  OnnxDraftLm,
  OnnxEagleHead,
} from '@treespec/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCausalLMGraph } from '../src/causal-lm-graph.js';
import { buildEagleHeadGraph } from '../src/eagle-head-graph.js';
import {
  Checkpoint,
  convertCausalLM,
  convertEagleHead,
  DEFAULT_GRAPH_OPTIONS,
  Fp32Weights,
  parseDecoderConfig,
  parseEagleHeadConfig,
} from '../src/index.js';
import { writeModelFile } from '../src/model-file.js';
import { readConfigJson } from '../src/read-config.js';
import { MASKED, maxAbsDiff, openSession } from '../src/testing/index.js';
import { writeVariantCheckpoint } from './helpers/random-checkpoint.js';
import { headTarget, writeHeadCheckpoint } from './helpers/random-head.js';

const TARGET = headTarget(31);

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

/** Builds the draft LM at `directory` as it was converted before `score_rows`: every row's logits. */
async function writeOlderDraftLm(out: string, directory: string): Promise<void> {
  const config = parseDecoderConfig((await readConfigJson(directory)).json, 'config.json');
  const checkpoint = await Checkpoint.open(directory);
  await writeModelFile(out, 'older-draft', (g) =>
    buildCausalLMGraph(g, checkpoint, config, new Fp32Weights(), DEFAULT_GRAPH_OPTIONS, 64, CAUSAL_LM_IO),
  );
  await checkpoint.close();
}

/** A copy of what a step holds for its rows (the runner reuses its arrays). */
function copy(step: DraftModelStep) {
  return {
    rows: step.rows,
    hidden: step.hidden.slice(0, step.rows * TARGET.hidden),
    topLogProbs: step.topLogProbs.slice(0, step.rows * step.k),
    topTokens: Array.from(step.topTokens.subarray(0, step.rows * step.k)),
    logits: step.logits?.slice(0, step.rows * TARGET.vocab) ?? new Float32Array(0),
    entropies: Array.from(step.entropies?.subarray(0, step.rows) ?? []),
  };
}

type Copied = ReturnType<typeof copy>;

/** Expects two runs' steps to agree row for row (summation order aside). */
function expectSameSteps(current: Copied[], before: Copied[]): void {
  expect(before.map((s) => s.rows)).toEqual(current.map((s) => s.rows));
  for (let i = 0; i < current.length; i++) {
    expect(before[i]!.topTokens).toEqual(current[i]!.topTokens);
    expect(maxAbsDiff(before[i]!.hidden, current[i]!.hidden)).toBeLessThan(1e-5);
    expect(maxAbsDiff(before[i]!.topLogProbs, current[i]!.topLogProbs)).toBeLessThan(1e-5);
    expect(maxAbsDiff(before[i]!.logits, current[i]!.logits)).toBeLessThan(1e-5);
    expect(maxAbsDiff(before[i]!.entropies, current[i]!.entropies)).toBeLessThan(1e-5);
  }
}

/** Two draft rows at position 5, each seeing the 5 committed rows and itself. */
function siblingBias(): Float32Array {
  const bias = new Float32Array(2 * 7);
  for (let r = 0; r < 2; r++) for (let c = 0; c < 7; c++) bias[r * 7 + c] = c < 5 || c === 5 + r ? 0 : MASKED;
  return bias;
}

describe('draft models with and without score_rows', () => {
  it('OnnxEagleHead returns the same steps from a head converted before score_rows (scoring every row) as from one with it', async () => {
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

    const steps: Copied[][] = [];
    for (const entry of [model, older]) {
      const file = join(out, entry.file);
      const session = checkGraph(await openSession(file), entry, file);
      // Chunks of 3 rows: a commit of 5 rows runs as 3 + 2, and only the last chunk's newest row returns.
      const runner = new OnnxEagleHead(session, eagleHeadLayout(entry), { chunk: 3 });
      const features = Float32Array.from({ length: 7 * TARGET.hidden }, (_, i) => Math.sin(i * 0.41) * 2);
      const taken: Copied[] = [];
      taken.push(copy(await runner.commit(Int32Array.of(4, 9, 33, 71, 12), features, 5, 3)));
      const drafted = await runner.draft(
        Int32Array.of(50, 7),
        features.subarray(5 * TARGET.hidden),
        Int32Array.of(5, 5),
        siblingBias(),
        2,
        3,
      );
      taken.push(copy(drafted));
      taken.push(copy(await runner.commit(Int32Array.of(50, 7), features.subarray(5 * TARGET.hidden), 2, 3)));
      steps.push(taken);
      await runner.dispose();
    }
    const [current, before] = steps as [Copied[], Copied[]];
    expect(current.map((s) => s.rows)).toEqual([1, 2, 1]);
    expectSameSteps(current, before);
  }, 60_000);

  it("OnnxDraftLm returns the same steps from a draft LM converted before score_rows (every row's logits) as from one with it", async () => {
    const directory = join(root, 'draft');
    const out = join(root, 'draft-onnx');
    await writeVariantCheckpoint(directory, { ...TARGET, seed: 32 });
    const { model } = await convertCausalLM({ checkpoint: directory, out, role: 'draft', maxContext: 64 });
    expect(model.inputs.scoreRows).toBe('score_rows');
    await writeOlderDraftLm(out, directory);
    const older: ManifestModel = {
      ...model,
      id: 'older-draft',
      file: 'older-draft.onnx',
      inputs: CAUSAL_LM_IO.inputs,
      outputs: CAUSAL_LM_IO.outputs,
    };

    const steps: Copied[][] = [];
    for (const entry of [model, older]) {
      const file = join(out, entry.file);
      const session = checkGraph(await openSession(file), entry, file);
      const runner = new OnnxDraftLm(session, causalLmLayout(entry), { chunk: 3 });
      const none = new Float32Array(0);
      const taken: Copied[] = [];
      taken.push(copy(await runner.commit(Int32Array.of(4, 9, 33, 71, 12), none, 5, 3)));
      taken.push(
        copy(await runner.draft(Int32Array.of(50, 7), none, Int32Array.of(5, 5), siblingBias(), 2, 3)),
      );
      taken.push(copy(await runner.commit(Int32Array.of(50, 7), none, 2, 3)));
      steps.push(taken);
      await runner.dispose();
    }
    const [current, before] = steps as [Copied[], Copied[]];
    expect(current.map((s) => s.rows)).toEqual([1, 2, 1]);
    expect(current.map((s) => s.logits.length)).toEqual([80, 160, 80]);
    expectSameSteps(current, before);
  }, 60_000);
});
