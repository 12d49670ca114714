import {
  AbortError,
  BusyError,
  ContextOverflowError,
  ContractError,
  type FinishReason,
  type GenerationStats,
  ModelFormatError,
  NumericError,
  OptionError,
  ProviderSupportError,
  type StepEvent,
  TreespecError,
  type TreespecErrorCode,
} from '@treespec/core';
import { DisposedError, QueueFullError, type TextGenerateOptions } from '@treespec/generator';
import { type ModelCalls, ModelMismatchError } from '@treespec/onnx';
import { type ChatMessage, ChatTemplateError, TokenIdError, TokenizerError } from '@treespec/tokenizers';
import type { Tensor } from 'onnxruntime-common';
import { DownloadError, ModelLoadError, ProviderUnavailableError, WorkerProtocolError } from './errors.js';
import type { LoadInfo, LoadTreespecWebOptions } from './load-treespec-web.js';
import type { LoadProgress } from './progress.js';

/** Load options that can cross into a worker (no callbacks, signals or fetch). */
export type WorkerLoadOptions = Omit<LoadTreespecWebOptions, 'onProgress' | 'signal' | 'fetch' | 'onWarning'>;

/** Generation options that can cross into a worker. */
export interface WorkerGenerateOptions extends Omit<TextGenerateOptions, 'signal' | 'onStep'> {
  /** Send every verified draft tree (`step` events, with each node's text). Default false. */
  trees?: boolean;
  /**
   * Least time between two `step` events; trees in between are not sent, except a generation's
   * last, which comes before `done`. Default 0: every tree. A page that draws trees needs no
   * more than it can paint, and each tree sent costs the decoding loop its copy and message.
   */
  treeIntervalMs?: number;
  /** Least time between two `stats` events. Default 100 ms. */
  statsIntervalMs?: number;
}

/** Messages from the page to the worker. `id` ties the answers to the request. */
export type WorkerRequest =
  | { type: 'load'; id: number; modelUrl: string; options?: WorkerLoadOptions }
  | { type: 'start'; id: number; prompt: string | ChatMessage[]; options?: WorkerGenerateOptions }
  /** Cancels the load or generation with this id: a load fails with `ABORTED`, a generation ends with finish reason `abort`. */
  | { type: 'abort'; id: number }
  /** Releases the loaded model's sessions. */
  | { type: 'dispose'; id: number };

/** A verified draft tree, as drawn: node 0 is the root; `path` lists the accepted nodes, root first. */
export interface TreeSnapshot {
  step: number;
  tokens: number[];
  parents: number[];
  /** Each node's token as text. */
  labels: string[];
  path: number[];
  /** The target's own token after the accepted path. */
  bonusToken: number;
  bonusLabel: string;
}

/** Running statistics of a generation in progress (the final ones come with `done`). */
export interface LiveStats {
  /** Tokens committed so far. */
  generatedTokens: number;
  /** Verification steps so far. */
  steps: number;
  /** Tokens per step so far. */
  tau: number;
  /** Tokens per second since the generation started (prefill included). */
  tokensPerSecond: number;
  elapsedMs: number;
}

/** A finished generation as the worker reports it. */
export interface WorkerResult {
  text: string;
  tokens: number[];
  promptTokens: number;
  finishReason: FinishReason;
  stats: GenerationStats;
  /**
   * Milliseconds the worker spent turning this generation's trees, text and statistics into
   * messages for the page (the cost of the worker boundary; trees are posted inside the decoding
   * loop, so that part is also in `stats.bookkeepingMs`).
   */
  postMs: number;
  /** The generation's model calls, when the model was loaded with `logCalls`. */
  calls?: ModelCalls;
  /** Where the target's KV cache rows were at the end (`WebTreespec.kvCacheLocation`). */
  kvCacheLocation: Tensor.DataLocation;
}

/** An error that crossed from the worker; rebuilt by {@link deserializeError} as its own class. */
export interface SerializedError {
  name: string;
  /** The TreespecError code, or null for other errors. */
  code: TreespecErrorCode | null;
  message: string;
  /** The error's own fields (url, status, expectedBytes, …). */
  details: Record<string, string | number | boolean | null>;
}

/** Messages from the worker to the page. */
export type WorkerEvent =
  | { type: 'progress'; id: number; progress: LoadProgress }
  | { type: 'loaded'; id: number; info: LoadInfo }
  | { type: 'delta'; id: number; text: string }
  | { type: 'step'; id: number; tree: TreeSnapshot }
  | { type: 'stats'; id: number; stats: LiveStats }
  | { type: 'done'; id: number; result: WorkerResult }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'disposed'; id: number };

const REQUEST_TYPES = new Set(['load', 'start', 'abort', 'dispose']);
const EVENT_TYPES = new Set(['progress', 'loaded', 'delta', 'step', 'stats', 'done', 'error', 'disposed']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

function requireId(message: Record<string, unknown>): number {
  const id = message.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
    throw new WorkerProtocolError(`"id" must be an integer >= 0; got ${describe(id)}`);
  }
  return id;
}

function requireOptions(message: Record<string, unknown>): void {
  if (message.options !== undefined && !isRecord(message.options)) {
    throw new WorkerProtocolError(
      `"${message.type}" options must be an object; got ${describe(message.options)}`,
    );
  }
}

/** Checks a message the worker received and returns it typed, or throws a {@link WorkerProtocolError} naming the field. */
export function parseWorkerRequest(data: unknown): WorkerRequest {
  if (!isRecord(data)) throw new WorkerProtocolError(`a request must be an object; got ${describe(data)}`);
  if (typeof data.type !== 'string' || !REQUEST_TYPES.has(data.type)) {
    throw new WorkerProtocolError(
      `"type" must be one of ${[...REQUEST_TYPES].join(', ')}; got ${describe(data.type)}`,
    );
  }
  requireId(data);
  if (data.type === 'load') {
    if (typeof data.modelUrl !== 'string' || data.modelUrl.length === 0) {
      throw new WorkerProtocolError(
        `"load" needs "modelUrl", a non-empty string; got ${describe(data.modelUrl)}`,
      );
    }
    requireOptions(data);
  } else if (data.type === 'start') {
    const prompt = data.prompt;
    const isChat =
      Array.isArray(prompt) &&
      prompt.every((m) => isRecord(m) && typeof m.role === 'string' && typeof m.content === 'string');
    if (typeof prompt !== 'string' && !isChat) {
      throw new WorkerProtocolError(
        `"start" needs "prompt", a string or an array of { role, content } strings; got ${describe(prompt)}`,
      );
    }
    requireOptions(data);
  }
  return data as WorkerRequest;
}

/** Checks a message the page received from the worker. */
export function parseWorkerEvent(data: unknown): WorkerEvent {
  if (!isRecord(data)) throw new WorkerProtocolError(`an event must be an object; got ${describe(data)}`);
  if (typeof data.type !== 'string' || !EVENT_TYPES.has(data.type)) {
    throw new WorkerProtocolError(`unknown event type ${describe(data.type)}`);
  }
  requireId(data);
  if (data.type === 'delta' && typeof data.text !== 'string') {
    throw new WorkerProtocolError(`"delta" needs "text", a string; got ${describe(data.text)}`);
  }
  if (data.type === 'error' && !(isRecord(data.error) && typeof data.error.message === 'string')) {
    throw new WorkerProtocolError(`"error" needs "error" with a message; got ${describe(data.error)}`);
  }
  return data as WorkerEvent;
}

/** The request id of a message, or -1 when it has none (to answer a malformed request). */
export function requestId(data: unknown): number {
  return isRecord(data) && typeof data.id === 'number' && Number.isSafeInteger(data.id) ? data.id : -1;
}

/** A copy of a step's tree that can be posted: plain arrays, and each node's text from `label`. */
export function treeSnapshot(event: StepEvent, label: (token: number) => string): TreeSnapshot {
  const { tree } = event;
  const tokens = Array.from(tree.tokens.subarray(0, tree.size));
  return {
    step: event.step,
    tokens,
    parents: Array.from(tree.parents.subarray(0, tree.size)),
    labels: tokens.map(label),
    path: Array.from(event.path.subarray(0, event.pathLength)),
    bonusToken: event.bonusToken,
    bonusLabel: label(event.bonusToken),
  };
}

/**
 * The error classes rebuilt on the page, subclasses before their bases. Errors are named by this
 * table, not by `constructor.name`, which minifiers rename in production bundles.
 */
const ERROR_CLASSES: ReadonlyArray<readonly [string, abstract new (...args: never[]) => Error]> = [
  ['DownloadError', DownloadError],
  ['ModelLoadError', ModelLoadError],
  ['ProviderUnavailableError', ProviderUnavailableError],
  ['WorkerProtocolError', WorkerProtocolError],
  ['AbortError', AbortError],
  ['BusyError', BusyError],
  ['QueueFullError', QueueFullError],
  ['DisposedError', DisposedError],
  ['ContextOverflowError', ContextOverflowError],
  ['ContractError', ContractError],
  ['ModelMismatchError', ModelMismatchError],
  ['ModelFormatError', ModelFormatError],
  ['NumericError', NumericError],
  ['OptionError', OptionError],
  ['ProviderSupportError', ProviderSupportError],
  ['ChatTemplateError', ChatTemplateError],
  ['TokenIdError', TokenIdError],
  ['TokenizerError', TokenizerError],
  ['TreespecError', TreespecError],
];

/** An error as a plain object that survives `postMessage`, with its code and own fields. */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'Error', code: null, message: String(error), details: {} };
  }
  const details: SerializedError['details'] = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === 'name' || key === 'code' || key === 'message') continue;
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      details[key] = value as string | number | boolean | null;
    }
  }
  const code = error instanceof TreespecError ? error.code : null;
  const known = ERROR_CLASSES.find(([, type]) => error instanceof type);
  return { name: known ? known[0] : error.name, code, message: error.message, details };
}

/**
 * Rebuilds an error from the worker: a treespec error becomes an instance of its own class
 * (`instanceof DownloadError` holds, with `url`, `status`, … set) with the same code and message;
 * any other error, a plain `Error` with the same name and message.
 */
export function deserializeError(data: SerializedError): Error {
  if (data.code === null) {
    const error = new Error(data.message);
    error.name = data.name;
    return error;
  }
  const error = new TreespecError(data.code, data.message);
  const known = ERROR_CLASSES.find(([name]) => name === data.name);
  if (known) Object.setPrototypeOf(error, known[1].prototype);
  error.name = data.name;
  Object.assign(error, data.details);
  return error;
}
