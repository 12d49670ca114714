import type { DraftContext } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { FeatureColumns } from '../src/index.js';

function context(features: Float32Array | null, featureSize: number, featureRows: number): DraftContext {
  return {
    tokens: new Int32Array(8),
    length: 8,
    promptLength: 4,
    features,
    featureStart: 3,
    featureRows,
    featureSize,
  };
}

describe('FeatureColumns', () => {
  const rows = Float32Array.from({ length: 3 * 5 }, (_, i) => i);

  it('returns the context array itself when the band is the whole row', () => {
    const features = new Float32Array(6);
    expect(new FeatureColumns(2, 'trailing', 'head').select(context(features, 2, 3))).toBe(features);
  });

  it('copies the leading and the trailing columns of every row into contiguous rows', () => {
    const leading = new FeatureColumns(2, 'leading', 'head').select(context(rows, 5, 3));
    expect(Array.from(leading.subarray(0, 6))).toEqual([0, 1, 5, 6, 10, 11]);
    const trailing = new FeatureColumns(3, 'trailing', 'head').select(context(rows, 5, 3));
    expect(Array.from(trailing.subarray(0, 9))).toEqual([2, 3, 4, 7, 8, 9, 12, 13, 14]);
  });

  it('reuses its buffer for smaller blocks and grows it for larger ones', () => {
    const columns = new FeatureColumns(3, 'trailing', 'head');
    const first = columns.select(context(rows, 5, 3));
    expect(columns.select(context(rows, 5, 1))).toBe(first);
    const many = Float32Array.from({ length: 40 * 5 }, (_, i) => i);
    const grown = columns.select(context(many, 5, 40));
    expect(grown).not.toBe(first);
    expect(Array.from(grown.subarray(39 * 3, 40 * 3))).toEqual([197, 198, 199]);
  });

  it('names the model and both widths when the target features are too narrow or missing', () => {
    const columns = new FeatureColumns(12, 'trailing', 'the EAGLE-3 head');
    expect(() => columns.select(context(rows, 5, 3))).toThrow(
      /the EAGLE-3 head needs target features of width 12; got 5/,
    );
    expect(() => columns.select(context(null, 0, 3))).toThrow(/width 12; got none/);
  });
});
