import { type DraftModel, MASKED_BIAS } from '@treespec/core';

/** What one call of a draft model returned, copied out of the runner's reused buffers. */
export interface DraftCall {
  readonly call: string;
  readonly topTokens: number[];
  readonly topLogProbs: Float32Array;
  /** The scored rows' hidden states (EAGLE heads), or their logits (a draft LM). */
  readonly values: Float32Array;
}

const K = 3;

/** A seeded generator of uniform integers below `n` (mulberry32). */
function seeded(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * Drives `model` as a drafter would, from seeded tokens and features: a prompt committed in
 * chunks, then rounds of two draft calls (each row attending to the committed rows, a seeded
 * subset of the round's earlier draft rows, and itself) followed by a commit of new rows, which
 * drops the round's drafts. Returns every call's outputs, to compare two caches call by call.
 */
export async function runDraftScript(model: DraftModel, seed: number): Promise<DraftCall[]> {
  const random = seeded(seed);
  const vocab = Math.min(model.vocabSize, 4000);
  const calls: DraftCall[] = [];
  const record = (call: string, step: Awaited<ReturnType<DraftModel['commit']>>) => {
    const [values, width] =
      step.hidden.length > 0
        ? [step.hidden, model.featureSize]
        : [step.logits ?? new Float32Array(0), model.vocabSize];
    calls.push({
      call,
      topTokens: Array.from(step.topTokens.subarray(0, step.rows * step.k)),
      topLogProbs: Float32Array.from(step.topLogProbs.subarray(0, step.rows * step.k)),
      values: Float32Array.from(values.subarray(0, step.rows * width)),
    });
  };
  const features = (rows: number, width: number) =>
    Float32Array.from({ length: rows * width }, () => (random(2001) - 1000) / 1000);
  const tokens = (rows: number) => Int32Array.from({ length: rows }, () => 7 + random(vocab - 7));
  const commitWidth = (model as { commitFeatureSize?: number }).commitFeatureSize ?? model.featureSize;
  model.reset();
  record('prompt', await model.commit(tokens(7), features(7, commitWidth), 7, K));
  for (let round = 0; round < 3; round++) {
    const committed = model.committedRows;
    for (const [call, rows] of [
      ['draft 1', 2],
      ['draft 2', 3],
    ] as const) {
      const past = committed + model.draftRows;
      const width = past + rows;
      const bias = new Float32Array(rows * width).fill(MASKED_BIAS);
      const positions = new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        bias.fill(0, r * width, r * width + committed);
        let depth = 0;
        for (let d = committed; d < past; d++) {
          if (random(2) === 1) {
            bias[r * width + d] = 0;
            depth++;
          }
        }
        bias[r * width + past + r] = 0;
        positions[r] = committed + depth;
      }
      record(
        `round ${round} ${call}`,
        await model.draft(tokens(rows), features(rows, model.featureSize), positions, bias, rows, K),
      );
    }
    const accepted = 1 + random(3);
    record(
      `round ${round} commit`,
      await model.commit(tokens(accepted), features(accepted, commitWidth), accepted, K),
    );
  }
  return calls;
}
