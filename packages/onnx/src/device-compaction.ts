import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { type CompactionNames, compactionNames } from './compaction-graph.js';
import { Int64Buffer } from './int64.js';
import type { KvDtype } from './kv-cache.js';

/**
 * A compaction session ({@link compactionModel}) and what running it takes: per layer, chosen rows
 * of a call's new KV entries appended to the cached ones, as new tensors on the session's provider
 * (on a GPU, output tensors that never leave the device). What the target's `DeviceKvCache` and the
 * draft models' `DeviceDraftKvCache` share; each decides which tensors it keeps and releases.
 */
export class DeviceCompaction {
  readonly layers: number;
  /** The `[1, 0, kvHeads, headDim]` host tensor that stands for no cached rows (never disposed). */
  readonly empty: Tensor;
  /** The last {@link append}'s tensors per layer: the cached rows, then the appended ones. */
  readonly keptKeys: Tensor[];
  readonly keptValues: Tensor[];
  private readonly session: InferenceSession;
  private readonly names: CompactionNames;
  private readonly keep: Int64Buffer;
  private readonly feeds: Record<string, Tensor> = {};

  /**
   * @param session the session of `compactionModel(layers, kvHeads, headDim, dtype)`.
   * @param maxRows most new rows of one call.
   */
  constructor(
    session: InferenceSession,
    layers: number,
    kvHeads: number,
    headDim: number,
    dtype: KvDtype,
    maxRows: number,
  ) {
    this.session = session;
    this.layers = layers;
    this.names = compactionNames(layers);
    const data = dtype === 'float16' ? new Uint16Array(0) : new Float32Array(0);
    this.empty = new Tensor(dtype, data, [1, 0, kvHeads, headDim]);
    this.keptKeys = new Array<Tensor>(layers).fill(this.empty);
    this.keptValues = new Array<Tensor>(layers).fill(this.empty);
    this.keep = new Int64Buffer(maxRows);
  }

  /**
   * Chooses the new rows the next {@link append} keeps: `slots[0..count)`, or the first `count` in
   * order when `slots` is null. Copied now, so the caller may reuse `slots` before the append runs.
   */
  keepRows(slots: Int32Array | null, count: number): void {
    for (let k = 0; k < count; k++) this.keep.set(k, slots ? slots[k]! : k);
  }

  /**
   * Runs the graph: per layer, `pastKeys`/`pastValues` followed by the `count` rows of
   * `newKeys`/`newValues` chosen by {@link keepRows}, into {@link keptKeys}/{@link keptValues}.
   * Disposes nothing: the inputs are the caller's.
   */
  async append(
    pastKeys: readonly Tensor[],
    pastValues: readonly Tensor[],
    newKeys: readonly Tensor[],
    newValues: readonly Tensor[],
    count: number,
  ): Promise<void> {
    const { names, feeds } = this;
    feeds[names.keep] = new Tensor('int64', this.keep.values.subarray(0, count), [count]);
    for (let l = 0; l < this.layers; l++) {
      feeds[names.pastKeys[l]!] = pastKeys[l]!;
      feeds[names.pastValues[l]!] = pastValues[l]!;
      feeds[names.newKeys[l]!] = newKeys[l]!;
      feeds[names.newValues[l]!] = newValues[l]!;
    }
    const out = await this.session.run(feeds);
    for (let l = 0; l < this.layers; l++) {
      this.keptKeys[l] = out[names.keptKeys[l]!]!;
      this.keptValues[l] = out[names.keptValues[l]!]!;
    }
  }

  /** Disposes `tensor`, releasing its device memory, unless it is {@link empty}. */
  release(tensor: Tensor): void {
    if (tensor !== this.empty) tensor.dispose();
  }

  /** Releases the session. */
  dispose(): Promise<void> {
    return this.session.release();
  }
}
