import { SpeculativeDecoder } from '@treespec/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type HfTokenizer, loadTokenizer, StringStopCriterion, TextStream } from '../src/index.js';
import { CHATML_TEMPLATE, tinyFiles, tinyTokenizer } from './fixtures.js';
import { ArgmaxVerifier, ScriptedDrafter, ScriptedTarget } from './scripted-model.js';

let tokenizer: HfTokenizer;
beforeAll(async () => {
  tokenizer = await tinyTokenizer();
});

function decoderFor(tok: HfTokenizer, prompt: Int32Array, answer: Int32Array, stepLengths: number[]) {
  const script = Int32Array.from([...prompt, ...answer]);
  return new SpeculativeDecoder({
    target: new ScriptedTarget(script, tok.vocabSize),
    drafter: new ScriptedDrafter(script, stepLengths),
    verifier: new ArgmaxVerifier(),
  });
}

describe('TextStream', () => {
  it('turns a generation stream into deltas that join to the decoded text', async () => {
    const prompt = tokenizer.encode('Numbers:');
    const answer = tokenizer.encode(' 東京 🤖 café → ∞ done', { addSpecialTokens: false });
    const stream = decoderFor(tokenizer, prompt, answer, [3, 1]).stream(prompt, { maxTokens: answer.length });
    const text = new TextStream(tokenizer, stream, { context: prompt });
    const deltas: string[] = [];
    for await (const delta of text) deltas.push(delta);
    expect(deltas.join('')).toBe(' 東京 🤖 café → ∞ done');
    expect(text.text).toBe(deltas.join(''));
    expect(deltas.every((d) => d.length > 0 && d.isWellFormed())).toBe(true);
    expect(() => text[Symbol.asyncIterator]()).toThrow(/only once/);
  });

  it('cancels the generation when the reader stops early', async () => {
    const prompt = tokenizer.encode('Hi');
    const answer = tokenizer.encode(' one two three four five six seven eight nine ten', {
      addSpecialTokens: false,
    });
    const stream = decoderFor(tokenizer, prompt, answer, [1]).stream(prompt, { maxTokens: answer.length });
    for await (const delta of new TextStream(tokenizer, stream)) {
      expect(delta).toBe(' one two'); // one step: a drafted token and the bonus token
      break;
    }
    const result = await stream.result;
    expect(result.finishReason).toBe('abort');
    expect(result.tokens.length).toBeLessThan(answer.length);
  });

  it('does not cut a stop string that the length limit cut off first', async () => {
    const prompt = tokenizer.encode('Q:');
    const answer = tokenizer.encode(' 42.\nUser: hi', { addSpecialTokens: false });
    // "\nUser" starts inside ".\n" (token 2): the stop would keep 3 tokens; the limit is 3 too,
    // and it is reached before "\nUser" is complete, so the "\n" stays. The drafter offers 6
    // tokens, but the loop cuts its chain to the 2 drafts the limit can keep: the stop string,
    // complete only past the limit, is never seen.
    const stop = new StringStopCriterion(tokenizer, ['\nUser']);
    const stream = decoderFor(tokenizer, prompt, answer, [6]).stream(prompt, {
      maxTokens: 3,
      stopCriteria: [stop],
    });
    const text = await new TextStream(tokenizer, stream, { context: prompt, stop }).readAll();
    const result = await stream.result;
    expect(stop.lastMatch).toBeNull();
    expect(result.finishReason).toBe('length');
    expect(result.stats.steps).toBe(1);
    expect(result.stats.meanTreeSize).toBe(3);
    expect(text).toBe(' 42.\n');
  });

  it('reads a whole stream with at most two decodes, to the text its deltas join to', async () => {
    const prompt = tokenizer.encode('Q:');
    const answer = tokenizer.encode(' 東京 café 42.\nUser: hi and more text after it', {
      addSpecialTokens: false,
    });
    let mostStreamedPushes = 0;
    for (const steps of [[1], [3, 1], [6], [2, 5, 1]]) {
      for (const stops of [[], ['\nUser'], ['é 4'], [' hi']]) {
        const run = () => {
          const stop = stops.length > 0 ? new StringStopCriterion(tokenizer, stops) : null;
          const stream = decoderFor(tokenizer, prompt, answer, steps).stream(prompt, {
            maxTokens: answer.length,
            ...(stop ? { stopCriteria: [stop] } : {}),
          });
          let pushes = 0;
          const counting = Object.create(tokenizer) as HfTokenizer;
          counting.streamingDecoder = (options) => {
            const decoder = tokenizer.streamingDecoder(options);
            const push = decoder.push.bind(decoder);
            decoder.push = (ids) => {
              pushes++;
              return push(ids);
            };
            return decoder;
          };
          return { text: new TextStream(counting, stream, { context: prompt, stop }), pushes: () => pushes };
        };
        const streamed = run();
        const deltas: string[] = [];
        for await (const delta of streamed.text) deltas.push(delta);
        const whole = run();
        expect(await whole.text.readAll()).toBe(deltas.join(''));
        expect(whole.pushes()).toBeLessThanOrEqual(Math.min(2, streamed.pushes()));
        mostStreamedPushes = Math.max(mostStreamedPushes, streamed.pushes());
      }
    }
    expect(mostStreamedPushes).toBeGreaterThan(10);
  });

  it('stops a chat generation on the template end-of-turn token and leaves it out of the text', async () => {
    const files = tinyFiles();
    const token = (id: number, content: string) => ({ id, content, normalized: false, special: true });
    const chat = await loadTokenizer({
      ...files,
      tokenizer: {
        ...files.tokenizer,
        added_tokens: [
          ...(files.tokenizer['added_tokens'] as unknown[]),
          token(8192, '<|im_start|>'),
          token(8193, '<|im_end|>'),
        ],
      },
      config: { ...files.config, chat_template: CHATML_TEMPLATE },
    });
    const prompt = chat.encodeChat([{ role: 'user', content: 'Say hi' }], { addGenerationPrompt: true });
    const answer = chat.encode('Hi there!<|im_end|>\nmore', { addSpecialTokens: false });
    const stream = decoderFor(chat, prompt, answer, [2]).stream(prompt, {
      maxTokens: answer.length,
      eosTokenIds: chat.eosTokenIds,
    });
    const text = await new TextStream(chat, stream, { context: prompt }).readAll();
    const result = await stream.result;
    expect(result.finishReason).toBe('eos');
    expect(result.tokens.at(-1)).toBe(8193);
    expect(text).toBe('Hi there!');
  });
});
