import { OptionError } from '@treespec/core';
import { type BundleDevice, MANIFEST_FILE, type Manifest, type ManifestModel } from '@treespec/onnx';

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

/**
 * The manifest with the models to use first in their role (the planner takes the first model of
 * each role): the ids in `ids`, else, on WASM, the first model of the role with fp32 weights,
 * else the first model of the role. On WASM, fp32 comes first because onnxruntime-web's WASM
 * build runs quantized `MatMulNBits` layers far slower than fp32 `MatMul` (the tiny bundle's int8
 * EAGLE head made each draft step about ten times slower than its fp32 twin, at the same
 * acceptance); other devices keep the bundle's order.
 */
export function selectModels(
  manifest: Manifest,
  device: BundleDevice,
  ids: readonly string[] = [],
  file = MANIFEST_FILE,
): Manifest {
  const preferred = preferModels(manifest, ids, file);
  if (device !== 'wasm') return preferred;
  const named = new Set(preferred.models.slice(0, ids.length).map((m) => m.role));
  const fp32 = new Map<string, string>();
  for (const m of manifest.models) {
    if (m.weightFormat === 'fp32' && !named.has(m.role) && !fp32.has(m.role)) fp32.set(m.role, m.id);
  }
  return preferModels(manifest, [...ids, ...fp32.values()], file);
}
