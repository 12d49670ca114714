/**
 * The building blocks under `@treespec/onnx`'s public face, for tests and tooling: the shared
 * draft-model runner, the KV cache and int64 helpers. Not covered by semver; the public entry is
 * re-exported here too.
 */

export { DraftModelRunner, type DraftModelShape } from './draft-model-runner.js';
export { chunkedRows, HeadMajorKvCache } from './head-major-kv-cache.js';
export { HostKvCache } from './host-kv-cache.js';
export * from './index.js';
export { Int64Buffer, readInt64, writeInt64 } from './int64.js';
export { KV_CHUNK_ROWS, type KvArray, KvCache, type KvDtype } from './kv-cache.js';
export { SharedKvCache } from './shared-kv-cache.js';
