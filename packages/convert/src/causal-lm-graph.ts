import { CAUSAL_LM_IO, layerName, type ModelInputs, type ModelOutputs } from '@treespec/onnx';
import type { Checkpoint } from './checkpoint.js';
import type { DecoderConfig } from './config.js';
import {
  type AttentionKind,
  type DecoderContext,
  declareSharedInputs,
  decoderLayer,
  type GraphOptions,
  rmsNorm,
} from './decoder-graph.js';
import type { GraphBuilder } from './graph-builder.js';
import { loadLayerWeights } from './layer-weights.js';
import { OnnxDataType } from './onnx-proto.js';
import type { WeightFormat } from './weight-format.js';

/** Input and output names of a causal LM graph. */
export interface CausalLMNames {
  readonly inputs: ModelInputs;
  readonly outputs: ModelOutputs;
}

/**
 * Builds the treespec causal-LM graph (docs/onnx-layout.md) of a Llama-family checkpoint into
 * `g`: embeddings, every decoder layer with its KV cache inputs and outputs, the final norm
 * whose output is the `feature`, and the lm_head (the embedding when tied) for `logits`;
 * attention `plain` or `fused` (see {@link AttentionKind}).
 */
export async function buildCausalLMGraph(
  g: GraphBuilder,
  checkpoint: Checkpoint,
  config: DecoderConfig,
  format: WeightFormat,
  options: GraphOptions,
  maxContext: number,
  names: CausalLMNames = CAUSAL_LM_IO,
  attention: AttentionKind = 'plain',
): Promise<void> {
  const ctx: DecoderContext = { g, format, options, config, attention };
  const embed = checkpoint.matrix('model.embed_tokens.weight', config.vocab, config.hidden);
  const lmHead = config.tieWordEmbeddings
    ? embed
    : checkpoint.matrix('lm_head.weight', config.vocab, config.hidden);
  const { ids, shared } = await declareSharedInputs(ctx, names.inputs, maxContext);
  let h = await format.embedding(g, ids, embed);
  for (let layer = 0; layer < config.layers; layer++) {
    const weights = await loadLayerWeights(checkpoint, `model.layers.${layer}.`, config, true);
    h = await decoderLayer(ctx, h, weights, shared, kvNames(names, layer), layer);
  }
  const normWeight = await checkpoint.vector('model.norm.weight', config.hidden);
  const feature = await rmsNorm(ctx, h, normWeight, 'final_norm');
  const logits = await format.linear(g, feature, lmHead, null);
  const featureOut = g.op('Reshape', [feature, g.int64([1, -1, config.hidden])]);
  const logitsOut = g.op('Reshape', [logits, g.int64([1, -1, config.vocab])]);
  g.output(logitsOut, names.outputs.logits, OnnxDataType.FLOAT, [1, 'new', config.vocab]);
  g.output(featureOut, names.outputs.feature!, OnnxDataType.FLOAT, [1, 'new', config.hidden]);
}

/** The KV names of one layer. */
export function kvNames(names: CausalLMNames, layer: number) {
  return {
    pastKey: layerName(names.inputs.pastKey, layer),
    pastValue: layerName(names.inputs.pastValue, layer),
    presentKey: layerName(names.outputs.presentKey, layer),
    presentValue: layerName(names.outputs.presentValue, layer),
  };
}
