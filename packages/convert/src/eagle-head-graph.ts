import { EAGLE_HEAD_IO } from '@treespec/onnx';
import { type CausalLMNames, kvNames } from './causal-lm-graph.js';
import type { Checkpoint } from './checkpoint.js';
import type { EagleHeadConfig } from './config.js';
import {
  type DecoderContext,
  declareSharedInputs,
  decoderLayer,
  type GraphOptions,
  residualSum,
} from './decoder-graph.js';
import {
  type ContextScores,
  contextLogits,
  type DraftVocabularyMap,
  draftLogitsTail,
  selectRows,
} from './draft-vocabulary.js';
import type { GraphBuilder } from './graph-builder.js';
import { loadLayerWeights } from './layer-weights.js';
import type { Matrix } from './matrix.js';
import { OnnxDataType } from './onnx-proto.js';
import { scoreRowsInput } from './scored-rows.js';
import type { WeightFormat } from './weight-format.js';

/** Weights an EAGLE head takes from outside its own checkpoint. */
export interface EagleHeadExternals {
  /** Token embedding [vocab, hidden]: the head's own copy, or the target's. */
  readonly embedding: Matrix;
  /** The target's lm_head [vocab, hidden]. */
  readonly lmHead: Matrix;
  /** Prefix of the head's tensor names (`""` in EAGLE's layout, `model.` in some exports). */
  readonly prefix: string;
  /** Whether fc has a bias. */
  readonly fcBias: boolean;
  /** FR-Spec: compute logits over these target tokens only (top ids still come back as target ids). */
  readonly draftVocabulary?: DraftVocabularyMap | null;
}

/**
 * Builds the treespec EAGLE-1/2 head graph (docs/onnx-layout.md): fc(concat(embed(token),
 * feature)) → one decoder layer without input norm → `hidden`; `logits` through the target's
 * lm_head (its draft-vocabulary rows with FR-Spec); `top_log_probs`/`top_ids` =
 * TopK(log_softmax(logits), top_k), ids in the target vocabulary. Those four cover the last
 * `score_rows` rows only (every row when `names` has no `scoreRows`), and only those rows attend
 * and pass the MLP; the cache takes every row's key and value.
 */
export async function buildEagleHeadGraph(
  g: GraphBuilder,
  checkpoint: Checkpoint,
  config: EagleHeadConfig,
  externals: EagleHeadExternals,
  format: WeightFormat,
  options: GraphOptions,
  maxContext: number,
  names: CausalLMNames = EAGLE_HEAD_IO,
): Promise<void> {
  const ctx: DecoderContext = { g, format, options, config };
  const { hidden } = config;
  const { ids, shared } = await declareSharedInputs(ctx, names.inputs, maxContext);
  const feature = g.input(names.inputs.feature!, OnnxDataType.FLOAT, [1, 'new', hidden]);
  const topK = g.input(names.inputs.topK!, OnnxDataType.INT64, [1]);
  const scoreRows = scoreRowsInput(g, names.inputs);
  const p = externals.prefix;
  const fcWeight = checkpoint.matrix(`${p}fc.weight`, hidden, 2 * hidden);
  const fcBias = externals.fcBias ? await checkpoint.vector(`${p}fc.bias`, hidden) : null;
  const layerWeights = await loadLayerWeights(checkpoint, `${p}layers.0.`, config, false);

  const embedded = await format.embedding(g, ids, externals.embedding);
  const features = g.op('Reshape', [feature, g.int64([-1, hidden])]);
  const joined = g.op('Concat', [embedded, features], { axis: 1 });
  const h = await format.linear(g, joined, { ...fcWeight, label: 'fc' }, fcBias);
  const out = residualSum(
    ctx,
    await decoderLayer(ctx, { h, delta: null }, layerWeights, shared, kvNames(names, 0), 0, scoreRows),
    'layers.0.output',
  );
  g.output(g.op('Reshape', [out, g.int64([1, -1, hidden])]), names.outputs.hidden!, OnnxDataType.FLOAT, [
    1,
    'new',
    hidden,
  ]);
  const vocabulary = externals.draftVocabulary ?? null;
  const lmHead = vocabulary
    ? selectRows(externals.lmHead, vocabulary.targetIds, 'lm_head.draft_rows')
    : externals.lmHead;
  let context: ContextScores | null = null;
  if (vocabulary?.contextTokens) {
    const ids = g.input(names.inputs.contextIds!, OnnxDataType.INT64, ['context']);
    const logits = await contextLogits(g, out, externals.lmHead, ids, format.name !== 'fp32');
    context = { ids, logits };
  }
  await draftLogitsTail(g, format, out, lmHead, vocabulary, topK, names.outputs, out, context);
}
