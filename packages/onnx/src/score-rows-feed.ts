import { Tensor } from 'onnxruntime-common';
import { Int64Buffer } from './int64.js';

/**
 * The `score_rows` input of a graph (targets, EAGLE heads, draft LMs): how many trailing rows of a
 * call get `logits` (and what a graph derives from them), fed from one preallocated int64.
 */
export class ScoreRowsFeed {
  private readonly value = new Int64Buffer(1);

  /**
   * Tells a graph with a `score_rows` input (`name`) to score the last `scored` of a call's `rows`
   * rows, and returns the row of the outputs they start at: 0 when fed, else `rows - scored`, since
   * a graph converted before `score_rows` scores every row.
   */
  feed(feeds: Record<string, Tensor>, name: string | null | undefined, rows: number, scored: number): number {
    if (!name) return rows - scored;
    this.value.set(0, scored);
    feeds[name] = new Tensor('int64', this.value.values, [1]);
    return 0;
  }
}
