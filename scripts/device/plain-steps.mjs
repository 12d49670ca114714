// Plain greedy decoding on the target's device cache, old bundle (compaction after each token) vs
// new (the call's own cache outputs), interleaved: ms per token, and the split verify / commit wait.
// Usage: node scripts/device/plain-steps.mjs REPO PROVIDER BUNDLE_DIR...
// REPO: a built checkout or an unpacked scripts/offline-kit.sh runtime ($KIT/repo); PROVIDER: cpu
// or webgpu; each BUNDLE_DIR a tiny bundle, compared round by round (their tokens must agree).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { interleaved, median } from './interleaved.mjs';

const [repo, provider, ...dirs] = process.argv.slice(2);
const onnx = await import(join(repo, 'packages/onnx/dist/index.js'));
const node = await import(join(repo, 'packages/node/dist/index.js'));
const core = await import(join(repo, 'packages/onnx/node_modules/@treespec/core/dist/index.js'));
const ep = { executionProvider: provider };
async function open(dir) {
  const manifest = onnx.parseManifest(readFileSync(join(dir, 'treespec.json'), 'utf8'), dir);
  const layout = onnx.causalLmLayout(onnx.findModel(manifest, 'target'));
  const session = await node.createSession(
    join(dir, 'target.onnx'),
    ep,
    'target',
    onnx.deviceCacheOutputLocations(layout),
  );
  const compaction = await node.createSession(
    onnx.compactionModel(layout.layers, layout.kvHeads, layout.headDim, layout.dtype),
    ep,
    'drafter',
    onnx.compactionOutputLocations(layout.layers),
  );
  return new onnx.OnnxCausalLm(session, layout, { maxContext: 512, compaction });
}
const prompt = Int32Array.from({ length: 40 }, (_, i) => 100 + ((i * 37) % 500));
async function decode(runner, steps) {
  runner.reset();
  await runner.prefill(prompt);
  const one = new core.DraftTree(1);
  const keep = new core.KeepPlan(1);
  const path = Int32Array.of(0);
  let token = 5;
  const total = [],
    verify = [],
    wait = [];
  const out = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    one.reset(token);
    const step = await runner.verify(one, { greedy: true });
    const t1 = performance.now();
    token = step.greedyTokens[0];
    out.push(token);
    runner.commit(core.planKeep(one, path, 1, keep));
    await runner.cache.ready();
    const t2 = performance.now();
    total.push(t2 - t0);
    verify.push(t1 - t0);
    wait.push(t2 - t1);
  }
  return {
    ms: median(total.slice(20)),
    verify: median(verify.slice(20)),
    commit: median(wait.slice(20)),
    out: out.join(','),
  };
}
await interleaved(
  dirs,
  await Promise.all(dirs.map(open)),
  (runner) => decode(runner, 150),
  (x) => `${x.ms.toFixed(2)} (verify ${x.verify.toFixed(2)} + commit ${x.commit.toFixed(2)})`,
);
