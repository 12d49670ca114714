import { ELEMENT_TYPE, modelProto, nodeProto, valueInfo } from './onnx-wire.js';

/** The value names of {@link logitsCopyModel}: the device tensor in, its host copy out. */
export const LOGITS_COPY_NAMES = { deviceLogits: 'device_logits', logits: 'logits' } as const;

/**
 * The ONNX model that brings a target's logits (`[1, rows, vocab]` float32) from a GPU provider's
 * device to the host: one `Identity`, run on the target's provider with its output preferred on
 * the CPU, so ONNX Runtime copies the rows down. A target whose logits stay on the device (see
 * `deviceCacheOutputLocations`) runs it only for the calls whose logits the verifier reads; a
 * greedy verification reads each row's greedy token instead and downloads no logits. Built here
 * rather than shipped in bundles, like the KV cache compaction graph.
 */
export function logitsCopyModel(vocab: number): Uint8Array {
  const { deviceLogits, logits } = LOGITS_COPY_NAMES;
  const rows = (name: string) => valueInfo(name, ELEMENT_TYPE.float32, [1, 'rows', vocab]);
  return modelProto(
    'treespec_logits_copy',
    [nodeProto('Identity', [deviceLogits], logits)],
    [rows(deviceLogits)],
    [rows(logits)],
  );
}

/** The value names of {@link weightsCopyModel}: the device tensors in, their host copies out. */
export const WEIGHTS_COPY_NAMES = {
  deviceWeights: 'device_weights',
  deviceMass: 'device_mass',
  weights: 'weights',
  mass: 'mass',
} as const;

/**
 * The ONNX model that brings a target's sampled rows' weights (`sample_weights`, `[1, rows,
 * vocab]`) and their sums (`sample_mass`, `[1, rows]`) from a GPU provider's device to the host in
 * one run, as {@link logitsCopyModel} brings logits: a target whose weights stay on the device
 * (see `deviceCacheOutputLocations`) runs it only for the verifications that read them, so that no
 * other call downloads them.
 */
export function weightsCopyModel(vocab: number): Uint8Array {
  const { deviceWeights, deviceMass, weights, mass } = WEIGHTS_COPY_NAMES;
  const rows = (name: string) => valueInfo(name, ELEMENT_TYPE.float32, [1, 'rows', vocab]);
  const sums = (name: string) => valueInfo(name, ELEMENT_TYPE.float32, [1, 'rows']);
  return modelProto(
    'treespec_weights_copy',
    [nodeProto('Identity', [deviceWeights], weights), nodeProto('Identity', [deviceMass], mass)],
    [rows(deviceWeights), sums(deviceMass)],
    [rows(weights), sums(mass)],
  );
}
