import { readFileSync } from 'node:fs';
import { copyFile, link, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertEagleHead } from '@treespec/convert';
import { chiSquareTest } from '@treespec/core/testing';
import type { TextGenerator } from '@treespec/generator';
import { tinyCheckpointDirectory } from '@treespec/model-tiny/node';
import { findModel, type ModelRole, parseManifest } from '@treespec/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { firstTwoTokens } from './target-distribution.js';
import { devPrompts, TINY } from './tiny.js';

/**
 * Sampled draft trees on the real tiny model: the draft LM, the EAGLE-2 head, or the EAGLE-3 head
 * (over its draft vocabulary of 2048 tokens, mapped through its d2t; q = 0 elsewhere), draws each
 * node's children from its own distribution at the generation's temperature and the target accepts
 * them with min(1, p/q), p from the softmax weights the target computes for each row in its graph. The first two sampled tokens must follow the target's own distribution at
 * that temperature (1 for two of the drafters, 0.6 for the other two), which is computed exactly
 * from the target's logits (first tokens below 4 % pooled into one cell). SAMPLES generations with fixed
 * seeds, Pearson's chi-square; false-alarm rate ALPHA = 1e-3 (reproducible: the seeds are fixed).
 */
const SAMPLES = 400;
const ALPHA = 1e-3;
const TOP_FIRST = 0.04;

/** The FR-Spec head: the tiny EAGLE-2 head over the 2048 most frequent tokens the target generated. */
const FR_SPEC_ID = 'eagle-head-k2048';

/** A copy of the tiny bundle (model files hard-linked) with the FR-Spec EAGLE-2 head converted into it. */
async function bundleWithFrSpecHead(dir: string): Promise<void> {
  for (const file of await readdir(TINY)) {
    if (file.endsWith('.onnx') || file.endsWith('.onnx.data'))
      await link(join(TINY, file), join(dir, file)).catch(() => copyFile(join(TINY, file), join(dir, file)));
    else await copyFile(join(TINY, file), join(dir, file));
  }
  await convertEagleHead({
    checkpoint: tinyCheckpointDirectory('eagle-head'),
    target: tinyCheckpointDirectory('target'),
    out: dir,
    id: FR_SPEC_ID,
    weightFormat: 'int8',
    draftVocab: {
      size: 2048,
      corpus: join(tinyCheckpointDirectory('target'), '..', 'treespec-tiny-generated-frequencies.json'),
    },
  });
}

/** The target ids of the draft vocabulary of the bundle's first model of `role`, or null over the whole vocabulary. */
function draftVocabulary(dir: string, role: ModelRole, id?: string): Set<number> | null {
  const path = join(dir, 'treespec.json');
  const manifest = parseManifest(readFileSync(path, 'utf8'), path);
  const model = id ? findModel(manifest, id, path) : manifest.models.find((m) => m.role === role)!;
  return model.draftVocab ? new Set(model.draftVocab.targetIds) : null;
}

/**
 * The drafters tried: the draft LM, the EAGLE-2 head over the whole vocabulary, the bundle's
 * default EAGLE-2 head (1024 draft tokens and up to 256 tokens of the generation's context, whose
 * distribution at temperature 1 the graph computes over both), the EAGLE-3 head, and an FR-Spec
 * EAGLE-2 head.
 */
const CASES = [
  { name: 'draft-lm', drafter: 'draft-lm', role: 'draft', temperature: 1 },
  {
    name: 'eagle2 with context tokens (the bundle’s default head)',
    drafter: 'eagle2',
    role: 'eagle-head',
    model: 'eagle-head-context',
    temperature: 1,
    context: true,
  },
  { name: 'eagle2', drafter: 'eagle2', role: 'eagle-head', model: 'eagle-head', temperature: 0.6 },
  { name: 'eagle3 (d2t, 2048 draft tokens)', drafter: 'eagle3', role: 'eagle3-head', temperature: 1 },
  {
    name: 'eagle2 FR-Spec (2048 draft tokens)',
    drafter: 'eagle2',
    role: 'eagle-head',
    frSpec: true,
    temperature: 0.6,
  },
] as const;

describe.each(CASES)('sampled draft trees of $name on the real tiny model', (c) => {
  let generator: TextGenerator;
  let dir = TINY;
  /** Target ids the head drafts over; null for the whole vocabulary. */
  let vocabulary: Set<number> | null;
  beforeAll(async () => {
    if ('frSpec' in c) {
      dir = await mkdtemp(join(tmpdir(), 'treespec-frspec-'));
      await bundleWithFrSpecHead(dir);
    }
    const model = 'frSpec' in c ? FR_SPEC_ID : 'model' in c ? c.model : undefined;
    vocabulary = draftVocabulary(dir, c.role, model);
    generator = await loadTreespec(dir, {
      drafter: c.drafter,
      ...(model ? { models: [model] } : {}),
      draftSampling: true,
      budget: 'fixed',
      tuningCache: false,
    });
  }, 60_000);
  afterAll(async () => {
    await generator.dispose();
    if (dir !== TINY) await rm(dir, { recursive: true, force: true });
  });

  it('draft over the whole vocabulary, or the draft tokens of a reduced head', () => {
    const reduced = 'context' in c ? 1024 : c.role === 'eagle3-head' || 'frSpec' in c ? 2048 : null;
    expect(vocabulary?.size ?? null).toBe(reduced);
  });

  it(`sample the target distribution exactly at temperature ${c.temperature} (chi-square, alpha 1e-3)`, async () => {
    const prompt = 'The history of the city';
    const probe = await generator.generate(prompt, { maxTokens: 1 });
    const ids = Array.from(probe.promptTokens);
    const { expected, top } = await firstTwoTokens(generator, ids, c.temperature, TOP_FIRST);
    const counts = new Map<string, number>();
    let steps = 0;
    let draftedSteps = 0;
    let sampledSteps = 0;
    let tokens = 0;
    let outsideDraftVocabulary = 0;
    /** Drafted tokens outside their tree's draft support. */
    let outsideSupport = 0;
    /**
     * Drafted trees whose support is not the head's draft vocabulary (or null over the whole one);
     * for a head with context tokens, whose support does not hold its draft vocabulary, or holds
     * tokens the generation has not seen.
     */
    let otherSupport = 0;
    /** Trees drawn over context tokens beside the draft vocabulary. */
    let contextSupport = 0;
    // What the verifications of drafted trees fetch: the rows' weights computed by the target.
    const fetched = new Set<string>();
    const target = generator.target;
    const verify = target.verify.bind(target);
    target.verify = async (tree, options) => {
      const step = await verify(tree, options);
      if (tree.size > 1)
        fetched.add(step.sampleWeights ? 'weights' : step.logits.length > 0 ? 'logits' : 'tokens');
      return step;
    };
    for (let i = 0; i < SAMPLES; i++) {
      // Tokens of the generation so far: the context a head notes before drafting.
      const seen = new Set(ids);
      // Three tokens, so that the first step drafts two deep (no deeper than the tokens left, less
      // the bonus) and both tokens counted can come from accepted drafts.
      const r = await generator.generate(prompt, {
        maxTokens: 3,
        temperature: c.temperature,
        seed: 1 + i,
        onStep: (e) => {
          steps++;
          if (e.tree.size > 1) draftedSteps++;
          if (e.tree.candidateKind === 'sampled-distinct') sampledSteps++;
          const support = e.tree.draftSupport;
          const supported = support ? new Set(support) : null;
          for (let n = 1; n < e.tree.size; n++) {
            if (vocabulary && !vocabulary.has(e.tree.tokens[n]!)) outsideDraftVocabulary++;
            if (supported && !supported.has(e.tree.tokens[n]!)) outsideSupport++;
          }
          if (e.tree.size > 1 && 'context' in c) {
            const beside = support ? support.filter((t) => !vocabulary!.has(t)) : [];
            if (beside.length > 0) contextSupport++;
            if (!support || !subsetOf(vocabulary!, supported!) || !beside.every((t) => seen.has(t)))
              otherSupport++;
          } else if (e.tree.size > 1 && !sameTokens(support, vocabulary)) otherSupport++;
          for (let k = 1; k < e.pathLength; k++) seen.add(e.tree.tokens[e.path[k]!]!);
          seen.add(e.bonusToken);
        },
      });
      tokens += r.tokens.length;
      const [t1, t2] = Array.from(r.tokens);
      const key = top.has(t1!) ? `${t1},${t2}` : 'other';
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    target.verify = verify;
    const test = chiSquareTest(counts, expected, SAMPLES);
    expect([...fetched]).toEqual(['weights']);
    expect(draftedSteps).toBeGreaterThanOrEqual(SAMPLES);
    expect(sampledSteps).toBe(draftedSteps);
    expect(outsideSupport).toBe(0);
    if ('context' in c) {
      // Drawn over the draft tokens and the context's, as its top-k ranks them: some of each.
      expect(outsideDraftVocabulary).toBeGreaterThan(0);
      expect(contextSupport).toBe(draftedSteps);
    } else expect(outsideDraftVocabulary).toBe(0);
    // The verifier reads a rejected row over the draft support alone.
    expect(otherSupport).toBe(0);
    // More than one token a step: sampled drafts do get accepted.
    expect(tokens / steps).toBeGreaterThan(1.2);
    expect(test.degreesOfFreedom).toBeGreaterThanOrEqual(4);
    expect(test.pValue).toBeGreaterThan(ALPHA);
  }, 400_000);

  it('keep greedy generations on top-k trees: a seedless generation drafts no sampled tree and decodes plainly’s tokens', async () => {
    for (const { prompt } of devPrompts(2)) {
      const kinds = new Set<string>();
      const spec = await generator.generate(prompt, {
        maxTokens: 24,
        onStep: (e) => kinds.add(e.tree.candidateKind),
      });
      const plain = await generator.generate(prompt, { maxTokens: 24, plain: true });
      expect([...kinds]).toEqual(['deterministic']);
      expect(Array.from(spec.tokens)).toEqual(Array.from(plain.tokens));
      expect(spec.stats.steps).toBeLessThan(24);
    }
  }, 60_000);
});

/**
 * The drafted trees of three seeded temperature-1 generations (24 tokens each) of a sampling EAGLE-2
 * load with `load` options, each generation with `tree` when given: every step's tree kind and the
 * parents and depths of its nodes.
 */
async function drafted(
  load: Parameters<typeof loadTreespec>[1],
  tree?: { topK: number; frontier: number; depth: number; totalTokens: number },
): Promise<Array<{ kind: string; parents: number[]; depths: number[] }>> {
  const generator = await loadTreespec(TINY, {
    drafter: 'eagle2',
    draftSampling: true,
    tuningCache: false,
    ...load,
  });
  const trees: Array<{ kind: string; parents: number[]; depths: number[] }> = [];
  try {
    for (const [i, { prompt }] of devPrompts(3).entries()) {
      await generator.generate(prompt, {
        maxTokens: 24,
        temperature: 1,
        seed: 7 + i,
        ...(tree ? { tree } : {}),
        onStep: (e) => {
          if (e.tree.size < 2) return;
          trees.push({
            kind: e.tree.candidateKind,
            parents: Array.from(e.tree.parents.subarray(0, e.tree.size)),
            depths: Array.from(e.tree.depths.subarray(0, e.tree.size)),
          });
        },
      });
    }
  } finally {
    await generator.dispose();
  }
  return trees;
}

describe("a caller's tree options bound the sampled trees on the real tiny model", () => {
  it('draws a chain of two under a fixed budget of one draw per node, two levels and three nodes', async () => {
    const trees = await drafted({ budget: 'fixed', tree: { topK: 1, depth: 1, totalTokens: 3 } });
    expect(trees.length).toBeGreaterThan(10);
    for (const t of trees) {
      expect(t.kind).toBe('sampled-distinct');
      expect(t.parents).toEqual([-1, 0, 1].slice(0, t.parents.length));
    }
  }, 60_000);

  it("draws a generation's own tree when one is asked for, sampled within it", async () => {
    const trees = await drafted({}, { topK: 2, frontier: 1, depth: 0, totalTokens: 3 });
    expect(new Set(trees.map((t) => t.kind))).toEqual(new Set(['sampled-distinct']));
    expect(trees.every((t) => t.depths.slice(1).every((d) => d === 1))).toBe(true);
    expect(Math.max(...trees.map((t) => t.parents.length))).toBe(3);
  }, 60_000);
});

/** Whether every token of `part` is in `whole`. */
function subsetOf(part: Set<number>, whole: Set<number>): boolean {
  for (const token of part) if (!whole.has(token)) return false;
  return true;
}

/** Whether a tree's draft support holds exactly `vocabulary`'s tokens (both null: the whole vocabulary). */
function sameTokens(support: Int32Array | null, vocabulary: Set<number> | null): boolean {
  if (support === null || vocabulary === null) return support === null && vocabulary === null;
  return support.length === vocabulary.size && support.every((token) => vocabulary.has(token));
}
