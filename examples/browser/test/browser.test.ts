import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tinyDevPromptsPath, tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, hasChromium, launchChromium } from '../scripts/chromium.mjs';
import { serve } from '../scripts/serve.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const MAX_TOKENS = 48;
/** Tokens per prompt on WebGPU, where SwiftShader takes seconds per model call. */
const WEBGPU_TOKENS = 2;

const inCi = Boolean(process.env.CI);
const runBrowser = hasChromium() || inCi;
if (!runBrowser) {
  console.warn(
    `Skipping the browser tests: ${CHROMIUM} is absent. Install Debian's chromium (apt-get install chromium) ` +
      'to run them; in CI .ci/run installs it and they never skip.',
  );
}

type Demo = {
  state: string;
  lastLoad: {
    info: {
      provider: string;
      threads: number;
      bytes: { total: number; downloaded: number; fromCache: number };
    };
  };
  lastRun: {
    spec: {
      text: string;
      finishReason: string;
      stats: { tau: number; generatedTokens: number; meanTreeSize: number; steps: number };
      kvCacheLocation: string;
    };
    plain: { text: string; kvCacheLocation: string } | null;
    speedup: number | null;
    identical: boolean | null;
  };
  run(
    prompt?: string,
    options?: { maxTokens?: number; compare?: boolean; temperature?: number; seed?: number },
  ): Promise<Demo['lastRun']>;
};

/** Waits until the page's state is one of `states` and returns it. */
async function settled(page: Page, states: string[], timeout = 90_000): Promise<string> {
  await page.waitForFunction((s) => s.includes(document.body.dataset.state ?? ''), states, { timeout });
  return page.evaluate(() => document.body.dataset.state ?? '');
}

async function devPrompts(count: number): Promise<string[]> {
  const lines = (await readFile(tinyDevPromptsPath(), 'utf8')).split('\n').filter((l) => l.trim());
  return lines.slice(0, count).map((l) => JSON.parse(l).prompt);
}

describe.skipIf(!runBrowser)('the example page in Chromium', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let prompt: string;
  let expected: string;

  beforeAll(async () => {
    if (!hasChromium())
      throw new Error(`CI must run the browser tests but ${CHROMIUM} is absent; .ci/run installs it`);
    await mkdir(ARTIFACTS, { recursive: true });
    await build({ root: ROOT, logLevel: 'warn' });
    server = await serve(DIST, { testRoutes: true });
    prompt = (await devPrompts(1))[0] as string;
    const generator = await loadTreespec(tinyModelDirectory());
    expected = (await generator.generate(prompt, { maxTokens: MAX_TOKENS })).text;
    await generator.dispose();
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  describe('on WASM', () => {
    let browser: Awaited<ReturnType<typeof launchChromium>>;
    let page: Page;

    beforeAll(async () => {
      browser = await launchChromium();
      page = browser.page;
    });

    afterAll(async () => {
      await browser?.close();
    });

    it('generates greedily exactly the text of the Node runner, under the default budget', async () => {
      await page.goto(`${server.url}?ep=wasm`);
      expect(await settled(page, ['ready', 'error'])).toBe('ready');
      const load = await page.evaluate(
        () => (window as unknown as { treespecDemo: Demo }).treespecDemo.lastLoad,
      );
      expect(load.info.provider).toBe('wasm');
      expect(load.info.threads).toBeGreaterThanOrEqual(1);
      expect(load.info.bytes.fromCache).toBe(0);
      await expect(page.textContent('#runtime-note')).resolves.toMatch(
        /Running on WASM with \d threads? \(cross-origin isolated\)/,
      );

      await page.fill('#prompt', prompt);
      await page.fill('#max-tokens', String(MAX_TOKENS));
      await page.click('#generate');
      expect(await settled(page, ['done', 'error', 'aborted'])).toBe('done');
      expect(await page.textContent('#output')).toBe(expected);
      const run = await page.evaluate(
        () => (window as unknown as { treespecDemo: Demo }).treespecDemo.lastRun,
      );
      expect(run.spec.text).toBe(expected);
      expect(run.plain?.text).toBe(expected);
      // WASM reads host memory, so the planner keeps the target's cache there.
      expect(run.spec.kvCacheLocation).toBe('cpu');
      await expect(page.textContent('#stat-kv-cache')).resolves.toBe('in host memory');
      await expect(page.textContent('#stat-identical')).resolves.toBe('yes');
      await expect(page.textContent('#stat-speedup')).resolves.toMatch(/^\d+\.\d\d×$/);
      // The note follows the unrounded ratio (shown to two decimals: 0.996 reads 1.00×).
      expect(await page.isVisible('#speedup-note')).toBe((run.speedup ?? 1) < 1);
    });

    it('draws each drafted tree with its accepted path', async () => {
      // A fixed budget drafts every step: under the default one, a busy machine's step prices may
      // leave every chain plain, and then no tree is drawn.
      await page.goto(`${server.url}?ep=wasm&budget=fixed`);
      expect(await settled(page, ['ready', 'error'])).toBe('ready');
      await page.fill('#prompt', prompt);
      await page.fill('#max-tokens', String(MAX_TOKENS));
      await page.click('#generate');
      expect(await settled(page, ['done', 'error', 'aborted'])).toBe('done');
      const run = await page.evaluate(
        () => (window as unknown as { treespecDemo: Demo }).treespecDemo.lastRun,
      );
      expect(run.spec.text).toBe(expected);
      expect(run.spec.stats.tau).toBeGreaterThan(1);

      const nodes = await page.locator('#tree-svg .node').count();
      const accepted = await page.locator('#tree-svg .node.accepted').count();
      expect(nodes).toBeGreaterThan(2);
      // Exactly the accepted draft tokens the caption counts are highlighted; the root never is.
      const caption = await page.textContent('#tree-caption');
      expect(caption).toMatch(/the target accepted \d+ of \d+ drafted tokens/);
      expect(accepted).toBe(Number(/accepted (\d+) of/.exec(caption ?? '')?.[1]));
      expect(await page.locator('#tree-svg .node.root.accepted').count()).toBe(0);
      expect(await page.locator('#tree-svg .node.bonus').count()).toBe(1);
      expect(await page.locator('#tree-svg .node.root text').textContent()).not.toBe('');
      await page.screenshot({ path: `${ARTIFACTS}browser-wasm.png`, fullPage: true });
    });

    it('loads the model from the Cache Storage after a reload, downloading nothing', async () => {
      await page.reload();
      expect(await settled(page, ['ready', 'error'])).toBe('ready');
      const { bytes } = (
        await page.evaluate(() => (window as unknown as { treespecDemo: Demo }).treespecDemo.lastLoad)
      ).info;
      expect(bytes.downloaded).toBe(0);
      expect(bytes.fromCache).toBe(bytes.total);
      await expect(page.textContent('#runtime-note')).resolves.toContain('from the cache');
    });

    it('aborts a generation, keeps its text, and generates again afterwards', async () => {
      if (!['ready', 'done'].includes(await page.evaluate(() => document.body.dataset.state ?? ''))) {
        await page.goto(`${server.url}?ep=wasm`);
        expect(await settled(page, ['ready', 'error'])).toBe('ready');
      }
      await page.fill('#prompt', prompt);
      await page.fill('#max-tokens', '1000');
      await page.click('#generate');
      await page.waitForFunction(() => (document.getElementById('output')?.textContent ?? '').length > 0);
      await page.click('#abort');
      expect(await settled(page, ['aborted', 'done', 'error'])).toBe('aborted');
      const aborted = await page.evaluate(
        () => (window as unknown as { treespecDemo: Demo }).treespecDemo.lastRun,
      );
      expect(aborted.spec.finishReason).toBe('abort');
      expect(aborted.spec.text.length).toBeGreaterThan(0);
      expect(await page.textContent('#output')).toBe(aborted.spec.text);
      expect(expected.startsWith(aborted.spec.text) || aborted.spec.text.startsWith(expected)).toBe(true);
      await page.fill('#max-tokens', '8');
      await page.click('#generate');
      expect(await settled(page, ['done', 'error', 'aborted'])).toBe('done');
    });

    it('aborts a download midway and loads again afterwards', async () => {
      await page.goto(`${server.url}?ep=wasm&cache=0&model=/slow/models/tiny/`);
      await page.waitForFunction(
        () => Number((document.getElementById('progress') as HTMLProgressElement).value) > 0,
      );
      await page.click('#abort');
      expect(await settled(page, ['aborted', 'error', 'ready'])).toBe('aborted');
      await expect(page.textContent('#runtime-note')).resolves.toContain('Loading was aborted');
      expect(await page.isEnabled('#load')).toBe(true);
      await page.goto(`${server.url}?ep=wasm`);
      expect(await settled(page, ['ready', 'error'])).toBe('ready');
    });

    it('says clearly that a model URL 404s', async () => {
      await page.goto(`${server.url}?ep=wasm&model=/no-such-model/`);
      expect(await settled(page, ['error', 'ready'])).toBe('error');
      const message = await page.textContent('#error');
      expect(message).toContain('Could not download the model. The server answered HTTP 404.');
      expect(message).toContain(`${server.url}no-such-model/treespec.json: download failed with HTTP 404`);
      expect(await page.isEnabled('#load')).toBe(true);
    });

    it('says clearly that a download was truncated', async () => {
      await page.goto(`${server.url}?ep=wasm&cache=0&model=/truncated/models/tiny/`);
      expect(await settled(page, ['error', 'ready'])).toBe('error');
      const message = await page.textContent('#error');
      expect(message).toMatch(/Could not download the model\. The download stopped after \d+ of \d+ bytes\./);
      expect(message).toContain('.onnx.data: download truncated');
    });

    it('falls back to WASM with a visible note where WebGPU is unavailable', async () => {
      await page.goto(`${server.url}?ep=auto`);
      expect(await settled(page, ['ready', 'error'])).toBe('ready');
      const note = await page.textContent('#runtime-note');
      expect(note).toContain('WebGPU is not available: this browser offers no WebGPU adapter');
      expect(note).toContain('fell back to WASM');
      expect(await page.getAttribute('#runtime-note', 'class')).toBe('note warn');
    });
    it('says clearly that WebGPU asked for by name is unavailable', async () => {
      await page.goto(`${server.url}?ep=webgpu`);
      expect(await settled(page, ['error', 'ready'])).toBe('error');
      const message = await page.textContent('#error');
      expect(message).toContain('The webgpu runtime cannot run here.');
      expect(message).toContain('use executionProvider "auto" to fall back to "wasm"');
    });
  });

  describe('on WebGPU (SwiftShader, a software adapter)', () => {
    it('decodes speculatively exactly as plainly on 5 prompts, and as the Node runner on the first, with the KV cache on the device', async (context) => {
      const browser = await launchChromium({ webgpu: true });
      try {
        const { page } = browser;
        await page.goto(`${server.url}?autoload=0`);
        const adapter = await page.evaluate(async () => {
          const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
          return gpu ? (await gpu.requestAdapter()) !== null : false;
        });
        if (!adapter) {
          console.warn(
            'Skipping the WebGPU test: this Chromium offers no WebGPU adapter, not even SwiftShader.',
          );
          context.skip();
        }
        // SwiftShader runs WebGPU on the CPU at about a second per model call, however few its
        // rows: a fixed one-token draft (so every step drafts, whatever the budget controller
        // would choose), 2 tokens and short prompts (the first words of 5 development prompts)
        // keep it to about 8 calls per prompt.
        // A correctness test on SwiftShader, where each call is slow: no warm-up at load.
        await page.goto(`${server.url}?ep=webgpu&tree=1,1,2&budget=fixed&warmup=0`);
        expect(await settled(page, ['ready', 'error'])).toBe('ready');
        await expect(page.textContent('#runtime-note')).resolves.toContain('Running on WebGPU.');
        const prompts = (await devPrompts(5)).map((p) => p.split(' ').slice(0, 4).join(' '));
        const runs = [];
        for (const p of prompts) {
          runs.push(
            await page.evaluate(
              ({ prompt, maxTokens }) =>
                (window as unknown as { treespecDemo: Demo }).treespecDemo.run(prompt, {
                  maxTokens,
                  compare: true,
                }),
              { prompt: p, maxTokens: WEBGPU_TOKENS },
            ),
          );
        }
        for (const run of runs) {
          expect(run.spec.stats.generatedTokens).toBe(WEBGPU_TOKENS);
          expect(run.plain?.text).toBe(run.spec.text);
          expect(run.identical).toBe(true);
          // The runner read its cache's tensors after each generation: WebGPU buffers, which the
          // compaction graph committed on the device.
          expect(run.spec.kvCacheLocation).toBe('gpu-buffer');
          expect(run.plain?.kvCacheLocation).toBe('gpu-buffer');
        }
        await expect(page.textContent('#stat-kv-cache')).resolves.toBe(
          'on the GPU (WebGPU buffers, committed there)',
        );
        // The first step verified a drafted token (a tree of 2 nodes), so speculation really ran;
        // a second step, where the draft was rejected, takes the last token alone (1 node).
        expect(runs.map((run) => run.spec.stats.meanTreeSize * run.spec.stats.steps)).toEqual(
          runs.map((run) => run.spec.stats.steps + 1),
        );
        // Sampling reads the logits, which the target leaves on the device (greedy steps read each
        // row's greedy token instead): they come down through the logits copy graph and sample as
        // Node's CPU provider does with the same seed.
        const sampling = { temperature: 1, seed: 11 };
        const sampled = await page.evaluate(
          ({ prompt, maxTokens, sampling }) =>
            (window as unknown as { treespecDemo: Demo }).treespecDemo.run(prompt, {
              maxTokens,
              compare: true,
              ...sampling,
            }),
          { prompt: prompts[1] as string, maxTokens: WEBGPU_TOKENS, sampling },
        );
        const generator = await loadTreespec(tinyModelDirectory());
        const reference = await generator.generate(prompts[0] as string, { maxTokens: WEBGPU_TOKENS });
        const sampledReference = await generator.generate(prompts[1] as string, {
          maxTokens: WEBGPU_TOKENS,
          plain: true,
          ...sampling,
        });
        await generator.dispose();
        expect(runs[0]?.spec.text).toBe(reference.text);
        expect(sampled.spec.stats.generatedTokens).toBe(WEBGPU_TOKENS);
        expect(sampled.plain?.text).toBe(sampledReference.text);
        await page.screenshot({ path: `${ARTIFACTS}browser-webgpu.png`, fullPage: true });
      } finally {
        await browser.close();
      }
    }, 600_000);
  });
});
