import type { GraphBuilder } from './graph-builder.js';
import { OnnxDataType } from './onnx-proto.js';

/**
 * Outputs the float32 values `parts` as one `[1, n]` tensor named `name`, each flattened, in order:
 * what a call reads on the host in one download, for a model whose other outputs stay on a GPU
 * (a target's `rowOutputs`, a head's `stepOutputs`).
 */
export function packedOutput(g: GraphBuilder, parts: readonly string[], name: string): void {
  const flat = parts.map((x) => g.op('Reshape', [x, g.int64([-1])]));
  g.output(g.op('Unsqueeze', [g.op('Concat', flat, { axis: 0 }), g.int64([0])]), name, OnnxDataType.FLOAT, [
    1,
    'packed',
  ]);
}
