import type { InferenceSession, Tensor } from 'onnxruntime-common';
import {
  type CacheNames,
  type CausalLmCache,
  type NewEntryFetches,
  newEntryFetches,
  type RowOutputs,
} from './causal-lm-cache.js';
import { KV_CHUNK_ROWS, type KvArray, KvCache, type KvDtype } from './kv-cache.js';

/**
 * The KV cache of a plain-attention causal LM in host memory: a {@link KvCache} fed to each call
 * as zero-copy views of its first `length` rows, holding the call's new-entry outputs (host
 * arrays) until a commit copies the accepted rows after the cached ones. A prefill fetches no
 * logits, so ONNX Runtime does not copy `rows × vocab` floats nobody reads, and a greedy
 * verification only each row's greedy token and logit sum where the model has them.
 */
export class HostKvCache extends KvCache implements CausalLmCache {
  readonly location = 'cpu' as const;
  private readonly names: CacheNames;
  private readonly newKeys: KvArray[];
  private readonly newValues: KvArray[];
  readonly greedyOutputs: boolean;
  readonly sampledOutputs: boolean;
  private readonly fetches: NewEntryFetches['fetches'];

  constructor(
    names: CacheNames,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    chunk: number = KV_CHUNK_ROWS,
  ) {
    const layers = names.pastKeys.length;
    super(layers, kvHeads, headDim, capacity, dtype, chunk);
    this.names = names;
    this.newKeys = new Array<KvArray>(layers);
    this.newValues = new Array<KvArray>(layers);
    ({
      fetches: this.fetches,
      greedyOutputs: this.greedyOutputs,
      sampledOutputs: this.sampledOutputs,
    } = newEntryFetches(names));
  }

  /** The cached rows, fed as views of exactly that many. */
  get pastRows(): number {
    return this.length;
  }

  async run(
    session: InferenceSession,
    inputs: Record<string, Tensor>,
    _rows: number,
    rowOutputs: RowOutputs,
    features: boolean,
  ): Promise<InferenceSession.ReturnType> {
    const { names } = this;
    for (let l = 0; l < this.layers; l++) {
      inputs[names.pastKeys[l]!] = this.keyTensor(l, this.length);
      inputs[names.pastValues[l]!] = this.valueTensor(l, this.length);
    }
    const out = await session.run(inputs, this.fetches[rowOutputs][features ? 1 : 0]!);
    for (let l = 0; l < this.layers; l++) {
      this.newKeys[l] = out[names.presentKeys[l]!]!.data as KvArray;
      this.newValues[l] = out[names.presentValues[l]!]!.data as KvArray;
    }
    return out;
  }

  commit(slots: Int32Array | null, count: number): void {
    for (let l = 0; l < this.layers; l++)
      this.writeRows(l, this.newKeys[l]!, this.newValues[l]!, slots, count, this.length);
    this.length += count;
  }

  reset(): void {
    this.length = 0;
  }

  async dispose(): Promise<void> {}
}
