// Internal entry (not in the exports map) for the build's weight packing and the on-demand conversion.
export {
  convertDefaultModels,
  PACKED_CHECKPOINTS,
  planarWeightsFile,
  preparePackedBundle,
  WEIGHTS_FOLDER,
} from './packed-bundle.js';
export { packPlanarWeights, unpackPlanarWeights } from './planar-weights.js';
