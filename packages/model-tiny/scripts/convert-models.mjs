// Build step: converts the tiny Hugging Face checkpoints into the ONNX bundle models/tiny/.
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
});
await convertEagleHead({
  checkpoint: tinyCheckpointDirectory(TINY_MODEL_IDS.eagleHead),
  target: tinyCheckpointDirectory(TINY_MODEL_IDS.target),
  out,
  id: TINY_MODEL_IDS.eagleHead,
});
await convertCausalLM({
  checkpoint: tinyCheckpointDirectory(TINY_MODEL_IDS.draft),
  out,
  id: TINY_MODEL_IDS.draft,
  role: 'draft',
});
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`converted target, eagle-head and draft into ${out} in ${seconds} s`);
