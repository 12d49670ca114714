// Run by fused-logits.ts in a child process: writes to argv[5] the logits of one verification of
// `rows` chained rows by the target of the bundle at argv[2] on provider argv[3], after a 16-token
// prefill, as raw float32.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DraftTree } from '@treespec/core';
import { createSession } from '@treespec/node';
import { causalLmLayout, findModel, OnnxCausalLm, parseManifest } from '@treespec/onnx';

const [dir, provider, rowsText, out] = process.argv.slice(2);
const rows = Number(rowsText);
const manifestPath = join(dir, 'treespec.json');
const entry = findModel(
  parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath),
  'target',
  manifestPath,
);
const runner = new OnnxCausalLm(
  await createSession(join(dir, entry.file), { executionProvider: provider }),
  causalLmLayout(entry),
  { maxContext: 64 },
);
const ids = Array.from({ length: 16 + rows }, (_, i) => 100 + ((i * 37) % 5000));
await runner.prefill(Int32Array.from(ids.slice(0, 16)));
const tree = new DraftTree(rows);
tree.reset(ids[16]);
for (let n = 1; n < rows; n++) tree.add(n - 1, ids[16 + n], 0);
const { logits } = await runner.verify(tree);
writeFileSync(out, logits.subarray(0, rows * entry.dims.vocab));
await runner.dispose();
