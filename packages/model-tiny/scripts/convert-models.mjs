// Build step: converts the tiny Hugging Face checkpoints into the ONNX bundle models/tiny/.
// Manifest order matters to loaders that take the first model of a role: the int8 EAGLE head with
// a reduced draft vocabulary and context tokens comes first, then the full int8 one and the fp32 one
// (test vectors), and the int8 draft LM before the fp32 one (faster on CPUs, docs/benchmarks.md).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { convertCausalLM, convertEagleHead } from '@treespec/convert';
import {
  TINY_MODEL_IDS,
  TINY_TOKEN_FREQUENCIES,
  tinyCheckpointDirectory,
  tinyModelDirectory,
} from '../dist/node.js';
import { convertDefaultModels } from '../dist/packing.js';

const out = tinyModelDirectory();
const started = performance.now();
await rm(out, { recursive: true, force: true });
await convertDefaultModels(
  {
    target: tinyCheckpointDirectory(TINY_MODEL_IDS.target),
    eagleHead: tinyCheckpointDirectory(TINY_MODEL_IDS.eagleHead),
    tokenFrequencies: join(tinyCheckpointDirectory(TINY_MODEL_IDS.target), '..', TINY_TOKEN_FREQUENCIES),
  },
  out,
);
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
