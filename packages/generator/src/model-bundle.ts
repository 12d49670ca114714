import {
  DynamicTreeGrowth,
  type DynamicTreeOptions,
  ModelFormatError,
  type TargetModel,
} from '@treespec/core';
import { EagleDrafter } from '@treespec/drafters';
import {
  causalLmLayout,
  checkModelPair,
  eagleHeadLayout,
  type Manifest,
  type ManifestModel,
  OnnxCausalLm,
  OnnxEagleHead,
} from '@treespec/onnx';
import type { HfTokenizer } from '@treespec/tokenizers';
import type { InferenceSession } from 'onnxruntime-common';
import { TextGenerator } from './text-generator.js';

/** Drafters a model bundle can provide on its own. */
export type BundleDrafter = 'eagle2' | 'none';

/** Options of {@link createTextGenerator}. */
export interface BundleOptions {
  /** Default `eagle2` when the bundle has an EAGLE head, else `none`. */
  drafter?: BundleDrafter;
  /** EAGLE-2 tree budget. Defaults: see {@link DEFAULT_TREE}. */
  tree?: DynamicTreeOptions;
  /** Context window to allocate for (prompt + generated); at most the model's. Default: the model's. */
  maxContext?: number;
}

/**
 * The EAGLE-2 budget used unless one is given: chosen for the tiny model on a 2-core CPU from
 * measured costs (see docs/benchmarks.md); GPUs favour larger trees.
 */
export const DEFAULT_TREE: Required<Pick<DynamicTreeOptions, 'topK' | 'depth' | 'totalTokens'>> = {
  topK: 8,
  depth: 5,
  totalTokens: 32,
};

/** Where a model bundle's parts come from: the runtime-specific side (Node files, browser fetches). */
export interface BundleSource {
  manifest: Manifest;
  /** Path or URL of the manifest, for messages. */
  manifestFile: string;
  tokenizer: HfTokenizer;
  /** Opens a session for one model of the manifest. */
  openSession(model: ManifestModel): Promise<InferenceSession>;
}

/**
 * Builds a {@link TextGenerator} from a treespec model bundle: the target's runner, and for
 * `eagle2` the head's runner and an EAGLE-2 drafter, after checking that the head fits the target.
 */
export async function createTextGenerator(
  source: BundleSource,
  options: BundleOptions = {},
): Promise<TextGenerator> {
  const { manifest, manifestFile } = source;
  const targetModel = manifest.models.find((m) => m.role === 'target');
  if (!targetModel) throw new ModelFormatError('lists no model with role "target"', { file: manifestFile });
  const headModel = manifest.models.find((m) => m.role === 'eagle-head');
  const drafterName = options.drafter ?? (headModel ? 'eagle2' : 'none');
  if (drafterName === 'eagle2' && !headModel) {
    throw new ModelFormatError('has no model with role "eagle-head", which the eagle2 drafter needs', {
      file: manifestFile,
    });
  }
  if (headModel && drafterName === 'eagle2') checkModelPair(targetModel, headModel);
  const tree = { ...DEFAULT_TREE, ...options.tree };
  const maxContext = Math.min(options.maxContext ?? targetModel.dims.maxContext, targetModel.dims.maxContext);
  const target: TargetModel = new OnnxCausalLm(
    await source.openSession(targetModel),
    causalLmLayout(targetModel),
    {
      maxContext,
      maxTreeSize: Math.min(tree.totalTokens + 1, maxContext),
    },
  );
  if (drafterName === 'none' || !headModel) return new TextGenerator({ tokenizer: source.tokenizer, target });
  const growth = new DynamicTreeGrowth(tree);
  const head = new OnnxEagleHead(await source.openSession(headModel), eagleHeadLayout(headModel), {
    maxContext,
    maxDraftBatch: growth.maxFrontier,
    maxK: growth.maxChildren,
    maxDraftRows: growth.maxNodes,
  });
  return new TextGenerator({
    tokenizer: source.tokenizer,
    target,
    drafter: new EagleDrafter(head, { growth }),
  });
}
