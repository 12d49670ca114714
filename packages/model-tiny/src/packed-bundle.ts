import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { convertCausalLM, convertEagleHead } from '@treespec/convert';
import { ModelFormatError } from '@treespec/core';
import {
  TINY_CHAT_TEMPLATE,
  TINY_HEAD_DRAFT_VOCAB,
  TINY_MODEL_IDS,
  TINY_TOKEN_FREQUENCIES,
} from './bundle.js';
import { type SharedTensor, unpackPlanarWeights } from './planar-weights.js';

/**
 * The checkpoints the npm package ships, as planar weights in `weights/<name>.planes` (the
 * published files hold no `model.safetensors`), with the tensors each leaves out because another
 * checkpoint holds them bit for bit. The order is the order of unpacking.
 */
export const PACKED_CHECKPOINTS: Readonly<Record<string, Readonly<Record<string, SharedTensor>>>> = {
  'treespec-tiny': {},
  'treespec-tiny-eagle2': {
    'embed_tokens.weight': { checkpoint: 'treespec-tiny', tensor: 'model.embed_tokens.weight' },
  },
};

/** Folder of a packed checkpoint's planar weights inside the package. */
export const WEIGHTS_FOLDER = 'weights';

/** File name of a checkpoint's planar weights. */
export function planarWeightsFile(checkpoint: string): string {
  return `${checkpoint}.planes`;
}

/**
 * Converts the models the defaults use into `out`, in this manifest order: the target (with the
 * captured layer inputs an EAGLE-3 head fuses, as one extra output beside the feature, and the
 * bundle's plain-text chat template, {@link TINY_CHAT_TEMPLATE}), the int8
 * EAGLE-2 head (the Node default) and the fp32 head (the WASM default). The repository build and
 * the installed package's first use both convert them here, so the two bundles agree.
 */
export async function convertDefaultModels(
  checkpoints: { target: string; eagleHead: string; tokenFrequencies: string },
  out: string,
): Promise<void> {
  await convertCausalLM({
    checkpoint: checkpoints.target,
    out,
    id: TINY_MODEL_IDS.target,
    role: 'target',
    eagle3Layers: 'reference',
    chatTemplate: TINY_CHAT_TEMPLATE,
  });
  await convertEagleHead({
    checkpoint: checkpoints.eagleHead,
    target: checkpoints.target,
    out,
    id: TINY_MODEL_IDS.eagleHeadContext,
    weightFormat: 'int8',
    draftVocab: { ...TINY_HEAD_DRAFT_VOCAB, corpus: checkpoints.tokenFrequencies },
  });
  for (const [id, weightFormat] of [
    [TINY_MODEL_IDS.eagleHead, 'int8'],
    [TINY_MODEL_IDS.eagleHeadFp32, 'fp32'],
  ] as const) {
    await convertEagleHead({
      checkpoint: checkpoints.eagleHead,
      target: checkpoints.target,
      out,
      id,
      weightFormat,
    });
  }
}

/**
 * Converts the packed checkpoints of an installed package (`packageRoot`) into the bundle `out`:
 * the target, the int8 EAGLE-2 head (the Node default) and the fp32 head (the WASM default), in
 * that manifest order. Works in a temporary folder beside `out` and renames it into place, so a
 * reader never sees half a bundle and two processes preparing at once both end with a whole one.
 */
export async function preparePackedBundle(packageRoot: string, out: string): Promise<void> {
  await mkdir(dirname(out), { recursive: true });
  const work = await mkdtemp(join(dirname(out), '.prepare-'));
  try {
    const unpacked = new Map<string, Uint8Array>();
    const checkpoint = (name: string): string => join(work, 'checkpoints', name);
    for (const name of Object.keys(PACKED_CHECKPOINTS)) {
      const source = join(packageRoot, 'checkpoints', name);
      await mkdir(checkpoint(name), { recursive: true });
      for (const file of await readdir(source))
        await copyFile(join(source, file), join(checkpoint(name), file));
      const planarFile = join(packageRoot, WEIGHTS_FOLDER, planarWeightsFile(name));
      const weights = unpackPlanarWeights(
        await readFile(planarFile),
        (shared) => {
          const bytes = unpacked.get(shared);
          if (!bytes)
            throw new ModelFormatError(`expected ${shared} unpacked before it, found none`, {
              file: planarFile,
            });
          return bytes;
        },
        planarFile,
      );
      unpacked.set(name, weights);
      await writeFile(join(checkpoint(name), 'model.safetensors'), weights);
    }
    const bundle = join(work, 'bundle');
    await convertDefaultModels(
      {
        target: checkpoint('treespec-tiny'),
        eagleHead: checkpoint('treespec-tiny-eagle2'),
        tokenFrequencies: join(packageRoot, 'checkpoints', TINY_TOKEN_FREQUENCIES),
      },
      bundle,
    );
    await rename(bundle, out).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
