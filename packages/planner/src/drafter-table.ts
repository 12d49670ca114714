import type { Drafter } from '@treespec/core';
import {
  HybridDrafter,
  type HybridPolicy,
  LookupDrafter,
  type MatchingDrafter,
  PricedModelFreeDrafter,
  SuffixDrafter,
} from '@treespec/drafters';
import type { ModelFreeBudget } from './budgets.js';
import { MODEL_DRAFTERS, type ModelDrafterEntry, type ModelDrafterName } from './model-drafters.js';
import type { AdaptiveStop } from './tree-growth.js';

/** The options a drafter's needs and make depend on, after the planner filled in their defaults. */
export interface DrafterChoices {
  /** The model drafter of `hybrid`. */
  readonly hybridBase: ModelDrafterName;
  /** How `hybrid` picks each step's tree; undefined: the drafter's default. */
  readonly hybridPolicy: HybridPolicy | undefined;
  /** When model drafters stop growing a tree early. */
  readonly adaptive: AdaptiveStop;
  /**
   * The device's trees for the model-free drafters, cut to the context window
   * (`modelFreeWithinContext`); undefined: their own defaults.
   */
  readonly modelFree: ModelFreeBudget | undefined;
  /**
   * Whether `lookup` and `suffix` on their own cut each tree to what pays at this machine's prices
   * ({@link PricedModelFreeDrafter}; the `auto` budget), else verify their whole trees (`fixed`).
   */
  readonly modelFreePriced: boolean;
}

/** What a {@link DrafterEntry} is made from. */
export interface DrafterContext {
  readonly choices: DrafterChoices;
  /**
   * Documents (token ids) the suffix drafter may also copy from, or undefined; tokenized at the
   * first call, so a load whose drafters read none never tokenizes them.
   */
  corpus(): readonly ArrayLike<number>[] | undefined;
  /**
   * A drafter over one of the bundle's draft models (its session is opened once per load and
   * shared), under a budget controller of its own: `eagle2` and the hybrid's model part learn
   * their trees apart, since the hybrid calls its model drafter only on the steps it picks it.
   */
  modelDrafter(name: ModelDrafterName): Promise<Drafter>;
}

/** One drafter a bundle can provide: the draft models it needs, and how it is made. */
export interface DrafterEntry {
  /** Roles of the draft models it needs (the target is always loaded). */
  needs(choices: DrafterChoices): readonly ModelDrafterEntry['role'][];
  make(context: DrafterContext): Drafter | Promise<Drafter>;
  /** Whether it drafts from the load's corpus (`corpus`) too. */
  readonly readsCorpus?: true;
}

function suffixDrafter(context: DrafterContext): SuffixDrafter {
  const corpus = context.corpus();
  return new SuffixDrafter({ ...context.choices.modelFree, ...(corpus ? { corpus } : {}) });
}

function lookupDrafter(context: DrafterContext): LookupDrafter {
  return new LookupDrafter({ ...context.choices.modelFree });
}

/** A model-free drafter on its own: priced under the `auto` budget, its whole tree every step under `fixed`. */
function alone(context: DrafterContext, drafter: MatchingDrafter): Drafter {
  return context.choices.modelFreePriced ? new PricedModelFreeDrafter(drafter) : drafter;
}

/**
 * Every drafter a bundle can provide, by the name users select it with (`drafter`, `drafters`,
 * `--drafter`). A new drafter is one entry here; a drafter over a new kind of draft model is an
 * entry of {@link MODEL_DRAFTERS} too.
 */
export const DRAFTERS = {
  eagle2: { needs: () => [MODEL_DRAFTERS.eagle2.role], make: (c) => c.modelDrafter('eagle2') },
  eagle3: { needs: () => [MODEL_DRAFTERS.eagle3.role], make: (c) => c.modelDrafter('eagle3') },
  'draft-lm': { needs: () => [MODEL_DRAFTERS['draft-lm'].role], make: (c) => c.modelDrafter('draft-lm') },
  lookup: { needs: () => [], make: (c) => alone(c, lookupDrafter(c)) },
  suffix: { needs: () => [], make: (c) => alone(c, suffixDrafter(c)), readsCorpus: true },
  hybrid: {
    needs: (choices) => [MODEL_DRAFTERS[choices.hybridBase].role],
    readsCorpus: true,
    make: async (c) =>
      new HybridDrafter(await c.modelDrafter(c.choices.hybridBase), [suffixDrafter(c), lookupDrafter(c)], {
        ...(c.choices.hybridPolicy ? { policy: c.choices.hybridPolicy } : {}),
      }),
  },
} as const satisfies Record<string, DrafterEntry>;

/** The name of a {@link DRAFTERS} entry. */
export type DrafterName = keyof typeof DRAFTERS;

/** The drafters a bundle can provide; `none` is plain decoding. */
export const BUNDLE_DRAFTERS: readonly BundleDrafter[] = [
  ...(Object.keys(DRAFTERS) as DrafterName[]),
  'none',
];

/** A drafter name users may select, or `none` for plain decoding. */
export type BundleDrafter = DrafterName | 'none';
