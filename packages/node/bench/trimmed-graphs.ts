/**
 * What the models' graph outputs cost the host, paired in one process: the tiny bundle loaded as
 * `loadTreespec` loads it against the same bundle loaded another way (`--against`), each generating
 * greedily after the same windows of the development prompts' text, plainly and with EAGLE-2, in an
 * order that alternates window by window. Both sides produce the same tokens; the difference is
 * ONNX Runtime's and the binding's work per call.
 *
 * - `every-output`: every model opened with all of its outputs, as before graphs were opened
 *   without those only GPU caches read (`deviceOnlyOutputs`: the cache after each call and the
 *   packed row outputs);
 * - `separate-presents`: host caches fetching each layer's new keys and values as outputs of their
 *   own, as before models packed them into `present_rows` (the manifests' `presentRows` removed).
 *
 *   pnpm -s --filter @treespec/node bench:trimmed-graphs [--against every-output|separate-presents]
 *     [--contexts 100,1000 --windows 6 --max-tokens 128 --threads 2]
 *
 * Prints one JSON report: per context length and side, decoding milliseconds per token (prefill
 * excluded; medians over the windows) and the shipped side's over the other's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TextGenerator, TextResult } from '@treespec/generator';
import {
  checkGraph,
  MANIFEST_FILE,
  type Manifest,
  type ManifestModel,
  type OutputPlacement,
  PRESENT_ROWS_OUTPUT,
  parseManifest,
} from '@treespec/onnx';
import { assemble, plan } from '@treespec/planner';
import { loadTokenizer } from '@treespec/tokenizers';
import type { InferenceSession } from 'onnxruntime-common';
import { resolveBundleFiles } from '../src/bundle-files.js';
import { createSession, loadTreespec } from '../src/index.js';
import { readTokenizerFiles } from '../src/tokenizer-files.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { median } from './median.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    against: { type: 'string', default: 'every-output' },
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

/** Opens one model of the plan from its file (`OpenSession` with the file's path beside). */
type OpenModel = (
  model: ManifestModel,
  file: string,
  outputs?: OutputPlacement,
  unread?: readonly string[],
) => Promise<InferenceSession>;

/** The tiny bundle as `loadTreespec` assembles it from its manifest after `edit`, each model opened by `open`. */
async function loadWith(edit: (manifest: Manifest) => Manifest, open: OpenModel): Promise<TextGenerator> {
  const manifestFile = join(TINY, MANIFEST_FILE);
  const manifest = edit(parseManifest(await readFile(manifestFile, 'utf8'), manifestFile));
  await resolveBundleFiles(TINY, manifest, manifestFile);
  const planned = plan(manifest, { drafter: 'eagle2', controllerSeeds: {} }, 'cpu', manifestFile);
  const tokenizer = await loadTokenizer(await readTokenizerFiles(TINY));
  return assemble(
    planned,
    (model, outputs, unread) => open(model, join(TINY, model.file), outputs, unread),
    tokenizer,
  );
}

const role = (model: ManifestModel) => (model.role === 'target' ? 'target' : 'drafter');
const AGAINST: Record<string, () => Promise<TextGenerator>> = {
  'every-output': () =>
    loadWith(
      (manifest) => manifest,
      async (model, file, outputs) =>
        checkGraph(await createSession(file, sessionOptions, role(model), outputs), model, file),
    ),
  'separate-presents': () =>
    loadWith(
      (manifest) => ({
        ...manifest,
        models: manifest.models.map(({ outputs: { presentRows, ...outputs }, ...model }) => ({
          ...model,
          outputs,
        })),
      }),
      async (model, file, outputs, unread = []) => {
        // The graph still outputs `present_rows`, which this side never fetches.
        const trimmed = [...unread, PRESENT_ROWS_OUTPUT.presentRows];
        const session = await createSession(file, sessionOptions, role(model), outputs, trimmed);
        return checkGraph(session, model, file, trimmed);
      },
    ),
};
const against = AGAINST[values.against];
if (!against)
  throw new Error(`--against: expected ${Object.keys(AGAINST).join(' or ')}; found ${values.against}`);

const sides = {
  shipped: await loadTreespec(TINY, { drafter: 'eagle2', tuningCache: false, ...sessionOptions }),
  other: await against(),
};
type Side = keyof typeof sides;
const SIDES = Object.keys(sides) as Side[];
const ids = sides.shipped.tokenizer.encode(
  devPrompts(39)
    .map((p) => p.prompt)
    .join('\n\n'),
);

const msPerToken = (r: TextResult) => (r.stats.totalMs - r.stats.prefillMs) / r.tokens.length;
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
    shippedOverOther: {
      plain: Math.round((at('shipped plain') / at('other plain')) * 1000) / 1000,
      eagle2: Math.round((at('shipped eagle2') / at('other eagle2')) * 1000) / 1000,
    },
  });
}
await Promise.all(SIDES.map((s) => sides[s].dispose()));
console.log(
  JSON.stringify(
    { against: values.against, windows, maxTokens, threads: values.threads ?? 'default', contexts: report },
    null,
    2,
  ),
);
