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
 * The temperature from which a model drafter's sampling generations draw sampled trees when the
 * load does not say (`draftSampling` unset); below it they draft top-k trees, which the budget
 * controller sizes by value as it does greedy ones. On a 2-core Zen 2 CPU (39 prompts, 128 tokens,
 * alternating runs, session 47) top-k trees so sized ran ahead of sampled trees below 1: the draft
 * LM at 0.5 1.36× against 1.11×, at 0.7 1.12–1.19× against 1.05–1.08×, at 0.9 1.02–1.04× against
 * 0.96–1.04×; the tiny bundle's FR-Spec EAGLE-2 head (whose sampled drafts can never be the
 * target's samples outside its vocabulary) at 0.7 1.11–1.19×, where sampled trees had run 1.06–1.07×
 * (session 45). At 1 the two kinds ran alike (the draft LM 1.00–1.02× either way, the FR-Spec head
 * 1.00–1.01×), and before the top-k trees were sized by value sampled trees were the faster there.
 */
export const SAMPLED_TREES_FROM = 1;

/**
 * The temperature from which sampling generations draw sampled trees (top-k trees below it): 0
 * where the load asks for them (`draftSampling` true), never (Infinity) where it asks for top-k
 * trees, {@link SAMPLED_TREES_FROM} where it does not say.
 */
export function sampledTreesFrom(draftSampling: boolean | undefined): number {
  if (draftSampling === undefined) return SAMPLED_TREES_FROM;
  return draftSampling ? 0 : Number.POSITIVE_INFINITY;
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

/** Every {@link MODEL_DRAFTERS} name, in the order {@link bundleModelDrafter} prefers them. */
export const MODEL_DRAFTER_NAMES = Object.keys(MODEL_DRAFTERS) as readonly ModelDrafterName[];

/**
 * The model drafter a bundle's models serve by default (the hybrid's base, what `treespec tune`
 * tunes): `eagle2` where an EAGLE head is among `models`, else `eagle3` where an EAGLE-3 head is,
 * else `draft-lm` where a draft model is; undefined where none is.
 */
export function bundleModelDrafter(
  models: ReadonlyArray<Pick<ManifestModel, 'role'>>,
): ModelDrafterName | undefined {
  return MODEL_DRAFTER_NAMES.find((name) => models.some((m) => m.role === MODEL_DRAFTERS[name].role));
}
