import {
  CAPTURED_FEATURE_OUTPUT,
  CAPTURED_ROW_OUTPUTS,
  CAUSAL_LM_IO,
  DRAFT_LM_SUMMARY,
  HEAD_STEP_OUTPUTS,
  layerName,
  type ModelInputs,
  type ModelOutputs,
  PLAIN_CACHE_OUTPUTS,
  PRESENT_ROWS_OUTPUT,
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
import {
  type DraftVocabularyMap,
  rowEntropies,
  scatterToVocabulary,
  selectRows,
  topLogProbabilities,
} from './draft-vocabulary.js';
import type { GraphBuilder } from './graph-builder.js';
import { loadLayerWeights } from './layer-weights.js';
import { OnnxDataType } from './onnx-proto.js';
import { packedOutput } from './packed-output.js';
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
 * is `plain`, `in-place` or `fused` (see {@link AttentionKind}). With `presentRows` in `names` it
 * also outputs every layer's new entries in one tensor (`ModelOutputs.presentRows`).
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
  const topK = names.inputs.topK ? g.input(names.inputs.topK, OnnxDataType.INT64, [1]) : null;
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
  if (names.outputs.presentRows) {
    const layers = Array.from({ length: config.layers }, (_, l) => kvNames(names, l));
    packedOutput(
      g,
      layers.flatMap((kv) => [kv.presentKey, kv.presentValue]),
      names.outputs.presentRows,
    );
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
  if (topK) draftSummaryOutputs(g, logits, topK, names.outputs);
  const rowResults =
    names.outputs.greedyToken && names.outputs.logitSum
      ? greedyOutputs(g, logits, logitsOut, config.vocab, names.outputs)
      : null;
  const sampled =
    rowResults && names.outputs.sampledToken ? sampledTokens(g, logits, config.vocab, names) : null;
  const tail = rowResults
    ? [...rowResults, ...(sampled ? [g.op('Cast', [sampled], { to: OnnxDataType.FLOAT })] : [])]
    : [];
  // `rowOutputs` (and `capturedRowOutputs` below): each new row's features, then `tail`.
  if (names.outputs.rowOutputs && rowResults) packedOutput(g, [feature, ...tail], names.outputs.rowOutputs);
  if (captured.length > 0) {
    const width = (1 + captured.length) * config.hidden;
    const joined = g.op('Concat', [feature, ...captured], { axis: 1 }, 'captured_states');
    g.output(
      g.op('Reshape', [joined, g.int64([1, -1, width])]),
      CAPTURED_FEATURE_OUTPUT,
      OnnxDataType.FLOAT,
      [1, 'new', width],
    );
    if (names.outputs.rowOutputs && rowResults) packedOutput(g, [joined, ...tail], CAPTURED_ROW_OUTPUTS);
  }
}

/**
 * A target's `greedyToken` (the first index of each row's largest logit, as ONNX's ArgMax picks
 * it) and `logitSum` (each row's sum of logits), from the `[rows, vocab]` logits and their
 * `[1, rows, vocab]` reshape. The index is found in float32 (the least of the positions, as floats,
 * where a row equals its maximum), which every provider runs on its device: ONNX's ArgMax returns
 * int64, which ONNX Runtime's WebGPU provider has no kernels for, so an ArgMax there downloaded
 * every row's logits to the host in the middle of the call and waited for the device to finish
 * them. On the CPU the two cost the same (0.022 / 0.069 / 0.216 ms against 0.022 / 0.079 /
 * 0.240 ms for 1 / 9 / 33 rows of 8192, docs/benchmarks.md). Positions are exact in float32 for
 * vocabularies up to 2^24 tokens. Returns each row's token as a float and its sum, for the
 * packed `rowOutputs`.
 */
export function greedyOutputs(
  g: GraphBuilder,
  logits: string,
  logitsOut: string,
  vocab: number,
  outputs: ModelOutputs,
): [token: string, sum: string] {
  const largest = g.op('ReduceMax', [logitsOut], { axes: [-1], keepdims: 1 }, 'greedy_max');
  const positions = g.float32(
    Array.from({ length: vocab }, (_, i) => i),
    [vocab],
  );
  const atLargest = g.op('Where', [g.op('Equal', [logitsOut, largest]), positions, g.float32([vocab], [])]);
  const first = g.op('ReduceMin', [atLargest], { axes: [-1], keepdims: 0 }, 'greedy_first');
  g.output(g.op('Cast', [first], { to: OnnxDataType.INT32 }), outputs.greedyToken!, OnnxDataType.INT32, [
    1,
    'new',
  ]);
  const sum = g.op('ReduceSum', [logits, g.int64([-1])], { keepdims: 0 }, 'logit_sum_rows');
  g.output(g.op('Reshape', [sum, g.int64([1, -1])]), outputs.logitSum!, OnnxDataType.FLOAT, [1, 'new']);
  return [first, sum];
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

/**
 * A draft LM's summary of each scored row's `logits` [rows, vocab] (`ModelOutputs.draftEntropy`):
 * p = softmax(logits) as `draftProbabilities`, TopK(p, `topK`) as `topLogProbs` and `topIds`, and
 * the exact entropy −Σ p·log p as `draftEntropy`: what its runner took in JavaScript from every
 * row's logits (8192 exponentials a row, about 0.1 ms on a 2-core Zen 2; 150k a row for a real
 * vocabulary).
 */
function draftSummaryOutputs(g: GraphBuilder, logits: string, topK: string, outputs: ModelOutputs): void {
  const probs = g.op('Softmax', [logits], { axis: -1 });
  const [logTop, indices] = topLogProbabilities(g, probs, topK);
  const batched = (x: string) => g.op('Unsqueeze', [x, g.int64([0])]);
  g.output(batched(logTop), outputs.topLogProbs!, OnnxDataType.FLOAT, [1, 'new', 'k']);
  g.output(batched(indices), outputs.topIds!, OnnxDataType.INT64, [1, 'new', 'k']);
  g.output(batched(rowEntropies(g, probs)), outputs.draftEntropy!, OnnxDataType.FLOAT, [1, 'new']);
  g.output(batched(probs), outputs.draftProbabilities!, OnnxDataType.FLOAT, [1, 'new', 'vocab']);
}

/**
 * `names` with every layer's new entries in one tensor among its outputs (`ModelOutputs.presentRows`),
 * which a cache in host memory fetches in place of the per-layer `present_*`.
 */
export function withPresentRows(names: CausalLMNames): CausalLMNames {
  return { inputs: names.inputs, outputs: { ...names.outputs, ...PRESENT_ROWS_OUTPUT } };
}

/** A draft LM's `names` with its in-graph top-k, entropy and distribution ({@link DRAFT_LM_SUMMARY}). */
export function withDraftSummary(names: CausalLMNames): CausalLMNames {
  return {
    inputs: { ...names.inputs, ...DRAFT_LM_SUMMARY.inputs },
    outputs: { ...names.outputs, ...DRAFT_LM_SUMMARY.outputs },
  };
}

/** An EAGLE head's `names` with its step's outputs in one tensor among its outputs (`ModelOutputs.stepOutputs`). */
export function withStepOutputs(names: CausalLMNames): CausalLMNames {
  return { inputs: names.inputs, outputs: { ...names.outputs, ...HEAD_STEP_OUTPUTS } };
}
