import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DraftTree } from '@treespec/core';
import { causalLmLayout, findModel, OnnxCausalLm, parseManifest } from '@treespec/onnx';
import { createSession, loadTreespec } from './src/index.js';
import { devPrompts } from './test/tiny.js';

const N = 64;
const ref = await loadTreespec('../model-tiny/models/tiny', { drafter: 'none' } as never);
const prompts = devPrompts(39);
const chains: Int32Array[] = [];
for (const p of prompts) {
  const ids = ref.tokenizer.encode(p.prompt);
  const r = await ref.generate(p.prompt, { maxTokens: N, plain: true });
  chains.push(Int32Array.from([...ids, ...r.tokens]));
}
await ref.dispose();
async function open(dir: string) {
  const m = findModel(parseManifest(readFileSync(join(dir, 'treespec.json'), 'utf8'), dir), 'target');
  return new OnnxCausalLm(await createSession(join(dir, m.file), {}, 'target'), causalLmLayout(m), {
    maxContext: 512,
    maxTreeSize: N + 1,
  });
}
async function rowsLogits(lm: OnnxCausalLm, seq: Int32Array, promptLen: number): Promise<Float32Array> {
  lm.reset();
  await lm.prefill(seq.subarray(0, promptLen - 1));
  const tree = new DraftTree(seq.length - promptLen + 1);
  tree.reset(seq[promptLen - 1]!);
  for (let i = promptLen; i < seq.length; i++) tree.add(i - promptLen, seq[i]!, 0);
  const step = await lm.verify(tree);
  lm.commit;
  return Float32Array.from(step.logits.subarray(0, tree.size * 8192));
}
const fp32 = await open('../model-tiny/models/tiny');
const variants = process.argv.slice(2);
const lms = await Promise.all(variants.map(open));
const stats = variants.map(() => ({ agree: 0, total: 0, err2: 0, ref2: 0 }));
const argmax = (a: Float32Array, r: number) => {
  let b = 0;
  for (let i = 1; i < 8192; i++) if (a[r * 8192 + i]! > a[r * 8192 + b]!) b = i;
  return b;
};
for (let p = 0; p < prompts.length; p++) {
  const seq = chains[p]!;
  const promptLen = seq.length - N;
  const base = await rowsLogits(fp32, seq, promptLen);
  for (let v = 0; v < lms.length; v++) {
    const got = await rowsLogits(lms[v]!, seq, promptLen);
    const rows = base.length / 8192;
    for (let r = 0; r < rows; r++) {
      stats[v]!.total++;
      if (argmax(got, r) === argmax(base, r)) stats[v]!.agree++;
    }
    for (let i = 0; i < base.length; i++) {
      const d = got[i]! - base[i]!;
      stats[v]!.err2 += d * d;
      stats[v]!.ref2 += base[i]! * base[i]!;
    }
  }
}
console.log(
  JSON.stringify(
    Object.fromEntries(
      variants.map((v, i) => [
        v.split('/').pop(),
        {
          top1Agreement: +(stats[i]!.agree / stats[i]!.total).toFixed(4),
          relRms: +Math.sqrt(stats[i]!.err2 / stats[i]!.ref2).toFixed(4),
          rows: stats[i]!.total,
        },
      ]),
    ),
  ),
);
