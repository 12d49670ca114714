// Build step: converts the tiny Hugging Face checkpoints into the ONNX bundle models/tiny/.
// Manifest order matters to loaders that take the first model of a role: the int8 EAGLE head comes
// before the fp32 one (test vectors), and so does the int8 draft LM (faster on CPUs, docs/benchmarks.md).
import { rm } from 'node:fs/promises';
import { convertCausalLM, convertEagleHead } from '@treespec/convert';
import { TINY_MODEL_IDS, tinyCheckpointDirectory, tinyModelDirectory } from '../dist/node.js';

const out = tinyModelDirectory();
const started = performance.now();
await rm(out, { recursive: true, force: true });
await convertCausalLM({
  checkpoint: tinyCheckpointDirectory(TINY_MODEL_IDS.target),
  out,
  id: TINY_MODEL_IDS.target,
  role: 'target',
  // The captured layer inputs the EAGLE-3 head fuses, as one extra output beside the feature.
  eagle3Layers: 'reference',
});
for (const [id, weightFormat] of [
  [TINY_MODEL_IDS.eagleHead, 'int8'],
  [TINY_MODEL_IDS.eagleHeadFp32, 'fp32'],
]) {
  await convertEagleHead({
    checkpoint: tinyCheckpointDirectory(id),
    target: tinyCheckpointDirectory(TINY_MODEL_IDS.target),
    out,
    id,
    weightFormat,
  });
}
await convertEagleHead({
  checkpoint: tinyCheckpointDirectory(TINY_MODEL_IDS.eagle3Head),
  target: tinyCheckpointDirectory(TINY_MODEL_IDS.target),
  out,
  id: TINY_MODEL_IDS.eagle3Head,
});
for (const [id, weightFormat] of [
  [TINY_MODEL_IDS.draftInt8, 'int8'],
  [TINY_MODEL_IDS.draft, 'fp32'],
]) {
  await convertCausalLM({ checkpoint: tinyCheckpointDirectory(id), out, id, role: 'draft', weightFormat });
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`converted ${Object.values(TINY_MODEL_IDS).join(', ')} into ${out} in ${seconds} s`);
