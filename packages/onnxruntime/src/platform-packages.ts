import { dirname, join } from 'node:path';

/**
 * The platforms ONNX Runtime's Node binding is built for (those of onnxruntime-node 1.30's
 * `bin/napi-v6/<platform>/<arch>`), each shipped as its own npm package with `os` and `cpu`
 * fields, so that npm installs the one of the machine and skips the rest.
 */
export const PLATFORM_PACKAGES = {
  'linux-x64': '@treespec/onnxruntime-linux-x64',
  'linux-arm64': '@treespec/onnxruntime-linux-arm64',
  'darwin-arm64': '@treespec/onnxruntime-darwin-arm64',
  'win32-x64': '@treespec/onnxruntime-win32-x64',
  'win32-arm64': '@treespec/onnxruntime-win32-arm64',
} as const;

/** A `<process.platform>-<process.arch>` that has a binary package, e.g. `linux-x64`. */
export type SupportedPlatform = keyof typeof PLATFORM_PACKAGES;

/** Where a platform package keeps its files, relative to its package.json. */
export const BINDING_DIRECTORY = 'bin';

/** The file Node loads in a platform package's {@link BINDING_DIRECTORY}. */
export const BINDING_FILE = 'onnxruntime_binding.node';

/** The binary package for `platform` and `arch` (as `process.platform`, `process.arch` name them), or undefined when none is built. */
export function platformPackageName(platform: string, arch: string): string | undefined {
  const key = `${platform}-${arch}`;
  return Object.hasOwn(PLATFORM_PACKAGES, key) ? PLATFORM_PACKAGES[key as SupportedPlatform] : undefined;
}

/** Where the platform's binding file lies, or why it cannot be found. */
export type BindingLocation =
  | { found: true; packageName: string; bindingPath: string }
  | { found: false; packageName: string | undefined; reason: string };

/**
 * Finds the native binding of `platform`/`arch` through `resolvePackageJson` (a `require.resolve`
 * of `<name>/package.json`, throwing when the package is not installed). Pure but for the
 * resolver, so that every platform's answer can be tested on any machine.
 */
export function locateBinding(
  platform: string,
  arch: string,
  resolvePackageJson: (specifier: string) => string,
): BindingLocation {
  const packageName = platformPackageName(platform, arch);
  if (packageName === undefined) {
    const built = Object.keys(PLATFORM_PACKAGES).join(', ');
    return {
      found: false,
      packageName,
      reason:
        `ONNX Runtime's Node binding is built for ${built}, not for ${platform}-${arch}; ` +
        "install an onnxruntime-node built for this machine and pass onnxRuntime: 'onnxruntime-node'",
    };
  }
  let packageJson: string;
  try {
    packageJson = resolvePackageJson(`${packageName}/package.json`);
  } catch {
    return {
      found: false,
      packageName,
      reason:
        `${packageName}, the binary package for ${platform}-${arch}, is not installed ` +
        `(it is an optional dependency of @treespec/onnxruntime: installs with --omit=optional or --no-optional skip it); ` +
        `install it with \`npm install ${packageName}\``,
    };
  }
  return {
    found: true,
    packageName,
    bindingPath: join(dirname(packageJson), BINDING_DIRECTORY, BINDING_FILE),
  };
}
