import { ContextOverflowError, OptionError } from '@treespec/core';
import {
  DisposedError,
  QueueFullError,
  type TextGenerateOptions,
  TextGenerator,
  type TextResult,
} from '@treespec/generator';
import { loadTreespec, readTokenizerFiles } from '@treespec/node';
import { ChatTemplateError, loadTokenizer, TokenIdError } from '@treespec/tokenizers';
import { TINY } from '../fault-bundle.js';
import { clean, type FaultCase, refused } from '../fault-case.js';

/** What library cases work on: shared generators and the reference continuation. */
export interface LibraryContext {
  /** The tiny bundle with every drafter, full context. */
  readonly generator: TextGenerator;
  /** The same with a 40-token context, for cases that reach its end. */
  readonly small: TextGenerator;
  readonly prompt: string;
  /** Plain greedy continuation of `prompt`, 24 tokens. */
  readonly reference: TextResult;
}

const SMALL_CONTEXT = 40;

function expectThat(condition: boolean, what: string): void {
  if (!condition) throw new Error(`expected ${what}`);
}

/** A generation with `options` that must be refused. */
function refusedOption(
  id: string,
  fault: string,
  options: TextGenerateOptions,
  message: RegExp,
): FaultCase<LibraryContext> {
  return {
    id,
    fault,
    outcome: refused(OptionError, message),
    run: ({ generator, prompt }) => generator.generate(prompt, { maxTokens: 4, ...options }),
  };
}

/** A generation on the small context that must end with finish reason `context` and plain decoding's tokens. */
function contextEnd(drafter: string): FaultCase<LibraryContext> {
  return {
    id: `context-end-${drafter}`,
    fault: `${drafter} generation asked for more tokens than the context holds`,
    outcome: clean('finish reason `context`, every position used, the tokens of plain decoding'),
    run: async ({ small, prompt }) => [
      await small.generate(prompt, { maxTokens: 1000, drafter }),
      await small.generate(prompt, { maxTokens: 1000, plain: true }),
    ],
    check: (result) => {
      const [r, plain] = result as [TextResult, TextResult];
      expectThat(r.finishReason === 'context', `finish reason context, got ${r.finishReason}`);
      expectThat(r.promptTokens.length + r.tokens.length === SMALL_CONTEXT + 1, 'every position used');
      expectThat(r.tokens.join() === plain.tokens.join(), 'the tokens of plain decoding');
    },
  };
}

/** A result that is the start of the reference continuation, ended by `reason`. */
function prefixOfReference(reason: TextResult['finishReason']) {
  return (result: unknown, { reference }: LibraryContext) => {
    const r = result as TextResult;
    expectThat(r.finishReason === reason, `finish reason ${reason}, got ${r.finishReason}`);
    expectThat(
      reference.tokens.join().startsWith(r.tokens.join()),
      'the tokens committed so far, a prefix of the reference',
    );
  };
}

const HOSTILE_TEMPLATES: Array<[string, string, string, RegExp]> = [
  [
    'template-range-huge',
    'chat template loops over `range(100000000)`',
    '{% for i in range(100000000) %}x{% endfor %}',
    /chat template "default": stopped: range\(\) of 100000000 elements is over templateBudget\.maxRange \(100000\)/,
  ],
  [
    'template-doubling',
    'chat template doubles a string 40 times',
    '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}',
    /stopped: rendering built a string of \d+ characters, over templateBudget\.maxChars/,
  ],
  [
    'template-nested-loops',
    'chat template nests loops of 100 000 × 100 000',
    '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
    /stopped: rendering took over 1000 ms \(templateBudget\.timeMs\)/,
  ],
  [
    'template-raise',
    'chat template calls raise_exception',
    '{{ raise_exception("no system role") }}',
    /chat template "default": failed to render: no system role/,
  ],
  [
    'template-undefined-call',
    'chat template calls an undefined function',
    '{{ nope() }}',
    /chat template "default": failed to render/,
  ],
];

/** Library misuse: options, prompts, aborts, queueing, disposal, hostile templates. */
export const LIBRARY_CASES: readonly FaultCase<LibraryContext>[] = [
  refusedOption(
    'option-max-tokens-negative',
    'maxTokens -1',
    { maxTokens: -1 },
    /option "maxTokens" must be/,
  ),
  refusedOption(
    'option-max-tokens-fraction',
    'maxTokens 1.5',
    { maxTokens: 1.5 },
    /option "maxTokens" must be/,
  ),
  refusedOption(
    'option-max-tokens-nan',
    'maxTokens NaN',
    { maxTokens: Number.NaN },
    /option "maxTokens" must be/,
  ),
  refusedOption(
    'option-signal-not-a-signal',
    '`signal` an AbortController rather than its signal',
    { signal: new AbortController() as unknown as AbortSignal },
    /option "signal" must be an AbortSignal/,
  ),
  refusedOption(
    'option-on-step-not-a-function',
    '`onStep` a number',
    { onStep: 5 as unknown as TextGenerateOptions['onStep'] },
    /option "onStep" must be a function/,
  ),
  refusedOption('option-temperature-negative', 'temperature -1', { temperature: -1 }, /temperature/),
  refusedOption('option-temperature-nan', 'temperature NaN', { temperature: Number.NaN }, /temperature/),
  refusedOption(
    'option-temperature-infinite',
    'temperature Infinity',
    { temperature: Number.POSITIVE_INFINITY },
    /temperature/,
  ),
  refusedOption('option-top-p-zero', 'topP 0', { temperature: 1, topP: 0 }, /topP/),
  refusedOption('option-top-p-above-one', 'topP 1.5', { temperature: 1, topP: 1.5 }, /topP/),
  refusedOption('option-top-k-negative', 'topK -1', { temperature: 1, topK: -1 }, /topK/),
  refusedOption('option-min-p-above-one', 'minP 2', { temperature: 1, minP: 2 }, /minP/),
  refusedOption(
    'option-repetition-penalty-zero',
    'repetitionPenalty 0',
    { repetitionPenalty: 0 },
    /repetitionPenalty/,
  ),
  refusedOption('option-seed-negative', 'seed -1', { temperature: 1, seed: -1 }, /seed/),
  refusedOption(
    'option-drafter-unknown',
    'drafter `nope`',
    { drafter: 'nope' },
    /option "drafter" must be one of none, eagle2/,
  ),
  {
    id: 'prompt-empty-ids',
    fault: 'an empty token-id prompt',
    outcome: refused(OptionError, /option "prompt" must be at least one token/),
    run: ({ generator }) => generator.generate(new Int32Array(0)),
  },
  {
    id: 'prompt-negative-id',
    fault: 'a token id of -1',
    outcome: refused(TokenIdError, /tokenizer\.json: token id -1 at position 1 is not in the vocabulary/),
    run: ({ generator }) => generator.generate(Int32Array.from([1, -1, 5])),
  },
  {
    id: 'prompt-id-past-vocab',
    fault: 'a token id past the vocabulary',
    outcome: refused(TokenIdError, /tokenizer\.json: token id 8192 at position 2 is not in the vocabulary/),
    run: ({ generator }) => generator.generate(Int32Array.from([1, 5, 8192])),
  },
  {
    id: 'prompt-id-early-in-long-prompt',
    fault: 'an id past the vocabulary at the start of a 40-token prompt',
    outcome: refused(TokenIdError, /tokenizer\.json: token id 9000 at position 0 is not in the vocabulary/),
    run: ({ generator }) =>
      generator.generate(Int32Array.from({ length: 40 }, (_, i) => (i === 0 ? 9000 : 5))),
  },
  {
    id: 'prompt-ids-too-long',
    fault: 'token ids longer than the context',
    outcome: refused(
      ContextOverflowError,
      /a prompt of 2049 tokens needs 2049 positions but the model's context holds 2048/,
    ),
    run: ({ generator }) => generator.generate(new Int32Array(2049).fill(5)),
  },
  {
    id: 'prompt-text-too-long',
    fault: 'a text prompt longer than the context',
    outcome: refused(ContextOverflowError, /a prompt of 2\d{3} tokens needs/),
    run: ({ generator }) => generator.generate('history '.repeat(2100)),
  },
  {
    id: 'prompt-megabyte',
    fault: 'a 1 MB text prompt (refused before encoding, within 100 ms)',
    outcome: refused(
      ContextOverflowError,
      /a prompt of 1048576 characters \(at least one token per 256\) needs 4096 positions/,
    ),
    run: async ({ generator }) => {
      const start = performance.now();
      const text = 'x'.repeat(1 << 20);
      try {
        return await generator.generate(text);
      } finally {
        expectThat(performance.now() - start < 100, 'a refusal within 100 ms');
      }
    },
  },
  {
    id: 'prompt-empty-text',
    fault: 'an empty text prompt',
    outcome: clean('generates after BOS alone'),
    run: ({ generator }) => generator.generate('', { maxTokens: 4 }),
    check: (r) => expectThat((r as TextResult).tokens.length === 4, '4 tokens'),
  },
  {
    id: 'prompt-lone-surrogate',
    fault: 'a prompt with a lone UTF-16 surrogate',
    outcome: clean('generates; the text is valid'),
    run: ({ generator }) => generator.generate('abc \ud800 def', { maxTokens: 4 }),
    check: (r) =>
      expectThat(!/[\ud800-\udbff](?![\udc00-\udfff])/.test((r as TextResult).text), 'well-formed text'),
  },
  {
    id: 'prompt-nul-and-controls',
    fault: 'a prompt of NUL and control characters',
    outcome: clean('generates 4 tokens'),
    run: ({ generator }) => generator.generate('\u0000\u0001\u001b[31m\u0007', { maxTokens: 4 }),
    check: (r) => expectThat((r as TextResult).tokens.length === 4, '4 tokens'),
  },
  {
    id: 'prompt-special-token-text',
    fault: 'a prompt that spells special tokens (`</s><s>`)',
    outcome: clean('generates 4 tokens'),
    run: ({ generator }) => generator.generate('</s><s><unk> hello', { maxTokens: 4 }),
    check: (r) => expectThat((r as TextResult).tokens.length === 4, '4 tokens'),
  },
  {
    id: 'chat-without-template',
    fault: 'a chat prompt for a model without a chat template',
    outcome: refused(
      ChatTemplateError,
      /this tokenizer has no chat template; give the bundle one \(treespec convert --chat-template/,
    ),
    run: async () => {
      // The tiny bundle ships a chat template; its tokenizer without that file has none.
      const { chatTemplate: _, ...files } = await readTokenizerFiles(TINY);
      return (await loadTokenizer(files)).encodeChat([{ role: 'user', content: 'hi' }]);
    },
  },
  {
    id: 'chat-not-messages',
    fault: 'a chat whose messages have no role',
    outcome: refused(OptionError, /messages/),
    run: async () => {
      const tokenizer = await loadTokenizer(await readTokenizerFiles(TINY), {
        chatTemplate: '{{ messages[0].content }}',
      });
      return tokenizer.encodeChat([{ content: 'hi' }] as never);
    },
  },
  ...HOSTILE_TEMPLATES.map(
    ([id, fault, template, message]): FaultCase<LibraryContext> => ({
      id,
      fault,
      outcome: refused(ChatTemplateError, message),
      run: async () => {
        const tokenizer = await loadTokenizer(await readTokenizerFiles(TINY), { chatTemplate: template });
        return tokenizer.encodeChat([{ role: 'user', content: 'hi' }]);
      },
    }),
  ),
  {
    id: 'max-tokens-zero',
    fault: 'maxTokens 0',
    outcome: clean('no tokens, finish reason `length`'),
    run: ({ generator, prompt }) => generator.generate(prompt, { maxTokens: 0 }),
    check: (r) =>
      expectThat(
        (r as TextResult).tokens.length === 0 && (r as TextResult).finishReason === 'length',
        'an empty result',
      ),
  },
  {
    id: 'stop-empty-string',
    fault: 'a stop string that is empty',
    outcome: refused(OptionError, /stop/),
    run: ({ generator, prompt }) => generator.generate(prompt, { maxTokens: 4, stop: [''] }),
  },
  {
    id: 'stop-many-strings',
    fault: '10 000 stop strings that never occur',
    outcome: clean('the reference text'),
    run: ({ generator, prompt }) =>
      generator.generate(prompt, {
        maxTokens: 24,
        stop: Array.from({ length: 10_000 }, (_, i) => `@@${i}@@`),
      }),
    check: (r, { reference }) => expectThat((r as TextResult).text === reference.text, 'the reference text'),
  },
  ...['eagle2', 'draft-lm', 'hybrid', 'suffix', 'lookup', 'none'].map(contextEnd),
  {
    id: 'abort-before-start',
    fault: 'a signal aborted before the call',
    outcome: clean('no tokens, finish reason `abort`'),
    run: ({ generator, prompt }) => generator.generate(prompt, { signal: AbortSignal.abort() }),
    check: (r) =>
      expectThat(
        (r as TextResult).tokens.length === 0 && (r as TextResult).finishReason === 'abort',
        'an empty abort',
      ),
  },
  {
    id: 'abort-during-prefill',
    fault: 'abort 30 ms into the prefill of a 1900-token prompt',
    outcome: clean('finish reason `abort` in under half the time of the whole prefill'),
    run: async ({ generator }) => {
      const prompt = Int32Array.from({ length: 1900 }, (_, i) => 5 + (i % 300));
      let started = performance.now();
      await generator.generate(prompt, { maxTokens: 1, plain: true });
      const whole = performance.now() - started;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 30);
      started = performance.now();
      const r = await generator.generate(prompt, { maxTokens: 8, signal: controller.signal });
      clearTimeout(timer);
      return { r, aborted: performance.now() - started, whole };
    },
    check: (result) => {
      const { r, aborted, whole } = result as { r: TextResult; aborted: number; whole: number };
      expectThat(r.finishReason === 'abort', `finish reason abort, got ${r.finishReason}`);
      expectThat(
        aborted < whole / 2,
        `the abort honoured in ${aborted.toFixed(0)} ms, under half of ${whole.toFixed(0)} ms`,
      );
    },
  },
  ...(['eagle2', 'draft-lm', 'hybrid', 'none'] as const).map(
    (drafter): FaultCase<LibraryContext> => ({
      id: `abort-mid-generation-${drafter}`,
      fault: `abort after the second step (${drafter})`,
      outcome: clean('finish reason `abort`, the tokens so far (a prefix of the reference)'),
      run: ({ generator, prompt }) => {
        const controller = new AbortController();
        return generator.generate(prompt, {
          maxTokens: 24,
          drafter,
          signal: controller.signal,
          onStep: (e) => e.step === 1 && controller.abort(),
        });
      },
      check: prefixOfReference('abort'),
    }),
  ),
  {
    id: 'abort-after-finish',
    fault: 'abort after the generation finished',
    outcome: clean('the finished result is unchanged'),
    run: async ({ generator, prompt }) => {
      const controller = new AbortController();
      const r = await generator.generate(prompt, { maxTokens: 24, signal: controller.signal });
      controller.abort();
      return r;
    },
    check: prefixOfReference('length'),
  },
  {
    id: 'abort-while-queued',
    fault: 'abort a call waiting behind another',
    outcome: clean('the waiting call ends with no tokens and `abort`; the running one is the reference'),
    run: async ({ generator, prompt }) => {
      const controller = new AbortController();
      const running = generator.generate(prompt, { maxTokens: 24 });
      const waiting = generator.generate(prompt, { maxTokens: 24, signal: controller.signal });
      controller.abort();
      return [await running, await waiting];
    },
    check: (result, context) => {
      const [running, waiting] = result as [TextResult, TextResult];
      prefixOfReference('length')(running, context);
      expectThat(waiting.tokens.length === 0 && waiting.finishReason === 'abort', 'an empty abort');
    },
  },
  {
    id: 'stream-abandoned',
    fault: 'a stream whose reader stops after the first delta',
    outcome: clean('the generation stops; its result is a prefix of the reference'),
    run: async ({ generator, prompt }) => {
      const stream = generator.stream(prompt, { maxTokens: 24 });
      for await (const _ of stream) break;
      return stream.result;
    },
    check: prefixOfReference('abort'),
  },
  {
    id: 'on-step-throws',
    fault: 'an onStep callback that throws',
    outcome: clean('the callback’s own error reaches the caller unchanged'),
    run: async ({ generator, prompt }) => {
      const thrown = new Error('callback failed');
      const caught = await generator
        .generate(prompt, {
          maxTokens: 8,
          onStep: () => {
            throw thrown;
          },
        })
        .catch((e: unknown) => e);
      return caught === thrown;
    },
    check: (same) => expectThat(same === true, 'the same error object'),
  },
  {
    id: 'concurrent-calls',
    fault: 'four concurrent calls on one generator, plain and speculative',
    outcome: clean('each gets the reference text, served in order'),
    run: ({ generator, prompt }) =>
      Promise.all(
        [{}, { plain: true }, { drafter: 'draft-lm' }, { drafter: 'hybrid' }].map((o) =>
          generator.generate(prompt, { maxTokens: 24, ...o }),
        ),
      ),
    check: (results, { reference }) => {
      for (const r of results as TextResult[]) expectThat(r.text === reference.text, 'the reference text');
    },
  },
  {
    id: 'queue-full',
    fault: 'more calls than maxQueued lets wait',
    outcome: refused(
      QueueFullError,
      /already has 2 generations waiting behind the running one \(maxQueued 2\)/,
    ),
    run: async () => {
      const own = await loadTreespec(TINY, { maxQueued: 2 });
      const calls = [0, 1, 2].map(() => own.generate('Hi', { maxTokens: 2 }));
      try {
        return own.stream('Hi', { maxTokens: 2 });
      } finally {
        await Promise.all(calls);
        await own.dispose();
      }
    },
  },
  {
    id: 'stream-read-after-end',
    fault: 'a stream whose reading starts after its generation ended',
    outcome: clean('the reader gets the whole text'),
    run: async ({ generator, prompt }) => {
      const stream = generator.stream(prompt, { maxTokens: 24, plain: true });
      const result = await stream.result;
      let text = '';
      for await (const delta of stream) text += delta;
      return [text, result.text];
    },
    check: (result) => {
      const [read, whole] = result as [string, string];
      expectThat(read === whole && read.length > 0, 'the deltas to add up to the result text');
    },
  },
  {
    id: 'two-generators-one-target',
    fault: 'two generators composed over one target generate at once',
    outcome: clean('they take turns: each gets the text it gets alone'),
    run: async ({ prompt, reference }) => {
      const own = await loadTreespec(TINY, { warmUp: false, drafters: ['lookup'] });
      try {
        const other = new TextGenerator({ tokenizer: own.tokenizer, target: own.target });
        return [
          reference.text,
          ...(
            await Promise.all([
              own.generate(prompt, { maxTokens: 24 }),
              other.generate(prompt, { maxTokens: 24 }),
              own.generate(prompt, { maxTokens: 24, drafter: 'lookup' }),
            ])
          ).map((r) => r.text),
        ];
      } finally {
        await own.dispose();
      }
    },
    check: (result) => {
      const [expected, ...texts] = result as string[];
      expectThat(
        texts.every((text) => text === expected),
        'every generation to give plain decoding’s text',
      );
    },
  },
  {
    id: 'generate-after-dispose',
    fault: 'generate() after dispose()',
    outcome: refused(
      DisposedError,
      /this generator was disposed and its models released; load it again to generate/,
    ),
    run: async () => {
      const own = await loadTreespec(TINY);
      await own.dispose();
      return own.generate('Hi');
    },
  },
  {
    id: 'dispose-twice',
    fault: 'dispose() called twice',
    outcome: clean('the second call does nothing'),
    run: async () => {
      const own = await loadTreespec(TINY);
      await own.dispose();
      await own.dispose();
      return true;
    },
  },
  {
    id: 'dispose-while-generating',
    fault: 'dispose() while a generation runs and another waits',
    outcome: clean('both end with `abort`; later calls are refused'),
    run: async () => {
      const own = await loadTreespec(TINY);
      const running = own.generate('Hi', { maxTokens: 100_000 });
      const waiting = own.generate('Hi', { maxTokens: 8 });
      await new Promise((resolve) => setTimeout(resolve, 30));
      await own.dispose();
      return [await running, await waiting];
    },
    check: (results) => {
      for (const r of results as TextResult[]) expectThat(r.finishReason === 'abort', 'finish reason abort');
    },
  },
  {
    id: 'sampling-seeded',
    fault: 'sampling at temperature 1.5 with a seed, twice',
    outcome: clean('the same tokens both times'),
    // A seed repeats the text of a model drafter under a fixed budget; under `auto` the (sampled)
    // trees follow the machine's timing, and so do the hybrid's (the CPU's default) choices between
    // its drafters, so only the distribution repeats (docs/benchmarks.md, "The budget controller").
    run: async ({ prompt }) => {
      const own = await loadTreespec(TINY, { drafter: 'eagle2', budget: 'fixed', draftSampling: true });
      try {
        return [
          await own.generate(prompt, { maxTokens: 16, temperature: 1.5, seed: 3 }),
          await own.generate(prompt, { maxTokens: 16, temperature: 1.5, seed: 3 }),
        ];
      } finally {
        await own.dispose();
      }
    },
    check: (results) => {
      const [a, b] = results as [TextResult, TextResult];
      expectThat(a.tokens.join() === b.tokens.join(), 'identical samples');
    },
  },
];
