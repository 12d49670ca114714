import { EAGLE3_HEAD_IO } from '@treespec/onnx';
import { type CausalLMNames, kvNames } from './causal-lm-graph.js';
import type { Checkpoint } from './checkpoint.js';
import type { Eagle3HeadConfig } from './config.js';
import {
  attention,
  type DecoderContext,
  declareSharedInputs,
  type GraphOptions,
  mlp,
  residualNorm,
  rmsNorm,
} from './decoder-graph.js';
import { type DraftVocabularyMap, draftLogitsTail } from './draft-vocabulary.js';
import type { GraphBuilder } from './graph-builder.js';
import type { AttentionWeights, MlpWeights } from './layer-weights.js';
import type { Matrix } from './matrix.js';
import { OnnxDataType } from './onnx-proto.js';
import { scoreRowsInput, trailingRows } from './scored-rows.js';
import type { WeightFormat } from './weight-format.js';

/** Weights an EAGLE-3 head takes from outside its own checkpoint, and its draft vocabulary. */
export interface Eagle3HeadExternals {
  /** The target's token embedding [vocab, hidden] (published heads store none). */
  readonly embedding: Matrix;
  /** Draft id → target id, from the head's `d2t`. */
  readonly vocabulary: DraftVocabularyMap;
  /** How many target layers are captured (fc's input is that many hidden states wide). */
  readonly capturedCount: number;
}

/**
 * Builds the treespec EAGLE-3 head graph. A call takes `fed` rows with the target's captured
 * states (`feature`, [1, fed, C·H], through `fc`) followed by `drafted` rows with the head's own
 * hidden state (`draft_hidden`, [1, drafted, H], as is); `input_ids` holds the tokens of all of
 * them, in that order. Each row: x = concat(input_layernorm(embed(token)), hidden_norm(h)) →
 * attention over 2H-wide q/k/v with RoPE and the head's own KV cache → h + attn → + mlp(norm(.))
 * = `hidden`; `logits` = lm_head(norm(hidden)) over the draft vocabulary; TopK of its
 * log-softmax, ids mapped to target ids in-graph. Only the last `score_rows` rows (every row when
 * `names` has no `scoreRows`) attend and go on from there; the cache takes every row's key and value.
 */
export async function buildEagle3HeadGraph(
  g: GraphBuilder,
  checkpoint: Checkpoint,
  config: Eagle3HeadConfig,
  externals: Eagle3HeadExternals,
  format: WeightFormat,
  options: GraphOptions,
  maxContext: number,
  names: CausalLMNames = EAGLE3_HEAD_IO,
): Promise<void> {
  const ctx: DecoderContext = { g, format, options, config };
  const { hidden } = config;
  const fedWidth = externals.capturedCount * hidden;
  const { ids, shared } = await declareSharedInputs(ctx, names.inputs, maxContext);
  const feature = g.input(names.inputs.feature!, OnnxDataType.FLOAT, [1, 'fed', fedWidth]);
  const draftHidden = g.input(names.inputs.draftHidden!, OnnxDataType.FLOAT, [1, 'drafted', hidden]);
  const topK = g.input(names.inputs.topK!, OnnxDataType.INT64, [1]);
  const scoreRows = scoreRowsInput(g, names.inputs);
  const fcBias = checkpoint.has('fc.bias') ? await checkpoint.vector('fc.bias', hidden) : null;
  const fc = checkpoint.matrix('fc.weight', hidden, fedWidth);
  const weights = await loadMidlayer(checkpoint, config);

  const fused = await format.linear(g, g.op('Reshape', [feature, g.int64([-1, fedWidth])]), fc, fcBias);
  const own = g.op('Reshape', [draftHidden, g.int64([-1, hidden])]);
  const h = g.op('Concat', [fused, own], { axis: 0 }, 'head_input_hidden');
  const embedded = await format.embedding(g, ids, externals.embedding);
  const x = g.op(
    'Concat',
    [
      await rmsNorm(ctx, embedded, weights.inputNorm, 'midlayer.input_layernorm'),
      await rmsNorm(ctx, h, weights.hiddenNorm, 'midlayer.hidden_norm'),
    ],
    { axis: 1 },
  );
  const attended = await attention(ctx, x, weights.attention, shared, kvNames(names, 0), 0, scoreRows);
  const { sum: m, normed } = await residualNorm(
    ctx,
    { h: trailingRows(g, h, scoreRows), delta: attended },
    weights.postAttentionNorm,
    'midlayer.post_attention_layernorm',
    'midlayer.attn_residual',
  );
  const { sum: out, normed: final } = await residualNorm(
    ctx,
    { h: m, delta: await mlp(ctx, normed, weights.mlp, 0) },
    weights.norm,
    'norm',
    'midlayer.output',
  );
  g.output(g.op('Reshape', [out, g.int64([1, -1, hidden])]), names.outputs.hidden!, OnnxDataType.FLOAT, [
    1,
    'new',
    hidden,
  ]);
  const lmHead = checkpoint.matrix('lm_head.weight', config.draftVocab, hidden);
  await draftLogitsTail(g, format, final, lmHead, externals.vocabulary, topK, names.outputs, out);
}

/** The tensors of an EAGLE-3 head's `midlayer` (q/k/v read 2H), its `norm`, and nothing else. */
interface MidlayerWeights {
  readonly inputNorm: Float32Array;
  readonly hiddenNorm: Float32Array;
  readonly attention: AttentionWeights;
  readonly postAttentionNorm: Float32Array;
  readonly mlp: MlpWeights;
  readonly norm: Float32Array;
}

async function loadMidlayer(checkpoint: Checkpoint, config: Eagle3HeadConfig): Promise<MidlayerWeights> {
  const { hidden, heads, kvHeads, headDim, intermediate } = config;
  const q = heads * headDim;
  const kv = kvHeads * headDim;
  const attn = 'midlayer.self_attn.';
  const mlpPrefix = 'midlayer.mlp.';
  return {
    inputNorm: await checkpoint.vector('midlayer.input_layernorm.weight', hidden),
    hiddenNorm: await checkpoint.vector('midlayer.hidden_norm.weight', hidden),
    attention: {
      q: checkpoint.matrix(`${attn}q_proj.weight`, q, 2 * hidden),
      k: checkpoint.matrix(`${attn}k_proj.weight`, kv, 2 * hidden),
      v: checkpoint.matrix(`${attn}v_proj.weight`, kv, 2 * hidden),
      o: checkpoint.matrix(`${attn}o_proj.weight`, hidden, q),
      qBias: null,
      kBias: null,
      vBias: null,
      oBias: null,
      qNorm: null,
      kNorm: null,
    },
    postAttentionNorm: await checkpoint.vector('midlayer.post_attention_layernorm.weight', hidden),
    mlp: {
      gate: checkpoint.matrix(`${mlpPrefix}gate_proj.weight`, intermediate, hidden),
      up: checkpoint.matrix(`${mlpPrefix}up_proj.weight`, intermediate, hidden),
      down: checkpoint.matrix(`${mlpPrefix}down_proj.weight`, hidden, intermediate),
      gateBias: null,
      upBias: null,
      downBias: null,
    },
    norm: await checkpoint.vector('norm.weight', hidden),
  };
}
