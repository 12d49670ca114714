import type { Manifest, ManifestModel } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import {
  type BundleOptions,
  bundleModelDrafter,
  DRAFTERS,
  HEAD_PROMPT_ROWS,
  MAX_CORPUS_LENGTH,
  MODEL_FREE_BUDGETS,
  plan,
  SAMPLED_TREES_FROM,
  sampledTreesFrom,
} from '../src/index.js';
import { tinyManifest } from './tiny.js';

describe('plan', () => {
  it('loads the models of the drafters asked for, and only those', async () => {
    const manifest = await tinyManifest();
    const ids = (options: BundleOptions) => plan(manifest, options).models.map((m) => m.id);
    expect(ids({})).toEqual(['target', 'eagle-head-context']);
    expect(ids({ drafter: 'none' })).toEqual(['target']);
    expect(ids({ drafter: 'suffix' })).toEqual(['target']);
    expect(ids({ drafter: 'draft-lm' })).toEqual(['target', 'draft-int8']);
    expect(ids({ drafter: 'hybrid', hybridBase: 'draft-lm' })).toEqual(['target', 'draft-int8']);
    expect(ids({ drafter: 'hybrid', drafters: ['draft-lm'] })).toEqual([
      'target',
      'eagle-head-context',
      'draft-int8',
    ]);
  });

  it("takes the bundle's model drafter as the hybrid's base: an EAGLE head, else an EAGLE-3 head, else a draft LM", async () => {
    const manifest = await tinyManifest();
    const without = (...roles: string[]): Manifest => ({
      ...manifest,
      models: manifest.models.filter((m) => !roles.includes(m.role)),
    });
    const hybridModels = (m: Manifest) =>
      plan(m, { drafter: 'hybrid' })
        .models.map((x) => x.role)
        .slice(1);
    expect(hybridModels(manifest)).toEqual(['eagle-head']);
    expect(hybridModels(without('eagle-head'))).toEqual(['eagle3-head']);
    expect(hybridModels(without('eagle-head', 'eagle3-head'))).toEqual(['draft']);
    // Naming the hybrid's base keeps the device's hybrid the default, whatever model it loads.
    expect(plan(manifest, { hybridBase: 'draft-lm' }).drafters).toEqual(['hybrid']);
    expect(plan(manifest, { hybridBase: 'draft-lm' }).warnings).toEqual([]);
    expect(plan(manifest, { hybridBase: 'draft-lm' }, 'wasm').drafters).toEqual(['lookup']);
    expect(bundleModelDrafter(without('eagle-head').models)).toBe('eagle3');
    expect(bundleModelDrafter(without('eagle-head', 'eagle3-head', 'draft').models)).toBeUndefined();
  });

  it('warns of a corpus that no drafter of the load reads', async () => {
    const manifest = await tinyManifest();
    const corpus = ['a document'];
    expect(plan(manifest, { drafter: 'lookup', drafters: ['eagle2'], corpus }).warnings).toEqual([
      'treespec: option "corpus" is read only by the suffix and hybrid drafters, and this load has lookup, eagle2; it is ignored',
    ]);
    expect(plan(manifest, { drafter: 'suffix', corpus }).warnings).toEqual([]);
    expect(plan(manifest, { corpus }).warnings).toEqual([]);
  });

  it('warns of each option that no drafter of the load reads, and of none that one reads', async () => {
    const manifest = await tinyManifest();
    const unread = (options: BundleOptions) =>
      plan(manifest, options).warnings.map((w) => w.match(/option "(\w+)"/)?.[1]);
    const given: BundleOptions = {
      tree: { depth: 2 },
      draftTree: { topK: 2, depth: undefined },
      headPromptRows: 8,
      adaptive: 'depth',
      draftSampling: false,
      hybridBase: 'eagle2',
      hybridPolicy: 'match',
    };
    expect(unread({ drafter: 'none', ...given })).toEqual([
      'tree',
      'draftTree',
      'headPromptRows',
      'adaptive',
      'draftSampling',
      'hybridBase',
      'hybridPolicy',
    ]);
    expect(unread({ drafter: 'eagle2', ...given })).toEqual(['draftTree', 'hybridBase', 'hybridPolicy']);
    expect(unread({ drafter: 'hybrid', ...given, hybridBase: 'draft-lm' })).toEqual([
      'tree',
      'headPromptRows',
    ]);
    expect(unread({ drafter: 'lookup', drafters: ['hybrid', 'draft-lm'], ...given })).toEqual([]);
    expect(unread({ drafter: 'lookup', tree: {}, adaptive: 'none' })).toEqual([]);
  });

  it('refuses a corpus document that is not text, and a corpus beyond its limit', async () => {
    const manifest = await tinyManifest();
    expect(() => plan(manifest, { drafter: 'suffix', corpus: ['text', 'GIF\0'] })).toThrow(
      'option "corpus[1]" must be text; got "a document that has a NUL character at character 3 (a binary file, or text in UTF-16?)"',
    );
    const ids = { length: MAX_CORPUS_LENGTH - 3 } as ArrayLike<number>;
    expect(plan(manifest, { drafter: 'suffix', corpus: [ids, 'abc'] }).corpus).toHaveLength(2);
    expect(() => plan(manifest, { drafter: 'suffix', corpus: [ids, 'abcd'] })).toThrow(
      `option "corpus" must be at most ${MAX_CORPUS_LENGTH} characters or token ids in all; got "2 documents of ${MAX_CORPUS_LENGTH + 1} in all"`,
    );
  });

  it('warns of a context window asked above what the models cover, and allocates what they cover', async () => {
    const manifest = await tinyManifest();
    const planned = plan(manifest, { maxContext: 100_000 });
    expect(planned.maxContext).toBe(2048);
    expect(planned.warnings).toEqual([
      'treespec: option "maxContext" (100000) is more than the 2048 positions the models loaded cover; the context window is 2048',
    ]);
    expect(plan(manifest, { maxContext: 2048 }).warnings).toEqual([]);
  });

  it('puts the default drafter first, and plain decoding has none', async () => {
    const manifest = await tinyManifest();
    const planned = plan(manifest, { drafter: 'suffix', drafters: ['eagle2', 'suffix', 'none'] });
    expect(planned.drafters).toEqual(['suffix', 'eagle2']);
    expect(planned.defaultDrafter).toBe('suffix');
    expect(plan(manifest, { drafter: 'none', drafters: ['lookup'] }).defaultDrafter).toBeNull();
  });

  it('takes fp32 models on wasm and the device budgets, with the call options over them', async () => {
    const manifest = await tinyManifest();
    const wasm = plan(manifest, { drafters: ['draft-lm'], budget: 'fixed' }, 'wasm');
    expect(wasm.models.every((m) => m.weightFormat === 'fp32')).toBe(true);
    expect(wasm.budgets.tree).toEqual({ topK: 2, frontier: 2, depth: 1, totalTokens: 5 });
    expect(plan(manifest, { tree: { depth: 3 }, budget: 'fixed' }, 'cpu').budgets.tree).toEqual({
      topK: 3,
      frontier: 1,
      depth: 3,
      totalTokens: 11,
    });
    const tuned: Manifest = { ...manifest, tuning: { cpu: { tree: { totalTokens: 6 } } } };
    expect(plan(tuned, {}, 'cpu').budgets.tree.totalTokens).toBe(6);
    expect(plan(manifest, { maxContext: 16 }, 'cpu').budgets.tree.totalTokens).toBe(16);
    // Model-free and sampled trees fit a small window too: 5 drafted tokens and a root.
    const small = plan(manifest, { maxContext: 6 }, 'cpu');
    expect(small.choices.modelFree).toEqual({ maxTokens: 5 });
    expect(small.sampledBounds.tree?.totalTokens).toBe(6);
    expect(plan(manifest, { maxContext: 6 }, 'wasm').choices.modelFree).toEqual(MODEL_FREE_BUDGETS.wasm);
    expect(plan(manifest, {}, 'cpu').sampledBounds).toEqual({ tree: undefined, draftTree: undefined });
    expect(plan(tuned, {}, 'cuda').budgets.tree.totalTokens).toBe(33);
  });

  it('under auto, starts the controllers from the fixed budgets; sampled draft trees as asked, else by model', async () => {
    const manifest = await tinyManifest();
    const auto = plan(manifest, { drafters: ['draft-lm'] }, 'cpu');
    const fixed = plan(manifest, { drafters: ['draft-lm'], budget: 'fixed' }, 'cpu');
    expect(auto.startBudgets).toEqual(fixed.budgets);
    expect(auto.budgets.tree.depth).toBeGreaterThan(fixed.budgets.tree.depth as number);
    expect(auto.draftSampling).toBeUndefined();
    expect(fixed.draftSampling).toBeUndefined();
    expect(plan(manifest, { draftSampling: true }).draftSampling).toBe(true);
    expect(plan(manifest, { draftSampling: false }).draftSampling).toBe(false);
    // From which temperature sampled trees are drawn: from 1 unless asked, always when asked,
    // never when asked not to.
    expect(SAMPLED_TREES_FROM).toBe(1);
    expect(sampledTreesFrom(undefined)).toBe(SAMPLED_TREES_FROM);
    expect(sampledTreesFrom(true)).toBe(0);
    expect(sampledTreesFrom(false)).toBe(Number.POSITIVE_INFINITY);
    const small = plan(manifest, { maxContext: 8 }, 'cpu');
    expect(small.startBudgets.tree.totalTokens).toBe(8);
  });

  it('bounds the prompt rows an EAGLE head reads first by default, as asked, or not at all with 0', async () => {
    const manifest = await tinyManifest();
    expect(plan(manifest, {}).headPromptRows).toBe(HEAD_PROMPT_ROWS);
    expect(plan(manifest, { headPromptRows: 16 }).headPromptRows).toBe(16);
    expect(plan(manifest, { headPromptRows: 0 }).headPromptRows).toBe(0);
    expect(() => plan(manifest, { headPromptRows: -1 })).toThrow(/headPromptRows/);
    expect(() => plan(manifest, { headPromptRows: 1.5 })).toThrow(/headPromptRows/);
  });

  it('allocates the context asked for, at most the model’s, and names the tokenizer files', async () => {
    const manifest = await tinyManifest();
    const target = manifest.models.find((m) => m.role === 'target') as ManifestModel;
    expect(plan(manifest, { maxContext: 100 }).maxContext).toBe(100);
    expect(plan(manifest, { maxContext: 1e9 }).maxContext).toBe(target.dims.maxContext);
    expect(plan(manifest).tokenizerFiles[0]).toBe('tokenizer.json');
  });

  it('allocates no more context than a loaded head covers (a head converted with fewer positions)', async () => {
    const manifest = await tinyManifest();
    const short = {
      ...manifest,
      models: manifest.models.map((m) =>
        m.role === 'target' ? m : { ...m, dims: { ...m.dims, maxContext: 300 } },
      ),
    } as Manifest;
    expect(plan(short).maxContext).toBe(300);
    expect(plan(short, { maxContext: 1e9 }).maxContext).toBe(300);
    expect(plan(short, { maxContext: 200 }).maxContext).toBe(200);
    const target = manifest.models.find((m) => m.role === 'target') as ManifestModel;
    expect(plan(short, { drafter: 'suffix' }).maxContext).toBe(target.dims.maxContext);
  });

  it('refuses an unknown drafter, and a drafter whose model the bundle lacks, naming the file', async () => {
    const manifest = await tinyManifest();
    expect(() => plan(manifest, { drafter: 'medusa' as never })).toThrow(
      `option "drafter" must be one of ${Object.keys(DRAFTERS).join(', ')}, none; got "medusa"`,
    );
    const headless: Manifest = {
      ...manifest,
      models: manifest.models.filter((m) => m.role !== 'eagle-head' && m.role !== 'eagle3-head'),
    };
    // The CPU's default (hybrid) builds on the bundle's EAGLE-2 head, never on a draft LM the
    // bundle's own default would not load.
    expect(plan(manifest).drafters).toEqual(['hybrid']);
    expect(plan(manifest).models.map((m) => m.role)).toEqual(['target', 'eagle-head']);
    expect(plan(headless).drafters).toEqual([]);
    const eagle3Only: Manifest = {
      ...manifest,
      models: manifest.models.filter((m) => m.role !== 'eagle-head'),
    };
    // An EAGLE-3-only bundle's hybrid builds on its EAGLE-3 head, which it loads anyway.
    expect(plan(eagle3Only).drafters).toEqual(['hybrid']);
    expect(plan(eagle3Only).models.map((m) => m.role)).toEqual(['target', 'eagle3-head']);
    expect(plan(headless, { drafter: 'hybrid' }).models.map((m) => m.role)).toEqual(['target', 'draft']);
    expect(() => plan(headless, { drafter: 'eagle2' }, 'cpu', 'm/treespec.json')).toThrow(
      'm/treespec.json: has no model with role "eagle-head", which the eagle2 drafter needs',
    );
  });

  it('checks every draft model against the target before anything is opened', async () => {
    const manifest = await tinyManifest();
    const models = manifest.models.map((m) =>
      m.role === 'draft' ? { ...m, dims: { ...m.dims, vocab: m.dims.vocab + 1 } } : m,
    );
    expect(() => plan({ ...manifest, models }, { drafter: 'draft-lm' })).toThrow(/vocab size/);
    expect(() => plan({ ...manifest, models })).not.toThrow();
  });

  it('refuses sampled draft trees asked for by name from a head whose draft vocabulary has no recorded target ids', async () => {
    const manifest = await tinyManifest();
    // The EAGLE-3 head as a bundle converted before the manifest recorded its draft tokens' target ids.
    const models = manifest.models.map((m) =>
      m.role === 'eagle3-head' && m.draftVocab
        ? { ...m, draftVocab: { size: m.draftVocab.size, source: m.draftVocab.source } }
        : m,
    );
    const old: Manifest = { ...manifest, models };
    expect(() => plan(old, { drafter: 'eagle3', draftSampling: true }, 'cpu', 'm/treespec.json')).toThrow(
      /option "draftSampling" must be unset or false with the "eagle3-head" model of m\/treespec\.json: its draft vocabulary's target ids are not in the manifest/,
    );
    // Left to its default it keeps top-k trees; the full-vocabulary EAGLE-2 head can sample either way.
    expect(plan(old, { drafter: 'eagle3' }).draftSampling).toBeUndefined();
    expect(() => plan(old, { drafter: 'eagle2', draftSampling: true })).not.toThrow();
    expect(() => plan(manifest, { drafter: 'eagle3', draftSampling: true })).not.toThrow();
  });
});
