export type { PromptFormat } from './prompt-conversion.js';
export type {
  EngineChatMessage,
  EngineFinishReason,
  EngineGenerateOptions,
  EngineResult,
  EngineStats,
  EngineStream,
  TreespecEngine,
} from './treespec-engine.js';
export { TreespecLanguageModel, type TreespecModelSettings } from './treespec-language-model.js';
export { createTreespec, type TreespecProvider } from './treespec-provider.js';
