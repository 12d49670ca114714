import { ModelFormatError } from '@treespec/core';
import type { InferenceSession } from 'onnxruntime-common';
import { layerName, type ManifestModel } from './manifest-schema.js';

/** What {@link checkGraph} reads of a session: its input and output names and metadata. */
export type GraphSignature = Pick<
  InferenceSession,
  'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata'
>;

/** One expectation on a graph value: its name, the manifest field it checks and its known dims. */
interface Expected {
  readonly name: string;
  readonly field: string;
  /** Axis → [manifest field, value]; negative axes count from the end. */
  readonly dims: ReadonlyArray<readonly [number, string, number]>;
}

/**
 * Checks a loaded graph against its manifest entry: every input and output the manifest names
 * exists, there is one `past_key`/`past_value` pair per declared layer and no more, and the
 * fixed dims the graph declares agree with the manifest (vocab on `logits`, hidden size on the
 * features, KV heads and head size on the cache). Outputs in `unread`, which the caller opened the
 * graph without ({@link withoutOutputs}), are not looked for. Returns the session.
 * @throws ModelFormatError naming the model file, the manifest field, and both values.
 */
export function checkGraph<S extends GraphSignature>(
  session: S,
  model: ManifestModel,
  file: string,
  unread: readonly string[] = [],
): S {
  const { dims, inputs, outputs } = model;
  const kv = (pattern: string, field: string, layer: number): Expected => ({
    name: layerName(pattern, layer),
    field: `${field} (layer ${layer} of dims.layers ${dims.layers})`,
    // Plain attention caches are bsnh ([1, S, kvHeads, headDim]); in-place and fused ones bnsh
    // ([1, kvHeads, C, headDim]).
    dims: [
      [(model.attention ?? 'plain') === 'plain' ? -2 : -3, 'dims.kvHeads', dims.kvHeads],
      [-1, 'dims.headDim', dims.headDim],
    ],
  });
  const captured = model.capturedLayers?.length ?? 0;
  const wantedInputs: Expected[] = [
    { name: inputs.inputIds, field: 'inputs.inputIds', dims: [] },
    { name: inputs.positionIds, field: 'inputs.positionIds', dims: [] },
    { name: inputs.attentionBias, field: 'inputs.attentionBias', dims: [] },
  ];
  if (inputs.feature) {
    // An EAGLE-3 head is fed the target's captured layer inputs, one hidden width per layer.
    const width = model.graph === 'eagle3-head' ? captured * dims.hidden : dims.hidden;
    const field = model.graph === 'eagle3-head' ? 'capturedLayers.length × dims.hidden' : 'dims.hidden';
    wantedInputs.push({ name: inputs.feature, field: 'inputs.feature', dims: [[-1, field, width]] });
  }
  if (inputs.draftHidden)
    wantedInputs.push({
      name: inputs.draftHidden,
      field: 'inputs.draftHidden',
      dims: [[-1, 'dims.hidden', dims.hidden]],
    });
  if (inputs.topK) wantedInputs.push({ name: inputs.topK, field: 'inputs.topK', dims: [] });
  if (inputs.scoreRows) wantedInputs.push({ name: inputs.scoreRows, field: 'inputs.scoreRows', dims: [] });
  if (inputs.sampleUniforms)
    wantedInputs.push({ name: inputs.sampleUniforms, field: 'inputs.sampleUniforms', dims: [] });
  if (inputs.sampleTemperature)
    wantedInputs.push({ name: inputs.sampleTemperature, field: 'inputs.sampleTemperature', dims: [] });
  // A head over a reduced draft vocabulary has logits over the draft tokens only (draft LMs spread theirs).
  const headVocab = model.graph !== 'causal-lm' && model.draftVocab !== undefined;
  const wantedOutputs: Expected[] = [
    {
      name: outputs.logits,
      field: 'outputs.logits',
      dims: [headVocab ? [-1, 'draftVocab.size', model.draftVocab!.size] : [-1, 'dims.vocab', dims.vocab]],
    },
  ];
  if (outputs.capturedFeature)
    wantedOutputs.push({
      name: outputs.capturedFeature,
      field: 'outputs.capturedFeature',
      dims: [[-1, '(1 + capturedLayers.length) × dims.hidden', (1 + captured) * dims.hidden]],
    });
  for (const [name, field] of [
    [outputs.feature, 'outputs.feature'],
    [outputs.hidden, 'outputs.hidden'],
  ] as const) {
    if (name) wantedOutputs.push({ name, field, dims: [[-1, 'dims.hidden', dims.hidden]] });
  }
  if (outputs.topLogProbs)
    wantedOutputs.push({ name: outputs.topLogProbs, field: 'outputs.topLogProbs', dims: [] });
  if (outputs.topIds) wantedOutputs.push({ name: outputs.topIds, field: 'outputs.topIds', dims: [] });
  if (outputs.greedyToken)
    wantedOutputs.push({ name: outputs.greedyToken, field: 'outputs.greedyToken', dims: [] });
  if (outputs.logitSum) wantedOutputs.push({ name: outputs.logitSum, field: 'outputs.logitSum', dims: [] });
  if (outputs.sampledToken)
    wantedOutputs.push({ name: outputs.sampledToken, field: 'outputs.sampledToken', dims: [] });
  if (outputs.sampleWeights)
    wantedOutputs.push({ name: outputs.sampleWeights, field: 'outputs.sampleWeights', dims: [] });
  if (outputs.sampleMass)
    wantedOutputs.push({ name: outputs.sampleMass, field: 'outputs.sampleMass', dims: [] });
  if (outputs.presentRows)
    wantedOutputs.push({ name: outputs.presentRows, field: 'outputs.presentRows', dims: [] });
  for (let layer = 0; layer < dims.layers; layer++) {
    wantedInputs.push(
      kv(inputs.pastKey, 'inputs.pastKey', layer),
      kv(inputs.pastValue, 'inputs.pastValue', layer),
    );
    wantedOutputs.push(
      kv(outputs.presentKey, 'outputs.presentKey', layer),
      kv(outputs.presentValue, 'outputs.presentValue', layer),
    );
  }
  checkValues('input', session.inputNames, session.inputMetadata, wantedInputs, file);
  const opened = wantedOutputs.filter((o) => !unread.includes(o.name));
  checkValues('output', session.outputNames, session.outputMetadata, opened, file);
  const extraLayer = layerName(inputs.pastKey, dims.layers);
  if (session.inputNames.includes(extraLayer)) {
    const prefix = inputs.pastKey.split('{layer}')[0] ?? '';
    const found = session.inputNames.filter((n) => n.startsWith(prefix)).length;
    throw new ModelFormatError(
      `dims.layers is ${dims.layers} in the manifest but the graph has ${found} ${prefix}* inputs`,
      { file, code: 'MODEL_MISMATCH' },
    );
  }
  return session;
}

function checkValues(
  kind: 'input' | 'output',
  names: readonly string[],
  metadata: readonly InferenceSession.ValueMetadata[],
  wanted: readonly Expected[],
  file: string,
): void {
  for (const want of wanted) {
    const at = names.indexOf(want.name);
    if (at < 0) {
      throw new ModelFormatError(
        `the manifest's ${want.field} names the ${kind} "${want.name}", which the graph does not have ` +
          `(its ${kind}s: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`,
        { file, code: 'MODEL_MISMATCH' },
      );
    }
    const meta = metadata[at];
    if (!meta?.isTensor) continue;
    const shape = meta.shape;
    for (const [axis, field, value] of want.dims) {
      const dim = shape[axis < 0 ? shape.length + axis : axis];
      if (typeof dim === 'number' && dim !== value) {
        throw new ModelFormatError(
          `${field} is ${value} in the manifest but the graph's ${kind} "${want.name}" has ${dim} there ` +
            `(shape [${shape.join(', ')}])`,
          { file, code: 'MODEL_MISMATCH' },
        );
      }
    }
  }
}
