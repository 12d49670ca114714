import type { DraftModel, TreeGrowth } from '@treespec/core';
import {
  DraftLmDrafter,
  Eagle3Drafter,
  type Eagle3DraftModel,
  EagleDrafter,
  type ModelTreeDrafter,
} from '@treespec/drafters';
import {
  causalLmLayout,
  eagle3HeadLayout,
  eagleHeadLayout,
  type HeadRunnerOptions,
  type ManifestModel,
  type ModelRole,
  OnnxDraftLm,
  OnnxEagle3Head,
  OnnxEagleHead,
} from '@treespec/onnx';
import type { InferenceSession } from 'onnxruntime-common';
import type { Budgets } from './budgets.js';

/** A drafter that drives a draft model of the bundle and grows trees of one of the load's budgets. */
export interface ModelDrafterEntry {
  /** The manifest role of its draft model. */
  readonly role: Exclude<ModelRole, 'target'>;
  /** The budget of the load its trees follow. */
  readonly budget: keyof Budgets;
  /**
   * Opens the draft model's runner, its buffers sized by `capacity`; `capacity.logits` asks a head
   * for its logits (set when it will draw sampled trees; draft LMs always return theirs).
   */
  open(session: InferenceSession, model: ManifestModel, capacity: HeadRunnerOptions): DraftModel;
  /**
   * A drafter over `model` growing `growth`'s trees (several may share one model, one at a time);
   * a head reads at most `headPromptRows` rows at a generation's first draft (0: all), a draft LM
   * always all of them.
   */
  make(model: DraftModel, growth: TreeGrowth, headPromptRows: number): ModelTreeDrafter;
  /** Drafters that can draw sampled trees for sampling generations (`draftSampling`): how. */
  readonly sampled?: (model: DraftModel, growth: TreeGrowth, headPromptRows: number) => ModelTreeDrafter;
  /** Whether `sampled` can draw from this draft model; absent: always. */
  readonly canSample?: (model: ManifestModel) => boolean;
}

/**
 * Whether a head's logits can be sampled from: they cover the whole vocabulary, or a draft
 * vocabulary (FR-Spec, EAGLE-3) whose target ids the manifest records; a bundle converted before
 * it recorded them keeps top-k trees.
 */
function knowsDraftTokenIds(model: ManifestModel): boolean {
  return model.draftVocab === undefined || model.draftVocab.targetIds !== undefined;
}

/**
 * Whether a drafter over `model` draws sampled trees at every sampling temperature when the load
 * does not say (`draftSampling` unset): where it drafts over the target's whole vocabulary (a draft
 * LM, a head without a draft vocabulary). Sampled trees commit more per step than top-k trees there,
 * and under the budget controller they ran faster on a 2-core Zen 2 CPU (temperature 1: draft LM
 * 1.00–1.04× plain decoding against 0.98–1.00× in alternating runs, the whole-vocabulary EAGLE-2
 * head 1.03× against 0.99×; 0.7: draft LM 1.12× against 1.05×). A head over a reduced draft
 * vocabulary (FR-Spec, EAGLE-3) draws them from {@link REDUCED_VOCABULARY_SAMPLED_FROM} only.
 */
export function samplesByDefault(model: ManifestModel): boolean {
  return model.draftVocab === undefined;
}

/**
 * The temperature from which a head over a reduced draft vocabulary draws sampled trees when the
 * load does not say; top-k trees below it. Its sampled drafts can never be the target's samples
 * outside the vocabulary, which costs them most where the target's distribution is sharp: the
 * tiny bundle's FR-Spec head (K = 1024 and context tokens) ran 1.06× and 1.07× sampled against
 * 1.08× and 1.14× top-k at 0.7, and at 1 1.00–1.06× sampled (five runs) against 0.97–1.00× top-k,
 * whose controller decoded 83–93 % of the steps plainly (39 prompts, 2-core Zen 2 CPU, session 45).
 */
export const REDUCED_VOCABULARY_SAMPLED_FROM = 1;

/**
 * The temperature from which sampling generations by a drafter over `model` draw sampled trees
 * (top-k trees below it): 0 where the load asks for them (`draftSampling` true) or the model
 * covers the whole vocabulary ({@link samplesByDefault}), {@link REDUCED_VOCABULARY_SAMPLED_FROM}
 * for a reduced draft vocabulary, and never (Infinity) where the load asks for top-k trees.
 */
export function sampledTreesFrom(model: ManifestModel, draftSampling: boolean | undefined): number {
  if (draftSampling === false) return Number.POSITIVE_INFINITY;
  return draftSampling === true || samplesByDefault(model) ? 0 : REDUCED_VOCABULARY_SAMPLED_FROM;
}

/**
 * The model drafters, by name: each is built at most once per load and shared by every drafter
 * of {@link DRAFTERS} that drives it (e.g. `eagle2` serves both `eagle2` and `hybrid`).
 */
export const MODEL_DRAFTERS = {
  eagle2: {
    role: 'eagle-head',
    budget: 'tree',
    open: (session, model, capacity) => new OnnxEagleHead(session, eagleHeadLayout(model), capacity),
    make: (model, growth, promptRows) => new EagleDrafter(model, { growth, promptRows }),
    sampled: (model, growth, promptRows) => new EagleDrafter(model, { growth, promptRows, sample: {} }),
    canSample: knowsDraftTokenIds,
  },
  eagle3: {
    role: 'eagle3-head',
    budget: 'tree',
    open: (session, model, capacity) => new OnnxEagle3Head(session, eagle3HeadLayout(model), capacity),
    // `model` is what `open` above returned: an OnnxEagle3Head.
    make: (model, growth, promptRows) => new Eagle3Drafter(model as Eagle3DraftModel, { growth, promptRows }),
    sampled: (model, growth, promptRows) =>
      new Eagle3Drafter(model as Eagle3DraftModel, { growth, promptRows, sample: {} }),
    canSample: knowsDraftTokenIds,
  },
  'draft-lm': {
    role: 'draft',
    budget: 'draftTree',
    open: (session, model, capacity) => new OnnxDraftLm(session, causalLmLayout(model), capacity),
    make: (model, growth) => new DraftLmDrafter(model, { growth }),
    sampled: (model, growth) => new DraftLmDrafter(model, { growth, sample: {} }),
  },
} as const satisfies Record<string, ModelDrafterEntry>;

/** The name of a {@link MODEL_DRAFTERS} entry. */
export type ModelDrafterName = keyof typeof MODEL_DRAFTERS;
