import { expNonPositive } from './exp-non-positive.js';

/**
 * Finds the `k` largest values of `values[offset .. offset+length)` and writes their indices
 * (relative to `offset`) into `outIndices` and the values into `outValues`, best first; ties
 * go to the smaller index. Returns how many were written (`min(k, length)`). NaN entries are
 * never selected. O(length + k * log k) typical, no allocation.
 */
export function topK(
  values: ArrayLike<number>,
  offset: number,
  length: number,
  k: number,
  outIndices: Int32Array,
  outValues: Float32Array | Float64Array,
): number {
  const want = Math.min(k, length);
  let count = 0;
  for (let i = 0; i < length; i++) {
    const v = values[offset + i];
    if (Number.isNaN(v)) continue;
    if (count === want) {
      if (!(v > outValues[count - 1])) continue;
      count--;
    }
    let pos = count;
    while (pos > 0 && v > outValues[pos - 1]) {
      outValues[pos] = outValues[pos - 1];
      outIndices[pos] = outIndices[pos - 1];
      pos--;
    }
    outValues[pos] = v;
    outIndices[pos] = i;
    count++;
  }
  return count;
}

/**
 * Index of the largest value in `values[offset .. offset+length)` (relative to `offset`), the
 * smallest index among ties; -1 if the range is empty or holds a NaN.
 */
export function argmax(values: ArrayLike<number>, offset: number, length: number): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = values[offset + i];
    if (Number.isNaN(v)) return -1;
    if (best < 0 || v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** log(sum(exp(values[offset .. offset+length)))), computed stably. */
export function logSumExp(values: ArrayLike<number>, offset: number, length: number): number {
  let max = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = values[offset + i];
    if (v > max) max = v;
  }
  if (max === -Infinity) return max;
  let sum = 0;
  for (let i = 0; i < length; i++) sum += expNonPositive(values[offset + i] - max);
  return max + Math.log(sum);
}
