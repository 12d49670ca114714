import { ModelFormatError, type TreeGrowth } from '@treespec/core';
import { Eagle3Drafter } from '@treespec/drafters';
import {
  checkModelPair,
  type DraftModelRunnerOptions,
  eagle3HeadLayout,
  type Manifest,
  type ManifestModel,
  OnnxEagle3Head,
} from '@treespec/onnx';
import type { InferenceSession } from 'onnxruntime-common';

/**
 * The `eagle3` drafter of a bundle: its first `eagle3-head` model, checked against the target
 * (which must export its captured layers), run with `growth`'s EAGLE-2 dynamic trees.
 * @throws ModelFormatError when the bundle has no EAGLE-3 head; ModelMismatchError when it does not fit the target.
 */
export async function createEagle3Drafter(
  manifest: Manifest,
  manifestFile: string,
  target: ManifestModel,
  openSession: (model: ManifestModel) => Promise<InferenceSession>,
  growth: TreeGrowth,
  runnerOptions: DraftModelRunnerOptions,
): Promise<Eagle3Drafter> {
  const model = manifest.models.find((m) => m.role === 'eagle3-head');
  if (!model) {
    throw new ModelFormatError('has no model with role "eagle3-head", which the eagle3 drafter needs', {
      file: manifestFile,
    });
  }
  checkModelPair(target, model);
  const head = new OnnxEagle3Head(await openSession(model), eagle3HeadLayout(model), runnerOptions);
  return new Eagle3Drafter(head, { growth });
}
