import { ContextOverflowError } from '@treespec/core';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { CacheNames, CausalLmCache, RowOutputs } from './causal-lm-cache.js';
import { compactionNames } from './compaction-graph.js';
import { DeviceCacheTensors } from './device-cache-tensors.js';
import type { KvDtype } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';

/** Where ONNX Runtime puts a session output (onnxruntime-common's `preferredOutputLocation` values). */
export type OutputLocation = 'cpu' | 'gpu-buffer';

/** Output name → where ONNX Runtime leaves it (a session's `preferredOutputLocation`). */
export type OutputPlacement = Readonly<Record<string, OutputLocation>>;

/**
 * The `preferredOutputLocation` of a causal LM whose cache is a {@link DeviceKvCache} on a GPU
 * provider: its new entries (`present_*`) stay on the device, logits and features come to the host.
 */
export function deviceCacheOutputLocations(layout: CausalLmLayout): OutputPlacement {
  const { presentKeys, presentValues } = layout.names;
  return Object.fromEntries([...presentKeys, ...presentValues].map((name) => [name, 'gpu-buffer' as const]));
}

/** The `preferredOutputLocation` of a compaction session whose kept rows stay on the device. */
export function compactionOutputLocations(layers: number): OutputPlacement {
  const { keptKeys, keptValues } = compactionNames(layers);
  return Object.fromEntries([...keptKeys, ...keptValues].map((name) => [name, 'gpu-buffer' as const]));
}

/**
 * A plain-attention KV cache kept as ONNX Runtime's own output tensors, so that on a GPU provider
 * (sessions whose `present_*` and kept rows are preferred on `gpu-buffer`) it never leaves the
 * device: each call's past inputs are the tensors the last commit produced, and a commit runs the
 * compaction session ({@link compactionModel}) on the new-entry outputs the call held, keeping the
 * accepted rows after the cached ones. Nothing of the cache crosses to the host. On the CPU
 * provider the same session runs on host tensors, which is how CI exercises this path.
 *
 * A commit only starts the compaction; {@link DeviceKvCache.ready} waits for it, so that it
 * overlaps with whatever the caller does before the next model call (a drafter's call may then
 * start while it runs: hosts whose runtime cannot run two sessions at once, such as
 * onnxruntime-web's WebGPU build, queue their sessions' calls). Tensors no longer referenced are
 * disposed, releasing their device memory.
 */
export class DeviceKvCache extends DeviceCacheTensors implements CausalLmCache {
  /** It fetches every output (see {@link run}), the logits among them. */
  readonly greedyOutputs = false;
  private readonly names: CacheNames;
  /** The last call's new-entry outputs, until a commit keeps some of them (else `empty`). */
  private readonly newKeys: Tensor[];
  private readonly newValues: Tensor[];

  /**
   * @param session the compaction session of `compactionModel(layers, kvHeads, headDim, dtype)`,
   *   on the provider of the model whose cache this is.
   * @param names the model's cache inputs and outputs, one per layer.
   * @param maxRows most new rows of one call.
   */
  constructor(
    session: InferenceSession,
    names: CacheNames,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    maxRows: number,
  ) {
    super(session, names.pastKeys.length, kvHeads, headDim, capacity, dtype, maxRows);
    this.names = names;
    this.newKeys = new Array<Tensor>(this.layers).fill(this.compaction.empty);
    this.newValues = new Array<Tensor>(this.layers).fill(this.compaction.empty);
  }

  /** Rows the cache's tensors hold: a commit's outputs are exactly the rows kept so far. */
  get allocatedRows(): number {
    return this.keys[0]!.dims[1]!;
  }

  /**
   * Runs the call after the running commit is done, with the cache's tensors as the past, and
   * holds its new-entry outputs. Every output is fetched, a prefill's logits too: with outputs
   * preferred on the device, onnxruntime-node 1.30 failed a verification after prefills that had
   * left the logits out ("Tensor size mismatch"). Logits and features are expected on the host
   * (their preferred location stays `cpu`).
   */
  async run(
    session: InferenceSession,
    inputs: Record<string, Tensor>,
    _rows: number,
    _rowOutputs: RowOutputs,
    _features: boolean,
  ): Promise<InferenceSession.ReturnType> {
    const { names } = this;
    await this.feedPast(inputs, names);
    const out = await session.run(inputs, session.outputNames);
    this.dropNew();
    for (let l = 0; l < this.layers; l++) {
      this.newKeys[l] = out[names.presentKeys[l]!]!;
      this.newValues[l] = out[names.presentValues[l]!]!;
    }
    return out;
  }

  /** Holds one call's new-entry outputs (`[1, rows, kvHeads, headDim]` per layer) for the next commit. */
  hold(newKeys: readonly Tensor[], newValues: readonly Tensor[]): void {
    this.dropNew();
    for (let l = 0; l < this.layers; l++) {
      this.newKeys[l] = newKeys[l]!;
      this.newValues[l] = newValues[l]!;
    }
  }

  /**
   * Appends held rows `slots[0..count)` (every row in order when `slots` is null) to the cache and
   * starts the compaction that does it.
   * @throws ContextOverflowError when the cache would exceed its capacity.
   */
  commit(slots: Int32Array | null, count: number): void {
    if (this.length + count > this.capacity)
      throw new ContextOverflowError(this.length + count, this.capacity, 'the KV cache');
    this.compaction.keepRows(slots, count);
    this.length += count;
    this.pending = this.pending.then(() => this.compact(count));
  }

  reset(): void {
    this.length = 0;
    this.pending = this.pending
      .catch(() => undefined)
      .then(() => {
        this.dropNew();
        const { compaction } = this;
        for (let l = 0; l < this.layers; l++) {
          compaction.release(this.keys[l]!);
          compaction.release(this.values[l]!);
          this.keys[l] = compaction.empty;
          this.values[l] = compaction.empty;
        }
      });
  }

  private async compact(count: number): Promise<void> {
    const { compaction } = this;
    await compaction.append(this.keys, this.values, this.newKeys, this.newValues, count);
    for (let l = 0; l < this.layers; l++) {
      compaction.release(this.keys[l]!);
      compaction.release(this.values[l]!);
      this.keys[l] = compaction.keptKeys[l]!;
      this.values[l] = compaction.keptValues[l]!;
    }
    this.dropNew();
  }

  private dropNew(): void {
    const { compaction } = this;
    for (let l = 0; l < this.layers; l++) {
      compaction.release(this.newKeys[l]!);
      compaction.release(this.newValues[l]!);
      this.newKeys[l] = compaction.empty;
      this.newValues[l] = compaction.empty;
    }
  }
}
