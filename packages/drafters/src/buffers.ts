/** `array` copied into a new array of `capacity` elements (at least its length): how indexes grow. */
export function grown(array: Int32Array, capacity: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(capacity);
  next.set(array);
  return next;
}

/** The capacity to grow to so that `needed` elements fit: at least double, so growth is amortised O(1). */
export function grownCapacity(current: number, needed: number): number {
  return Math.max(needed, current * 2, 16);
}
