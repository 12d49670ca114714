import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as common from 'onnxruntime-common';
import { OnnxRuntimeUnavailableError } from './errors.js';
import { NativeBackend } from './native-backend.js';
import type { NativeBinding } from './native-binding.js';
import { locateBinding } from './platform-packages.js';
import { sessionFromHandler } from './session-from-handler.js';

/**
 * Where ONNX Runtime comes from. `bundled`: the binary package of this platform
 * (`@treespec/onnxruntime-<platform>-<arch>`, an optional dependency installed with treespec;
 * CPU and, where the platform's build has it, WebGPU). `onnxruntime-node`: an
 * onnxruntime-node the application installed itself, e.g. with its CUDA libraries
 * (`ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node`).
 */
export type OnnxRuntimeSource = 'bundled' | 'onnxruntime-node';

/** A loaded ONNX Runtime: the onnxruntime-common classes whose sessions run on it. */
export interface OnnxRuntime {
  readonly source: OnnxRuntimeSource;
  /** The package the native binding was loaded from, e.g. `@treespec/onnxruntime-linux-x64`. */
  readonly packageName: string;
  /**
   * Opens a model (its path, or its bytes) on this runtime. The bundled runtime's sessions open
   * on its native binding whatever else registered a backend with onnxruntime-common under the
   * same name (onnxruntime-web's WASM backend registers 'cpu'); onnxruntime-node's open through
   * its own `InferenceSession.create`.
   */
  createSession(
    model: string | Uint8Array,
    options?: common.InferenceSession.SessionOptions,
  ): Promise<common.InferenceSession>;
  /**
   * The session class of this runtime's onnxruntime-common. Its `create` resolves the backend
   * through onnxruntime-common's process-global registry, where whoever registered a provider
   * name first keeps it; {@link OnnxRuntime.createSession} does not.
   */
  readonly InferenceSession: typeof common.InferenceSession;
  /** The tensor class this runtime's sessions accept as feeds and preallocated outputs, and return. */
  readonly Tensor: typeof common.Tensor;
  /** ONNX Runtime's settings (`logLevel` takes effect if set before the first session). */
  readonly env: common.Env;
}

type OnnxRuntimeExports = Pick<typeof common, 'InferenceSession' | 'Tensor' | 'env'>;

const requireHere = createRequire(import.meta.url);
let loaded: OnnxRuntime | undefined;

/** The ONNX Runtime this process loaded, or undefined before the first {@link loadOnnxRuntime}. */
export function loadedOnnxRuntime(): OnnxRuntime | undefined {
  return loaded;
}

/**
 * Loads ONNX Runtime from `source` once per process and returns it; later calls return the same
 * runtime. ONNX Runtime's telemetry is switched off (`ORT_DISABLE_TELEMETRY=1`) unless the
 * process set `ORT_DISABLE_TELEMETRY` itself. Without `source`: the runtime already loaded, else
 * `bundled`. A process holds one ONNX Runtime (two native builds would share one library name), so
 * asking for the other source once one is loaded fails.
 * @throws OnnxRuntimeUnavailableError when the source is not installed, has no build for this
 *   platform, cannot be loaded, or another source is loaded already.
 */
export function loadOnnxRuntime(source: OnnxRuntimeSource = loaded?.source ?? 'bundled'): OnnxRuntime {
  if (loaded !== undefined) {
    if (loaded.source === source) return loaded;
    throw new OnnxRuntimeUnavailableError(
      source,
      thisPlatform(),
      `this process already runs ONNX Runtime from ${loaded.packageName}, and one process holds one ONNX Runtime; ` +
        `choose '${source}' before the first session is created`,
    );
  }
  disableTelemetryUnlessSet();
  loaded = source === 'bundled' ? loadBundled() : loadOnnxruntimeNode();
  return loaded;
}

/**
 * ONNX Runtime's builds for Linux and macOS start a telemetry uploader with their environment (a
 * thread, a `/tmp/.ses` session file and a `mat-debug-<pid>.log` per process in the temporary
 * folder) unless `ORT_DISABLE_TELEMETRY` is set when the first session opens. treespec runs
 * without the network, so it sets the variable to 1 unless the process set it already, which
 * leaves an application's explicit choice, `0` included, as it is.
 */
function disableTelemetryUnlessSet(): void {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
}

function thisPlatform(): string {
  return `${process.platform}-${process.arch}`;
}

function loadBundled(): OnnxRuntime {
  const location = locateBinding(process.platform, process.arch, (specifier) =>
    requireHere.resolve(specifier),
  );
  if (!location.found) throw new OnnxRuntimeUnavailableError('bundled', thisPlatform(), location.reason);
  let binding: NativeBinding;
  try {
    binding = requireHere(location.bindingPath) as NativeBinding;
  } catch (error) {
    throw new OnnxRuntimeUnavailableError(
      'bundled',
      thisPlatform(),
      `Node could not load ${location.bindingPath}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const backend = new NativeBackend(binding, common.env, common.Tensor);
  for (const { name } of binding.listSupportedBackends()) registerUnlessTaken(name, backend);
  return {
    source: 'bundled',
    packageName: location.packageName,
    createSession: async (model, options) =>
      sessionFromHandler(
        common.InferenceSession,
        await backend.createInferenceSessionHandler(model, options),
      ),
    InferenceSession: common.InferenceSession,
    Tensor: common.Tensor,
    env: common.env,
  };
}

/**
 * Registers `backend` as `name` with onnxruntime-common, for applications that open sessions with
 * its `InferenceSession.create`. onnxruntime-common 1.30 throws when another backend holds the
 * name at the same priority (another onnxruntime-node in the process); the name then stays
 * theirs, since this runtime's own sessions open without the registry.
 */
function registerUnlessTaken(name: string, backend: common.Backend): void {
  try {
    common.registerBackend(name, backend, 100);
  } catch (error) {
    if (!/cannot register backend/.test((error as Error).message)) throw error;
  }
}

/** onnxruntime-node as the application installed it: found from this package, else from the working directory. */
function loadOnnxruntimeNode(): OnnxRuntime {
  const version = common.env.versions.common;
  const entry =
    resolveFrom(requireHere, 'onnxruntime-node') ??
    resolveFrom(createRequire(join(process.cwd(), 'package.json')), 'onnxruntime-node');
  if (entry === undefined) {
    throw new OnnxRuntimeUnavailableError(
      'onnxruntime-node',
      thisPlatform(),
      `onnxruntime-node is not installed; install it beside treespec: \`npm install onnxruntime-node@${version}\` ` +
        `(\`ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node@${version}\` with its CUDA 12 libraries)`,
    );
  }
  let ortNode: OnnxRuntimeExports;
  try {
    ortNode = requireHere(entry) as OnnxRuntimeExports;
  } catch (error) {
    throw new OnnxRuntimeUnavailableError(
      'onnxruntime-node',
      thisPlatform(),
      `Node could not load ${entry}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return {
    source: 'onnxruntime-node',
    packageName: 'onnxruntime-node',
    // Two overloads of `create`, one for a path and one for bytes.
    createSession: (model, options) =>
      typeof model === 'string'
        ? ortNode.InferenceSession.create(model, options)
        : ortNode.InferenceSession.create(model, options),
    InferenceSession: ortNode.InferenceSession,
    Tensor: ortNode.Tensor,
    env: ortNode.env,
  };
}

/** Where `require` finds `id`, or undefined when it is not installed there. */
function resolveFrom(require: NodeJS.Require, id: string): string | undefined {
  try {
    return require.resolve(id);
  } catch {
    return undefined;
  }
}
