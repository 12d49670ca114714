import { mkdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ModelFormatError, OptionError, ProviderSupportError } from '@treespec/core';
import type { TextGenerator } from '@treespec/generator';
import { type LoadTreespecOptions, loadTreespec, ModelLoadError } from '@treespec/node';
import { MANIFEST_VERSION, ModelMismatchError } from '@treespec/onnx';
import { TokenizerError } from '@treespec/tokenizers';
import { type BundleFault, faultBundle, flipBit, model, TINY } from '../fault-bundle.js';
import { clean, type FaultCase, refused } from '../fault-case.js';

/** What bundle cases need: the reference continuation to compare a clean load with. */
export interface BundleContext {
  readonly prompt: string;
  readonly reference: string;
}

function bundleCase(
  id: string,
  fault: string,
  bundle: BundleFault,
  outcome: FaultCase<BundleContext>['outcome'],
  options: LoadTreespecOptions = {},
): FaultCase<BundleContext> {
  const c: FaultCase<BundleContext> = {
    id,
    fault,
    outcome,
    run: () => loadTreespec(faultBundle(bundle), options),
  };
  if (outcome.kind === 'clean') {
    c.check = async (result, context) => {
      const generator = result as TextGenerator;
      try {
        const r = await generator.generate(context.prompt, { maxTokens: 8 });
        if (r.text !== context.reference) throw new Error(`generated ${JSON.stringify(r.text)}`);
      } finally {
        await generator.dispose();
      }
    };
  }
  return c;
}

const swapTokens = (original: Buffer): string => {
  const json = JSON.parse(original.toString('utf8'));
  const vocab = json.model.vocab as Record<string, number>;
  const [a, b] = ['the', 'of'].map((t) => Object.keys(vocab).find((k) => k.replace('Ġ', '') === t)!);
  [vocab[a!], vocab[b!]] = [vocab[b!]!, vocab[a!]!];
  return JSON.stringify(json);
};

/** Manifests, paths, files and graphs that do not belong together. */
export const BUNDLE_CASES: readonly FaultCase<BundleContext>[] = [
  bundleCase(
    'bundle-no-manifest',
    'no treespec.json in the folder',
    { remove: ['treespec.json'] },
    refused(ModelLoadError, /treespec\.json: no treespec manifest here.*treespec convert/),
  ),
  bundleCase(
    'bundle-manifest-not-json',
    'treespec.json is not JSON',
    { manifestText: '{"format": "treespec-models",' },
    refused(ModelFormatError, /treespec\.json: not valid JSON/),
  ),
  bundleCase(
    'bundle-manifest-empty',
    'treespec.json is empty',
    { manifestText: '' },
    refused(ModelFormatError, /not valid JSON/),
  ),
  bundleCase(
    'bundle-manifest-array',
    'treespec.json is a JSON array',
    { manifestText: '[]' },
    refused(ModelFormatError, /treespec\.json/),
  ),
  bundleCase(
    'bundle-manifest-proto',
    'treespec.json sets `__proto__` (prototype pollution attempt)',
    { manifestText: '{"__proto__": {"polluted": true}}' },
    refused(ModelFormatError, /format/),
  ),
  bundleCase(
    'bundle-wrong-format',
    'manifest `format` is another tool’s',
    {
      manifest: (m) => {
        m.format = 'gguf';
      },
    },
    refused(ModelFormatError, /format.*"treespec-models"/),
  ),
  bundleCase(
    'bundle-future-version',
    `manifest \`version\` ${MANIFEST_VERSION + 1}, one past the newest this code reads`,
    {
      manifest: (m) => {
        m.version = MANIFEST_VERSION + 1;
      },
    },
    refused(ModelFormatError, /version/),
  ),
  bundleCase(
    'bundle-no-models',
    'manifest lists no models',
    {
      manifest: (m) => {
        m.models = [];
      },
    },
    refused(ModelFormatError, /at least one model/),
  ),
  bundleCase(
    'bundle-no-target',
    'manifest has no target model',
    {
      manifest: (m) => {
        m.models = m.models.filter((x) => x.role !== 'target');
      },
    },
    refused(ModelFormatError, /role "target"/),
  ),
  bundleCase(
    'bundle-duplicate-ids',
    'two models share an id',
    {
      manifest: (m) => {
        model(m, 'draft').id = 'target';
      },
    },
    refused(ModelFormatError, /id not used by another model/),
  ),
  bundleCase(
    'bundle-dims-string',
    'a dim is a string',
    {
      manifest: (m) => {
        model(m, 'target').dims.vocab = 'many';
      },
    },
    refused(ModelFormatError, /dims\.vocab/),
  ),
  bundleCase(
    'bundle-dims-negative',
    'a dim is negative',
    {
      manifest: (m) => {
        model(m, 'target').dims.layers = -8;
      },
    },
    refused(ModelFormatError, /dims\.layers/),
  ),
  bundleCase(
    'bundle-context-huge',
    'dims.maxContext 1e12 (would size a 16 TB KV cache)',
    {
      manifest: (m) => {
        model(m, 'target').dims.maxContext = 1e12;
      },
    },
    refused(ModelFormatError, /dims\.maxContext is 1000000000000, above the 2097152/),
  ),
  bundleCase(
    'bundle-vocab-huge',
    'dims.vocab 1e9 on every model',
    {
      manifest: (m) => {
        for (const x of m.models) x.dims.vocab = 1e9;
      },
    },
    refused(ModelFormatError, /dims\.vocab is 1000000000/),
  ),
  bundleCase(
    'bundle-path-parent',
    'model file `../../../../etc/passwd`',
    {
      manifest: (m) => {
        model(m, 'target').file = '../../../../etc/passwd';
      },
    },
    refused(ModelFormatError, /models\[\d\]\.file must name a file inside the model directory.*climbs out/),
  ),
  bundleCase(
    'bundle-path-absolute',
    'model file `/etc/passwd`',
    {
      manifest: (m) => {
        model(m, 'target').file = '/etc/passwd';
      },
    },
    refused(ModelFormatError, /an absolute path/),
  ),
  bundleCase(
    'bundle-path-backslash',
    'model file `..\\..\\x.onnx`',
    {
      manifest: (m) => {
        model(m, 'target').file = '..\\..\\x.onnx';
      },
    },
    refused(ModelFormatError, /use \/ as the separator/),
  ),
  bundleCase(
    'bundle-path-url',
    'model file `file:///etc/passwd`',
    {
      manifest: (m) => {
        model(m, 'target').file = 'file:///etc/passwd';
      },
    },
    refused(ModelFormatError, /a drive or a URL/),
  ),
  bundleCase(
    'bundle-path-nul',
    'model file with a NUL byte',
    {
      manifest: (m) => {
        model(m, 'target').file = 'target.onnx\u0000.txt';
      },
    },
    refused(ModelFormatError, /NUL/),
  ),
  bundleCase(
    'bundle-external-parent',
    'external data `../x.data`',
    {
      manifest: (m) => {
        (model(m, 'target').externalData as string[])[0] = '../target.onnx.data';
      },
    },
    refused(ModelFormatError, /externalData\[0\] must name a file inside/),
  ),
  bundleCase(
    'bundle-tokenizer-parent',
    'tokenizer files list `../../../etc/passwd`',
    {
      manifest: (m) => {
        (model(m, 'target').tokenizer as { files: string[] }).files.push('../../../etc/passwd');
      },
    },
    refused(ModelFormatError, /tokenizer\.files\[\d+\] must name a file inside/),
  ),
  bundleCase(
    'bundle-symlink-out',
    'target.onnx is a symlink to a file outside the bundle',
    {
      prepare: (dir) => {
        unlinkSync(join(dir, 'target.onnx'));
        symlinkSync('/etc/hostname', join(dir, 'target.onnx'));
      },
    },
    refused(
      ModelFormatError,
      /models\[\d\]\.file names "target\.onnx", which resolves to .*outside the model directory/,
    ),
  ),
  bundleCase(
    'bundle-symlink-dir-out',
    'a folder in the bundle is a symlink out of it',
    {
      manifest: (m) => {
        model(m, 'target').file = 'sub/target.onnx';
      },
      prepare: (dir) => symlinkSync(TINY, join(dir, 'sub')),
    },
    refused(ModelFormatError, /outside the model directory/),
  ),
  bundleCase(
    'bundle-missing-model',
    'the target’s .onnx file is missing',
    { remove: ['target.onnx'] },
    refused(ModelLoadError, /target\.onnx: the file models\[\d\]\.file names does not exist/),
  ),
  bundleCase(
    'bundle-missing-data',
    'the target’s external data file is missing',
    { remove: ['target.onnx.data'] },
    refused(
      ModelLoadError,
      /target\.onnx\.data: the file models\[\d\]\.externalData\[0\] names does not exist/,
    ),
  ),
  bundleCase(
    'bundle-missing-tokenizer',
    'tokenizer.json is missing',
    { remove: ['tokenizer.json'] },
    refused(ModelLoadError, /tokenizer\.json/),
  ),
  bundleCase(
    'bundle-tokenizer-swapped',
    'two token ids swapped in tokenizer.json',
    { files: { 'tokenizer.json': swapTokens } },
    refused(
      ModelFormatError,
      /tokenizer\.json: the tokenizer's sha256 is [0-9a-f]{64}, but the manifest's tokenizer\.sha256/,
    ),
  ),
  bundleCase(
    'bundle-tokenizer-truncated',
    'tokenizer.json cut in half',
    { files: { 'tokenizer.json': (b) => b.subarray(0, b.length >> 1) } },
    refused(ModelFormatError, /tokenizer\.sha256/),
  ),
  bundleCase(
    'bundle-tokenizer-config-corrupt',
    'tokenizer_config.json is not JSON',
    { files: { 'tokenizer_config.json': '{ nope' } },
    refused(TokenizerError, /tokenizer_config\.json: malformed JSON/),
  ),
  bundleCase(
    'bundle-vocab-declared-wrong',
    'dims.vocab 8200 on every model (graphs have 8192)',
    {
      manifest: (m) => {
        for (const x of m.models) x.dims.vocab = 8200;
      },
    },
    refused(
      ModelFormatError,
      /\.onnx: dims\.vocab is 8200 in the manifest but the graph's output "logits" has 8192/,
    ),
  ),
  bundleCase(
    'bundle-layers-fewer',
    'target dims.layers 7 (graph has 8)',
    {
      manifest: (m) => {
        model(m, 'target').dims.layers = 7;
        model(m, 'target').kvCache = { ...(model(m, 'target').kvCache as object), layers: 7 };
      },
    },
    refused(ModelFormatError, /dims\.layers is 7 in the manifest but the graph has 8 past_key\.\* inputs/),
  ),
  bundleCase(
    'bundle-layers-more',
    'target dims.layers 9 (graph has 8)',
    {
      manifest: (m) => {
        model(m, 'target').dims.layers = 9;
        model(m, 'target').kvCache = { ...(model(m, 'target').kvCache as object), layers: 9 };
      },
    },
    refused(
      ModelFormatError,
      /inputs\.pastKey \(layer 8 of dims\.layers 9\) names the input "past_key\.8", which the graph does not have/,
    ),
  ),
  bundleCase(
    'bundle-kv-heads-wrong',
    'target dims.kvHeads 3 (graph has 2)',
    {
      manifest: (m) => {
        model(m, 'target').dims.kvHeads = 3;
        model(m, 'target').kvCache = { ...(model(m, 'target').kvCache as object), kvHeads: 3 };
      },
    },
    refused(ModelFormatError, /kvHeads/),
  ),
  bundleCase(
    'bundle-head-dim-wrong',
    'target headDim 32 (graph has 64)',
    {
      manifest: (m) => {
        model(m, 'target').dims.headDim = 32;
        model(m, 'target').kvCache = { ...(model(m, 'target').kvCache as object), headDim: 32 };
      },
    },
    refused(ModelFormatError, /headDim/),
  ),
  bundleCase(
    'bundle-hidden-wrong',
    'head dims.hidden 512 (target 384)',
    {
      manifest: (m) => {
        model(m, 'eagle-head-context').dims.hidden = 512;
      },
    },
    refused(ModelMismatchError, /hidden size is 512 in eagle-head-context\.onnx but 384 in target\.onnx/),
  ),
  bundleCase(
    'bundle-head-is-lm',
    'the head entry points at the draft LM’s graph',
    {
      manifest: (m) => {
        const h = model(m, 'eagle-head-context');
        const d = model(m, 'draft');
        h.file = d.file;
        h.externalData = d.externalData;
      },
    },
    refused(
      ModelFormatError,
      /draft\.onnx: the manifest's inputs\.feature names the input "feature", which the graph does not have/,
    ),
  ),
  bundleCase(
    'bundle-target-is-draft',
    'the target entry points at the draft LM’s graph',
    {
      manifest: (m) => {
        const t = model(m, 'target');
        const d = model(m, 'draft');
        t.file = d.file;
        t.externalData = d.externalData;
      },
    },
    refused(
      ModelFormatError,
      /draft\.onnx: the manifest's inputs\.sampleUniforms names the input "sample_uniforms", which the graph does not have/,
    ),
  ),
  bundleCase(
    'bundle-input-renamed',
    'manifest names an input the graph lacks',
    {
      manifest: (m) => {
        (model(m, 'target').inputs as Record<string, string>).inputIds = 'tokens';
      },
    },
    refused(ModelFormatError, /inputs\.inputIds names the input "tokens", which the graph does not have/),
  ),
  bundleCase(
    'bundle-output-renamed',
    'manifest names an output the graph lacks',
    {
      manifest: (m) => {
        (model(m, 'target').outputs as Record<string, string>).logits = 'scores';
      },
    },
    refused(ModelFormatError, /outputs\.logits names the output "scores"/),
  ),
  bundleCase(
    'bundle-onnx-truncated',
    'target.onnx cut to 1000 bytes',
    { files: { 'target.onnx': (b) => b.subarray(0, 1000) } },
    refused(ModelLoadError, /target\.onnx: ONNX Runtime could not load the model/),
  ),
  bundleCase(
    'bundle-onnx-empty',
    'target.onnx is empty',
    { files: { 'target.onnx': new Uint8Array(0) } },
    refused(ModelLoadError, /target\.onnx: ONNX Runtime could not load the model/),
  ),
  bundleCase(
    'bundle-onnx-garbage',
    'target.onnx is text',
    { files: { 'target.onnx': 'not a model at all' } },
    refused(ModelLoadError, /target\.onnx: ONNX Runtime could not load the model/),
  ),
  bundleCase(
    'bundle-onnx-bitflip',
    'bit 3 of byte 2 flipped in target.onnx (graph metadata)',
    { files: { 'target.onnx': (b) => flipBit(b, 2, 3) } },
    clean('loads and generates the reference text'),
  ),
  bundleCase(
    'bundle-onnx-is-folder',
    'target.onnx is a folder',
    { remove: ['target.onnx'], prepare: (dir) => mkdirSync(join(dir, 'target.onnx')) },
    refused(ModelLoadError, /target\.onnx/),
  ),
  bundleCase(
    'bundle-data-truncated',
    'target.onnx.data cut in half',
    { files: { 'target.onnx.data': (b) => b.subarray(0, b.length >> 1) } },
    refused(
      ModelLoadError,
      /target\.onnx\.data: holds \d+ bytes, but target\.onnx reads its weights up to byte \d+: the file was cut short/,
    ),
  ),
  bundleCase(
    'bundle-data-empty',
    'target.onnx.data is empty',
    { files: { 'target.onnx.data': new Uint8Array(0) } },
    refused(ModelLoadError, /target\.onnx/),
  ),
  bundleCase(
    'bundle-unknown-model-id',
    '`models: ["nope"]` names no model',
    {},
    refused(OptionError, /option "models" must be an id of .*treespec\.json: target, eagle-head.*got "nope"/),
    { models: ['nope'] },
  ),
  bundleCase(
    'bundle-no-head-for-eagle2',
    'eagle2 asked of a bundle without a head',
    {
      manifest: (m) => {
        m.models = m.models.filter((x) => x.role !== 'eagle-head');
      },
    },
    refused(ModelFormatError, /no model with role "eagle-head", which the eagle2 drafter needs/),
    { drafter: 'eagle2' },
  ),
  bundleCase(
    'bundle-unknown-drafter',
    'drafter `turbo`',
    {},
    refused(OptionError, /option "drafter" must be one of/),
    { drafter: 'turbo' as 'eagle2' },
  ),
  bundleCase(
    'bundle-unknown-provider',
    'execution provider `tpu`',
    {},
    refused(OptionError, /executionProvider/),
    { executionProvider: 'tpu' as 'cpu' },
  ),
  bundleCase(
    'bundle-fused-on-cuda',
    'a fused-attention float32 target loaded on `cuda`',
    {
      manifest: (m) => {
        const target = model(m, 'target');
        target.attention = 'fused';
        target.kvCache = { ...(target.kvCache as object), layout: 'bnsh', present: 'shared' };
        // A fused target shares its cache buffer in place: it outputs no cache after the call, nor
        // packed new entries.
        const {
          cacheKey: _key,
          cacheValue: _value,
          presentRows: _rows,
          ...outputs
        } = target.outputs as Record<string, unknown>;
        target.outputs = outputs;
      },
    },
    refused(
      ProviderSupportError,
      /model "target" needs fused attention \(GroupQueryAttention\) with float32 activations, which execution provider "cuda" cannot run; convert it with .--attention plain/,
    ),
    { executionProvider: 'cuda' },
  ),
  bundleCase(
    'bundle-fp16-activations-on-cpu',
    'a target with float16 activations loaded on `cpu`',
    {
      manifest: (m) => {
        model(m, 'target').dtype = 'float16';
      },
    },
    refused(
      ProviderSupportError,
      /model "target" needs float16 activations, which execution provider "cpu" cannot run; convert it with float32 activations/,
    ),
  ),
  bundleCase(
    'bundle-tree-product',
    'tree topK 4096 × depth 1023 (each within bounds)',
    {},
    refused(OptionError, /option "tree" must be a budget whose drafted nodes/),
    { tree: { topK: 4096, depth: 1023 } },
  ),
  bundleCase('bundle-tree-zero', 'tree topK 0', {}, refused(OptionError, /topK/), { tree: { topK: 0 } }),
  bundleCase('bundle-context-zero', 'maxContext 0', {}, refused(OptionError, /maxContext/), {
    maxContext: 0,
  }),
  bundleCase('bundle-queue-negative', 'maxQueued -1', {}, refused(OptionError, /maxQueued/), {
    maxQueued: -1,
  }),
  bundleCase(
    'bundle-weights-bitflip',
    'one bit flipped in target.onnx.data, loaded with `verifyWeights`',
    { files: { 'target.onnx.data': (b) => flipBit(b, b.length >> 1, 5) } },
    refused(
      ModelFormatError,
      /target\.onnx\.data: sha256 is [0-9a-f]{64}, but treespec\.sha256 recorded [0-9a-f]{64} at conversion/,
    ),
    { verifyWeights: true },
  ),
  bundleCase(
    'bundle-weights-replaced',
    'the head’s weight file replaced by other bytes, loaded with `verifyWeights`',
    { files: { 'eagle-head.onnx.data': (b) => Buffer.concat([b.subarray(0, 16), Buffer.alloc(16)]) } },
    refused(ModelFormatError, /eagle-head\.onnx\.data: sha256 is/),
    { verifyWeights: true },
  ),
  bundleCase(
    'bundle-weights-no-checksums',
    '`verifyWeights` on a bundle converted before checksums were recorded',
    { remove: ['treespec.sha256'] },
    refused(ModelLoadError, /treespec\.sha256: no weight checksums here; convert the model again/),
    { verifyWeights: true },
  ),
  bundleCase(
    'bundle-weights-checksum-path',
    'treespec.sha256 lists `../../etc/passwd`',
    { files: { 'treespec.sha256': `${'0'.repeat(64)}  ../../etc/passwd\n` } },
    refused(
      ModelFormatError,
      /treespec\.sha256: treespec\.sha256 must name a file inside the model directory/,
    ),
    { verifyWeights: true },
  ),
  bundleCase(
    'bundle-weights-verified',
    '`verifyWeights` on an intact bundle',
    {},
    clean('every file’s hash matches; loads and generates the reference text'),
    { verifyWeights: true },
  ),
  bundleCase(
    'bundle-context-larger',
    'maxContext above the model’s',
    {},
    clean('loads with the model’s context and generates the reference text'),
    { maxContext: 1e6 },
  ),
  bundleCase(
    'bundle-extra-files',
    'unrelated files in the bundle folder',
    { prepare: (dir) => mkdirSync(join(dir, 'notes')) },
    clean('loads and generates the reference text'),
  ),
  bundleCase(
    'bundle-unknown-field',
    'an unknown field in the manifest',
    {
      manifest: (m) => {
        m.comment = 'hello';
      },
    },
    clean('loads and generates the reference text'),
  ),
];
