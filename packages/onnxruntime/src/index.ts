export { OnnxRuntimeUnavailableError } from './errors.js';
export {
  loadedOnnxRuntime,
  loadOnnxRuntime,
  type OnnxRuntime,
  type OnnxRuntimeSource,
} from './load-onnx-runtime.js';
export { PLATFORM_PACKAGES, platformPackageName, type SupportedPlatform } from './platform-packages.js';
