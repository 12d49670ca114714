/**
 * Checks the external-data path on a model above the 2 GB protobuf limit. Not a test (it writes
 * ~1.2 GB and converts to ~2.3 GB); run by hand:
 *
 *   pnpm exec tsx bench/large-model.ts write /tmp/big/hf
 *   /usr/bin/time -v node ../cli/dist/bin.js convert /tmp/big/hf -o /tmp/big/onnx
 *   pnpm exec tsx bench/large-model.ts check /tmp/big/hf /tmp/big/onnx
 *
 * `write` streams a synthetic bf16 Llama checkpoint (2 shards) whose weights come from a seeded
 * generator; `check` runs the converted model on onnxruntime-node for a few tokens and compares
 * the logits with the TypeScript reference forward of the same weights.
 */
import { copyFile, mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { floatToBfloat16Bits, parseDecoderConfig, SafetensorsFile } from '../src/index.js';
import { maxAbsDiff, runSequence } from '../src/testing/index.js';
import { type VariantSpec, variantConfig } from '../test/helpers/random-checkpoint.js';
import { referenceCausalLM } from '../test/helpers/reference-forward.js';

const SPEC: VariantSpec = {
  architecture: 'LlamaForCausalLM',
  vocab: 32000,
  hidden: 2048,
  intermediate: 5632,
  layers: 10,
  heads: 16,
  kvHeads: 4,
  headDim: 128,
  tie: false,
  dtype: 'BF16',
  maxPositions: 256,
  seed: 2025,
};

async function write(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(variantConfig(SPEC), null, 2));
  await copyFile(
    join(import.meta.dirname, '../../model-tiny/checkpoints/treespec-tiny/tokenizer.json'),
    join(dir, 'tokenizer.json'),
  );
  const shapes = shapesOf();
  const names = [...shapes.keys()];
  const half = Math.ceil(names.length / 2);
  const weightMap: Record<string, string> = {};
  for (const [s, part] of [names.slice(0, half), names.slice(half)].entries()) {
    const file = `model-0000${s + 1}-of-00002.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const name of part) {
      const bytes = shapes.get(name)!.reduce((a, b) => a * b, 1) * 2;
      header[name] = { dtype: 'BF16', shape: shapes.get(name), data_offsets: [offset, offset + bytes] };
      offset += bytes;
      weightMap[name] = file;
    }
    const json = Buffer.from(JSON.stringify(header));
    const handle = await open(join(dir, file), 'w');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    await handle.write(Buffer.concat([prefix, json]));
    for (const name of part) {
      const values = weightValues(name, shapes.get(name)!);
      const bits = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) bits[i] = floatToBfloat16Bits(values[i]!);
      await handle.write(new Uint8Array(bits.buffer));
    }
    await handle.close();
  }
  await writeFile(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
}

/** Shapes of every tensor of SPEC, by name. */
function shapesOf(): Map<string, number[]> {
  const { vocab, hidden: h, intermediate: m, heads, kvHeads, headDim: d } = SPEC;
  const map = new Map<string, number[]>([['model.embed_tokens.weight', [vocab, h]]]);
  for (let l = 0; l < SPEC.layers; l++) {
    const p = `model.layers.${l}.`;
    map.set(`${p}input_layernorm.weight`, [h]);
    map.set(`${p}self_attn.q_proj.weight`, [heads * d, h]);
    map.set(`${p}self_attn.k_proj.weight`, [kvHeads * d, h]);
    map.set(`${p}self_attn.v_proj.weight`, [kvHeads * d, h]);
    map.set(`${p}self_attn.o_proj.weight`, [h, heads * d]);
    map.set(`${p}post_attention_layernorm.weight`, [h]);
    map.set(`${p}mlp.gate_proj.weight`, [m, h]);
    map.set(`${p}mlp.up_proj.weight`, [m, h]);
    map.set(`${p}mlp.down_proj.weight`, [h, m]);
  }
  map.set('model.norm.weight', [h]);
  map.set('lm_head.weight', [vocab, h]);
  return map;
}

/** Deterministic weights: a cheap hash-based pattern, scaled like an initialised layer. */
function weightValues(name: string, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let seed = 0;
  for (const c of name) seed = (Math.imul(seed, 31) + c.charCodeAt(0)) >>> 0;
  if (shape.length === 1) return out.fill(1);
  const std = name.includes('embed') ? 1 : 1 / Math.sqrt(shape[1]!);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296 - 0.5) * 3.4641 * std;
  }
  return out;
}

async function check(hf: string, onnxDir: string): Promise<void> {
  const config = parseDecoderConfig(variantConfig(SPEC), 'config.json');
  const weights = new Map<string, Float32Array>();
  for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
    const file = await SafetensorsFile.open(join(hf, shard));
    for (const entry of file.tensors.values()) weights.set(entry.name, await file.readFloat32(entry));
    await file.close();
  }
  const tokens = [1, 500, 31000];
  const positions = [0, 1, 2];
  const started = performance.now();
  const session = await ort.InferenceSession.create(join(onnxDir, 'target.onnx'), {
    graphOptimizationLevel: 'all',
  });
  const loadMs = performance.now() - started;
  const shape = { layers: SPEC.layers, kvHeads: SPEC.kvHeads, headDim: SPEC.headDim };
  const { outputs } = await runSequence(session, shape, tokens);
  const ref = referenceCausalLM(
    weights,
    { ...config, eps: config.rmsNormEps, tie: false },
    tokens,
    positions,
    (i, j) => j <= i,
  );
  const logits = outputs.logits!.data as Float32Array;
  let scale = 0;
  for (const v of ref.logits) scale = Math.max(scale, Math.abs(v));
  console.log(
    JSON.stringify({
      sessionLoadMs: Math.round(loadMs),
      maxAbsLogitDiff: maxAbsDiff(logits, ref.logits),
      maxAbsLogit: scale,
      maxAbsFeatureDiff: maxAbsDiff(outputs.feature!.data as Float32Array, ref.features),
    }),
  );
}

const [command, a, b] = process.argv.slice(2);
if (command === 'write' && a) await write(a);
else if (command === 'check' && a && b) await check(a, b);
else throw new Error('usage: large-model.ts write <hf-dir> | check <hf-dir> <onnx-dir>');
