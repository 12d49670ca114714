import { OptionError } from '@treespec/core';
import type { Manifest, ManifestModel } from '@treespec/onnx';

/**
 * The manifest with the models named by `ids` moved to the front of their role, so that loaders,
 * which take the first model of each role, use them (e.g. `['draft-int8']` in a bundle that holds
 * an fp32 and an int8 draft LM). At most one id per role; the other models keep their order.
 *
 * @throws OptionError (option `models`) for an id the manifest lacks or two ids of one role.
 */
export function preferModels(manifest: Manifest, ids: readonly string[], file: string): Manifest {
  if (ids.length === 0) return manifest;
  const chosen = new Map<string, ManifestModel>();
  for (const id of ids) {
    const model = manifest.models.find((m) => m.id === id);
    if (!model) {
      throw new OptionError('models', id, `an id of ${file}: ${manifest.models.map((m) => m.id).join(', ')}`);
    }
    const taken = chosen.get(model.role);
    if (taken) {
      throw new OptionError(
        'models',
        [...ids],
        `at most one model per role; "${taken.id}" and "${id}" are both ${model.role}s`,
      );
    }
    chosen.set(model.role, model);
  }
  const first = [...chosen.values()];
  return { ...manifest, models: [...first, ...manifest.models.filter((m) => !first.includes(m))] };
}
