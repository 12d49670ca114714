import { ProviderSupportError } from '@treespec/core';
import type { ActivationDtype, AttentionLayout, BundleDevice, Manifest, ManifestModel } from '@treespec/onnx';

/**
 * The activation dtypes each provider runs natively and correctly, per attention layout, in ONNX
 * Runtime 1.30 (onnxruntime-node and onnxruntime-web 1.30.0). The one place that decides whether a model may
 * load on a provider; the hosts only surface the error.
 *
 * - `plain` (MatMul/Softmax/Concat): every provider, float32. float16 only where the arithmetic
 *   is native: the CPU provider has no float16 kernels for most of these ops on x86 (ONNX Runtime
 *   inserts Casts to float32 around them), and WebAssembly has no half arithmetic at all; WebGPU
 *   runs float16 when the adapter has `shader-f16`, CUDA always.
 * - `in-place` (the same ops reading a head-major host cache buffer where it lies): the CPU and
 *   WebAssembly providers, float32. Not on GPU providers: the buffer is fed whole from host memory
 *   on every call, where plain attention keeps its cache on the device.
 * - `fused` (`com.microsoft.GroupQueryAttention` with the tree as `attention_bias` and a past
 *   cache shared with `present_*`): the CPU kernel takes `attention_bias` since
 *   microsoft/onnxruntime#23944 (tested here against the PyTorch logits, float32); the WebAssembly
 *   build compiles the same CPU kernel (float32). The native WebGPU kernel takes it (#25285), but
 *   its output is wrong for calls of 32 rows or more: measured on Mesa's lavapipe, logits differ
 *   from the CPU kernel's by 0.07–0.8 for 32–40 rows (with or without a past cache, whatever the
 *   bias), while 1–31 rows agree within 1.5e-5 — and prefill chunks and GPU trees (33 nodes by
 *   default) exceed 31 rows. CUDA registers GroupQueryAttention for float16 and bfloat16 only
 *   (contrib_ops/cuda/bert/group_query_attention.cc), so a float32 node would run on the CPU with
 *   the whole cache copied across each call; its `attention_bias` was rejected at run time until
 *   #29525 (merged 2026-07, before 1.30) — CUDA is untested here.
 */
export const PROVIDER_SUPPORT: Readonly<
  Record<BundleDevice, Readonly<Record<AttentionLayout, readonly ActivationDtype[]>>>
> = {
  cpu: { plain: ['float32'], 'in-place': ['float32'], fused: ['float32'] },
  wasm: { plain: ['float32'], 'in-place': ['float32'], fused: ['float32'] },
  webgpu: { plain: ['float32', 'float16'], 'in-place': [], fused: [] },
  cuda: { plain: ['float32', 'float16'], 'in-place': [], fused: ['float16'] },
};

/** How an error names each attention layout. */
const LAYOUT_NAMES: Readonly<Record<AttentionLayout, string>> = {
  plain: 'plain attention',
  'in-place': 'in-place attention (a head-major host cache)',
  fused: 'fused attention (GroupQueryAttention)',
};

/** The providers that run `layout` with `dtype` activations. */
function providersFor(layout: AttentionLayout, dtype: ActivationDtype): BundleDevice[] {
  return (Object.keys(PROVIDER_SUPPORT) as BundleDevice[]).filter((d) =>
    PROVIDER_SUPPORT[d][layout].includes(dtype),
  );
}

function runs(device: BundleDevice, model: ManifestModel): boolean {
  return PROVIDER_SUPPORT[device][model.attention ?? 'plain'].includes(model.dtype);
}

/**
 * Throws unless `device` runs `model` as converted (see {@link PROVIDER_SUPPORT}). The error
 * names the provider, what the model needs, and the fallback: another model of the same role in
 * the bundle that the provider runs, else the conversion that does, and the providers that run
 * this one.
 *
 * @throws ProviderSupportError
 */
export function requireProviderRuns(
  manifest: Manifest,
  model: ManifestModel,
  device: BundleDevice,
  manifestFile: string,
): void {
  // A device the table does not know is the host's to refuse: it names the providers it has.
  if (!Object.hasOwn(PROVIDER_SUPPORT, device) || runs(device, model)) return;
  const layout = model.attention ?? 'plain';
  // The provider runs these activations with plain attention: the model's layout is what it lacks.
  const layoutLacking = PROVIDER_SUPPORT[device].plain.includes(model.dtype);
  const feature = layoutLacking
    ? `${LAYOUT_NAMES[layout]} with ${model.dtype} activations`
    : `${model.dtype} activations`;
  const sibling = manifest.models.find((m) => m.role === model.role && m !== model && runs(device, m));
  const convert = layoutLacking
    ? 'convert it with `--attention plain` (the default), which runs on every provider'
    : 'convert it with float32 activations (the default; `--weights fp16` keeps half-size weights and runs everywhere)';
  const elsewhere = providersFor(layout, model.dtype).filter((d) => d !== device);
  const fallback = [
    sibling ? `load the bundle's ${model.role} "${sibling.id}" instead (option \`models\`)` : convert,
    elsewhere.length ? `or run it on ${elsewhere.map((d) => `"${d}"`).join(' or ')}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  throw new ProviderSupportError({
    provider: device,
    model: model.id,
    feature,
    fallback,
    file: manifestFile,
  });
}

/** Where a model's KV cache lives between calls: host memory, or the provider's device. */
export type KvCacheLocation = 'host' | 'device';

/**
 * Where each provider keeps a plain-attention model's KV cache. On `webgpu` a host cache would
 * cross to the device and back on every call, so the cache stays there as the session's own
 * output tensors (`preferredOutputLocation: 'gpu-buffer'`) and commits run a small compaction
 * graph on the device (`DeviceKvCache` of @treespec/onnx); tested in Node on Mesa's lavapipe and in
 * Chromium on SwiftShader (@treespec/web runs WebGPU sessions' calls one at a time). `cuda` keeps
 * the host cache for now: onnxruntime-node 1.30 binds every `gpu-buffer` output with the memory
 * info named `WebGPU_Buf` whatever the provider (js/node/src/inference_session_wrap.cc), and
 * whether a CUDA session accepts that is untested here; the runner's path is the same, so `device`
 * is the one change once it is verified on a CUDA machine. The CPU and WebAssembly providers read
 * host memory directly. Fused attention shares one cache buffer in place and keeps it on the host
 * everywhere.
 */
export const KV_CACHE_LOCATION: Readonly<Record<BundleDevice, KvCacheLocation>> = {
  cpu: 'host',
  wasm: 'host',
  webgpu: 'device',
  cuda: 'host',
};

/** Where `model`'s KV cache lives on `device` (see {@link KV_CACHE_LOCATION}). */
export function kvCacheLocation(model: ManifestModel, device: BundleDevice): KvCacheLocation {
  if ((model.attention ?? 'plain') !== 'plain') return 'host';
  return Object.hasOwn(KV_CACHE_LOCATION, device) ? KV_CACHE_LOCATION[device] : 'host';
}
