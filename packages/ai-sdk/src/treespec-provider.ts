import type { TreespecEngine } from './treespec-engine.js';
import { TreespecLanguageModel, type TreespecModelSettings } from './treespec-language-model.js';

/** Makes language models over one engine; call it or its `languageModel`. */
export interface TreespecProvider {
  (modelId?: string, settings?: Omit<TreespecModelSettings, 'modelId'>): TreespecLanguageModel;
  languageModel(modelId?: string, settings?: Omit<TreespecModelSettings, 'modelId'>): TreespecLanguageModel;
}

/**
 * The treespec provider for the Vercel AI SDK over an engine loaded in-process (a `TextGenerator`
 * from `loadTreespec`, or the browser worker client). Every model it makes shares the engine, and
 * their calls run one at a time, in the order the AI SDK reaches the model.
 *
 * ```ts
 * const treespec = createTreespec(await loadTreespec(dir));
 * const { text } = await generateText({ model: treespec(), prompt: 'Once upon a time' });
 * ```
 */
export function createTreespec(
  engine: TreespecEngine,
  defaults: Omit<TreespecModelSettings, 'modelId'> = {},
): TreespecProvider {
  const languageModel = (modelId = 'treespec', settings: Omit<TreespecModelSettings, 'modelId'> = {}) =>
    new TreespecLanguageModel(engine, { ...defaults, ...settings, modelId });
  return Object.assign(languageModel, { languageModel });
}
