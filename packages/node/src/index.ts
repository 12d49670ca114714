export type { Prompt, TextGenerateOptions, TextGenerator, TextResult } from '@treespec/generator';
export type { AdaptiveStop, BundleDrafter, BundleOptions } from '@treespec/planner';
export { type LoadTreespecOptions, loadTreespec } from './load-treespec.js';
export {
  createSession,
  type ExecutionProvider,
  ModelLoadError,
  type NodeSessionOptions,
  ProviderUnavailableError,
} from './session.js';
