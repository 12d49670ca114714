import { ModelFormatError } from '@treespec/core';
import type { Manifest, ModelDims } from './manifest-schema.js';

/**
 * Largest value each manifest dim may declare. Buffers are sized from these numbers before any
 * graph is read (a KV cache of `maxContext` rows, logits of `vocab` columns), so a hostile
 * manifest could otherwise ask for terabytes; real models stay far below.
 */
export const MAX_MANIFEST_DIMS: Readonly<Record<keyof ModelDims, number>> = {
  vocab: 1 << 21,
  hidden: 1 << 16,
  layers: 1024,
  heads: 1024,
  kvHeads: 1024,
  headDim: 1024,
  intermediate: 1 << 18,
  maxContext: 1 << 21,
};

/**
 * Checks every model's dims against {@link MAX_MANIFEST_DIMS}.
 * @throws ModelFormatError naming `file`, the field, the value and the limit.
 */
export function checkBundleLimits(manifest: Manifest, file: string): void {
  manifest.models.forEach((model, i) => {
    for (const key of Object.keys(MAX_MANIFEST_DIMS) as (keyof ModelDims)[]) {
      const value = model.dims[key];
      const limit = MAX_MANIFEST_DIMS[key];
      if (value > limit) {
        throw new ModelFormatError(
          `models[${i}].dims.${key} is ${value}, above the ${limit} treespec allocates buffers for ` +
            '(is this manifest from a real conversion?)',
          { file },
        );
      }
    }
  });
}
