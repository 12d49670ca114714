import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { CacheNames, CausalLmCache, RowOutputs } from './causal-lm-cache.js';
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
  /** Fetches by what a call wants: [row outputs][features (0 or 1)]. */
  private readonly fetches: Readonly<Record<RowOutputs, readonly (readonly string[])[]>>;

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
    const cache = [...names.presentKeys, ...names.presentValues];
    const withFeature = (fetch: string[]) => [fetch, [...fetch, names.feature]];
    const logits = withFeature([names.logits, ...cache]);
    this.greedyOutputs = names.greedy !== undefined;
    this.sampledOutputs = names.greedy !== undefined && names.sampler !== undefined;
    this.fetches = {
      none: withFeature(cache),
      logits,
      // Never asked for without the outputs (greedyOutputs, sampledOutputs are false then); the
      // logits stand in.
      greedy: names.greedy ? withFeature([names.greedy.token, names.greedy.logitSum, ...cache]) : logits,
      sampled:
        names.greedy && names.sampler
          ? withFeature([names.sampler.token, names.greedy.logitSum, ...cache])
          : logits,
    };
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
