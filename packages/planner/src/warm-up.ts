import type { TextGenerator } from '@treespec/generator';

/** The prompt of the warm-up generations: any text decodes through the same call shapes. */
const WARM_UP_PROMPT = 'The';

/**
 * Tokens of each warm-up generation at load: enough for every session to run each of its call
 * shapes a few times (on a fresh process the first calls of a shape cost two to three times what
 * later ones do), few enough to add about 0.15 s to a CPU load of the tiny bundle.
 */
export const WARM_UP_TOKENS = 16;

/**
 * Each warm-up generation stops at the end of the step running after this many milliseconds, so
 * that a model whose steps take seconds (a billion-parameter target on a CPU) loads in about the
 * time of one step per generation more, not of sixteen tokens; the tiny bundle's take 50–200 ms.
 */
export const WARM_UP_MS = 500;

/** The two kinds of generation, whose model calls differ: greedy, and sampling at temperature 1. */
const KINDS = [{}, { temperature: 1, seed: 0 }] as const;
/** Greedy generations alone. */
const GREEDY = KINDS.slice(0, 1);

/**
 * Runs every session of `generator` before its first generation: for each drafter named, a greedy
 * and then (with `sampling`) a sampling generation of `tokens` tokens with an explicit tree (the
 * load's budget, the largest tree the sessions will see, drafted whole by a throwaway fixed-budget
 * drafter over the same draft model), then a few plain steps of each kind, each generation for at
 * most about {@link WARM_UP_MS}. Sampling generations call the models with shapes and outputs of
 * their own (drawn tokens and the rows' weights from the target, the draft probabilities from a
 * head): warmed greedily alone, the first sampled steps of a process cost about twice their later
 * price (docs/benchmarks.md, session 51).
 * The drafters that generations use never see these steps, so their budget controllers learn
 * only from calls that cost what later ones will: on a fresh process the first calls of each
 * shape cost two to three times as much (memory arenas growing, kernels packing weights, code
 * still being compiled), and a controller that learnt from them decoded plainly for hundreds of
 * tokens. Nothing is kept: each generation resets the models it uses. `signal` (the load's)
 * ends the running generation and skips the rest.
 */
export async function warmUp(
  generator: TextGenerator,
  drafters: readonly string[],
  tokens: number,
  sampling: boolean,
  signal?: AbortSignal,
): Promise<void> {
  if (tokens <= 0) return;
  const room = generator.target.maxContext - generator.encode(WARM_UP_PROMPT).length - 1;
  const maxTokens = Math.min(tokens, room);
  if (maxTokens < 2) return;
  const bounded = (): AbortSignal =>
    signal ? AbortSignal.any([signal, AbortSignal.timeout(WARM_UP_MS)]) : AbortSignal.timeout(WARM_UP_MS);
  const kinds = sampling ? KINDS : GREEDY;
  for (const drafter of drafters) {
    for (const kind of kinds) {
      if (signal?.aborted) return;
      await generator.generate(WARM_UP_PROMPT, {
        drafter,
        tree: {},
        maxTokens,
        ...kind,
        signal: bounded(),
      });
    }
  }
  for (const kind of kinds) {
    if (signal?.aborted) return;
    await generator.generate(WARM_UP_PROMPT, {
      plain: true,
      maxTokens: Math.min(4, maxTokens),
      ...kind,
      signal: bounded(),
    });
  }
}
