import { AbortError, DraftTree, OptionError, ProviderSupportError, type StepEvent } from '@treespec/core';
import { ChatTemplateError, TokenIdError, TokenizerError } from '@treespec/tokenizers';
import { describe, expect, it } from 'vitest';
import {
  DownloadError,
  deserializeError,
  parseWorkerEvent,
  parseWorkerRequest,
  requestId,
  serializeError,
  treeSnapshot,
  WorkerProtocolError,
} from '../src/internal.js';

describe('worker requests', () => {
  it('accepts the four request types', () => {
    const requests = [
      { type: 'load', id: 1, modelUrl: 'https://x/models/tiny/', options: { executionProvider: 'wasm' } },
      { type: 'start', id: 2, prompt: 'Once upon a time', options: { maxTokens: 8, trees: true } },
      { type: 'start', id: 3, prompt: [{ role: 'user', content: 'Hi' }] },
      { type: 'abort', id: 2 },
      { type: 'dispose', id: 4 },
    ];
    for (const request of requests) expect(parseWorkerRequest(request)).toBe(request);
  });

  it('names the field that breaks the protocol', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'a request must be an object; got null'],
      [{ type: 'go', id: 1 }, '"type" must be one of load, start, abort, dispose; got "go"'],
      [{ type: 'abort', id: -1 }, '"id" must be an integer >= 0; got number'],
      [{ type: 'abort' }, '"id" must be an integer >= 0; got undefined'],
      [{ type: 'load', id: 1, modelUrl: '' }, '"load" needs "modelUrl", a non-empty string; got ""'],
      [
        { type: 'start', id: 1, prompt: 42 },
        '"start" needs "prompt", a string or an array of { role, content } strings; got number',
      ],
      [{ type: 'start', id: 1, prompt: [{ role: 'user' }] }, 'got an array'],
      [{ type: 'start', id: 1, prompt: 'x', options: [] }, '"start" options must be an object; got an array'],
    ];
    for (const [message, expected] of cases) {
      expect(() => parseWorkerRequest(message)).toThrow(WorkerProtocolError);
      expect(() => parseWorkerRequest(message)).toThrow(expected);
    }
    expect(requestId({ type: 'go', id: 7 })).toBe(7);
    expect(requestId('nonsense')).toBe(-1);
  });

  it('checks the events the page receives', () => {
    expect(parseWorkerEvent({ type: 'delta', id: 1, text: 'a' })).toEqual({
      type: 'delta',
      id: 1,
      text: 'a',
    });
    expect(() => parseWorkerEvent({ type: 'delta', id: 1 })).toThrow(
      '"delta" needs "text", a string; got undefined',
    );
    expect(() => parseWorkerEvent({ type: 'boom', id: 1 })).toThrow('unknown event type "boom"');
    expect(() => parseWorkerEvent({ type: 'error', id: 1, error: {} })).toThrow(
      '"error" needs "error" with a message',
    );
  });
});

describe('errors across the worker boundary', () => {
  it('rebuilds a DownloadError as a DownloadError with its URL, status and sizes', () => {
    const original = new DownloadError({
      url: 'https://x/target.onnx.data',
      reason: 'truncated',
      status: 200,
      expectedBytes: 1000,
      receivedBytes: 600,
    });
    const copy = deserializeError(structuredClone(serializeError(original)));
    expect(copy).toBeInstanceOf(DownloadError);
    expect(copy).toMatchObject({
      name: 'DownloadError',
      code: 'LOAD',
      url: 'https://x/target.onnx.data',
      reason: 'truncated',
      status: 200,
      expectedBytes: 1000,
      receivedBytes: 600,
      message: original.message,
    });
  });

  it('keeps the class and code of core errors and the name of foreign ones', () => {
    const abort = deserializeError(serializeError(new AbortError('loading x was aborted')));
    expect(abort).toBeInstanceOf(AbortError);
    expect(abort).toMatchObject({ code: 'ABORTED', message: 'loading x was aborted' });
    const option = deserializeError(serializeError(new OptionError('maxTokens', -1, 'an integer >= 0')));
    expect(option).toBeInstanceOf(OptionError);
    expect(option).toMatchObject({ option: 'maxTokens', value: -1 });
    const template = deserializeError(
      structuredClone(serializeError(new ChatTemplateError('default', 'failed to render'))),
    );
    expect(template).toBeInstanceOf(ChatTemplateError);
    expect(template).toBeInstanceOf(TokenizerError);
    expect(template).toMatchObject({ code: 'TOKENIZER', template: 'default' });
    const id = deserializeError(structuredClone(serializeError(new TokenIdError(9999, 3, 8192))));
    expect(id).toBeInstanceOf(TokenIdError);
    const support = new ProviderSupportError({
      provider: 'wasm',
      model: 'target',
      feature: 'float16 activations',
      fallback: 'the fp32 target',
      file: 'treespec.json',
    });
    expect(deserializeError(structuredClone(serializeError(support)))).toBeInstanceOf(ProviderSupportError);
    const foreign = deserializeError(serializeError(new RangeError('offset out of bounds')));
    expect(foreign).toMatchObject({ name: 'RangeError', message: 'offset out of bounds' });
    expect('code' in foreign).toBe(false);
    expect(deserializeError(serializeError('a string'))).toMatchObject({
      name: 'Error',
      message: 'a string',
    });
  });
});

describe('treeSnapshot', () => {
  it('copies the verified tree, the accepted path and each node text', () => {
    const tree = new DraftTree(8);
    tree.reset(10);
    const a = tree.add(0, 11, -0.1);
    tree.add(0, 12, -1.2);
    const c = tree.add(a, 13, -0.3);
    const event: StepEvent = {
      step: 4,
      tree,
      path: Int32Array.from([0, a, c, 0, 0]),
      pathLength: 3,
      bonusToken: 14,
    };
    const snapshot = treeSnapshot(event, (t) => `t${t}`);
    expect(snapshot).toEqual({
      step: 4,
      tokens: [10, 11, 12, 13],
      parents: [-1, 0, 0, 1],
      labels: ['t10', 't11', 't12', 't13'],
      path: [0, 1, 3],
      bonusToken: 14,
      bonusLabel: 't14',
    });
    tree.reset(99);
    expect(snapshot.tokens[0]).toBe(10);
  });
});
