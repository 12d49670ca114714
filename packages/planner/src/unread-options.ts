import type { DrafterChoices, DrafterName } from './drafter-table.js';
import { DRAFTERS } from './drafter-table.js';
import {
  MODEL_DRAFTER_NAMES,
  MODEL_DRAFTERS,
  type ModelDrafterEntry,
  type ModelDrafterName,
} from './model-drafters.js';
import type { BundleOptions } from './plan.js';

/** An option that only some drafters read: whether it was given, and which drafters read it. */
interface OptionReaders {
  readonly option: keyof BundleOptions;
  readonly given: (options: BundleOptions) => boolean;
  /** Whether a load with these drafters (and the model drafters they drive) reads it. */
  readonly read: (drafters: readonly DrafterName[], models: readonly ModelDrafterName[]) => boolean;
  /** The drafters that read it, for the warning. */
  readonly readers: string;
}

const isSet = (value: unknown) => value != null;
const anyValue = (tree: object | null | undefined) => tree != null && Object.values(tree).some(isSet);

/** Which drafters read an option: a predicate over a load's drafters, and their names for the warning. */
type Readers = Pick<OptionReaders, 'read' | 'readers'>;

/** The drafters, alone or as the hybrid's base, whose trees `budget` sizes. */
function budgetReaders(budget: ModelDrafterEntry['budget']): Readers {
  const names = MODEL_DRAFTER_NAMES.filter((name) => MODEL_DRAFTERS[name].budget === budget);
  return {
    read: (_, models) => models.some((name) => MODEL_DRAFTERS[name].budget === budget),
    readers: `the ${names.join(' and ')} drafter${names.length > 1 ? 's' : ''}, alone or as the hybrid’s base`,
  };
}

const HEADS = budgetReaders('tree');
const MODELS: Readers = {
  read: (_, models) => models.length > 0,
  readers: `the model drafters (${MODEL_DRAFTER_NAMES.join(', ')}), alone or as the hybrid’s base`,
};
const HYBRID: Readers = { read: (drafters) => drafters.includes('hybrid'), readers: 'the hybrid drafter' };
const CORPUS_READERS = (Object.keys(DRAFTERS) as DrafterName[]).filter(
  (name) => 'readsCorpus' in DRAFTERS[name],
);

const OPTION_READERS: readonly OptionReaders[] = [
  { option: 'tree', given: (o) => anyValue(o.tree), ...HEADS },
  { option: 'draftTree', given: (o) => anyValue(o.draftTree), ...budgetReaders('draftTree') },
  { option: 'headPromptRows', given: (o) => isSet(o.headPromptRows), ...HEADS },
  { option: 'adaptive', given: (o) => isSet(o.adaptive) && o.adaptive !== 'none', ...MODELS },
  { option: 'draftSampling', given: (o) => isSet(o.draftSampling), ...MODELS },
  { option: 'hybridBase', given: (o) => isSet(o.hybridBase), ...HYBRID },
  { option: 'hybridPolicy', given: (o) => isSet(o.hybridPolicy), ...HYBRID },
  {
    option: 'corpus',
    given: (o) => isSet(o.corpus),
    read: (drafters) => drafters.some((name) => CORPUS_READERS.includes(name)),
    readers: `the ${CORPUS_READERS.join(' and ')} drafters`,
  },
];

/**
 * A warning for each option given that no drafter of the load reads (a tree budget for a load of
 * model-free drafters, a corpus for one without the suffix automaton…): such an option does
 * nothing, and a user who gave it expected it to. Options are named as `option "tree"`, which a
 * host may rename to its own terms.
 */
export function unreadOptionWarnings(
  options: BundleOptions,
  drafters: readonly DrafterName[],
  choices: DrafterChoices,
): string[] {
  const roles = new Set(drafters.flatMap((name) => DRAFTERS[name].needs(choices)));
  const models = MODEL_DRAFTER_NAMES.filter((name) => roles.has(MODEL_DRAFTERS[name].role));
  return OPTION_READERS.filter((entry) => entry.given(options) && !entry.read(drafters, models)).map(
    (entry) =>
      `treespec: option "${entry.option}" is read only by ${entry.readers}, and this load has ${drafters.join(', ') || 'no drafter'}; it is ignored`,
  );
}
