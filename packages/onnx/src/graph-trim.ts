/**
 * A model's graph without the outputs its runners never fetch. ONNX Runtime runs every node of a
 * graph on every call, whatever the call fetches, and keeps each graph output in a buffer of its
 * own: a plain-attention target's `cache_key.{l}` outputs (read only by caches on a GPU device) make
 * each layer's concatenated cache a separate buffer on the CPU instead of one reused across layers.
 * Trimming works on the protocol buffer's wire format, so every other field of the model is kept
 * byte for byte.
 */
import { ModelFormatError } from '@treespec/core';
import { bytesField, message } from './onnx-wire.js';
import { firstString, text, type WireField, wireFields } from './wire-fields.js';

// ModelProto.graph; GraphProto.node, initializer, input, output, value_info; NodeProto.input,
// output, attribute; AttributeProto.g, graphs; TensorProto.name; ValueInfoProto.name.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const GRAPH_VALUE_INFO = 13;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_GRAPH = 6;
const ATTRIBUTE_GRAPHS = 11;
const TENSOR_NAME = 8;
const VALUE_INFO_NAME = 1;

/**
 * `model` (ONNX `ModelProto` bytes) without the graph outputs named in `unread`, and without the
 * nodes and initializers that only computed them. Returns `model` itself when it has none of them.
 * Graph inputs stay, so a runner feeds the trimmed graph what it fed the whole one. A graph with
 * control flow (subgraph attributes) keeps all of its nodes.
 * @throws ModelFormatError when the bytes are not a protocol buffer message.
 */
export function withoutOutputs(model: Uint8Array, unread: ReadonlySet<string>): Uint8Array {
  if (unread.size === 0) return model;
  const modelFields = wireFields(model, 0, model.length);
  const graphField = modelFields.find((f) => f.number === MODEL_GRAPH);
  if (!graphField) return model;
  const fields = wireFields(model, graphField.payloadStart, graphField.end);
  const outputs = fields.filter((f) => f.number === GRAPH_OUTPUT);
  const kept = outputs.filter((f) => !unread.has(firstString(model, f, VALUE_INFO_NAME)));
  if (kept.length === outputs.length) return model;
  const live = liveFields(model, fields, kept);
  const graph = message(fields.filter((f) => live.has(f)).map((f) => model.subarray(f.start, f.end)));
  return message(
    modelFields.map((f) =>
      f === graphField ? bytesField(MODEL_GRAPH, graph) : model.subarray(f.start, f.end),
    ),
  );
}

/**
 * What a host opens: `model` without the `unread` outputs ({@link withoutOutputs}), or `model` as
 * it is when its bytes are not a protocol buffer message, so that ONNX Runtime's own error says
 * what is wrong with the file. Trimming only saves work; it never decides whether a model loads.
 */
export function modelToOpen(model: Uint8Array, unread: readonly string[]): Uint8Array {
  try {
    return withoutOutputs(model, new Set(unread));
  } catch (error) {
    if (error instanceof ModelFormatError) return model;
    throw error;
  }
}

/** The graph's fields that stay: every field but dropped outputs, dead nodes, their initializers and value infos. */
function liveFields(
  model: Uint8Array,
  fields: readonly WireField[],
  kept: readonly WireField[],
): Set<WireField> {
  const live = new Set(fields.filter((f) => f.number !== GRAPH_OUTPUT));
  for (const f of kept) live.add(f);
  const nodes = fields.filter((f) => f.number === GRAPH_NODE);
  if (nodes.some((node) => hasSubgraph(model, node))) return live;
  const needed = new Set(kept.map((f) => firstString(model, f, VALUE_INFO_NAME)));
  for (const f of fields) if (f.number === GRAPH_INPUT) needed.add(firstString(model, f, VALUE_INFO_NAME));
  // ONNX keeps nodes in topological order, so a walk from the last finds every producer's consumers first.
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    const parts = wireFields(model, node.payloadStart, node.end);
    if (!parts.some((p) => p.number === NODE_OUTPUT && needed.has(text(model, p)))) {
      live.delete(node);
      continue;
    }
    for (const p of parts) if (p.number === NODE_INPUT) needed.add(text(model, p));
  }
  for (const f of fields) {
    const name =
      f.number === GRAPH_INITIALIZER
        ? firstString(model, f, TENSOR_NAME)
        : f.number === GRAPH_VALUE_INFO
          ? firstString(model, f, VALUE_INFO_NAME)
          : null;
    if (name !== null && !needed.has(name)) live.delete(f);
  }
  return live;
}

function hasSubgraph(model: Uint8Array, node: WireField): boolean {
  return wireFields(model, node.payloadStart, node.end).some(
    (p) =>
      p.number === NODE_ATTRIBUTE &&
      wireFields(model, p.payloadStart, p.end).some(
        (a) => a.number === ATTRIBUTE_GRAPH || a.number === ATTRIBUTE_GRAPHS,
      ),
  );
}
