import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DraftModelStep, DraftTree, KeepPlan, planKeep } from '@treespec/core';
import {
  capturedFeatureLayout,
  causalLmLayout,
  eagle3HeadLayout,
  eagleHeadLayout,
  findModel,
  OnnxCausalLm,
  OnnxDraftLm,
  OnnxEagle3Head,
  OnnxEagleHead,
  parseManifest,
} from '@treespec/onnx';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSession } from '../src/index.js';
import { headCases, TINY, targetCases } from './tiny.js';

const manifestPath = join(TINY, 'treespec.json');
const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath);

async function target(maxContext = 256): Promise<OnnxCausalLm> {
  const model = findModel(manifest, 'target');
  return new OnnxCausalLm(await createSession(join(TINY, model.file)), causalLmLayout(model), {
    maxContext,
    maxTreeSize: 24,
  });
}

/** The target's logits after `tokens`, computed from scratch: prefill all but the last, verify it alone. */
async function freshLogits(runner: OnnxCausalLm, tokens: number[]): Promise<Float32Array> {
  runner.reset();
  if (tokens.length > 1) await runner.prefill(Int32Array.from(tokens.slice(0, -1)));
  const root = new DraftTree(1);
  root.reset(tokens[tokens.length - 1]!);
  return (await runner.verify(root)).logits.slice();
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('OnnxCausalLm on the tiny target', () => {
  // Tolerance 2e-4: logits are O(10) and fp32 sums over a different number of masked terms
  // (tree vs sequence, cache vs recompute) reorder the additions.
  const TOLERANCE = 2e-4;

  it('keeps its KV cache equal to a recomputation across random trees and accepted paths', async () => {
    const runner = await target();
    const reference = await target();
    const prompt = targetCases()[1]!.prompt_ids;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 1, maxLength: 14 }),
            fc.array(fc.nat(), { maxLength: 6 }),
          ),
          {
            minLength: 2,
            maxLength: 4,
          },
        ),
        fc.integer({ min: 3, max: 8000 }),
        async (steps, tokenSeed) => {
          runner.reset();
          const committed = [...prompt];
          await runner.prefill(Int32Array.from(committed.slice(0, -1)));
          let worst = 0;
          for (const [parentPicks, walk] of steps) {
            const tree = new DraftTree(parentPicks.length + 1);
            tree.reset(committed[committed.length - 1]!);
            for (const [k, r] of parentPicks.entries()) {
              tree.add(Math.floor(r * (k + 1)), (tokenSeed * (k + 7)) % 8192, -k);
            }
            const step = await runner.verify(tree);
            // Follow a random path down the tree, as a verifier would accept it.
            const path = [0];
            for (const c of walk) {
              const last = path[path.length - 1]!;
              const kids = [...Array(tree.size).keys()].filter((i) => i > 0 && tree.parents[i] === last);
              if (kids.length === 0) break;
              path.push(kids[c % kids.length]!);
            }
            // Each accepted node's tree logits equal the logits of the same path run as a sequence.
            const treeLogits = path.map((slot) => step.logits.slice(slot * 8192, (slot + 1) * 8192));
            runner.commit(planKeep(tree, Int32Array.from(path), path.length, new KeepPlan(tree.size)));
            for (const [k, slot] of path.entries()) {
              if (k > 0) committed.push(tree.tokens[slot]!);
              worst = Math.max(worst, maxAbsDiff(treeLogits[k]!, await freshLogits(reference, committed)));
            }
            committed.push(3 + (tokenSeed % 100));
          }
          // After the commits, the cache gives the same next-token logits as a recomputation.
          const root = new DraftTree(1);
          root.reset(committed[committed.length - 1]!);
          const cached = (await runner.verify(root)).logits.slice();
          worst = Math.max(worst, maxAbsDiff(cached, await freshLogits(reference, committed)));
          expect(worst).toBeLessThan(TOLERANCE);
        },
      ),
      { seed: 17, numRuns: 6 },
    );
    await runner.dispose();
    await reference.dispose();
  }, 120_000);

  it('exports the features of every prefilled and verified row', async () => {
    const runner = await target();
    const ids = targetCases()[0]!.prompt_ids;
    const prefill = await runner.prefill(Int32Array.from(ids.slice(0, -1)), { features: true });
    expect(prefill.features?.length).toBe((ids.length - 1) * 384);
    const tree = new DraftTree(1);
    tree.reset(ids[ids.length - 1]!);
    const step = await runner.verify(tree, { features: true });
    expect(step.features?.length).toBe(384);
    await runner.dispose();
  });
});

describe('OnnxEagleHead on the tiny head', () => {
  it('reproduces the recorded top-5 and greedy draft chains from the target features', async () => {
    const runner = await target();
    const headModel = findModel(manifest, 'eagle-head-fp32'); // the fp32 head is the one the PyTorch vectors describe
    const head = new OnnxEagleHead(
      await createSession(join(TINY, headModel.file)),
      eagleHeadLayout(headModel),
      { maxContext: 256 },
    );
    for (const c of headCases()) {
      runner.reset();
      head.reset();
      const n = c.prompt_ids.length;
      const { features } = await runner.prefill(Int32Array.from(c.prompt_ids), { features: true });
      const rows = Int32Array.from([...c.prompt_ids.slice(1), c.target_next_token]);
      // A commit returns its newest row alone: the prediction after the last prompt token.
      const first = await head.commit(rows, features!, n, 5);
      expect(first.rows).toBe(1);
      expect(Array.from(first.topTokens.subarray(0, 5))).toEqual(c.head_top5_ids);
      expect(maxAbsDiff(first.hidden.subarray(0, 16), c.head_pred_feature_last_first16)).toBeLessThan(1e-3);
      // Greedy chain: each drafted token is fed back with the head's own predicted feature.
      const chain: number[] = [];
      let token = first.topTokens[0]!;
      let feature = first.hidden.slice(0, 384);
      for (let d = 0; d < c.head_greedy_chain_ids.length; d++) {
        chain.push(token);
        const width = head.committedRows + head.draftRows + 1;
        const bias = new Float32Array(width); // sees every committed and earlier draft row
        const step = await head.draft(Int32Array.of(token), feature, Int32Array.of(n + d), bias, 1, 1);
        token = step.topTokens[0]!;
        feature = step.hidden.slice(0, 384);
      }
      expect(chain).toEqual(c.head_greedy_chain_ids);
    }
    await runner.dispose();
    await head.dispose();
  }, 60_000);
});

/**
 * Checks each scored row's logits (`width` per row; column d is token `ids[d]`, or token d without
 * `ids`): their top k, as tokens, are the step's top-k ids, their log-softmax its top log-prob.
 */
function expectLogitsMatchTopK(step: DraftModelStep, width: number, ids?: Int32Array): void {
  expect(step.logits!.length).toBe(step.rows * width);
  for (let r = 0; r < step.rows; r++) {
    const logits = step.logits!.subarray(r * width, (r + 1) * width);
    let max = -Infinity;
    for (const l of logits) max = Math.max(max, l);
    let sum = 0;
    for (const l of logits) sum += Math.exp(l - max);
    const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
    const tokens = order.slice(0, step.k).map((d) => (ids ? ids[d]! : d));
    expect(tokens).toEqual(Array.from(step.topTokens.subarray(r * step.k, (r + 1) * step.k)));
    expect(-Math.log(sum)).toBeCloseTo(step.topLogProbs[r * step.k]!, 4);
  }
}

describe('the EAGLE heads’ logits', () => {
  it('are fetched only when asked: each scored row’s log-softmax matches the in-graph top-k', async () => {
    const runner = await target();
    const headModel = findModel(manifest, 'eagle-head-fp32');
    const session = await createSession(join(TINY, headModel.file));
    const vocab = headModel.dims.vocab;
    const c = headCases()[0]!;
    const { features } = await runner.prefill(Int32Array.from(c.prompt_ids), { features: true });
    const rows = Int32Array.from([...c.prompt_ids.slice(1), c.target_next_token]);
    const n = c.prompt_ids.length;
    const topK = new OnnxEagleHead(session, eagleHeadLayout(headModel), { maxContext: 256 });
    expect((await topK.commit(rows, features!, n, 5)).logits).toBeUndefined();
    const head = new OnnxEagleHead(session, eagleHeadLayout(headModel), { maxContext: 256, logits: true });
    const first = await head.commit(rows, features!, n, 5);
    expect(Array.from(first.topTokens.subarray(0, 5))).toEqual(c.head_top5_ids);
    expectLogitsMatchTopK(first, vocab);
    // Two sibling draft rows, each seeing every committed row and itself, fed the commit's feature.
    const tokens = Int32Array.of(first.topTokens[0]!, first.topTokens[1]!);
    const feature = new Float32Array(2 * 384);
    feature.set(first.hidden.subarray(0, 384), 0);
    feature.set(first.hidden.subarray(0, 384), 384);
    const width = n + 2;
    const bias = new Float32Array(2 * width);
    bias[n + 1] = -1e30;
    bias[width + n] = -1e30;
    const step = await head.draft(tokens, feature, Int32Array.of(n, n), bias, 2, 5);
    expect(step.rows).toBe(2);
    expectLogitsMatchTopK(step, vocab);
    const drafted = Array.from(step.topTokens.subarray(0, 10));
    // A top-k drafter over a head that can sample asks it to leave the logits out: same top-k.
    const shared = new OnnxEagleHead(session, eagleHeadLayout(headModel), { maxContext: 256, logits: true });
    shared.requestLogits(false);
    const committed = await shared.commit(rows, features!, n, 5);
    expect(committed.logits).toBeUndefined();
    expect(Array.from(committed.topTokens.subarray(0, 5))).toEqual(c.head_top5_ids);
    shared.requestLogits(true);
    const again = await shared.draft(tokens, feature, Int32Array.of(n, n), bias, 2, 5);
    expectLogitsMatchTopK(again, vocab);
    expect(Array.from(again.topTokens.subarray(0, 10))).toEqual(drafted);
    // A head opened without them has none to give.
    topK.requestLogits(true);
    expect((await topK.commit(rows, features!, n, 5)).logits).toBeUndefined();
    await runner.dispose();
    await head.dispose();
  }, 60_000);

  it('cover the draft vocabulary of an EAGLE-3 head, whose target ids (its d2t) map their top-k onto the step’s', async () => {
    const targetModel = findModel(manifest, 'target');
    const runner = new OnnxCausalLm(
      await createSession(join(TINY, targetModel.file)),
      capturedFeatureLayout(targetModel),
      { maxContext: 256, maxTreeSize: 24 },
    );
    const headModel = findModel(manifest, 'eagle3-head');
    const layout = eagle3HeadLayout(headModel);
    const head = new OnnxEagle3Head(await createSession(join(TINY, headModel.file)), layout, {
      maxContext: 256,
      logits: true,
    });
    expect(head.draftTokenIds).toEqual(Int32Array.from(headModel.draftVocab!.targetIds!));
    const prompt = headCases()[0]!.prompt_ids;
    const n = prompt.length;
    const { features } = await runner.prefill(Int32Array.from(prompt), { features: true });
    const wide = runner.featureSize;
    const captured = new Float32Array((n - 1) * layout.capturedSize);
    for (let r = 0; r < n - 1; r++)
      captured.set(features!.subarray(r * wide + 384, (r + 1) * wide), r * layout.capturedSize);
    const first = await head.commit(Int32Array.from(prompt.slice(1)), captured, n - 1, 5);
    expectLogitsMatchTopK(first, 2048, head.draftTokenIds!);
    const step = await head.draft(
      Int32Array.of(first.topTokens[0]!),
      first.hidden.slice(0, 384),
      Int32Array.of(n - 1),
      new Float32Array(n),
      1,
      5,
    );
    expectLogitsMatchTopK(step, 2048, head.draftTokenIds!);
    await runner.dispose();
    await head.dispose();
  }, 60_000);

  it('give way, when asked, to the draft probabilities the graph computes: their softmax, over the draft and context tokens of the default head', async () => {
    const runner = await target();
    const c = headCases()[0]!;
    const sequence = Int32Array.from([...c.prompt_ids, c.target_next_token]);
    const { features } = await runner.prefill(sequence.subarray(0, -1), { features: true });
    const rows = sequence.subarray(1);
    const n = c.prompt_ids.length;
    for (const id of ['eagle-head', 'eagle-head-context']) {
      const model = findModel(manifest, id);
      const layout = eagleHeadLayout(model);
      const head = new OnnxEagleHead(await createSession(join(TINY, model.file)), layout, {
        maxContext: 256,
        logits: true,
      });
      head.noteContext(sequence, 0, sequence.length);
      head.requestLogits(true, true);
      const step = await head.commit(rows, features!, n, 4);
      expect(step.logits).toBeUndefined();
      const columns = step.probabilityIds ?? null;
      const width = columns?.length ?? model.dims.vocab;
      if (id === 'eagle-head') expect(columns).toBeNull();
      else {
        // Its draft tokens, then the context tokens it scores, in the order they are fed.
        const draft = layout.draftTokenIds!;
        expect(Array.from(columns!.subarray(0, draft.length))).toEqual(Array.from(draft));
        const listed = Array.from(columns!.subarray(draft.length));
        expect(listed.length).toBe(head.contextTokenCount);
        expect(listed.length).toBeGreaterThan(0);
        expect(new Set(listed)).toEqual(new Set(Array.from(sequence).filter((t) => !draft.includes(t))));
      }
      const probabilities = step.probabilities!;
      expect(probabilities.length).toBe(width);
      expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      // The best columns are the top-k, their logs its log-probabilities.
      const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b]! - probabilities[a]!);
      const best = order.slice(0, 4);
      expect(best.map((d) => (columns ? columns[d]! : d))).toEqual(Array.from(step.topTokens.subarray(0, 4)));
      for (let j = 0; j < 4; j++)
        expect(Math.log(probabilities[best[j]!]!)).toBeCloseTo(step.topLogProbs[j]!, 4);
      // Asked for the logits alone, the same call gives them, whose softmax ratios these are.
      head.reset();
      head.requestLogits(true, false);
      const again = await head.commit(rows, features!, n, 4);
      expect(again.probabilities).toBeUndefined();
      const logits = again.logits!;
      const [a, b] = order.filter((d) => d < logits.length);
      expect(Math.log(probabilities[a!]! / probabilities[b!]!)).toBeCloseTo(logits[a!]! - logits[b!]!, 3);
      await head.dispose();
    }
    await runner.dispose();
  }, 60_000);

  it('are refused on a reduced head whose manifest predates its target ids, saying to convert it again', async () => {
    const headModel = findModel(manifest, 'eagle3-head');
    const session = await createSession(join(TINY, headModel.file));
    const old = { ...eagle3HeadLayout(headModel), draftTokenIds: null };
    expect(() => new OnnxEagle3Head(session, old, { logits: true })).toThrow(
      /target ids of its 2048 draft tokens \(draftVocab\.targetIds\).*convert the head again/,
    );
    expect(new OnnxEagle3Head(session, old).draftTokenIds).toBeNull();
    await session.release();
  });
});

describe('OnnxDraftLm on the tiny draft LM', () => {
  async function draftLm(): Promise<OnnxDraftLm> {
    const model = findModel(manifest, 'draft');
    return new OnnxDraftLm(await createSession(join(TINY, model.file)), causalLmLayout(model), {
      maxContext: 256,
    });
  }

  it('keeps its cache equal to a recomputation across draft rounds that are thrown away', async () => {
    const lm = await draftLm();
    const fresh = await draftLm();
    const sequence = [...targetCases()[2]!.prompt_ids];
    await lm.commit(Int32Array.from(sequence), new Float32Array(0), sequence.length, 4);
    for (let round = 0; round < 4; round++) {
      // A round of draft rows (a chain of 3 guesses), then the committed tokens differ from them.
      for (let d = 0; d < 3; d++) {
        const width = lm.committedRows + lm.draftRows + 1;
        await lm.draft(
          Int32Array.of(100 + d),
          new Float32Array(0),
          Int32Array.of(lm.committedRows + d),
          new Float32Array(width),
          1,
          4,
        );
      }
      const accepted = [17 + round, 300 + round];
      const step = await lm.commit(Int32Array.from(accepted), new Float32Array(0), accepted.length, 4);
      sequence.push(...accepted);
      fresh.reset();
      const reference = await fresh.commit(
        Int32Array.from(sequence),
        new Float32Array(0),
        sequence.length,
        4,
      );
      // Each commit returns its newest row alone: the prediction after the last committed token.
      expect([step.rows, reference.rows]).toEqual([1, 1]);
      expect(step.logits).toHaveLength(8192);
      expect(maxAbsDiff(step.logits!, reference.logits!)).toBeLessThan(2e-4);
      expect(Array.from(step.topTokens.subarray(0, 4))).toEqual(
        Array.from(reference.topTokens.subarray(0, 4)),
      );
    }
    await lm.dispose();
    await fresh.dispose();
  }, 60_000);
});

describe('OnnxDraftLm’s in-graph top-k, entropy and softmax', () => {
  /** Each row's top-k of `logits` ([rows, vocab]) with their log-softmax, and its exact entropy, in float64. */
  function fromLogits(logits: Float32Array, vocab: number, k: number) {
    const rows = [];
    for (let r = 0; r < logits.length / vocab; r++) {
      const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
      const max = Math.max(...row);
      const sum = row.reduce((s, l) => s + Math.exp(l - max), 0);
      const logP = row.map((l) => l - max - Math.log(sum));
      const entropy = -logP.reduce((s, lp) => s + Math.exp(lp) * lp, 0);
      const top = Array.from(logP.keys())
        .sort((a, b) => logP[b]! - logP[a]!)
        .slice(0, k);
      rows.push({ top, logProbs: top.map((t) => logP[t]!), entropy });
    }
    return rows;
  }

  it('are the logits’ top-k, log-softmax and entropy, and come with the logits, their softmax or neither, as asked', async () => {
    for (const id of ['draft', 'draft-int8']) {
      const model = findModel(manifest, id);
      const layout = causalLmLayout(model);
      expect(layout.names.draftSummary).toBeDefined();
      const vocab = model.dims.vocab;
      const lm = new OnnxDraftLm(await createSession(join(TINY, model.file)), layout, { maxContext: 256 });
      const prompt = Int32Array.from(targetCases()[1]!.prompt_ids);
      const n = prompt.length;
      // Until asked otherwise, the logits.
      const first = await lm.commit(prompt, new Float32Array(0), n, 6);
      expect(first.probabilities).toBeUndefined();
      const [want] = fromLogits(first.logits!, vocab, 6);
      expect(Array.from(first.topTokens.subarray(0, 6))).toEqual(want!.top);
      for (let j = 0; j < 6; j++) expect(first.topLogProbs[j]!).toBeCloseTo(want!.logProbs[j]!, 4);
      expect(first.entropies![0]!).toBeCloseTo(want!.entropy, 3);
      // Two sibling draft rows, the logits' softmax asked for: each row's, and no logits.
      const bias = new Float32Array(2 * (n + 2));
      bias[n + 1] = -1e30;
      bias[n + 2 + n] = -1e30;
      const siblings = Int32Array.of(first.topTokens[0]!, first.topTokens[1]!);
      const draft = () => lm.draft(siblings, new Float32Array(0), Int32Array.of(n, n), bias, 2, 4);
      lm.requestLogits(true, false);
      const withLogits = await draft();
      const logits = withLogits.logits!.slice();
      const expected = fromLogits(logits, vocab, 4);
      lm.reset();
      await lm.commit(prompt, new Float32Array(0), n, 6);
      lm.requestLogits(true, true);
      const step = await draft();
      expect(step.logits).toBeUndefined();
      expect(step.probabilities!.length).toBe(2 * vocab);
      for (let r = 0; r < 2; r++) {
        const row = step.probabilities!.subarray(r * vocab, (r + 1) * vocab);
        expect(row.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
        const [t0, t1] = expected[r]!.top;
        expect(Math.log(row[t0!]! / row[t1!]!)).toBeCloseTo(
          logits[r * vocab + t0!]! - logits[r * vocab + t1!]!,
          3,
        );
        expect(Array.from(step.topTokens.subarray(r * 4, r * 4 + 4))).toEqual(expected[r]!.top);
        expect(step.entropies![r]!).toBeCloseTo(expected[r]!.entropy, 3);
      }
      // Top-k drafting asks for neither.
      lm.requestLogits(false);
      lm.reset();
      const topK = await lm.commit(prompt, new Float32Array(0), n, 6);
      expect([topK.logits, topK.probabilities]).toEqual([undefined, undefined]);
      expect(Array.from(topK.topTokens.subarray(0, 6))).toEqual(want!.top);
      await lm.dispose();
    }
  }, 60_000);
});

describe('OnnxEagleHead with context tokens on the tiny bundle’s default head', () => {
  it('ranks the noted context tokens beside its draft tokens as the full-vocabulary head does', async () => {
    const runner = await target();
    const model = findModel(manifest, 'eagle-head-context');
    const layout = eagleHeadLayout(model);
    expect(layout.contextTokens).toBe(256);
    const draftTokens = new Set(layout.draftTokenIds!);
    const head = new OnnxEagleHead(await createSession(join(TINY, model.file)), layout, { maxContext: 256 });
    const fullModel = findModel(manifest, 'eagle-head');
    const full = new OnnxEagleHead(
      await createSession(join(TINY, fullModel.file)),
      eagleHeadLayout(fullModel),
      {
        maxContext: 256,
        logits: true,
      },
    );
    let contextTop = 0;
    let compared = 0;
    for (const c of targetCases()) {
      // The prompt and the target's greedy continuation, committed to both heads a token at a time.
      const sequence = Int32Array.from([...c.prompt_ids, ...c.greedy_ids]);
      runner.reset();
      head.reset();
      head.clearContext();
      full.reset();
      const { features } = await runner.prefill(sequence, { features: true });
      const rows = sequence.subarray(1);
      const first = c.prompt_ids.length;
      for (let end = first; end < rows.length; end++) {
        const start = end === first ? 0 : end;
        const count = end === first ? first + 1 : 1;
        head.noteContext(sequence, start, end + 1);
        const feature = features!.subarray(start * 384, (start + count) * 384);
        const step = await head.commit(rows.subarray(start, start + count), feature, count, 8);
        const reference = await full.commit(rows.subarray(start, start + count), feature, count, 8);
        const noted = new Set(Array.from(sequence.subarray(0, end + 1)).filter((t) => !draftTokens.has(t)));
        expect(head.contextTokenCount).toBe(noted.size);
        const logits = reference.logits!;
        const allowed = [...draftTokens, ...noted].sort((a, b) => logits[b]! - logits[a]!);
        const top = Array.from(step.topTokens.subarray(0, 8));
        for (const t of top) expect(draftTokens.has(t) || noted.has(t)).toBe(true);
        if (top.some((t) => noted.has(t))) contextTop++;
        // Where the two best allowed tokens are clearly apart, the head's best is the full head's.
        if (logits[allowed[0]!]! - logits[allowed[1]!]! > 0.1) {
          expect(top[0]).toBe(allowed[0]);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(20);
    expect(contextTop).toBeGreaterThan(5);
    await runner.dispose();
    await head.dispose();
    await full.dispose();
  }, 120_000);
});
