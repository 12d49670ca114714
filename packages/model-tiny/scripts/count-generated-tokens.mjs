// Maintenance step (not part of the build): counts the tokens of text the tiny target generates by
// itself (temperature 1 from <s>, fixed seeds), for the FR-Spec draft vocabulary of the tiny bundle.
// Writes checkpoints/treespec-tiny-generated-frequencies.json. Run after `pnpm build`:
//   node packages/model-tiny/scripts/count-generated-tokens.mjs [sequences] [tokens]
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TOKEN_FREQUENCIES_FORMAT, writeTokenFrequencies } from '@treespec/convert';
import { loadTreespec } from '../../node/dist/index.js';
import { TINY_MODEL_IDS, tinyCheckpointDirectory, tinyModelDirectory } from '../dist/node.js';

const sequences = Number(process.argv[2] ?? 96);
const length = Number(process.argv[3] ?? 256);
const targetDir = tinyCheckpointDirectory(TINY_MODEL_IDS.target);
const generator = await loadTreespec(tinyModelDirectory(), { drafter: 'none' });
const counts = new Array(8192).fill(0);
let tokens = 0;
for (let seed = 0; seed < sequences; seed++) {
  const r = await generator.generate('', { maxTokens: length, temperature: 1, seed, plain: true });
  for (const id of r.tokens) counts[id]++;
  tokens += r.tokens.length;
}
await generator.dispose();
const sha = createHash('sha256')
  .update(await readFile(join(targetDir, 'tokenizer.json')))
  .digest('hex');
const out = join(targetDir, '..', 'treespec-tiny-generated-frequencies.json');
await writeTokenFrequencies(out, {
  format: TOKEN_FREQUENCIES_FORMAT,
  tokenizerSha256: sha,
  source: `treespec-tiny sampled at temperature 1 from <s>: ${sequences} sequences of up to ${length} tokens, seeds 0..${sequences - 1}`,
  tokens,
  counts,
});
console.log(`counted ${tokens} tokens into ${out}`);
