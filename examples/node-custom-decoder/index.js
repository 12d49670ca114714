import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpeculativeDecoder, StaticTreeGrowth, StaticTreeShape } from '@treespec/core';
import { EagleDrafter } from '@treespec/drafters';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { createSession, readTokenizerFiles } from '@treespec/node';
import {
  causalLmLayout,
  eagleHeadLayout,
  findModel,
  OnnxCausalLm,
  OnnxEagleHead,
  parseManifest,
} from '@treespec/onnx';
import { createVerifier } from '@treespec/sampling';
import { loadTokenizer, TextStream } from '@treespec/tokenizers';

const dir = tinyModelDirectory();
const manifest = parseManifest(await readFile(join(dir, 'treespec.json'), 'utf8'));
const tokenizer = await loadTokenizer(await readTokenizerFiles(dir));

// 1. The target: the model whose output we reproduce, with a KV cache sized for 512 positions.
const targetModel = findModel(manifest, 'target');
const target = new OnnxCausalLm(
  await createSession(join(dir, targetModel.file), { intraOpNumThreads: 2 }),
  causalLmLayout(targetModel),
  { maxContext: 512 },
);

// 2. The drafter: the EAGLE head growing a static EAGLE-1 style tree instead of EAGLE-2's dynamic one.
//    Paths are child ranks: [0, 0, 0] is the best child's best child's best child, [1] the second best child.
const headModel = findModel(manifest, 'eagle-head');
const head = new OnnxEagleHead(await createSession(join(dir, headModel.file)), eagleHeadLayout(headModel), {
  maxContext: 512,
});
const shape = new StaticTreeShape([[0, 0, 0], [0, 1], [1, 0], [2]]);
const drafter = new EagleDrafter(head, { growth: new StaticTreeGrowth(shape) });

// 3. The verifier: lossless sampling at temperature 0.7 with nucleus 0.9, seeded for reproducibility.
const verifier = createVerifier({ temperature: 0.7, topP: 0.9, seed: 42 });

const decoder = new SpeculativeDecoder({ target, drafter, verifier });
const prompt = tokenizer.encode('Q: What does the git commit command do?\nA:');
const stream = decoder.stream(prompt, { maxTokens: 48, eosTokenIds: tokenizer.eosTokenIds });
for await (const text of new TextStream(tokenizer, stream, { context: prompt })) process.stdout.write(text);
const { stats } = await stream.result;
console.log(
  `\n\ntau ${stats.tau.toFixed(2)}, accepted lengths ${JSON.stringify(stats.acceptedLengths)}, ` +
    `draft ${stats.draftMs.toFixed(0)} ms, verify ${stats.verifyMs.toFixed(0)} ms`,
);

if (process.argv.includes('--check')) {
  const again = await decoder.generate(prompt, { maxTokens: 48, eosTokenIds: tokenizer.eosTokenIds });
  const first = await new SpeculativeDecoder({ target, drafter, verifier }).generate(prompt, {
    maxTokens: 48,
    eosTokenIds: tokenizer.eosTokenIds,
  });
  if (again.tokens.join() !== first.tokens.join()) throw new Error('the same seed gave different output');
}
await drafter.dispose();
await target.dispose();
