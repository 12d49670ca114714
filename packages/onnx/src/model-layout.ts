import { ModelFormatError } from '@treespec/core';
import type { KvDtype } from './kv-cache.js';
import { type AttentionLayout, layerName, type ManifestModel } from './manifest-schema.js';

/** What a runner needs to know about a treespec causal LM (target or draft LM); from its manifest. */
export interface CausalLmLayout {
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  maxContext: number;
  /** Element type of the attention bias, the KV cache and the feature. Logits are always float32. */
  dtype: KvDtype;
  /** Width of a row of `names.feature`; `hiddenSize` unless it names the captured states. */
  featureSize?: number;
  /** `plain` (bsnh cache, new-only present outputs) or `fused` (a shared bnsh cache buffer). */
  attention: AttentionLayout;
  names: {
    inputIds: string;
    positionIds: string;
    attentionBias: string;
    pastKeys: string[];
    pastValues: string[];
    logits: string;
    /** Draft LMs: how many trailing rows get `logits`; absent: the graph gives every row's. */
    scoreRows?: string;
    /**
     * Draft LMs: the scored rows' top-k of `topK` candidates, exact entropy and distribution at
     * temperature 1, computed in the graph (`ModelOutputs.draftEntropy`); absent in older bundles,
     * whose runner computes them from `logits`.
     */
    draftSummary?: {
      topK: string;
      topLogProbs: string;
      topIds: string;
      entropy: string;
      probabilities: string;
    };
    feature: string;
    presentKeys: string[];
    presentValues: string[];
    /**
     * Every layer's new entries in one tensor, layer by layer, keys then values
     * (`ModelOutputs.presentRows`); absent in bundles converted before it existed. A cache in host
     * memory fetches it in place of `presentKeys` and `presentValues`.
     */
    presentRows?: string;
    /**
     * Plain attention: each layer's cache after a call, past rows then new ones
     * (`ModelOutputs.cacheKey`); absent in bundles converted before it existed.
     */
    cache?: { keys: string[]; values: string[] };
    /**
     * Outputs the runner never reads: the feature output it does not fetch, where the target has
     * both (`feature` and `captured_feature`). A cache on a GPU device leaves them there.
     */
    unread?: string[];
    /** Targets: each row's greedy token and logit sum (see `ModelOutputs.greedyToken`); absent in older bundles. */
    greedy?: { token: string; logitSum: string };
    /**
     * Targets: `feature`'s rows, the greedy tokens, logit sums and drawn tokens in one tensor
     * (`ModelOutputs.rowOutputs`, or `capturedRowOutputs` where `feature` names the captured
     * states); absent in older bundles. A cache on a GPU device downloads it alone.
     */
    rowOutputs?: string;
    /**
     * Targets since manifest version 5: the uniforms and temperature it draws each row's token
     * from, and that token (see `ModelOutputs.sampledToken`); absent in older bundles. `weights`
     * and `mass`: the rows' softmax weights and their sums (`ModelOutputs.sampleWeights`), where
     * the target has them.
     */
    sampler?: { uniforms: string; temperature: string; token: string; weights?: string; mass?: string };
  };
}

/** What a runner needs to know about a treespec EAGLE-1/2 head; from its manifest. */
export interface EagleHeadLayout {
  vocabSize: number;
  hiddenSize: number;
  kvHeads: number;
  headDim: number;
  maxContext: number;
  dtype: KvDtype;
  /**
   * Size of the reduced draft vocabulary (FR-Spec, EAGLE-3's `d2t`) whose tokens alone the head's
   * `logits` cover; null when they cover the whole target vocabulary.
   */
  draftVocabSize: number | null;
  /**
   * The draft vocabulary's target ids (column d of `logits` is target token `draftTokenIds[d]`);
   * null for a full-vocabulary head, or for a bundle converted before the manifest recorded them.
   */
  draftTokenIds: Int32Array | null;
  /**
   * Most tokens of the generation's context outside the draft vocabulary the head also scores
   * (`draftVocab.contextTokens`; fed as `names.contextIds`); 0: none.
   */
  contextTokens: number;
  names: {
    inputIds: string;
    feature: string;
    positionIds: string;
    attentionBias: string;
    pastKey: string;
    pastValue: string;
    topK: string;
    /** How many trailing rows get outputs other than the cache; null: the graph scores every row. */
    scoreRows: string | null;
    /** The context tokens' target ids (int64 [C]); null: the head scores none. */
    contextIds: string | null;
    hidden: string;
    topLogProbs: string;
    topIds: string;
    /** Each scored row's logits (float32), over `draftVocabSize` tokens or the whole vocabulary. */
    logits: string;
    presentKey: string;
    presentValue: string;
    /** The cache after a call, past rows then new ones (`ModelOutputs.cacheKey`); absent in older bundles. */
    cache?: { key: string; value: string };
    /**
     * `hidden`, `topLogProbs` and `topIds` of the scored rows in one tensor (`ModelOutputs.stepOutputs`);
     * null in older bundles, or in a graph that scores every row.
     */
    stepOutputs: string | null;
    /** Each scored row's softmax of `logits` (`ModelOutputs.draftProbabilities`); null in older bundles. */
    draftProbabilities: string | null;
  };
}

/** What a runner needs to know about a treespec EAGLE-3 head; from its manifest. */
export interface Eagle3HeadLayout extends EagleHeadLayout {
  /** Width of a fed row's captured target states (captured layers x hidden). */
  capturedSize: number;
  names: EagleHeadLayout['names'] & { draftHidden: string };
}

/**
 * The layout of a target whose fetched feature is `captured_feature`: each row's feature followed by
 * the inputs of its captured layers, for EAGLE-3 heads (and EAGLE-2 heads, which read the first
 * `hiddenSize` columns).
 * @throws ModelFormatError when the target was converted without captured layers.
 */
export function capturedFeatureLayout(model: ManifestModel, file: string = model.file): CausalLmLayout {
  const layout = causalLmLayout(model, file);
  if (!model.capturedLayers || !model.outputs.capturedFeature) {
    throw new ModelFormatError(
      'an EAGLE-3 head needs a target that outputs its captured layer inputs; this target was converted without them (convert it with --eagle3-layers)',
      { file },
    );
  }
  return {
    ...layout,
    featureSize: (1 + model.capturedLayers.length) * model.dims.hidden,
    names: {
      ...layout.names,
      feature: model.outputs.capturedFeature,
      ...(model.outputs.capturedRowOutputs ? { rowOutputs: model.outputs.capturedRowOutputs } : {}),
      unread: [
        layout.names.feature,
        ...unreadRowOutputs(model.outputs.capturedRowOutputs, model.outputs.rowOutputs),
      ],
    },
  };
}

/** The row outputs a layout that reads `read` leaves unread: `other`, where the model has both. */
function unreadRowOutputs(read: string | undefined, other: string | undefined): string[] {
  return read !== undefined && other !== undefined ? [other] : [];
}

/** The runner layout of a causal LM (target or draft) described by a manifest entry. */
export function causalLmLayout(model: ManifestModel, file: string = model.file): CausalLmLayout {
  if (model.graph !== 'causal-lm') {
    throw new ModelFormatError(`expected a "causal-lm" graph; found "${model.graph}"`, { file });
  }
  if (!model.outputs.feature)
    throw new ModelFormatError('a causal LM must name its feature output', { file });
  const layers = Array.from({ length: model.dims.layers }, (_, l) => l);
  const { cacheKey, cacheValue } = model.outputs;
  return {
    vocabSize: model.dims.vocab,
    hiddenSize: model.dims.hidden,
    layers: model.dims.layers,
    kvHeads: model.kvCache.kvHeads,
    headDim: model.kvCache.headDim,
    maxContext: model.dims.maxContext,
    dtype: model.dtype,
    attention: model.attention ?? 'plain',
    names: {
      inputIds: model.inputs.inputIds,
      positionIds: model.inputs.positionIds,
      attentionBias: model.inputs.attentionBias,
      pastKeys: layers.map((l) => layerName(model.inputs.pastKey, l)),
      pastValues: layers.map((l) => layerName(model.inputs.pastValue, l)),
      logits: model.outputs.logits,
      scoreRows: model.inputs.scoreRows,
      ...draftSummary(model),
      feature: model.outputs.feature,
      ...(model.outputs.capturedFeature
        ? {
            unread: [
              model.outputs.capturedFeature,
              ...unreadRowOutputs(model.outputs.rowOutputs, model.outputs.capturedRowOutputs),
            ],
          }
        : {}),
      presentKeys: layers.map((l) => layerName(model.outputs.presentKey, l)),
      presentValues: layers.map((l) => layerName(model.outputs.presentValue, l)),
      ...(model.outputs.presentRows ? { presentRows: model.outputs.presentRows } : {}),
      ...(cacheKey && cacheValue
        ? {
            cache: {
              keys: layers.map((l) => layerName(cacheKey, l)),
              values: layers.map((l) => layerName(cacheValue, l)),
            },
          }
        : {}),
      ...(model.outputs.greedyToken && model.outputs.logitSum
        ? { greedy: { token: model.outputs.greedyToken, logitSum: model.outputs.logitSum } }
        : {}),
      ...(model.outputs.rowOutputs ? { rowOutputs: model.outputs.rowOutputs } : {}),
      ...(model.inputs.sampleUniforms && model.inputs.sampleTemperature && model.outputs.sampledToken
        ? {
            sampler: {
              uniforms: model.inputs.sampleUniforms,
              temperature: model.inputs.sampleTemperature,
              token: model.outputs.sampledToken,
              ...(model.outputs.sampleWeights && model.outputs.sampleMass
                ? { weights: model.outputs.sampleWeights, mass: model.outputs.sampleMass }
                : {}),
            },
          }
        : {}),
    },
  };
}

/** The runner layout of an EAGLE-3 head described by a manifest entry. */
export function eagle3HeadLayout(model: ManifestModel, file: string = model.file): Eagle3HeadLayout {
  if (model.graph !== 'eagle3-head') {
    throw new ModelFormatError(`expected an "eagle3-head" graph; found "${model.graph}"`, { file });
  }
  if (!model.inputs.draftHidden || !model.capturedLayers) {
    throw new ModelFormatError('an EAGLE-3 head must name its draft_hidden input and its captured layers', {
      file,
    });
  }
  const layout = eagleHeadLayout({ ...model, graph: 'eagle-head' }, file);
  return {
    ...layout,
    capturedSize: model.capturedLayers.length * model.dims.hidden,
    names: { ...layout.names, draftHidden: model.inputs.draftHidden },
  };
}

/** The runner layout of an EAGLE-1/2 head described by a manifest entry. */
export function eagleHeadLayout(model: ManifestModel, file: string = model.file): EagleHeadLayout {
  if (model.graph !== 'eagle-head') {
    throw new ModelFormatError(`expected an "eagle-head" graph; found "${model.graph}"`, { file });
  }
  const { inputs, outputs } = model;
  if (!inputs.feature || !inputs.topK || !outputs.hidden || !outputs.topLogProbs || !outputs.topIds) {
    throw new ModelFormatError(
      'an EAGLE head must name its feature and top_k inputs and hidden/top outputs',
      { file },
    );
  }
  return {
    vocabSize: model.dims.vocab,
    hiddenSize: model.dims.hidden,
    kvHeads: model.kvCache.kvHeads,
    headDim: model.kvCache.headDim,
    maxContext: model.dims.maxContext,
    dtype: model.dtype,
    draftVocabSize: model.draftVocab?.size ?? null,
    draftTokenIds: model.draftVocab?.targetIds ? Int32Array.from(model.draftVocab.targetIds) : null,
    contextTokens: inputs.contextIds ? (model.draftVocab?.contextTokens ?? 0) : 0,
    names: {
      inputIds: inputs.inputIds,
      feature: inputs.feature,
      positionIds: inputs.positionIds,
      attentionBias: inputs.attentionBias,
      pastKey: layerName(inputs.pastKey, 0),
      pastValue: layerName(inputs.pastValue, 0),
      topK: inputs.topK,
      scoreRows: inputs.scoreRows ?? null,
      contextIds: inputs.contextIds ?? null,
      hidden: outputs.hidden,
      topLogProbs: outputs.topLogProbs,
      topIds: outputs.topIds,
      logits: outputs.logits,
      presentKey: layerName(outputs.presentKey, 0),
      presentValue: layerName(outputs.presentValue, 0),
      ...(outputs.cacheKey && outputs.cacheValue
        ? { cache: { key: layerName(outputs.cacheKey, 0), value: layerName(outputs.cacheValue, 0) } }
        : {}),
      stepOutputs: inputs.scoreRows ? (outputs.stepOutputs ?? null) : null,
      draftProbabilities: outputs.draftProbabilities ?? null,
    },
  };
}

/** A draft LM's in-graph top-k, entropy and distribution (`CausalLmLayout.names.draftSummary`), where it has them. */
function draftSummary(model: ManifestModel): {
  draftSummary?: NonNullable<CausalLmLayout['names']['draftSummary']>;
} {
  const { inputs, outputs } = model;
  if (
    !(
      inputs.topK &&
      outputs.topLogProbs &&
      outputs.topIds &&
      outputs.draftEntropy &&
      outputs.draftProbabilities
    )
  )
    return {};
  return {
    draftSummary: {
      topK: inputs.topK,
      topLogProbs: outputs.topLogProbs,
      topIds: outputs.topIds,
      entropy: outputs.draftEntropy,
      probabilities: outputs.draftProbabilities,
    },
  };
}
