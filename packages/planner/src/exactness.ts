import { type ManifestModel, weightsQuantizeActivations } from '@treespec/onnx';

/**
 * Why speculative decoding with `target` may not reproduce its plain decoding token for token, or
 * null when nothing stands in the way. A target whose weights quantize activations (`w8a8`, and
 * `int8`/`int4` at any MatMulNBits accuracy level but 1) turns last-bit differences into whole codes; a tree
 * verification's rows differ from plain steps in the last bits unless the attention sums over the
 * keys in float64 (`attentionPrecision`, which the converter records since it sums so), and the
 * in-place and fused attentions always sum in float32.
 */
export function exactnessWarning(target: ManifestModel): string | null {
  if (!weightsQuantizeActivations(target)) return null;
  const attention = target.attention ?? 'plain';
  if (attention === 'plain' && target.attentionPrecision === 'float64') return null;
  const sums =
    attention === 'fused'
      ? 'its fused attention (GroupQueryAttention) sums in float32'
      : attention === 'in-place'
        ? 'its in-place attention sums in float32'
        : 'its attention sums in float32 (converted before treespec summed such targets in float64)';
  return (
    `treespec: model "${target.id}" quantizes its activations (${target.weightFormat}) and ${sums}, ` +
    'so speculative decoding can give another token than plain decoding where two are nearly tied; ' +
    're-convert it with `treespec convert` and plain attention (it then sums in float64) for output identical to plain decoding'
  );
}
