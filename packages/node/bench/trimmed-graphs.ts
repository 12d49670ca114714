/**
 * What opening the models without their device-only outputs saves on the CPU, paired in one
 * process: the tiny bundle loaded as `loadTreespec` loads it (graphs without the cache after each
 * call and the packed row outputs, which only GPU caches read: `deviceOnlyOutputs`) and loaded with
 * every output kept (as before), each generating greedily after the same windows of the
 * development prompts' text, plainly and with EAGLE-2, in an order that alternates window by
 * window. Both sides produce the same tokens; the difference is ONNX Runtime's work per call.
 *
 *   pnpm -s --filter @treespec/node bench:trimmed-graphs [--contexts 100,1000 --windows 6 --max-tokens 128 --threads 2]
 *
 * Prints one JSON report: per context length and side, decoding milliseconds per token (prefill
 * excluded; medians over the windows) and the trimmed side's over the whole side's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TextGenerator, TextResult } from '@treespec/generator';
import { checkGraph, MANIFEST_FILE, parseManifest } from '@treespec/onnx';
import { assemble, plan } from '@treespec/planner';
import { loadTokenizer } from '@treespec/tokenizers';
import { resolveBundleFiles } from '../src/bundle-files.js';
import { createSession, loadTreespec } from '../src/index.js';
import { readTokenizerFiles } from '../src/tokenizer-files.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    contexts: { type: 'string', default: '100,1000' },
    windows: { type: 'string', default: '6' },
    'max-tokens': { type: 'string', default: '128' },
    threads: { type: 'string' },
  },
});
const contexts = values.contexts.split(',').map(Number);
const windows = Number(values.windows);
const maxTokens = Number(values['max-tokens']);
const sessionOptions = values.threads ? { intraOpNumThreads: Number(values.threads) } : {};

/** The tiny bundle as `loadTreespec` assembles it, but every model opened with all of its outputs. */
async function loadWithEveryOutput(): Promise<TextGenerator> {
  const manifestFile = join(TINY, MANIFEST_FILE);
  const manifest = parseManifest(await readFile(manifestFile, 'utf8'), manifestFile);
  await resolveBundleFiles(TINY, manifest, manifestFile);
  const planned = plan(manifest, { drafter: 'eagle2', controllerSeeds: {} }, 'cpu', manifestFile);
  const tokenizer = await loadTokenizer(await readTokenizerFiles(TINY));
  return assemble(
    planned,
    async (model, outputs) => {
      const file = join(TINY, model.file);
      const role = model.role === 'target' ? 'target' : 'drafter';
      return checkGraph(await createSession(file, sessionOptions, role, outputs), model, file);
    },
    tokenizer,
  );
}

const sides = {
  trimmed: await loadTreespec(TINY, { drafter: 'eagle2', tuningCache: false, ...sessionOptions }),
  whole: await loadWithEveryOutput(),
};
type Side = keyof typeof sides;
const SIDES = Object.keys(sides) as Side[];
const ids = sides.trimmed.tokenizer.encode(
  devPrompts(39)
    .map((p) => p.prompt)
    .join('\n\n'),
);

const msPerToken = (r: TextResult) => (r.stats.totalMs - r.stats.prefillMs) / r.tokens.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const report = [];
for (const length of contexts) {
  const ms: Record<string, number[]> = Object.fromEntries(
    SIDES.flatMap((side) => [`${side} plain`, `${side} eagle2`]).map((key) => [key, []]),
  );
  for (let w = 0; w < windows; w++) {
    const start = Math.floor(((ids.length - length) * w) / windows);
    const window = Int32Array.from(ids.subarray(start, start + length));
    const tokens: Record<string, string> = {};
    for (let k = 0; k < SIDES.length; k++) {
      const side = SIDES[(w + k) % SIDES.length]!;
      for (const mode of ['plain', 'eagle2'] as const) {
        const result = await sides[side].generate(window, { maxTokens, plain: mode === 'plain' });
        ms[`${side} ${mode}`]!.push(msPerToken(result));
        tokens[`${side} ${mode}`] = Array.from(result.tokens).join(',');
      }
    }
    if (new Set(Object.values(tokens)).size !== 1)
      throw new Error(`window ${w} of ${length}: outputs differ`);
  }
  const at = (key: string) => Math.round(median(ms[key]!) * 1000) / 1000;
  report.push({
    promptTokens: length,
    msPerToken: Object.fromEntries(Object.keys(ms).map((k) => [k, at(k)])),
    trimmedOverWhole: {
      plain: Math.round((at('trimmed plain') / at('whole plain')) * 1000) / 1000,
      eagle2: Math.round((at('trimmed eagle2') / at('whole eagle2')) * 1000) / 1000,
    },
  });
}
await Promise.all(SIDES.map((s) => sides[s].dispose()));
console.log(
  JSON.stringify({ windows, maxTokens, threads: values.threads ?? 'default', contexts: report }, null, 2),
);
