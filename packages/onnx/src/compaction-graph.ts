import type { KvDtype } from './kv-cache.js';
import { ELEMENT_TYPE, modelProto, nodeProto, valueInfo } from './onnx-wire.js';

/**
 * The names of a compaction graph's values for `layers` layers: per layer the cached rows
 * (`past*`), a call's new rows (`new*`) and the cache after the commit (`kept*`); `keep` is the
 * int64 list of new rows to keep, in order.
 */
export interface CompactionNames {
  readonly pastKeys: readonly string[];
  readonly pastValues: readonly string[];
  readonly newKeys: readonly string[];
  readonly newValues: readonly string[];
  readonly keptKeys: readonly string[];
  readonly keptValues: readonly string[];
  readonly keep: string;
}

/** The value names of {@link compactionModel}`(layers, …)`. */
export function compactionNames(layers: number): CompactionNames {
  const per = (prefix: string) => Array.from({ length: layers }, (_, l) => `${prefix}.${l}`);
  return {
    pastKeys: per('past_key'),
    pastValues: per('past_value'),
    newKeys: per('new_key'),
    newValues: per('new_value'),
    keptKeys: per('kept_key'),
    keptValues: per('kept_value'),
    keep: 'keep',
  };
}

/**
 * The ONNX model that commits rows of a plain-attention cache (`[1, rows, kvHeads, headDim]` per
 * layer, sequence-major) without leaving the device it runs on: per layer and for keys and values,
 * `kept = Concat(past, Gather(new, keep, axis 1), axis 1)`, the cached rows followed by the kept
 * new rows in the order `keep` lists them. Its inputs and outputs are named by
 * {@link compactionNames}; the rows are symbolic dimensions, so one session serves every call.
 * Built here rather than shipped in bundles so that every plain-attention bundle gets it.
 */
export function compactionModel(
  layers: number,
  kvHeads: number,
  headDim: number,
  dtype: KvDtype,
): Uint8Array {
  const names = compactionNames(layers);
  const element = ELEMENT_TYPE[dtype];
  const cacheValue = (name: string, rows: string) => valueInfo(name, element, [1, rows, kvHeads, headDim]);
  const nodes: Uint8Array[] = [];
  const inputs: Uint8Array[] = [valueInfo(names.keep, ELEMENT_TYPE.int64, ['kept'])];
  const outputs: Uint8Array[] = [];
  const lists = [
    [names.pastKeys, names.newKeys, names.keptKeys],
    [names.pastValues, names.newValues, names.keptValues],
  ] as const;
  for (let l = 0; l < layers; l++) {
    for (const [past, added, kept] of lists) {
      const gathered = `${added[l]}.kept`;
      nodes.push(nodeProto('Gather', [added[l]!, names.keep], gathered, 1));
      nodes.push(nodeProto('Concat', [past[l]!, gathered], kept[l]!, 1));
      inputs.push(cacheValue(past[l]!, 'past'), cacheValue(added[l]!, 'rows'));
      outputs.push(cacheValue(kept[l]!, 'total'));
    }
  }
  return modelProto('treespec_kv_compaction', nodes, inputs, outputs);
}
