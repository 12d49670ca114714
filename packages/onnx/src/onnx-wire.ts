/**
 * The few pieces of the ONNX protocol buffers that the runners' in-memory graphs (the KV cache
 * compaction, the logits copy) are written with, and that `withoutOutputs` edits models with: no
 * dependency.
 */

/** ONNX `TensorProto.DataType` numbers of the element types these graphs use. */
export const ELEMENT_TYPE = { float32: 1, float16: 10, int64: 7 } as const;

/** A `ValueInfoProto` of a tensor; string dimensions are symbolic. */
export function valueInfo(name: string, element: number, dims: readonly (number | string)[]): Uint8Array {
  const shape = message(
    dims.map((d) => bytesField(1, typeof d === 'number' ? varintField(1, d) : stringField(2, d))),
  );
  const tensorType = message([varintField(1, element), bytesField(2, shape)]);
  return message([stringField(1, name), bytesField(2, message([bytesField(1, tensorType)]))]);
}

/** A `NodeProto` with one output (also its name) and, when given, an integer `axis` attribute. */
export function nodeProto(
  opType: string,
  inputs: readonly string[],
  output: string,
  axis?: number,
): Uint8Array {
  const attributes =
    axis === undefined
      ? []
      : [bytesField(5, message([stringField(1, 'axis'), varintField(3, axis), varintField(20, 2)]))];
  return message([
    ...inputs.map((name) => stringField(1, name)),
    stringField(2, output),
    stringField(3, output),
    stringField(4, opType),
    ...attributes,
  ]);
}

/** A `ModelProto` (IR version 8, the default operator set at version 13) of one graph. */
export function modelProto(
  graphName: string,
  nodes: readonly Uint8Array[],
  inputs: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
): Uint8Array {
  const graph = message([
    ...nodes.map((n) => bytesField(1, n)),
    stringField(2, graphName),
    ...inputs.map((v) => bytesField(11, v)),
    ...outputs.map((v) => bytesField(12, v)),
  ]);
  const opset = message([stringField(1, ''), varintField(2, 13)]);
  return message([varintField(1, 8), stringField(2, 'treespec'), bytesField(7, graph), bytesField(8, opset)]);
}

// The wire format: a field is a varint key (number << 3 | wire type) and its payload.

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

/** A length-delimited field (bytes, string or message) of `payload`. */
export function bytesField(field: number, payload: Uint8Array): Uint8Array {
  return message([Uint8Array.from([...varint((field << 3) | 2), ...varint(payload.length)]), payload]);
}

function stringField(field: number, text: string): Uint8Array {
  return bytesField(field, new TextEncoder().encode(text));
}

/** The concatenation of a message's encoded fields. */
export function message(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
