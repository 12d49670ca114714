import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { DeviceCompaction } from './device-compaction.js';
import type { KvDtype } from './kv-cache.js';

/**
 * What the target's {@link DeviceKvCache} and the draft models' {@link DeviceDraftKvCache} share:
 * the compaction session that appends rows on the device, per layer the tensors the next call
 * attends to, and the compaction still running. Each decides which tensors it keeps and releases.
 */
export abstract class DeviceCacheTensors {
  readonly layers: number;
  /** Most rows the cache may hold. */
  readonly capacity: number;
  /** Rows in use, counting a compaction still running. */
  length = 0;
  protected readonly compaction: DeviceCompaction;
  /** The tensors the next call attends to, per layer. */
  protected readonly keys: Tensor[];
  protected readonly values: Tensor[];
  protected pending: Promise<void> = Promise.resolve();

  /**
   * @param session the compaction session of `compactionModel(layers, kvHeads, headDim, dtype)`,
   *   on the provider of the model whose cache this is.
   * @param maxRows most new rows of one call.
   */
  constructor(
    session: InferenceSession,
    layers: number,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    maxRows: number,
  ) {
    this.layers = layers;
    this.capacity = capacity;
    this.compaction = new DeviceCompaction(session, layers, kvHeads, headDim, dtype, maxRows);
    this.keys = new Array<Tensor>(layers).fill(this.compaction.empty);
    this.values = new Array<Tensor>(layers).fill(this.compaction.empty);
  }

  /** Where the cached rows are: `gpu-buffer` once a compaction on a GPU provider has kept some. */
  get location(): Tensor.DataLocation {
    return this.keys[0]!.location;
  }

  /** Waits for the running compaction; rethrows its error. */
  ready(): Promise<void> {
    return this.pending;
  }

  /** The keys of `layer` the next call attends to (all `length` rows; call after {@link ready}). */
  keyTensor(layer: number): Tensor {
    return this.keys[layer]!;
  }

  /** The values of `layer` the next call attends to. */
  valueTensor(layer: number): Tensor {
    return this.values[layer]!;
  }

  /**
   * Waits for the running compaction, then feeds the tensors the next call attends to as its past
   * inputs, under the model's per-layer names.
   */
  protected async feedPast(
    feeds: Record<string, Tensor>,
    names: { readonly pastKeys: readonly string[]; readonly pastValues: readonly string[] },
  ): Promise<void> {
    await this.ready();
    for (let l = 0; l < this.layers; l++) {
      feeds[names.pastKeys[l]!] = this.keys[l]!;
      feeds[names.pastValues[l]!] = this.values[l]!;
    }
  }

  /** Empties the cache (after the running compaction), releasing its tensors. */
  abstract reset(): void;

  /** Releases every tensor and the compaction session. */
  async dispose(): Promise<void> {
    this.reset();
    await this.pending;
    await this.compaction.dispose();
  }
}
