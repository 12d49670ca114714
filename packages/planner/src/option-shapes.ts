import { OptionError, requireBoolean, requireOneOf, requireTreeShape } from '@treespec/core';
import { HYBRID_POLICIES } from '@treespec/drafters';
import { MODEL_DRAFTER_NAMES } from './model-drafters.js';
import type { BundleOptions } from './plan.js';
import { ADAPTIVE_STOPS } from './tree-growth.js';

function requireList(option: string, value: unknown, items: string): void {
  if (value != null && !Array.isArray(value)) {
    throw new OptionError(option, value, `an array of ${items}`);
  }
}

/**
 * Checks the shapes of a load's options that `plan` would otherwise read wrongly or fail on with
 * a bare `TypeError`: lists that are not arrays (a string would be read letter by letter), names
 * outside their sets, and flags that are not booleans. Values within a right shape (a drafter's
 * name, a budget's numbers) are checked where they are read.
 * @throws OptionError naming the option, what was given and what is allowed.
 */
export function checkOptionShapes(options: BundleOptions): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new OptionError('options', options, 'an object of load options, or nothing');
  }
  requireList('drafters', options.drafters, 'drafter names');
  requireList('models', options.models, 'manifest model ids');
  requireList('corpus', options.corpus, 'texts or token id arrays');
  requireOneOf('adaptive', options.adaptive, ADAPTIVE_STOPS);
  requireOneOf('hybridBase', options.hybridBase, MODEL_DRAFTER_NAMES);
  requireOneOf('hybridPolicy', options.hybridPolicy, HYBRID_POLICIES);
  requireBoolean('draftSampling', options.draftSampling);
  requireTreeShape('tree', options.tree);
  requireTreeShape('draftTree', options.draftTree);
}
