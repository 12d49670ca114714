import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSession } from '@treespec/convert/testing';
import { findModel, type ManifestModel, parseManifest } from '@treespec/onnx';
import type * as ort from 'onnxruntime-node';
import { tinyModelDirectory } from '../../src/node.js';

/** A converted model of the bundle with its open session. */
export interface LoadedModel {
  readonly entry: ManifestModel;
  readonly session: ort.InferenceSession;
  readonly shape: { layers: number; kvHeads: number; headDim: number };
}

/** Opens one model of the built bundle (run `pnpm build` first). */
export async function loadTinyModel(id: string): Promise<LoadedModel> {
  const dir = tinyModelDirectory();
  const manifestPath = join(dir, 'treespec.json');
  const entry = findModel(parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath), id, manifestPath);
  const session = await openSession(join(dir, entry.file));
  return {
    entry,
    session,
    shape: { layers: entry.dims.layers, kvHeads: entry.dims.kvHeads, headDim: entry.dims.headDim },
  };
}

/** Index of the largest value of row `row` of a row-major [rows, width] array. */
export function argmaxRow(data: Float32Array, row: number, width: number): number {
  let best = 0;
  for (let i = 1; i < width; i++) if (data[row * width + i]! > data[row * width + best]!) best = i;
  return best;
}

/** log(sum(exp(row))) computed stably in float64. */
export function logSumExpRow(data: Float32Array, row: number, width: number): number {
  let max = -Infinity;
  for (let i = 0; i < width; i++) max = Math.max(max, data[row * width + i]!);
  let s = 0;
  for (let i = 0; i < width; i++) s += Math.exp(data[row * width + i]! - max);
  return max + Math.log(s);
}
