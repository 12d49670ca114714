import { ContextOverflowError, ContractError } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { compactionNames } from './compaction-graph.js';
import { DeviceKvCache } from './device-kv-cache.js';
import { LOGITS_COPY_NAMES, WEIGHTS_COPY_NAMES } from './logits-copy-graph.js';

const LAYERS = 2;
const ROW = 2; // kvHeads 1 × headDim 2
const names = compactionNames(LAYERS);
const layerNames = (prefix: string) => Array.from({ length: LAYERS }, (_, l) => `${prefix}.${l}`);
/** The cache names of the model whose cache this is. */
const MODEL = {
  pastKeys: layerNames('past_key'),
  pastValues: layerNames('past_value'),
  presentKeys: layerNames('present_key'),
  presentValues: layerNames('present_value'),
  logits: 'logits',
  feature: 'feature',
};

/** The names of the cache after a call, for a model that outputs it. */
const CACHE = { keys: layerNames('cache_key'), values: layerNames('cache_value') };

/** Tensors handed out by the fakes below, and those disposed. */
interface Ledger {
  disposed: Set<Tensor>;
  made: Tensor[];
}

/** A `[1, rows, 1, 2]` tensor whose row r holds `values[r]` twice; records its disposal. */
function rowsTensor(ledger: Ledger, values: number[]): Tensor {
  const tensor = new Tensor('float32', Float32Array.from(values.flatMap((v) => [v, v])), [
    1,
    values.length,
    1,
    2,
  ]);
  tensor.dispose = () => {
    if (ledger.disposed.has(tensor)) throw new Error('disposed twice');
    ledger.disposed.add(tensor);
  };
  ledger.made.push(tensor);
  return tensor;
}

/** A float32 tensor left on the device (no data on the host); adds itself to `released` when disposed. */
function deviceTensor(released: Set<Tensor>, dims: number[]): Tensor {
  const tensor: Tensor = Tensor.fromGpuBuffer({} as never, {
    dataType: 'float32',
    dims,
    dispose: (): void => {
      released.add(tensor);
    },
  });
  return tensor;
}

function rowValues(tensor: Tensor): number[] {
  const data = tensor.data as Float32Array;
  return Array.from({ length: data.length / ROW }, (_, r) => data[r * ROW]!);
}

/**
 * A stand-in for the compaction graph on host tensors (toy logic, for the cache's bookkeeping):
 * kept = past ++ new[keep], every output a fresh tensor in the ledger. `fail` makes the next run reject.
 */
function compactionSession(ledger: Ledger): {
  session: InferenceSession;
  runs: number;
  fail: boolean;
  released: boolean;
} {
  const state = { runs: 0, fail: false, released: false, session: undefined as unknown as InferenceSession };
  state.session = {
    async run(feeds: Record<string, Tensor>) {
      state.runs++;
      if (state.fail) throw new Error('the device is lost');
      const keep = Array.from(feeds[names.keep]!.data as BigInt64Array, Number);
      const out: Record<string, Tensor> = {};
      const lists = [
        [names.pastKeys, names.newKeys, names.keptKeys],
        [names.pastValues, names.newValues, names.keptValues],
      ] as const;
      for (let l = 0; l < LAYERS; l++)
        for (const [past, added, kept] of lists) {
          const fresh = rowValues(feeds[added[l]!]!);
          out[kept[l]!] = rowsTensor(ledger, [...rowValues(feeds[past[l]!]!), ...keep.map((k) => fresh[k]!)]);
        }
      return out;
    },
    async release() {
      state.released = true;
    },
  } as unknown as InferenceSession;
  return state;
}

/**
 * Holds new rows `values` (+100 for values) in every layer, as a model call's outputs; with
 * `cached`, also the cache after the call (`cached` then `values`), as a model with `cache_*` outputs.
 */
function holdRows(cache: DeviceKvCache, ledger: Ledger, values: number[], cached?: number[]): Tensor[] {
  const keys = Array.from({ length: LAYERS }, (_, l) =>
    rowsTensor(
      ledger,
      values.map((v) => v + 10 * l),
    ),
  );
  const vals = Array.from({ length: LAYERS }, (_, l) =>
    rowsTensor(
      ledger,
      values.map((v) => v + 10 * l + 100),
    ),
  );
  const all = cached ? [...cached, ...values] : [];
  const joinedKeys = cached
    ? CACHE.keys.map((_, l) =>
        rowsTensor(
          ledger,
          all.map((v) => v + 10 * l),
        ),
      )
    : [];
  const joinedValues = cached
    ? CACHE.values.map((_, l) =>
        rowsTensor(
          ledger,
          all.map((v) => v + 10 * l + 100),
        ),
      )
    : [];
  const named = (names: string[], tensors: Tensor[]) => tensors.map((t, l) => [names[l]!, t] as const);
  cache.hold(
    Object.fromEntries([
      ...named(MODEL.presentKeys, keys),
      ...named(MODEL.presentValues, vals),
      ...named(CACHE.keys, joinedKeys),
      ...named(CACHE.values, joinedValues),
    ]),
    values.length,
  );
  return [...keys, ...vals, ...joinedKeys, ...joinedValues];
}

describe('DeviceKvCache', () => {
  it('appends the kept new rows after the cached ones, in the order the slots list them', async () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const fake = compactionSession(ledger);
    const cache = new DeviceKvCache(fake.session, MODEL, 1, 2, 64, 'float32', 8);
    holdRows(cache, ledger, [1, 2, 3]);
    cache.commit(null, 3);
    expect(cache.length).toBe(3);
    await cache.ready();
    holdRows(cache, ledger, [4, 5, 6, 7, 8]);
    cache.commit(Int32Array.from([0, 2, 4]), 3);
    await cache.ready();
    expect(cache.length).toBe(6);
    expect(rowValues(cache.keyTensor(0))).toEqual([1, 2, 3, 4, 6, 8]);
    expect(rowValues(cache.keyTensor(1))).toEqual([11, 12, 13, 14, 16, 18]);
    expect(rowValues(cache.valueTensor(1))).toEqual([111, 112, 113, 114, 116, 118]);
  });

  it('disposes every tensor it no longer references, and nothing it still feeds', async () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const fake = compactionSession(ledger);
    const cache = new DeviceKvCache(fake.session, MODEL, 1, 2, 64, 'float32', 8);
    const first = holdRows(cache, ledger, [1, 2]);
    cache.commit(null, 2);
    await cache.ready();
    const afterFirst = [0, 1].flatMap((l) => [cache.keyTensor(l), cache.valueTensor(l)]);
    // A call's outputs are released once committed; a verify not committed is released by the next.
    for (const t of first) expect(ledger.disposed.has(t)).toBe(true);
    const dropped = holdRows(cache, ledger, [3]);
    const second = holdRows(cache, ledger, [4, 5]);
    for (const t of dropped) expect(ledger.disposed.has(t)).toBe(true);
    cache.commit(Int32Array.from([1]), 1);
    await cache.ready();
    for (const t of [...afterFirst, ...second]) expect(ledger.disposed.has(t)).toBe(true);
    const live = [0, 1].flatMap((l) => [cache.keyTensor(l), cache.valueTensor(l)]);
    for (const t of live) expect(ledger.disposed.has(t)).toBe(false);
    expect(rowValues(cache.keyTensor(0))).toEqual([1, 2, 5]);
    await cache.dispose();
    expect(fake.released).toBe(true);
    // Everything the fakes handed out is released exactly once (rowsTensor throws on a second time).
    expect(ledger.disposed.size).toBe(ledger.made.length);
  });

  it('takes the call’s own cache outputs for a commit that keeps every row in order, and compacts any other', async () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const fake = compactionSession(ledger);
    const cache = new DeviceKvCache(fake.session, { ...MODEL, cache: CACHE }, 1, 2, 64, 'float32', 8);
    const prefill = holdRows(cache, ledger, [1, 2, 3], []);
    cache.commit(null, 3);
    await cache.ready();
    const chain = holdRows(cache, ledger, [4, 5], [1, 2, 3]);
    // A chain accepted whole: the runner passes no slots when no kept row moves.
    cache.commit(null, 2);
    await cache.ready();
    expect(fake.runs).toBe(0);
    expect(cache.keyTensor(0)).toBe(chain[2 * LAYERS]);
    expect(rowValues(cache.valueTensor(1))).toEqual([111, 112, 113, 114, 115]);
    // The first commit's tensors and every new-entry output were released; the cache's are live.
    for (const t of [...prefill, ...chain.slice(0, 2 * LAYERS)]) expect(ledger.disposed.has(t)).toBe(true);
    for (const t of chain.slice(2 * LAYERS)) expect(ledger.disposed.has(t)).toBe(false);
    // A tree whose accepted rows are not all its rows, in order, is compacted.
    const tree = holdRows(cache, ledger, [6, 7, 8], [1, 2, 3, 4, 5]);
    cache.commit(Int32Array.from([0, 2]), 2);
    await cache.ready();
    expect(fake.runs).toBe(1);
    expect(rowValues(cache.keyTensor(1))).toEqual([11, 12, 13, 14, 15, 16, 18]);
    for (const t of tree) expect(ledger.disposed.has(t)).toBe(true);
    holdRows(cache, ledger, [9, 10], [1, 2, 3, 4, 5, 6, 8]);
    cache.commit(Int32Array.from([1, 0]), 2);
    await cache.ready();
    expect(fake.runs).toBe(2);
    expect(rowValues(cache.keyTensor(0))).toEqual([1, 2, 3, 4, 5, 6, 8, 10, 9]);
    await cache.dispose();
    expect(ledger.disposed.size).toBe(ledger.made.length);
  });

  it('reports a failed commit at the next ready() and recovers on reset', async () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const fake = compactionSession(ledger);
    const cache = new DeviceKvCache(fake.session, MODEL, 1, 2, 64, 'float32', 8);
    holdRows(cache, ledger, [1, 2]);
    fake.fail = true;
    cache.commit(null, 2);
    await expect(cache.ready()).rejects.toThrow('the device is lost');
    fake.fail = false;
    cache.reset();
    await cache.ready();
    expect(cache.length).toBe(0);
    expect(cache.keyTensor(0).dims).toEqual([1, 0, 1, 2]);
    holdRows(cache, ledger, [7]);
    cache.commit(null, 1);
    await cache.ready();
    expect(rowValues(cache.keyTensor(0))).toEqual([7]);
  });

  it('reports where its rows are from its own tensors: the host while empty, the device once a commit kept rows there', async () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const onDevice = {
      async run(feeds: Record<string, Tensor>) {
        const total = feeds[names.pastKeys[0]!]!.dims[1]! + feeds[names.keep]!.dims[0]!;
        const out: Record<string, Tensor> = {};
        for (const kept of [...names.keptKeys, ...names.keptValues])
          out[kept] = Tensor.fromGpuBuffer({} as never, { dataType: 'float32', dims: [1, total, 1, 2] });
        return out;
      },
    } as unknown as InferenceSession;
    const cache = new DeviceKvCache(onDevice, MODEL, 1, 2, 64, 'float32', 8);
    expect(cache.location).toBe('cpu');
    expect(cache.allocatedRows).toBe(0);
    holdRows(cache, ledger, [1, 2, 3]);
    cache.commit(Int32Array.from([0, 2]), 2);
    await cache.ready();
    expect(cache.location).toBe('gpu-buffer');
    expect(cache.allocatedRows).toBe(2);
    cache.reset();
    await cache.ready();
    expect(cache.location).toBe('cpu');
  });

  it('copies logits the model left on the device to the host only for calls that read them, and releases them either way', async () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const withGreedy = { ...MODEL, greedy: { token: 'greedy_token', logitSum: 'logit_sum' } };
    const deviceLogits: Tensor[] = [];
    const released = new Set<Tensor>();
    const model = {
      outputNames: [...withGreedy.presentKeys, ...withGreedy.presentValues, 'logits', 'greedy_token'],
      async run() {
        const out: Record<string, Tensor> = {};
        for (const name of [...withGreedy.presentKeys, ...withGreedy.presentValues])
          out[name] = rowsTensor(ledger, [1, 2]);
        const logits = deviceTensor(released, [1, 2, 3]);
        deviceLogits.push(logits);
        out.logits = logits;
        out.greedy_token = new Tensor('int32', Int32Array.from([2, 0]), [1, 2]);
        return out;
      },
    } as unknown as InferenceSession;
    const copied: Tensor[] = [];
    const copy = {
      async run(feeds: Record<string, Tensor>) {
        expect(feeds[LOGITS_COPY_NAMES.deviceLogits]).toBe(deviceLogits.at(-1));
        const host = new Tensor('float32', Float32Array.from([0, 1, 2, 3, 4, 5]), [1, 2, 3]);
        copied.push(host);
        return { [LOGITS_COPY_NAMES.logits]: host };
      },
      async release() {},
    } as unknown as InferenceSession;
    const cache = new DeviceKvCache(compactionSession(ledger).session, withGreedy, 1, 2, 64, 'float32', 8, {
      logits: copy,
    });
    expect(cache.greedyOutputs).toBe(true);
    for (const rowOutputs of ['none', 'greedy'] as const) {
      const out = await cache.run(model, {}, 2, rowOutputs, false);
      expect(copied).toHaveLength(0);
      expect(out.greedy_token!.data).toEqual(Int32Array.from([2, 0]));
      expect(released.has(deviceLogits.at(-1)!)).toBe(true);
    }
    const out = await cache.run(model, {}, 2, 'logits', false);
    expect(copied).toHaveLength(1);
    expect(out.logits).toBe(copied[0]);
    expect(released.has(deviceLogits.at(-1)!)).toBe(true);
    // Without a copy session, a call that reads the logits is refused, and the cache stays usable.
    const uncopied = new DeviceKvCache(compactionSession(ledger).session, withGreedy, 1, 2, 64, 'float32', 8);
    await expect(uncopied.run(model, {}, 2, 'logits', false)).rejects.toThrow(ContractError);
    expect(released.has(deviceLogits.at(-1)!)).toBe(true);
    uncopied.commit(null, 2);
    await uncopied.ready();
    expect(rowValues(uncopied.keyTensor(0))).toEqual([1, 2]);
    expect((await uncopied.run(model, {}, 2, 'greedy', false)).greedy_token).toBeDefined();
  });

  it('copies sampled rows’ weights left on the device to the host only for calls that read them, and releases them and an unread feature either way', async () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const sampler = {
      uniforms: 'sample_uniforms',
      temperature: 'sample_temperature',
      token: 'sampled_token',
      weights: 'sample_weights',
      mass: 'sample_mass',
    };
    const names = {
      ...MODEL,
      greedy: { token: 'greedy_token', logitSum: 'logit_sum' },
      sampler,
      unread: ['captured_feature'],
    };
    const onDevice = new Map<string, Tensor[]>();
    const released = new Set<Tensor>();
    const leftOnDevice = (name: string, dims: number[]): Tensor => {
      const tensor = deviceTensor(released, dims);
      onDevice.set(name, [...(onDevice.get(name) ?? []), tensor]);
      return tensor;
    };
    const model = {
      outputNames: [],
      async run() {
        const out: Record<string, Tensor> = {};
        for (const name of [...names.presentKeys, ...names.presentValues])
          out[name] = rowsTensor(ledger, [1]);
        for (const name of ['logits', 'sample_weights', 'captured_feature'])
          out[name] = leftOnDevice(name, [1, 1, 3]);
        out.sample_mass = leftOnDevice('sample_mass', [1, 1]);
        out.greedy_token = new Tensor('int32', Int32Array.from([2]), [1, 1]);
        out.logit_sum = new Tensor('float32', Float32Array.from([3]), [1, 1]);
        out.sampled_token = new Tensor('int32', Int32Array.from([1]), [1, 1]);
        return out;
      },
    } as unknown as InferenceSession;
    let copies = 0;
    const hostWeights = new Tensor('float32', Float32Array.from([0.5, 1, 0.25]), [1, 1, 3]);
    const hostMass = new Tensor('float32', Float32Array.from([1.75]), [1, 1]);
    const copy = {
      async run(feeds: Record<string, Tensor>) {
        copies++;
        expect(feeds[WEIGHTS_COPY_NAMES.deviceWeights]).toBe(onDevice.get('sample_weights')!.at(-1));
        expect(feeds[WEIGHTS_COPY_NAMES.deviceMass]).toBe(onDevice.get('sample_mass')!.at(-1));
        return { [WEIGHTS_COPY_NAMES.weights]: hostWeights, [WEIGHTS_COPY_NAMES.mass]: hostMass };
      },
      async release() {},
    } as unknown as InferenceSession;
    const cache = new DeviceKvCache(compactionSession(ledger).session, names, 1, 2, 64, 'float32', 8, {
      weights: copy,
    });
    const sampled = await cache.run(model, {}, 1, 'sampled', false);
    expect(copies).toBe(0);
    expect(sampled.sampled_token!.data).toEqual(Int32Array.from([1]));
    const weighed = await cache.run(model, {}, 1, 'weights', false);
    expect(copies).toBe(1);
    expect(weighed.sample_weights).toBe(hostWeights);
    expect(weighed.sample_mass).toBe(hostMass);
    // Every output left on the device, read or not, was released after its call.
    for (const tensors of onDevice.values())
      for (const tensor of tensors) expect(released.has(tensor)).toBe(true);
    // Without a weights copy session, a call that reads them is refused, and the cache stays usable.
    const uncopied = new DeviceKvCache(compactionSession(ledger).session, names, 1, 2, 64, 'float32', 8);
    await expect(uncopied.run(model, {}, 1, 'weights', false)).rejects.toThrow(ContractError);
    for (const tensors of onDevice.values()) expect(released.has(tensors.at(-1)!)).toBe(true);
    uncopied.commit(null, 1);
    await uncopied.ready();
    expect(rowValues(uncopied.keyTensor(0))).toEqual([1]);
  });

  it('reads a call’s features, greedy tokens, logit sums and drawn tokens from its packed row outputs, releasing the parts left on the device', async () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const names = {
      ...MODEL,
      scoreRows: 'score_rows',
      greedy: { token: 'greedy_token', logitSum: 'logit_sum' },
      sampler: { uniforms: 'sample_uniforms', temperature: 'sample_temperature', token: 'sampled_token' },
      rowOutputs: 'row_outputs',
    };
    const released = new Set<Tensor>();
    const onDevice: Tensor[] = [];
    let packed = Float32Array.from([0.5, 1.5, 2.5, 3.5, 7, 4, -1, 2.25, 3]);
    const model = {
      outputNames: [],
      async run() {
        const out: Record<string, Tensor> = {};
        for (const name of [...names.presentKeys, ...names.presentValues])
          out[name] = rowsTensor(ledger, [1, 2]);
        for (const name of ['logits', 'feature', 'greedy_token', 'logit_sum', 'sampled_token']) {
          out[name] = deviceTensor(released, [1]);
          onDevice.push(out[name]!);
        }
        out.row_outputs = new Tensor('float32', packed, [1, packed.length]);
        return out;
      },
    } as unknown as InferenceSession;
    const cache = new DeviceKvCache(compactionSession(ledger).session, names, 1, 2, 64, 'float32', 8);
    // 2 rows of 2 feature values; 2 scored rows' greedy tokens 7, 4 and logit sums -1, 2.25; 1 drawn token 3.
    const inputs = () => ({
      score_rows: new Tensor('int64', BigInt64Array.from([2n]), [1]),
      sample_uniforms: new Tensor('float32', Float32Array.from([0.5, 0.5]), [1, 2]),
    });
    const out = await cache.run(model, inputs(), 2, 'sampled', true);
    expect(out.feature!.dims).toEqual([1, 2, 2]);
    expect(Array.from(out.feature!.data as Float32Array)).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(out.greedy_token!.data).toEqual(Int32Array.from([7, 4]));
    expect(out.logit_sum!.data).toEqual(Float32Array.from([-1, 2.25]));
    expect(out.sampled_token!.data).toEqual(Int32Array.from([3]));
    for (const tensor of onDevice) expect(released.has(tensor)).toBe(true);
    // A packed tensor of another size is refused, and the cache stays usable.
    packed = Float32Array.from([1, 2, 3]);
    await expect(cache.run(model, inputs(), 2, 'sampled', true)).rejects.toThrow(ContractError);
    for (const tensor of onDevice) expect(released.has(tensor)).toBe(true);
    cache.commit(null, 2);
    await cache.ready();
    expect(rowValues(cache.keyTensor(0))).toEqual([1, 2]);
  });

  it('refuses a commit past its capacity', () => {
    const ledger: Ledger = { disposed: new Set(), made: [] };
    const cache = new DeviceKvCache(compactionSession(ledger).session, MODEL, 1, 2, 4, 'float32', 8);
    holdRows(cache, ledger, [1, 2, 3, 4, 5]);
    expect(() => cache.commit(null, 5)).toThrow(ContextOverflowError);
    expect(cache.length).toBe(0);
  });
});
