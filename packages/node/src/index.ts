export { CHECKSUMS_FILE, verifyChecksums } from './bundle-files.js';
export { type LoadTreespecOptions, loadTreespec } from './load-treespec.js';
export {
  createSession,
  type ExecutionProvider,
  ModelLoadError,
  type NodeSessionOptions,
  ProviderUnavailableError,
} from './session.js';
