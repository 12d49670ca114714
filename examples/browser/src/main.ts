import {
  DownloadError,
  describeStepCosts,
  type ExecutionProviderPreference,
  type LoadInfo,
  type LoadProgress,
  type LoadTreespecWebOptions,
  ProviderUnavailableError,
  type StepCosts,
  stepCosts,
  type TreeSnapshot,
  TreespecWorkerClient,
  type WorkerResult,
} from '@treespec/web';
import { renderTree } from './tree-view.js';

/** Page settings from the query string: ?model=…&ep=wasm&tree=4,4,12&budget=fixed&threads=2&cache=0&autoload=0&prompt=…&maxTokens=… */
const params = new URLSearchParams(location.search);
const MODEL_URL = params.get('model') ?? '/models/tiny/';
const TREE = parseTree(params.get('tree'));
/** `?render=0`: show the text only when done and draw no trees (measuring decoding apart from the page's rendering). */
const RENDER = params.get('render') !== '0';

function parseTree(value: string | null): { topK: number; depth: number; totalTokens: number } | undefined {
  if (!value) return undefined;
  const [topK, depth, totalTokens] = value.split(',').map(Number);
  return { topK, depth, totalTokens };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  ep: $<HTMLSelectElement>('ep'),
  load: $<HTMLButtonElement>('load'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $('progress-text'),
  runtimeNote: $('runtime-note'),
  prompt: $<HTMLTextAreaElement>('prompt'),
  maxTokens: $<HTMLInputElement>('max-tokens'),
  compare: $<HTMLInputElement>('compare'),
  generate: $<HTMLButtonElement>('generate'),
  abort: $<HTMLButtonElement>('abort'),
  error: $('error'),
  tau: $('stat-tau'),
  tps: $('stat-tps'),
  plainTps: $('stat-plain-tps'),
  speedup: $('stat-speedup'),
  speedupNote: $('speedup-note'),
  identical: $('stat-identical'),
  kvCache: $('stat-kv-cache'),
  controller: $('stat-controller'),
  costs: $('stat-costs'),
  output: $('output'),
  treeSvg: document.getElementById('tree-svg') as unknown as SVGSVGElement,
  treeCaption: $('tree-caption'),
};
const ep = params.get('ep');
if (ep === 'auto' || ep === 'webgpu' || ep === 'wasm') ui.ep.value = ep;
if (params.get('prompt')) ui.prompt.value = params.get('prompt') as string;
if (params.get('maxTokens')) ui.maxTokens.value = params.get('maxTokens') as string;

/** Where the target's KV cache was, as the runner reported it at the end of a generation. */
function describeCacheLocation(location: WorkerResult['kvCacheLocation']): string {
  if (location === 'gpu-buffer') return 'on the GPU (WebGPU buffers, committed there)';
  if (location === 'cpu') return 'in host memory';
  return location;
}

/** The budget controller's choices in one line: plain steps, mean tree, predicted vs actual tokens per step. */
function describeController(c: WorkerResult['stats']['controller']): string {
  if (!c) return '–';
  const plainShare = c.steps > 0 ? (100 * c.plainSteps) / c.steps : 0;
  return (
    `${fmt(plainShare, 0)}% plain steps; trees of depth ${fmt(c.meanDepth, 1)}, ${fmt(c.meanNodes, 1)} nodes; ` +
    `${fmt(c.predictedTokensPerStep, 2)} tokens/step predicted, ${fmt(c.actualTokensPerStep, 2)} actual; ` +
    `plain step ${fmt(c.costs.plainStep, 1)} ms`
  );
}

type State = 'idle' | 'loading' | 'ready' | 'generating' | 'done' | 'aborted' | 'error';

/** The outcome of one run: the speculative generation and, when compared, the plain one. */
export interface RunOutcome {
  spec: WorkerResult;
  plain: WorkerResult | null;
  /** Speculative tokens/s ÷ plain tokens/s (decoding only, prefill excluded), or null without a plain run. */
  speedup: number | null;
  /** Whether both runs wrote the same text (greedy decoding is lossless), or null. */
  identical: boolean | null;
  /** Trees drawn (each step's tree, throttled to one per frame). */
  treesDrawn: number;
  /** Where the speculative run's decoding time went, per step, beside the plain run's token. */
  costs: StepCosts;
}

let client: TreespecWorkerClient | null = null;
let loaded: LoadInfo | null = null;
let current: AbortController | null = null;
const demo = {
  state: 'idle' as State,
  lastLoad: null as { info: LoadInfo; pageMs: number } | null,
  lastRun: null as RunOutcome | null,
  load,
  run,
  abort: () => current?.abort(),
};
(window as unknown as { treespecDemo: typeof demo }).treespecDemo = demo;

function setState(state: State): void {
  demo.state = state;
  document.body.dataset.state = state;
  const busy = state === 'loading' || state === 'generating';
  ui.load.disabled = busy;
  ui.ep.disabled = busy;
  ui.abort.disabled = !busy;
  ui.generate.disabled = busy || loaded === null;
}

function showError(message: string | null): void {
  ui.error.hidden = message === null;
  ui.error.textContent = message ?? '';
}

function describeError(error: unknown): string {
  if (error instanceof DownloadError) {
    const what =
      error.reason === 'http'
        ? `The server answered HTTP ${error.status}.`
        : error.reason === 'truncated'
          ? `The download stopped after ${error.receivedBytes} of ${error.expectedBytes} bytes.`
          : 'The network request failed.';
    return `Could not download the model. ${what}\n${error.message}`;
  }
  if (error instanceof ProviderUnavailableError)
    return `The ${error.provider} runtime cannot run here.\n${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function isAbort(error: unknown): boolean {
  return (error as { code?: string })?.code === 'ABORTED';
}

function ensureClient(): TreespecWorkerClient {
  // A worker that failed is gone with its model: the next load starts a new one.
  if (client?.failed) client = null;
  client ??= new TreespecWorkerClient(
    new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' }),
  );
  return client;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Shows a load's progress. The total appears once every file's size is known (before that it
 * would grow as files start); once every file is in, the bar turns indeterminate while ONNX
 * Runtime creates the sessions, which takes a few seconds of its own.
 */
function showProgress(p: LoadProgress): void {
  const cached = p.loaded - p.downloaded;
  const fromCache = cached > 0 ? ` (${mb(cached)} from cache)` : '';
  if (p.files.length > 0 && p.files.every((f) => f.done)) {
    ui.progress.removeAttribute('value');
    ui.progressText.textContent = `${mb(p.loaded)}${fromCache}`;
    ui.runtimeNote.textContent = 'Creating the ONNX Runtime sessions…';
    return;
  }
  ui.progress.value = p.fraction ?? 0;
  ui.progressText.textContent = `${mb(p.loaded)}${p.total === null ? '' : ` of ${mb(p.total)}`}${fromCache}`;
}

function runtimeNote(info: LoadInfo): { text: string; warn: boolean } {
  const where =
    info.provider === 'webgpu'
      ? 'Running on WebGPU.'
      : `Running on WASM with ${info.threads} thread${info.threads === 1 ? '' : 's'}${info.crossOriginIsolated ? ' (cross-origin isolated)' : ''}.`;
  const { topK, depth, totalTokens } = info.tree;
  const notes = [where, `Drafter: ${info.drafter ?? 'none (plain decoding)'}.`];
  if (info.drafter === 'eagle2' || info.drafter === 'hybrid')
    notes.push(`EAGLE-2 trees: top-${topK}, depth ${depth}, at most ${totalTokens} tokens.`);
  if (info.fallbackReason) notes.push(`WebGPU is not available: ${info.fallbackReason}; fell back to WASM.`);
  if (info.threadsLimitedBecause) notes.push(`Only one thread: ${info.threadsLimitedBecause}.`);
  const source =
    info.bytes.fromCache > 0
      ? `${mb(info.bytes.fromCache)} from the cache`
      : `${mb(info.bytes.downloaded)} downloaded`;
  notes.push(`Loaded in ${(info.timings.totalMs / 1000).toFixed(2)} s (${source}).`);
  return { text: notes.join(' '), warn: info.fallbackReason !== null || info.threadsLimitedBecause !== null };
}

/** Loads the model in the worker with the chosen provider; resolves the load info, or null when it failed or was aborted. */
async function load(): Promise<LoadInfo | null> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  loaded = null;
  showError(null);
  setState('loading');
  ui.runtimeNote.textContent = 'Downloading the model…';
  ui.runtimeNote.className = 'note';
  ui.progress.value = 0;
  const started = performance.now();
  try {
    const info = await ensureClient().load(MODEL_URL, {
      executionProvider: ui.ep.value as ExecutionProviderPreference,
      cache: params.get('cache') !== '0',
      ...(params.get('threads') ? { numThreads: Number(params.get('threads')) } : {}),
      ...(TREE ? { tree: TREE } : {}),
      ...(params.get('calls') === '1' ? { logCalls: true } : {}),
      ...(params.get('warmup') === '0' ? { warmUp: false } : {}),
      ...(params.get('budget') ? { budget: params.get('budget') as LoadTreespecWebOptions['budget'] } : {}),
      ...(params.get('drafter')
        ? { drafter: params.get('drafter') as LoadTreespecWebOptions['drafter'] }
        : {}),
      signal: controller.signal,
      onProgress: showProgress,
    });
    loaded = info;
    demo.lastLoad = { info, pageMs: performance.now() - started };
    ui.progress.value = 1;
    const note = runtimeNote(info);
    ui.runtimeNote.textContent = note.text;
    ui.runtimeNote.className = note.warn ? 'note warn' : 'note';
    setState('ready');
    return info;
  } catch (error) {
    if (isAbort(error)) {
      ui.runtimeNote.textContent = 'Loading was aborted. Press "Load model" to try again.';
      setState('aborted');
    } else {
      ui.runtimeNote.textContent = 'The model could not be loaded.';
      showError(describeError(error));
      setState('error');
    }
    return null;
  } finally {
    if (current === controller) current = null;
  }
}

function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/**
 * Generates speculatively (streaming the text and drawing every tree), then, when asked, plainly
 * with the same prompt, and shows tau, tokens/s and the speed-up.
 */
async function run(
  prompt: string = ui.prompt.value,
  options: { maxTokens?: number; compare?: boolean; temperature?: number; seed?: number } = {},
): Promise<RunOutcome | null> {
  if (!client || !loaded) return null;
  const maxTokens = options.maxTokens ?? Number(ui.maxTokens.value);
  // Greedy unless the caller (a test through `treespecDemo`) samples; both runs sample alike.
  const sampling = {
    ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  };
  const compare = options.compare ?? ui.compare.checked;
  const controller = new AbortController();
  current = controller;
  showError(null);
  setState('generating');
  ui.output.textContent = '';
  for (const cell of [
    ui.tau,
    ui.tps,
    ui.plainTps,
    ui.speedup,
    ui.identical,
    ui.kvCache,
    ui.controller,
    ui.costs,
  ])
    cell.textContent = '–';
  ui.speedupNote.hidden = true;
  let latest: TreeSnapshot | null = null;
  let frame = 0;
  let treesDrawn = 0;
  const draw = () => {
    frame = 0;
    if (!latest) return;
    renderTree(ui.treeSvg, latest);
    treesDrawn++;
    const drafted = latest.tokens.length - 1;
    const accepted = latest.path.length - 1;
    ui.treeCaption.textContent = `Step ${latest.step + 1}: the target accepted ${accepted} of ${drafted} drafted tokens, then added its own.`;
  };
  // The text arrives a token at a time but is shown with the statistics, ten times a second:
  // each change to the page costs a frame (style, layout, paint) on the same two cores as the
  // WASM threads, and a frame per token made the decoding steps dearer than the plain run's.
  let unshown = '';
  const showText = () => {
    if (unshown) ui.output.append(unshown);
    unshown = '';
  };
  try {
    const spec = await client
      .generate(prompt, {
        maxTokens,
        ...sampling,
        signal: controller.signal,
        // Twenty trees a second are plenty to watch, and each one sent costs the decoding loop.
        treeIntervalMs: 50,
        ...(RENDER
          ? {
              onDelta: (text: string) => {
                unshown += text;
              },
              onStep: (tree: TreeSnapshot) => {
                // Plain steps (the budget controller drafted nothing) leave the last drafted tree shown.
                if (tree.tokens.length < 2) return;
                latest = tree;
                frame ||= requestAnimationFrame(draw);
              },
            }
          : {}),
        onStats: (s) => {
          showText();
          ui.tau.textContent = fmt(s.tau, 2);
          ui.tps.textContent = fmt(s.tokensPerSecond, 1);
        },
      })
      .finally(showText);
    if (frame) {
      cancelAnimationFrame(frame);
      draw();
    }
    if (!RENDER) ui.output.textContent = spec.text;
    ui.tau.textContent = fmt(spec.stats.tau, 2);
    ui.tps.textContent = fmt(spec.stats.tokensPerSecond, 1);
    ui.controller.textContent = describeController(spec.stats.controller);
    ui.kvCache.textContent = describeCacheLocation(spec.kvCacheLocation);
    let plain: WorkerResult | null = null;
    if (compare && spec.finishReason !== 'abort') {
      ui.plainTps.textContent = '…';
      plain = await client.generate(prompt, {
        maxTokens,
        ...sampling,
        plain: true,
        signal: controller.signal,
      });
      if (plain.finishReason === 'abort') plain = null;
    }
    const speedup = plain ? spec.stats.tokensPerSecond / plain.stats.tokensPerSecond : null;
    const identical = plain ? plain.text === spec.text : null;
    if (plain) {
      ui.plainTps.textContent = fmt(plain.stats.tokensPerSecond, 1);
      ui.speedup.textContent = `${fmt(speedup ?? Number.NaN, 2)}×`;
      ui.speedupNote.hidden = !(speedup !== null && speedup < 1);
      ui.identical.textContent = identical ? 'yes' : 'NO';
    }
    const costs = stepCosts(spec, plain);
    ui.costs.textContent = describeStepCosts(costs);
    const outcome: RunOutcome = { spec, plain, speedup, identical, treesDrawn, costs };
    demo.lastRun = outcome;
    setState(spec.finishReason === 'abort' || (compare && !plain) ? 'aborted' : 'done');
    return outcome;
  } catch (error) {
    showError(describeError(error));
    setState('error');
    return null;
  } finally {
    if (current === controller) current = null;
  }
}

ui.load.addEventListener('click', () => void load());
ui.generate.addEventListener('click', () => void run());
ui.abort.addEventListener('click', () => current?.abort());
setState('idle');
if (params.get('autoload') !== '0') void load();
