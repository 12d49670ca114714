export { type ChiSquareResult, chiSquareTest, upperRegularizedGamma } from './chi-square.js';
export { Clock, ClockedTarget, type VerifyCosts } from './clocked-target.js';
export { referenceGreedy } from './reference-decoding.js';
export {
  ToyDrafter,
  type ToyDrafterOptions,
  type ToyDraftQuality,
  type ToyDraftSampling,
} from './toy-drafter.js';
export { ToyLanguageModel, type ToyModelOptions } from './toy-model.js';
export { ToyTarget, type ToyTargetOptions } from './toy-target.js';
