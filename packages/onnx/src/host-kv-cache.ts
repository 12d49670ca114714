import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { type CacheNames, type CausalLmCache, NewEntries, type RowOutputs } from './causal-lm-cache.js';
import { KV_CHUNK_ROWS, KvCache, type KvDtype } from './kv-cache.js';

/**
 * The KV cache of a plain-attention causal LM in host memory: a {@link KvCache} fed to each call
 * as zero-copy views of its first `length` rows, holding the call's new-entry outputs (host
 * arrays) until a commit copies the accepted rows after the cached ones. A prefill fetches no
 * logits, so ONNX Runtime does not copy `rows × vocab` floats nobody reads, and a greedy
 * verification only each row's greedy token and logit sum where the model has them.
 */
export class HostKvCache extends KvCache implements CausalLmCache {
  readonly location = 'cpu' as const;
  readonly greedyOutputs: boolean;
  readonly sampledOutputs: boolean;
  private readonly names: CacheNames;
  private readonly entries: NewEntries;

  constructor(
    names: CacheNames,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    chunk: number = KV_CHUNK_ROWS,
  ) {
    super(names.pastKeys.length, kvHeads, headDim, capacity, dtype, chunk);
    this.names = names;
    this.entries = new NewEntries(names);
    this.greedyOutputs = this.entries.greedyOutputs;
    this.sampledOutputs = this.entries.sampledOutputs;
  }

  /** The cached rows, fed as views of exactly that many. */
  get pastRows(): number {
    return this.length;
  }

  async run(
    session: InferenceSession,
    inputs: Record<string, Tensor>,
    rows: number,
    rowOutputs: RowOutputs,
    features: boolean,
  ): Promise<InferenceSession.ReturnType> {
    const { names } = this;
    for (let l = 0; l < this.layers; l++) {
      inputs[names.pastKeys[l]!] = this.keyTensor(l, this.length);
      inputs[names.pastValues[l]!] = this.valueTensor(l, this.length);
    }
    return this.entries.run(session, inputs, rows, rowOutputs, features);
  }

  commit(slots: Int32Array | null, count: number): void {
    const { keys, values } = this.entries;
    for (let l = 0; l < this.layers; l++) this.writeRows(l, keys[l]!, values[l]!, slots, count, this.length);
    this.length += count;
  }

  reset(): void {
    this.length = 0;
  }

  async dispose(): Promise<void> {}
}
