import { defineConfig } from 'tsup';

const shared = { sourcemap: true, target: 'es2022', platform: 'node', shims: true } as const;

// The library entry ships as ESM and CommonJS; the `treespec` bin is ESM only (top-level await).
export default defineConfig([
  { ...shared, entry: ['src/index.ts'], format: ['esm', 'cjs'], dts: { entry: 'src/index.ts' }, clean: true },
  { ...shared, entry: ['src/bin.ts'], format: ['esm'] },
]);
