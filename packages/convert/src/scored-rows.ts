import type { ModelInputs } from '@treespec/onnx';
import type { GraphBuilder } from './graph-builder.js';
import { OnnxDataType } from './onnx-proto.js';

/**
 * Declares the `score_rows` input (int64 [1]) of a head or draft LM when `names` has one, and
 * returns it; null for a graph that scores every row.
 */
export function scoreRowsInput(g: GraphBuilder, names: ModelInputs): string | null {
  return names.scoreRows ? g.input(names.scoreRows, OnnxDataType.INT64, [1]) : null;
}

/**
 * The last `scoreRows` rows of `x` along `axis` ([N, W] by default; all of them when `scoreRows`
 * exceeds N), or `x` itself when the graph scores every row (`scoreRows` null).
 */
export function trailingRows(g: GraphBuilder, x: string, scoreRows: string | null, axis = 0): string {
  if (!scoreRows) return x;
  return g.op('Slice', [x, g.op('Neg', [scoreRows]), g.int64([Number.MAX_SAFE_INTEGER]), g.int64([axis])]);
}
