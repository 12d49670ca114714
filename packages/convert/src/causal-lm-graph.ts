import {
  CAPTURED_FEATURE_OUTPUT,
  CAUSAL_LM_IO,
  layerName,
  type ModelInputs,
  type ModelOutputs,
  PLAIN_CACHE_OUTPUTS,
} from '@treespec/onnx';
import type { Checkpoint } from './checkpoint.js';
import type { DecoderConfig } from './config.js';
import {
  type AttentionKind,
  type DecoderContext,
  declareSharedInputs,
  decoderLayer,
  type GraphOptions,
  type KvNames,
  type Residual,
  residualNorm,
  residualSum,
} from './decoder-graph.js';
import { type DraftVocabularyMap, scatterToVocabulary, selectRows } from './draft-vocabulary.js';
import type { GraphBuilder } from './graph-builder.js';
import { loadLayerWeights } from './layer-weights.js';
import { OnnxDataType } from './onnx-proto.js';
import { sampledTokens } from './row-sampler-graph.js';
import { scoreRowsInput, trailingRows } from './scored-rows.js';
import type { WeightFormat } from './weight-format.js';

/** Input and output names of a causal LM graph. */
export interface CausalLMNames {
  readonly inputs: ModelInputs;
  readonly outputs: ModelOutputs;
}

/**
 * Builds the treespec causal-LM graph (docs/onnx-layout.md) of a Llama-family checkpoint into
 * `g`: embeddings, every decoder layer with its KV cache inputs and outputs, the final norm
 * whose output is the `feature`, and the lm_head (the embedding when tied) for `logits`. With
 * `capturedLayers` (for an EAGLE-3 head) it also outputs `captured_feature`: each row's feature
 * followed by the inputs of those layers (the residual stream before them, not normalised). With
 * a draft `vocabulary` (FR-Spec draft LMs) only its rows of the lm_head are multiplied and the
 * logits are spread over the full vocabulary, the other tokens at a very negative logit. With a
 * `scoreRows` input in `names` (draft LMs) `logits` cover the last `score_rows` rows only. Attention
 * is `plain` or `fused` (see {@link AttentionKind}).
 */
export async function buildCausalLMGraph(
  g: GraphBuilder,
  checkpoint: Checkpoint,
  config: DecoderConfig,
  format: WeightFormat,
  options: GraphOptions,
  maxContext: number,
  names: CausalLMNames = CAUSAL_LM_IO,
  capturedLayers: readonly number[] = [],
  vocabulary: DraftVocabularyMap | null = null,
  attention: AttentionKind = 'plain',
): Promise<void> {
  const ctx: DecoderContext = { g, format, options, config, attention };
  const embed = checkpoint.matrix('model.embed_tokens.weight', config.vocab, config.hidden);
  const lmHead = config.tieWordEmbeddings
    ? embed
    : checkpoint.matrix('lm_head.weight', config.vocab, config.hidden);
  const { ids, shared } = await declareSharedInputs(ctx, names.inputs, maxContext);
  const scoreRows = scoreRowsInput(g, names.inputs);
  let h: Residual = { h: await format.embedding(g, ids, embed), delta: null };
  const captured: string[] = [];
  for (let layer = 0; layer < config.layers; layer++) {
    if (capturedLayers.includes(layer)) {
      h = { h: residualSum(ctx, h, `layers.${layer}.input`), delta: null };
      captured.push(h.h);
    }
    const weights = await loadLayerWeights(checkpoint, `model.layers.${layer}.`, config, true);
    h = await decoderLayer(ctx, h, weights, shared, kvNames(names, layer), layer);
  }
  const normWeight = await checkpoint.vector('model.norm.weight', config.hidden);
  const { normed: feature } = await residualNorm(ctx, h, normWeight, 'final_norm');
  const scored = trailingRows(g, feature, scoreRows);
  const logits = vocabulary
    ? await scatterToVocabulary(
        g,
        await format.linear(g, scored, selectRows(lmHead, vocabulary.targetIds, 'lm_head.draft_rows'), null),
        vocabulary,
        config.vocab,
      )
    : await format.linear(g, scored, lmHead, null);
  const featureOut = g.op('Reshape', [feature, g.int64([1, -1, config.hidden])]);
  const logitsOut = g.op('Reshape', [logits, g.int64([1, -1, config.vocab])]);
  g.output(logitsOut, names.outputs.logits, OnnxDataType.FLOAT, [1, 'new', config.vocab]);
  g.output(featureOut, names.outputs.feature!, OnnxDataType.FLOAT, [1, 'new', config.hidden]);
  if (names.outputs.greedyToken && names.outputs.logitSum) {
    greedyOutputs(g, logits, logitsOut, names.outputs);
    if (names.outputs.sampledToken) sampledTokens(g, logits, config.vocab, names);
  }
  if (captured.length > 0) {
    const width = (1 + captured.length) * config.hidden;
    const joined = g.op('Concat', [feature, ...captured], { axis: 1 }, 'captured_states');
    g.output(
      g.op('Reshape', [joined, g.int64([1, -1, width])]),
      CAPTURED_FEATURE_OUTPUT,
      OnnxDataType.FLOAT,
      [1, 'new', width],
    );
  }
}

/**
 * A target's `greedyToken` (the first index of each row's largest logit, as ONNX's ArgMax picks
 * it) and `logitSum` (each row's sum of logits), from the `[rows, vocab]` logits and their
 * `[1, rows, vocab]` reshape. The argmax runs on the reshape, so that its int64 result needs only a
 * `Cast` to become the output: on WebGPU, which has no int64 kernels, that `Cast` runs on the host
 * after the graph's one download, where a `Reshape` after it sent the token back up to the device
 * and down again.
 */
export function greedyOutputs(
  g: GraphBuilder,
  logits: string,
  logitsOut: string,
  outputs: ModelOutputs,
): void {
  const argmax = g.op(
    'ArgMax',
    [logitsOut],
    { axis: -1, keepdims: 0, select_last_index: 0 },
    'greedy_argmax',
  );
  g.output(g.op('Cast', [argmax], { to: OnnxDataType.INT32 }), outputs.greedyToken!, OnnxDataType.INT32, [
    1,
    'new',
  ]);
  const sum = g.op('ReduceSum', [logits, g.int64([-1])], { keepdims: 0 }, 'logit_sum_rows');
  g.output(g.op('Reshape', [sum, g.int64([1, -1])]), outputs.logitSum!, OnnxDataType.FLOAT, [1, 'new']);
}

/** The KV names of one layer. */
export function kvNames(names: CausalLMNames, layer: number): KvNames {
  const { cacheKey, cacheValue } = names.outputs;
  return {
    pastKey: layerName(names.inputs.pastKey, layer),
    pastValue: layerName(names.inputs.pastValue, layer),
    presentKey: layerName(names.outputs.presentKey, layer),
    presentValue: layerName(names.outputs.presentValue, layer),
    ...(cacheKey && cacheValue
      ? { cacheKey: layerName(cacheKey, layer), cacheValue: layerName(cacheValue, layer) }
      : {}),
  };
}

/**
 * `names` with each layer's cache after the call among its outputs (`ModelOutputs.cacheKey`,
 * `ModelOutputs.cacheValue`), which plain attention computes anyway.
 */
export function withCacheOutputs(names: CausalLMNames): CausalLMNames {
  return { inputs: names.inputs, outputs: { ...names.outputs, ...PLAIN_CACHE_OUTPUTS } };
}
