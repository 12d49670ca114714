import {
  BusyError,
  ContextOverflowError,
  ContractError,
  type DraftContext,
  type Drafter,
  type DraftTree,
  DynamicTreeGrowth,
  NumericError,
  OptionError,
  SpeculativeDecoder,
  StaticTreeGrowth,
  StaticTreeShape,
  type TreeGrowth,
} from '@treespec/core';
import {
  referenceGreedy,
  ToyDrafter,
  type ToyDraftQuality,
  ToyLanguageModel,
  ToyTarget,
} from '@treespec/core/testing';
import { describe, expect, it } from 'vitest';
import { GreedyVerifier } from '../src/index.js';

const qualities: ToyDraftQuality[] = [
  { kind: 'perfect' },
  { kind: 'mixed', noise: 0.3 },
  { kind: 'mixed', noise: 0.8 },
  { kind: 'random' },
  { kind: 'adversarial' },
];

const shapes: Array<[string, () => TreeGrowth]> = [
  ['dynamic 4x4/16', () => new DynamicTreeGrowth({ topK: 4, depth: 3, totalTokens: 17 })],
  ['dynamic 2x6/7', () => new DynamicTreeGrowth({ topK: 2, depth: 5, totalTokens: 8 })],
  ['dynamic 1x1/1', () => new DynamicTreeGrowth({ topK: 1, depth: 0, totalTokens: 2 })],
  ['static', () => new StaticTreeGrowth(new StaticTreeShape([[0, 0, 0], [1, 0], [0, 1], [2]]))],
  ['chain of 5', () => new StaticTreeGrowth(StaticTreeShape.chain(5))],
];

function setup(
  seed: number,
  quality: ToyDraftQuality,
  growth: TreeGrowth,
  vocabSize = 24,
  greedyTokens = false,
) {
  // Low sharpness and a small vocabulary make near-ties and EOS common, which is where bugs hide.
  const model = new ToyLanguageModel({
    vocabSize,
    order: 3,
    seed,
    sharpness: 1.5,
    eosTokenId: 2,
    eosBias: 0.5,
  });
  const target = new ToyTarget(model, { featureSize: 3, greedyTokens });
  const drafter = new ToyDrafter({ target, growth, quality, checkFeatures: true });
  const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
  return { model, target, drafter, decoder };
}

describe('greedy speculative decoding', () => {
  it.each([
    ['its logits', false],
    ['its greedy tokens', true],
  ])(
    'is token for token plain greedy decoding for every drafter quality and tree shape, from %s',
    async (_, greedyTokens) => {
      let compared = 0;
      for (let seed = 1; seed <= 12; seed++) {
        for (const quality of qualities) {
          for (const [, makeGrowth] of shapes) {
            const { model, decoder } = setup(seed, quality, makeGrowth(), 24, greedyTokens);
            const prompt = [1, (seed * 7) % 24, (seed * 13) % 24];
            const result = await decoder.generate(prompt, { maxTokens: 40 });
            expect(Array.from(result.tokens)).toEqual(
              Array.from(referenceGreedy(model, prompt, { maxTokens: 40 })),
            );
            compared++;
          }
        }
      }
      expect(compared).toBe(12 * qualities.length * shapes.length);
    },
  );

  it('stops at EOS and at stop sequences that fall inside an accepted path, as plain decoding does', async () => {
    let eosHits = 0;
    let stopHits = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { model, decoder } = setup(
        seed,
        { kind: 'perfect' },
        new DynamicTreeGrowth({ topK: 3, depth: 5, totalTokens: 21 }),
      );
      const prompt = [1, seed % 24];
      const unbounded = referenceGreedy(model, prompt, { maxTokens: 30 });
      // A stop sequence taken from the middle of the greedy continuation is sure to be hit.
      const stopSequences = [Array.from(unbounded.subarray(8, 11))];
      const options = { maxTokens: 30, eosTokenIds: [2], stopSequences };
      const expected = referenceGreedy(model, prompt, options);
      const result = await decoder.generate(prompt, options);
      expect(Array.from(result.tokens)).toEqual(Array.from(expected));
      if (result.finishReason === 'eos') eosHits++;
      if (result.finishReason === 'stop') stopHits++;
      // A stop sequence is hit mid-step whenever a step accepted more than one token past it.
      expect(result.stats.tau).toBeGreaterThanOrEqual(1);
    }
    expect(eosHits).toBeGreaterThan(3);
    expect(stopHits).toBeGreaterThan(3);
  });

  it('accepts long paths with a perfect drafter and nothing but the bonus with an adversarial one', async () => {
    const perfect = setup(3, { kind: 'perfect' }, new StaticTreeGrowth(StaticTreeShape.chain(4)));
    const good = await perfect.decoder.generate([1, 5], { maxTokens: 50 });
    expect(good.stats.tau).toBeGreaterThan(4.5);
    expect(good.stats.acceptanceByDepth.every((rate) => rate === 1)).toBe(true);
    const adversarial = setup(3, { kind: 'adversarial' }, new StaticTreeGrowth(StaticTreeShape.chain(4)));
    const bad = await adversarial.decoder.generate([1, 5], { maxTokens: 50 });
    expect(bad.stats.tau).toBe(1);
    expect(bad.stats.acceptedLengths).toEqual([50]);
  });

  it('reports consistent statistics', async () => {
    const { decoder } = setup(
      5,
      { kind: 'mixed', noise: 0.5 },
      new DynamicTreeGrowth({ topK: 3, depth: 3, totalTokens: 11 }),
    );
    const { stats, tokens } = await decoder.generate([1, 2, 3, 4], { maxTokens: 60 });
    expect(stats.promptTokens).toBe(4);
    expect(stats.generatedTokens).toBe(tokens.length);
    expect(stats.targetCalls).toBe(stats.steps + 1);
    expect(stats.acceptedLengths.reduce((a, b) => a + b, 0)).toBe(stats.steps);
    const committed = stats.acceptedLengths.reduce((sum, count, k) => sum + count * (k + 1), 0);
    expect(committed).toBeGreaterThanOrEqual(tokens.length);
    expect(committed - tokens.length).toBeLessThan(5);
    expect(stats.tau).toBeCloseTo(committed / stats.steps, 12);
    expect(stats.meanTreeSize).toBeGreaterThan(1);
    expect(stats.meanTreeSize).toBeLessThanOrEqual(11);
    for (const ms of [stats.prefillMs, stats.draftMs, stats.verifyMs, stats.bookkeepingMs])
      expect(ms).toBeGreaterThanOrEqual(0);
    expect(stats.totalMs).toBeGreaterThanOrEqual(stats.draftMs + stats.verifyMs);
  });

  it('decodes plainly, one token per target call, without a drafter', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, seed: 9 });
    const target = new ToyTarget(model);
    const decoder = new SpeculativeDecoder({ target, verifier: new GreedyVerifier() });
    const result = await decoder.generate([1, 4, 4], { maxTokens: 25 });
    expect(Array.from(result.tokens)).toEqual(
      Array.from(referenceGreedy(model, [1, 4, 4], { maxTokens: 25 })),
    );
    expect(result.stats.steps).toBe(25);
    expect(result.stats.tau).toBe(1);
  });

  it('shows the drafter every target feature exactly once, for the right positions', async () => {
    const { decoder, drafter } = setup(
      8,
      { kind: 'mixed', noise: 0.4 },
      new DynamicTreeGrowth({ topK: 2, depth: 2, totalTokens: 7 }),
    );
    const pathLengths: number[] = [];
    const drafted: boolean[] = [];
    let generated = 0;
    await decoder.generate([1, 3, 5, 7, 9], {
      maxTokens: 30,
      onStep: (e) => {
        // The last token is decoded without a draft: no proposal.
        drafted.push(30 - generated > 1);
        generated += e.pathLength;
        pathLengths.push(e.pathLength);
      },
    });
    // The prefill's 4 rows (positions 0..3), then each step's accepted path up to the last
    // proposal, which sees the rows of the steps before it. The drafter checks each row against
    // the target.
    const lastProposal = drafted.lastIndexOf(true);
    const shown = 4 + pathLengths.slice(0, lastProposal).reduce((a, b) => a + b, 0);
    expect(pathLengths.some((n) => n > 1)).toBe(true);
    expect(drafter.featureRowsChecked).toBe(shown);
  });
});

describe('streaming, aborting and limits', () => {
  it('streams exactly the final tokens, never taking back what it emitted before a stop sequence', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { model, decoder } = setup(
        seed,
        { kind: 'perfect' },
        new DynamicTreeGrowth({ topK: 3, depth: 4, totalTokens: 13 }),
      );
      const prompt = [1, seed];
      const free = referenceGreedy(model, prompt, { maxTokens: 24 });
      const stopSequences = [Array.from(free.subarray(10, 13))];
      const stream = decoder.stream(prompt, { maxTokens: 24, stopSequences });
      const streamed: number[] = [];
      for await (const chunk of stream) streamed.push(...chunk.tokens);
      const result = await stream.result;
      expect(streamed).toEqual(Array.from(result.tokens));
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, prompt, { maxTokens: 24, stopSequences })),
      );
    }
  });

  it('returns the committed prefix when aborted, and generates again afterwards', async () => {
    const { model, decoder } = setup(
      4,
      { kind: 'mixed', noise: 0.3 },
      new DynamicTreeGrowth({ topK: 3, depth: 3, totalTokens: 11 }),
    );
    const expected = Array.from(referenceGreedy(model, [1, 9], { maxTokens: 60 }));
    const controller = new AbortController();
    const aborted = await decoder.generate([1, 9], {
      maxTokens: 60,
      signal: controller.signal,
      onStep: (e) => {
        if (e.step === 3) controller.abort();
      },
    });
    expect(aborted.finishReason).toBe('abort');
    expect(aborted.stats.steps).toBe(4);
    expect(aborted.tokens.length).toBeGreaterThanOrEqual(4);
    expect(Array.from(aborted.tokens)).toEqual(expected.slice(0, aborted.tokens.length));
    const again = await decoder.generate([1, 9], { maxTokens: 60 });
    expect(Array.from(again.tokens)).toEqual(expected);
  });

  it('stops the generation when the stream consumer stops reading', async () => {
    const { decoder } = setup(
      6,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 2, totalTokens: 7 }),
    );
    const stream = decoder.stream([1, 2], { maxTokens: 200 });
    for await (const _ of stream) break;
    const result = await stream.result;
    expect(result.finishReason).toBe('abort');
    expect(result.tokens.length).toBeLessThan(200);
  });

  it('ends with reason "context" when the context window fills, matching plain decoding up to there', async () => {
    const model = new ToyLanguageModel({ vocabSize: 20, seed: 12 });
    const target = new ToyTarget(model, { maxContext: 30 });
    const drafter = new ToyDrafter({
      target,
      growth: new DynamicTreeGrowth({ topK: 3, depth: 4, totalTokens: 13 }),
    });
    const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
    const result = await decoder.generate([1, 2, 3], { maxTokens: 100 });
    expect(result.finishReason).toBe('context');
    expect(result.tokens.length).toBe(28);
    expect(Array.from(result.tokens)).toEqual(
      Array.from(referenceGreedy(model, [1, 2, 3], { maxTokens: 28 })),
    );
  });

  it('rejects bad input with typed errors and stays usable', async () => {
    const { decoder, target } = setup(
      2,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 1, totalTokens: 5 }),
    );
    await expect(decoder.generate([1, 2], { maxTokens: -1 })).rejects.toThrow(
      'option "maxTokens" must be an integer >= 0; got -1',
    );
    await expect(decoder.generate([], { maxTokens: 4 })).rejects.toThrow(OptionError);
    await expect(decoder.generate([1, 99], { maxTokens: 4 })).rejects.toThrow(/prompt\[1\].*\[0, 24\).*99/);
    await expect(decoder.generate(new Array(5000).fill(1), { maxTokens: 4 })).rejects.toThrow(
      ContextOverflowError,
    );
    await expect(decoder.generate([1, 2], { stopSequences: [[]] })).rejects.toThrow(/stopSequences\[0\]/);
    expect((await decoder.generate([1, 2], { maxTokens: 0 })).tokens.length).toBe(0);

    target.nanOnVerifyCall = target.verifyCalls + 2;
    await expect(decoder.generate([1, 2], { maxTokens: 10 })).rejects.toThrow(NumericError);
    const ok = await decoder.generate([1, 2], { maxTokens: 10 });
    expect(ok.tokens.length).toBe(10);
  });

  it('asks the target for greedy tokens only when it reads nothing else of a row', async () => {
    for (const [options, expected] of [
      [{}, true],
      [{ repetitionPenalty: 1.2 }, false],
    ] as const) {
      const model = new ToyLanguageModel({ vocabSize: 24, seed: 5 });
      const target = new ToyTarget(model, { greedyTokens: true });
      const asked = new Set<boolean>();
      const verify = target.verify.bind(target);
      target.verify = (tree, callOptions) => {
        asked.add(callOptions?.greedy === true);
        return verify(tree, callOptions);
      };
      const growth = new DynamicTreeGrowth({ topK: 2, depth: 3, totalTokens: 7 });
      const verifier = new GreedyVerifier(options);
      expect(verifier.argmaxOnly).toBe(expected);
      const drafter = new ToyDrafter({ target, growth, quality: { kind: 'mixed', noise: 0.3 } });
      const decoder = new SpeculativeDecoder({ target, drafter, verifier });
      await decoder.generate([1, 2], { maxTokens: 12 });
      expect([...asked]).toEqual([expected]);
    }
  });

  it('refuses a row of greedy tokens whose logits are not all finite, and stays usable', async () => {
    const { decoder, target } = setup(
      4,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 2, totalTokens: 5 }),
      24,
      true,
    );
    target.nanOnVerifyCall = target.verifyCalls + 2;
    await expect(decoder.generate([1, 2], { maxTokens: 10 })).rejects.toThrow(
      /target logits at sequence position \d+ are not all finite \(their sum is NaN\)/,
    );
    const ok = await decoder.generate([1, 2], { maxTokens: 10 });
    expect(ok.tokens.length).toBe(10);
  });

  it('refuses a drafter whose trees are larger than the target can verify, naming both sizes', () => {
    const model = new ToyLanguageModel({ vocabSize: 20, seed: 3 });
    const target = Object.assign(new ToyTarget(model), { maxTreeSize: 5 });
    const drafter = (totalTokens: number) =>
      new ToyDrafter({ target, growth: new DynamicTreeGrowth({ topK: 2, depth: 2, totalTokens }) });
    expect(
      () => new SpeculativeDecoder({ target, drafter: drafter(7), verifier: new GreedyVerifier() }),
    ).toThrow(/grows trees of up to 7 nodes, but the target verifies at most 5 per call/);
    expect(
      () => new SpeculativeDecoder({ target, drafter: drafter(5), verifier: new GreedyVerifier() }),
    ).not.toThrow();
  });

  it('refuses a second generation while one is running', async () => {
    const { decoder } = setup(
      2,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 1, totalTokens: 5 }),
    );
    const first = decoder.generate([1, 2], { maxTokens: 20 });
    await expect(decoder.generate([1, 2], { maxTokens: 20 })).rejects.toThrow(BusyError);
    expect((await first).tokens.length).toBe(20);
  });

  it('refuses parts and options of the wrong shape with OptionErrors, and generates after them', async () => {
    const { model, target, decoder } = setup(
      2,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 1, totalTokens: 5 }),
    );
    const parts: [unknown, RegExp][] = [
      [{ target }, /option "verifier" must be a Verifier/],
      [{ target, verifier: { temperature: 0.7 } }, /option "verifier" must be a Verifier/],
      [{ target: {}, verifier: new GreedyVerifier() }, /option "target" must be a TargetModel/],
      [{ target, verifier: new GreedyVerifier(), drafter: 'lookup' }, /option "drafter" must be a Drafter/],
    ];
    for (const [given, message] of parts) {
      expect(() => new SpeculativeDecoder(given as never)).toThrow(message);
    }
    const options: [unknown, RegExp][] = [
      [null, /option "options" must be an object/],
      [{ eosTokenIds: 2 }, /option "eosTokenIds" must be an array/],
      [{ stopCriteria: ['x'] }, /option "stopCriteria\[0\]" must be a StopCriterion/],
      [{ onStep: 5 }, /option "onStep" must be a function/],
    ];
    for (const [given, message] of options) {
      await expect(decoder.generate([1, 2], given as never)).rejects.toThrow(message);
    }
    const after = await decoder.generate([1, 2], { maxTokens: 8 });
    expect(Array.from(after.tokens)).toEqual(Array.from(referenceGreedy(model, [1, 2], { maxTokens: 8 })));
  });

  it('refuses a draft tree that breaks the contract with a ContractError naming the rule, and generates after it', async () => {
    const { model, target } = setup(
      2,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 1, totalTokens: 5 }),
    );
    const faults: [string, (context: DraftContext, tree: DraftTree) => void, RegExp][] = [
      [
        'wrong root',
        (c, t) => t.reset(c.tokens[c.length - 2]!),
        /its root is token \d+; expected the last committed token/,
      ],
      [
        "depth not its parent's plus one",
        (c, t) => {
          t.reset(c.tokens[c.length - 1]!);
          t.add(0, 5, 0);
          t.depths[1] = 2;
        },
        /node 1 has depth 2; expected its parent's plus one \(1\)/,
      ],
      [
        'token past the vocabulary',
        (c, t) => {
          t.reset(c.tokens[c.length - 1]!);
          t.add(0, 24, 0);
        },
        /node 1 has token 24; expected an id in \[0, 24\)/,
      ],
      [
        'context written',
        (c, t) => {
          t.reset(c.tokens[c.length - 1]!);
          c.tokens[c.length - 1] = 7;
        },
        /it wrote into its context's tokens/,
      ],
      [
        'empty tree',
        (_, t) => {
          t.size = 0;
        },
        /its size is 0; expected 1 \(the root\) to 4/,
      ],
      [
        'tree past its capacity',
        (c, t) => {
          t.reset(c.tokens[c.length - 1]!);
          t.size = 30;
        },
        /its size is 30; expected 1 \(the root\) to 4/,
      ],
    ];
    for (const [, propose, message] of faults) {
      const drafter: Drafter = {
        name: 'faulty',
        needsFeatures: false,
        maxTreeSize: 4,
        reset: () => {},
        propose,
      };
      const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
      const error = await decoder.generate([1, 2, 3], { maxTokens: 8 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContractError);
      expect((error as Error).message).toMatch(
        /the faulty drafter returned a draft tree that breaks the contract/,
      );
      expect((error as Error).message).toMatch(message);
    }
    const plain = new SpeculativeDecoder({ target, verifier: new GreedyVerifier() });
    const after = await plain.generate([1, 2], { maxTokens: 8 });
    expect(Array.from(after.tokens)).toEqual(Array.from(referenceGreedy(model, [1, 2], { maxTokens: 8 })));
    const featureless = new ToyTarget(model);
    const reader: Drafter = {
      name: 'reader',
      needsFeatures: true,
      maxTreeSize: 4,
      reset: () => {},
      propose: () => {},
    };
    expect(
      () => new SpeculativeDecoder({ target: featureless, drafter: reader, verifier: new GreedyVerifier() }),
    ).toThrow(/the reader drafter reads the target's features, but this target outputs none/);
  });

  it('is free for the next call as soon as a consumer breaks out of its stream', async () => {
    const { model, decoder } = setup(
      2,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 1, totalTokens: 5 }),
    );
    for (const abort of [false, true]) {
      const controller = new AbortController();
      const stream = decoder.stream([1, 2], { maxTokens: 64, signal: controller.signal });
      for await (const _ of stream) {
        if (abort) controller.abort();
        break;
      }
      const next = await decoder.generate([1, 3], { maxTokens: 8 });
      expect(Array.from(next.tokens)).toEqual(Array.from(referenceGreedy(model, [1, 3], { maxTokens: 8 })));
      expect((await stream.result).finishReason).toBe('abort');
    }
  });

  it('refuses a second decoder over a target another decoder is generating on, and frees it after', async () => {
    const { model, target, decoder } = setup(
      2,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 1, totalTokens: 5 }),
    );
    const plain = new SpeculativeDecoder({ target, verifier: new GreedyVerifier() });
    const first = decoder.generate([1, 2], { maxTokens: 20 });
    await expect(plain.generate([1, 3], { maxTokens: 20 })).rejects.toThrow(
      'another decoder over this target model is already generating',
    );
    expect(Array.from((await first).tokens)).toEqual(
      Array.from(referenceGreedy(model, [1, 2], { maxTokens: 20 })),
    );
    const after = await plain.generate([1, 3], { maxTokens: 20 });
    expect(Array.from(after.tokens)).toEqual(Array.from(referenceGreedy(model, [1, 3], { maxTokens: 20 })));
  });

  it('refuses a signal that is not an AbortSignal, and generates after it', async () => {
    const { decoder } = setup(
      2,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 1, totalTokens: 5 }),
    );
    const signal = new AbortController() as unknown as AbortSignal;
    await expect(decoder.generate([1, 2], { maxTokens: 4, signal })).rejects.toThrow(OptionError);
    expect((await decoder.generate([1, 2], { maxTokens: 4 })).tokens.length).toBe(4);
  });
});

describe('what ended a generation', () => {
  it('reports the stop criterion and its match, and nothing when the length limit came first', async () => {
    const { model, decoder } = setup(
      7,
      { kind: 'perfect' },
      new DynamicTreeGrowth({ topK: 2, depth: 3, totalTokens: 9 }),
    );
    const free = referenceGreedy(model, [1, 3], { maxTokens: 30 });
    const stopSequences = [Array.from(free.subarray(5, 7))];
    const stopped = await decoder.generate([1, 3], { maxTokens: 30, stopSequences });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.stop?.match).toEqual({ end: 2 + 7, keep: 2 + 5 });
    expect(stopped.stop?.criterion.reason).toBe('stop');
    const limited = await decoder.generate([1, 3], { maxTokens: 6, stopSequences });
    expect(limited.finishReason).toBe('length');
    expect(limited.stop).toBeUndefined();
  });
});
