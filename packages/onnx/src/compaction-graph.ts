import type { KvDtype } from './kv-cache.js';

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

/** ONNX `TensorProto.DataType` numbers. */
const ELEMENT_TYPE: Readonly<Record<KvDtype | 'int64', number>> = { float32: 1, float16: 10, int64: 7 };

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
      nodes.push(node('Gather', [added[l]!, names.keep], gathered, 1));
      nodes.push(node('Concat', [past[l]!, gathered], kept[l]!, 1));
      inputs.push(cacheValue(past[l]!, 'past'), cacheValue(added[l]!, 'rows'));
      outputs.push(cacheValue(kept[l]!, 'total'));
    }
  }
  const graph = message([
    ...nodes.map((n) => bytesField(1, n)),
    stringField(2, 'treespec_kv_compaction'),
    ...inputs.map((v) => bytesField(11, v)),
    ...outputs.map((v) => bytesField(12, v)),
  ]);
  const opset = message([stringField(1, ''), varintField(2, 13)]);
  return message([varintField(1, 8), stringField(2, 'treespec'), bytesField(7, graph), bytesField(8, opset)]);
}

/** A `NodeProto` with one output and an integer `axis` attribute. */
function node(opType: string, inputs: string[], output: string, axis: number): Uint8Array {
  const attribute = message([stringField(1, 'axis'), varintField(3, axis), varintField(20, 2)]);
  return message([
    ...inputs.map((name) => stringField(1, name)),
    stringField(2, output),
    stringField(3, output),
    stringField(4, opType),
    bytesField(5, attribute),
  ]);
}

/** A `ValueInfoProto` of a tensor; string dimensions are symbolic. */
function valueInfo(name: string, element: number, dims: (number | string)[]): Uint8Array {
  const shape = message(
    dims.map((d) => bytesField(1, typeof d === 'number' ? varintField(1, d) : stringField(2, d))),
  );
  const tensorType = message([varintField(1, element), bytesField(2, shape)]);
  return message([stringField(1, name), bytesField(2, message([bytesField(1, tensorType)]))]);
}

// Protocol buffers wire format: a field is a varint key (number << 3 | wire type) and its payload.

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function varintField(field: number, value: number): Uint8Array {
  return Uint8Array.from([...varint(field << 3), ...varint(value)]);
}

function bytesField(field: number, payload: Uint8Array): Uint8Array {
  return message([Uint8Array.from([...varint((field << 3) | 2), ...varint(payload.length)]), payload]);
}

function stringField(field: number, text: string): Uint8Array {
  return bytesField(field, new TextEncoder().encode(text));
}

function message(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
