/**
 * How many bytes of each external data file a model's weights reach, read from the model's own
 * bytes: what a host checks a weights file against when ONNX Runtime cannot read it.
 */
import { firstString, wireFields } from './wire-fields.js';

// ModelProto.graph; GraphProto.initializer; TensorProto.external_data; StringStringEntryProto.key, value.
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_EXTERNAL_DATA = 13;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

/**
 * For each external data file `model` (ONNX `ModelProto` bytes) names, the end of the last byte
 * range its initializers read (`offset` + `length`), by the file's `location` (relative to the
 * model's folder). Initializers without a `length` are read to the file's end and need nothing
 * more of it than their `offset`.
 * @throws ModelFormatError when the bytes are not a protocol buffer message.
 */
export function externalDataExtents(model: Uint8Array): Map<string, number> {
  const extents = new Map<string, number>();
  const graph = wireFields(model, 0, model.length).find((f) => f.number === MODEL_GRAPH);
  if (!graph) return extents;
  for (const initializer of wireFields(model, graph.payloadStart, graph.end)) {
    if (initializer.number !== GRAPH_INITIALIZER) continue;
    const entries = new Map<string, string>();
    for (const f of wireFields(model, initializer.payloadStart, initializer.end)) {
      if (f.number === TENSOR_EXTERNAL_DATA)
        entries.set(firstString(model, f, ENTRY_KEY), firstString(model, f, ENTRY_VALUE));
    }
    const location = entries.get('location');
    if (location === undefined) continue;
    const end = Number(entries.get('offset') ?? 0) + Number(entries.get('length') ?? 0);
    if (Number.isFinite(end)) extents.set(location, Math.max(extents.get(location) ?? 0, end));
  }
  return extents;
}
