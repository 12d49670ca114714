import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptionError } from '@treespec/core';
import { loadTokenizer } from '@treespec/tokenizers';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  convertCausalLM,
  convertEagleHead,
  frequencyVocabulary,
  TOKEN_FREQUENCIES_FORMAT,
  writeTokenFrequencies,
} from '../src/index.js';
import { headCounts, openSession, runSequence } from '../src/testing/index.js';
import { writeVariantCheckpoint } from './helpers/random-checkpoint.js';
import { headTarget, writeHeadCheckpoint } from './helpers/random-head.js';

const TINY_TARGET = join(import.meta.dirname, '../../model-tiny/checkpoints/treespec-tiny');

const TARGET = headTarget(51);

let root: string;
let tokenizerSha: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-frspec-'));
  tokenizerSha = createHash('sha256')
    .update(await readFile(join(TINY_TARGET, 'tokenizer.json')))
    .digest('hex');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The sha256 of a checkpoint's tokenizer.json, as a token-frequency file records it. */
async function tokenizerShaOf(checkpoint: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(join(checkpoint, 'tokenizer.json')))
    .digest('hex');
}

/** A frequency file whose token t was counted `counts[t]` times. */
async function frequencies(name: string, counts: number[], sha = tokenizerSha): Promise<string> {
  const path = join(root, name);
  const tokens = counts.reduce((a, b) => a + b, 0);
  await writeTokenFrequencies(path, {
    format: TOKEN_FREQUENCIES_FORMAT,
    tokenizerSha256: sha,
    source: 'test',
    tokens,
    counts,
  });
  return path;
}

describe('FR-Spec draft vocabulary', () => {
  it('keeps the K most frequent tokens of a text, ties to the lower id, in ascending id order', async () => {
    const text = 'the cat and the dog and the bird.\n\nthe end';
    const corpus = join(root, 'corpus.txt');
    await writeFile(corpus, text);
    const { map, manifest } = await frequencyVocabulary({ size: 3, corpus }, TINY_TARGET, 8192);
    const tokenizerJson = new File(
      [await readFile(join(TINY_TARGET, 'tokenizer.json'), 'utf8')],
      'tokenizer.json',
    );
    const tokenizer = await loadTokenizer({ tokenizer: tokenizerJson });
    const ids = Array.from(tokenizer.encode(text, { addSpecialTokens: false }));
    const count = (id: number) => ids.filter((i) => i === id).length;
    const expected = [...new Set(ids)]
      .sort((a, b) => count(b) - count(a) || a - b)
      .slice(0, 3)
      .sort((a, b) => a - b);
    expect(Array.from(map.targetIds)).toEqual(expected);
    expect(manifest).toMatchObject({
      size: 3,
      source: 'frequency',
      corpus: { file: 'corpus.txt', tokens: ids.length },
    });
    const covered = expected.reduce((s, id) => s + count(id), 0) / ids.length;
    expect(manifest.coverage).toBeCloseTo(covered, 4);
  });

  it('reads a token-frequency file and refuses one counted with another tokenizer or vocabulary', async () => {
    const counts = Array.from({ length: 8192 }, (_, i) => (i % 7 === 0 ? 8192 - i : 0));
    const good = await frequencies('good.json', counts);
    const { map } = await frequencyVocabulary({ size: 4, corpus: good }, TINY_TARGET, 8192);
    expect(Array.from(map.targetIds)).toEqual([0, 7, 14, 21]);

    const foreign = await frequencies('foreign.json', counts, 'a'.repeat(64));
    const e = await frequencyVocabulary({ size: 4, corpus: foreign }, TINY_TARGET, 8192).catch((x) => x);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/counted with tokenizer.json sha256 a{64} but the target's .* is [0-9a-f]{64}/);

    const short = await frequencies('short.json', counts.slice(0, 100));
    const s = await frequencyVocabulary({ size: 4, corpus: short }, TINY_TARGET, 8192).catch((x) => x);
    expect(s.message).toMatch(/cover 100 token ids but the target's vocabulary has 8192/);
  });

  it('refuses a token-frequency file cut short or of another format, never counting it as text', async () => {
    const counts = Array.from({ length: 8192 }, (_, i) => (i % 7 === 0 ? 8192 - i : 0));
    const good = await frequencies('whole.json', counts);
    const cut = join(root, 'cut.json');
    await writeFile(cut, (await readFile(good, 'utf8')).slice(0, 2000));
    const other = join(root, 'other.json');
    await writeFile(other, JSON.stringify({ format: 'nope', counts }));
    const otherName = join(root, 'other.txt');
    await writeFile(otherName, JSON.stringify({ format: 'nope', counts }));
    for (const [file, found] of [
      [cut, /found invalid JSON/],
      [other, /found format "nope"/],
      [otherName, /found format "nope"/],
    ] as const) {
      const e = await frequencyVocabulary({ size: 4, corpus: file }, TINY_TARGET, 8192).catch((x) => x);
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e.message).toMatch(found);
      expect(e.message).toMatch(/expected a token-frequency file/);
    }
  });

  it('refuses K outside [1, vocab] and an empty corpus', async () => {
    const corpus = join(root, 'small.txt');
    await writeFile(corpus, 'hello');
    for (const size of [0, 8193]) {
      const e = await frequencyVocabulary({ size, corpus }, TINY_TARGET, 8192).catch((x) => x);
      expect(e).toBeInstanceOf(OptionError);
      expect(e.message).toMatch(/an integer in \[1, 8192\]/);
    }
    const empty = join(root, 'empty.txt');
    await writeFile(empty, '');
    await expect(frequencyVocabulary({ size: 4, corpus: empty }, TINY_TARGET, 8192)).rejects.toThrow(
      OptionError,
    );
  });

  it('converts an EAGLE-2 head whose logits cover the draft vocabulary and whose top ids are its target ids', async () => {
    const dir = join(root, 'head-case');
    await writeVariantCheckpoint(join(dir, 'target'), TARGET);
    await writeHeadCheckpoint(join(dir, 'head'), TARGET, 52);
    // The random target's tokenizer has its 80 ids.
    const counts = Array.from({ length: 80 }, (_, i) => (i * 37) % 80);
    const corpus = join(dir, 'freq.json');
    await writeTokenFrequencies(corpus, {
      format: TOKEN_FREQUENCIES_FORMAT,
      tokenizerSha256: await tokenizerShaOf(join(dir, 'target')),
      source: 'test',
      tokens: counts.reduce((a, b) => a + b, 0),
      counts,
    });
    const out = join(dir, 'out');
    await convertCausalLM({ checkpoint: join(dir, 'target'), out });
    const full = await convertEagleHead({
      checkpoint: join(dir, 'head'),
      target: join(dir, 'target'),
      out,
      id: 'full',
    });
    const { model } = await convertEagleHead({
      checkpoint: join(dir, 'head'),
      target: join(dir, 'target'),
      out,
      id: 'k16',
      draftVocab: { size: 16, corpus },
    });
    expect(full.model.draftVocab).toBeUndefined();
    expect(model.draftVocab).toMatchObject({ size: 16, source: 'frequency', corpus: { file: 'freq.json' } });
    const kept = (await frequencyVocabulary({ size: 16, corpus }, join(dir, 'target'), 80)).map.targetIds;
    expect(model.draftVocab?.targetIds).toEqual(Array.from(kept));

    const tokens = [4, 9, 33, 71, 12];
    const feeds = {
      feature: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 5 * 32 }, (_, i) => Math.sin(i * 0.3)),
        [1, 5, 32],
      ),
      ...headCounts(3, 5),
    };
    const shape = { layers: 1, kvHeads: 2, headDim: 8 };
    const reduced = await runSequence(await openSession(join(out, 'k16.onnx')), shape, tokens, feeds);
    const whole = await runSequence(await openSession(join(out, 'full.onnx')), shape, tokens, feeds);
    expect(reduced.outputs.logits!.dims).toEqual([1, 5, 16]);
    const fullLogits = whole.outputs.logits!.data as Float32Array;
    const ids = reduced.outputs.top_ids!.data as BigInt64Array;
    for (let r = 0; r < 5; r++) {
      const best = Array.from(kept).sort((a, b) => fullLogits[r * 80 + b]! - fullLogits[r * 80 + a]!);
      expect(Array.from(ids.subarray(r * 3, r * 3 + 3), Number)).toEqual(best.slice(0, 3));
    }
    expect(reduced.outputs.hidden!.data).toEqual(whole.outputs.hidden!.data);
  }, 60_000);

  it('converts an EAGLE-2 head that also ranks the context tokens it is given beside its draft tokens', async () => {
    const dir = join(root, 'context-case');
    await writeVariantCheckpoint(join(dir, 'target'), TARGET);
    await writeHeadCheckpoint(join(dir, 'head'), TARGET, 52);
    const counts = Array.from({ length: 80 }, (_, i) => (i * 37) % 80);
    const corpus = await frequencies('context-freq.json', counts, await tokenizerShaOf(join(dir, 'target')));
    const out = join(dir, 'out');
    await convertCausalLM({ checkpoint: join(dir, 'target'), out });
    const convert = (id: string, extra: object) =>
      convertEagleHead({ checkpoint: join(dir, 'head'), target: join(dir, 'target'), out, id, ...extra });
    await convert('full', {});
    await convert('k16', { draftVocab: { size: 16, corpus } });
    const { model } = await convert('k16-c8', { draftVocab: { size: 16, corpus, contextTokens: 8 } });
    await convert('k16-c8-int8', {
      draftVocab: { size: 16, corpus, contextTokens: 8 },
      weightFormat: 'int8',
    });
    expect(model.draftVocab).toMatchObject({ size: 16, contextTokens: 8 });
    expect(model.inputs.contextIds).toBe('context_ids');
    const kept = new Set(model.draftVocab!.targetIds);
    const context = [79, 5, 60].filter((t) => !kept.has(t));
    expect(context.length).toBeGreaterThan(1);

    const rows = 5;
    const feeds = (ids: number[]) => ({
      feature: new ort.Tensor(
        'float32',
        Float32Array.from({ length: rows * 32 }, (_, i) => Math.sin(i * 0.3)),
        [1, rows, 32],
      ),
      ...headCounts(3, rows),
      context_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [ids.length]),
    });
    const { context_ids: _, ...plainFeeds } = feeds([]);
    const shape = { layers: 1, kvHeads: 2, headDim: 8 };
    const tokens = [4, 9, 33, 71, 12];
    const run = async (id: string, f: Record<string, ort.Tensor>) =>
      (await runSequence(await openSession(join(out, `${id}.onnx`)), shape, tokens, f)).outputs;
    const whole = await run('full', plainFeeds);
    const withContext = await run('k16-c8', feeds(context));
    const fullLogits = whole.logits!.data as Float32Array;
    expect(withContext.logits!.dims).toEqual([1, rows, 16]);
    const ids = withContext.top_ids!.data as BigInt64Array;
    const logProbs = withContext.top_log_probs!.data as Float32Array;
    const candidates = [...kept, ...context];
    expect(Array.from(ids, Number).some((t) => context.includes(t))).toBe(true);
    for (let r = 0; r < rows; r++) {
      const logit = (t: number) => fullLogits[r * 80 + t]!;
      const best = [...candidates].sort((a, b) => logit(b) - logit(a));
      expect(Array.from(ids.subarray(r * 3, r * 3 + 3), Number)).toEqual(best.slice(0, 3));
      const top = logit(best[0]!);
      const logSum = top + Math.log(candidates.reduce((sum, t) => sum + Math.exp(logit(t) - top), 0));
      for (let j = 0; j < 3; j++) expect(logProbs[r * 3 + j]!).toBeCloseTo(logit(best[j]!) - logSum, 4);
    }
    // Without context tokens it ranks its draft tokens alone, as the head without them does.
    const none = await run('k16-c8', feeds([]));
    expect(none.top_ids!.data).toEqual((await run('k16', plainFeeds)).top_ids!.data);
    // The int8 head keeps its context rows as 8-bit codes with a scale per row: the same ranking here.
    const int8 = await run('k16-c8-int8', feeds(context));
    const int8LogProbs = int8.top_log_probs!.data as Float32Array;
    for (let i = 0; i < logProbs.length; i++)
      expect(Math.abs(int8LogProbs[i]! - logProbs[i]!)).toBeLessThan(0.05);

    await expect(
      convert('too-many', { draftVocab: { size: 16, corpus, contextTokens: 65 } }),
    ).rejects.toThrow(OptionError);
    await expect(
      convertCausalLM({
        checkpoint: join(dir, 'target'),
        out,
        role: 'draft',
        id: 'draft-context',
        draftVocab: { size: 16, corpus, contextTokens: 8 },
      }),
    ).rejects.toThrow(/given only for an EAGLE-1\/2 head/);
  }, 60_000);

  it('converts a draft LM that multiplies only the draft rows and gives every other token a logit of -1e30', async () => {
    const dir = join(root, 'draft-case');
    await writeVariantCheckpoint(join(dir, 'draft'), { ...TARGET, seed: 53 });
    const counts = Array.from({ length: 80 }, (_, i) => (i * 29) % 80);
    const corpus = join(dir, 'freq.json');
    await writeTokenFrequencies(corpus, {
      format: TOKEN_FREQUENCIES_FORMAT,
      tokenizerSha256: await tokenizerShaOf(join(dir, 'draft')),
      source: 'test',
      tokens: counts.reduce((a, b) => a + b, 0),
      counts,
    });
    const out = join(dir, 'out');
    await convertCausalLM({ checkpoint: join(dir, 'draft'), out, role: 'draft', id: 'full' });
    const { model } = await convertCausalLM({
      checkpoint: join(dir, 'draft'),
      out,
      role: 'draft',
      id: 'k12',
      draftVocab: { size: 12, corpus },
    });
    expect(model.draftVocab).toMatchObject({ size: 12, source: 'frequency' });
    const kept = new Set(
      (await frequencyVocabulary({ size: 12, corpus }, join(dir, 'draft'), 80)).map.targetIds,
    );
    const shape = { layers: 2, kvHeads: 2, headDim: 8 };
    const tokens = [3, 17, 42, 8];
    const reduced = await runSequence(await openSession(join(out, 'k12.onnx')), shape, tokens);
    const whole = await runSequence(await openSession(join(out, 'full.onnx')), shape, tokens);
    expect(reduced.outputs.logits!.dims).toEqual([1, 4, 80]);
    const a = reduced.outputs.logits!.data as Float32Array;
    const b = whole.outputs.logits!.data as Float32Array;
    for (let i = 0; i < a.length; i++) {
      if (kept.has(i % 80)) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
      else expect(a[i]).toBe(Math.fround(-1e30));
    }
    expect(reduced.outputs.feature!.data).toEqual(whole.outputs.feature!.data);
    await expect(
      convertCausalLM({
        checkpoint: join(dir, 'draft'),
        out,
        role: 'target',
        draftVocab: { size: 12, corpus },
      }),
    ).rejects.toThrow(/given only for a draft LM or an EAGLE head/);
  }, 60_000);
});
