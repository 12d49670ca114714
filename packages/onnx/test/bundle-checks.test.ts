import { ModelFormatError } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import {
  CAUSAL_LM_IO,
  checkBundlePath,
  checkedBundlePaths,
  checkGraph,
  checkTokenizerHash,
  type Manifest,
  type ManifestModel,
  sha256Hex,
} from '../src/index.js';

const TOKENIZER = new TextEncoder().encode('{"model": {"vocab": {}}}');
const DIMS = {
  vocab: 8192,
  hidden: 384,
  layers: 8,
  heads: 6,
  kvHeads: 2,
  headDim: 64,
  intermediate: 1024,
  maxContext: 2048,
};

/** The fields of a target entry the checks read (the rest of a manifest entry is the validator's business). */
async function targetModel(dims: Partial<typeof DIMS> = {}): Promise<ManifestModel> {
  return {
    id: 'target',
    file: 'target.onnx',
    externalData: ['target.onnx.data'],
    dims: { ...DIMS, ...dims },
    inputs: CAUSAL_LM_IO.inputs,
    outputs: CAUSAL_LM_IO.outputs,
    tokenizer: { files: ['tokenizer.json'], sha256: await sha256Hex(TOKENIZER) },
  } as unknown as ManifestModel;
}

const manifestOf = (model: ManifestModel) => ({ models: [model] }) as unknown as Manifest;

describe('checkBundlePath', () => {
  it.each([
    ['../x.onnx', 'it climbs out with ..'],
    ['a/../../x.onnx', 'it climbs out with ..'],
    ['/etc/passwd', 'an absolute path'],
    ['C:/x.onnx', 'a drive or a URL'],
    ['https://example.com/x.onnx', 'a drive or a URL'],
    ['a\\b.onnx', 'use / as the separator'],
    ['', 'empty'],
  ])('refuses %j because %s', (path, why) => {
    expect(() => checkBundlePath(path, 'models[0].file', 'treespec.json')).toThrow(
      `treespec.json: models[0].file must name a file inside the model directory; got ${JSON.stringify(path)} (${why})`,
    );
  });

  it('accepts plain and nested relative paths', () => {
    expect(() => checkBundlePath('target.onnx', 'f', 'm')).not.toThrow();
    expect(() => checkBundlePath('weights/part..1.data', 'f', 'm')).not.toThrow();
  });

  it('lists every file of a manifest with the field that names it', async () => {
    expect(checkedBundlePaths(manifestOf(await targetModel()), 'treespec.json')).toEqual([
      { path: 'target.onnx', field: 'models[0].file' },
      { path: 'target.onnx.data', field: 'models[0].externalData[0]' },
      { path: 'tokenizer.json', field: 'models[0].tokenizer.files[0]' },
    ]);
  });

  it('refuses dims past what buffers are allocated for, naming the field and the limit', async () => {
    const huge = manifestOf(await targetModel({ maxContext: 1e9 }));
    expect(() => checkedBundlePaths(huge, 'm.json')).toThrow(
      'm.json: models[0].dims.maxContext is 1000000000, above the 2097152 treespec allocates buffers for',
    );
  });
});

describe('checkGraph', () => {
  const kv = (name: string) => ({
    name,
    isTensor: true as const,
    type: 'float32' as const,
    shape: [1, 'past', 2, 64],
  });
  const inputs = ['input_ids', 'position_ids', 'attention_bias'];
  const layers = Array.from({ length: 8 }, (_, l) => [`past_key.${l}`, `past_value.${l}`]).flat();
  const outputs = Array.from({ length: 8 }, (_, l) => [`present_key.${l}`, `present_value.${l}`]).flat();
  const session = (logitsVocab: number) => ({
    inputNames: [...inputs, ...layers],
    outputNames: ['logits', 'feature', ...outputs],
    inputMetadata: [
      ...inputs.map((name) => ({ name, isTensor: true as const, type: 'int64' as const, shape: [1, 'new'] })),
      ...layers.map(kv),
    ],
    outputMetadata: [
      { name: 'logits', isTensor: true as const, type: 'float32' as const, shape: [1, 'new', logitsVocab] },
      { name: 'feature', isTensor: true as const, type: 'float32' as const, shape: [1, 'new', 384] },
      ...outputs.map(kv),
    ],
  });

  it('returns a session whose graph matches its manifest entry', async () => {
    const s = session(8192);
    expect(checkGraph(s, await targetModel(), 'target.onnx')).toBe(s);
  });

  it('does not look for the outputs a graph was opened without, and looks for every other one', async () => {
    const target = await targetModel();
    const { outputNames, outputMetadata, ...rest } = session(8192);
    const trimmed = {
      ...rest,
      outputNames: outputNames.filter((n) => n !== 'present_key.3'),
      outputMetadata: outputMetadata.filter((m) => m.name !== 'present_key.3'),
    };
    expect(checkGraph(trimmed, target, 'target.onnx', ['present_key.3'])).toBe(trimmed);
    expect(() => checkGraph(trimmed, target, 'target.onnx')).toThrow(/present_key\.3/);
    expect(() => checkGraph(trimmed, target, 'target.onnx', ['present_key.4'])).toThrow(/present_key\.3/);
  });

  it('names the file, the manifest field and both values when a dim disagrees', async () => {
    const target = await targetModel();
    expect(() => checkGraph(session(8000), target, 'target.onnx')).toThrow(ModelFormatError);
    expect(() => checkGraph(session(8000), target, 'target.onnx')).toThrow(
      `target.onnx: dims.vocab is 8192 in the manifest but the graph's output "logits" has 8000 there (shape [1, new, 8000])`,
    );
  });
});

describe('checkTokenizerHash', () => {
  it('accepts the tokenizer the manifest recorded and refuses one byte more', async () => {
    const target = await targetModel();
    const bytes = TOKENIZER;
    await expect(checkTokenizerHash(bytes, target, 'tokenizer.json')).resolves.toBeUndefined();
    const changed = new Uint8Array([...bytes, 32]);
    await expect(checkTokenizerHash(changed, target, 'tokenizer.json')).rejects.toThrow(
      /^tokenizer\.json: the tokenizer's sha256 is [0-9a-f]{64}, but the manifest's tokenizer\.sha256 for model "target"/,
    );
  });
});
