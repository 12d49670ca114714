// EAGLE-2 head on a device draft cache, old bundle (an append call after each head call) vs new
// (the call's own cache outputs), interleaved: medians of a commit of 3 rows and of 8-row draft calls.
// Usage: node scripts/device/head-steps.mjs REPO PROVIDER BUNDLE_DIR...
// REPO: a built checkout or an unpacked scripts/offline-kit.sh runtime ($KIT/repo); PROVIDER: cpu
// or webgpu; each BUNDLE_DIR a tiny bundle, compared round by round (their tokens must agree).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { interleaved, median } from './interleaved.mjs';

const [repo, provider, ...dirs] = process.argv.slice(2);
const onnx = await import(join(repo, 'packages/onnx/dist/index.js'));
const node = await import(join(repo, 'packages/node/dist/index.js'));
const ep = { executionProvider: provider };
async function open(dir) {
  const manifest = onnx.parseManifest(readFileSync(join(dir, 'treespec.json'), 'utf8'), dir);
  const model = onnx.findModel(manifest, 'eagle-head');
  const setup = onnx.draftDeviceCacheSetup(model, false);
  const session = await node.createSession(join(dir, model.file), ep, 'drafter', setup.modelOutputs);
  const compaction = await node.createSession(setup.compaction, ep, 'drafter', setup.compactionOutputs);
  return new onnx.OnnxEagleHead(session, onnx.eagleHeadLayout(model), { maxContext: 512, compaction });
}
let seed = 1;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
async function rounds(head, n) {
  seed = 1;
  const f = (rows) => Float32Array.from({ length: rows * head.featureSize }, () => rand() - 0.5);
  const t = (rows) => Int32Array.from({ length: rows }, () => 10 + Math.floor(rand() * 4000));
  head.reset();
  await head.commit(t(100), f(100), 100, 8);
  const commits = [],
    drafts = [];
  const sums = [];
  for (let r = 0; r < n; r++) {
    let t0 = performance.now();
    const c = await head.commit(t(3), f(3), 3, 8);
    commits.push(performance.now() - t0);
    sums.push(c.topTokens[0]);
    for (let depth = 0; depth < 4; depth++) {
      const committed = head.committedRows,
        past = committed + head.draftRows,
        rows = 8,
        width = past + rows;
      const bias = new Float32Array(rows * width).fill(-1e9);
      const positions = new Int32Array(rows).fill(committed + depth);
      for (let i = 0; i < rows; i++) {
        bias.fill(0, i * width, i * width + committed);
        bias[i * width + past + i] = 0;
      }
      t0 = performance.now();
      const d = await head.draft(t(rows), f(rows), positions, bias, rows, 8);
      drafts.push(performance.now() - t0);
      sums.push(d.topTokens[0]);
    }
  }
  return { commit: median(commits.slice(5)), draft: median(drafts.slice(20)), out: sums.join(',') };
}
await interleaved(
  dirs,
  await Promise.all(dirs.map(open)),
  (head) => rounds(head, 40),
  (x) => `commit ${x.commit.toFixed(2)} draft ${x.draft.toFixed(2)}`,
);
