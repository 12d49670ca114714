import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateBinding, PLATFORM_PACKAGES, platformPackageName } from '../src/platform-packages.js';

/** A resolver over a fake node_modules holding `installed`, as `require.resolve` answers. */
function resolverOf(installed: string[]): (specifier: string) => string {
  return (specifier) => {
    const name = specifier.replace(/\/package\.json$/, '');
    if (!installed.includes(name))
      throw Object.assign(new Error(`Cannot find module '${specifier}'`), { code: 'MODULE_NOT_FOUND' });
    return join('/app/node_modules', name, 'package.json');
  };
}

describe('platformPackageName', () => {
  it('names the binary package of each platform onnxruntime-node 1.30 is built for', () => {
    expect(platformPackageName('linux', 'x64')).toBe('@treespec/onnxruntime-linux-x64');
    expect(platformPackageName('linux', 'arm64')).toBe('@treespec/onnxruntime-linux-arm64');
    expect(platformPackageName('darwin', 'arm64')).toBe('@treespec/onnxruntime-darwin-arm64');
    expect(platformPackageName('win32', 'x64')).toBe('@treespec/onnxruntime-win32-x64');
    expect(platformPackageName('win32', 'arm64')).toBe('@treespec/onnxruntime-win32-arm64');
  });

  it('has no package for a platform without a build, nor for names of Object.prototype', () => {
    expect(platformPackageName('darwin', 'x64')).toBeUndefined();
    expect(platformPackageName('linux', 'ppc64')).toBeUndefined();
    expect(platformPackageName('freebsd', 'x64')).toBeUndefined();
    expect(platformPackageName('constructor', '')).toBeUndefined();
  });

  it('lists each package under its own platform and arch', () => {
    for (const [platform, name] of Object.entries(PLATFORM_PACKAGES)) {
      expect(name).toBe(`@treespec/onnxruntime-${platform}`);
    }
  });
});

describe('locateBinding', () => {
  it("finds the binding in the installed package of the machine's platform", () => {
    const location = locateBinding('linux', 'x64', resolverOf(['@treespec/onnxruntime-linux-x64']));
    expect(location).toEqual({
      found: true,
      packageName: '@treespec/onnxruntime-linux-x64',
      bindingPath: join(
        '/app/node_modules/@treespec/onnxruntime-linux-x64',
        'bin',
        'onnxruntime_binding.node',
      ),
    });
  });

  it("ignores the other platforms' packages, and says how to install the missing one", () => {
    const location = locateBinding('linux', 'arm64', resolverOf(['@treespec/onnxruntime-linux-x64']));
    expect(location.found).toBe(false);
    expect(location.packageName).toBe('@treespec/onnxruntime-linux-arm64');
    expect(!location.found && location.reason).toMatch(
      /@treespec\/onnxruntime-linux-arm64, the binary package for linux-arm64, is not installed.*--omit=optional.*`npm install @treespec\/onnxruntime-linux-arm64`/,
    );
  });

  it('names the platform and the way out where no binary package is built', () => {
    const location = locateBinding('darwin', 'x64', resolverOf(Object.values(PLATFORM_PACKAGES)));
    expect(location.found).toBe(false);
    expect(location.packageName).toBeUndefined();
    expect(!location.found && location.reason).toMatch(
      /built for linux-x64, linux-arm64, darwin-arm64, win32-x64, win32-arm64, not for darwin-x64; install an onnxruntime-node .* onnxRuntime: 'onnxruntime-node'/,
    );
  });
});
