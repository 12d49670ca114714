// The publishing fields every public package needs so that npm users get what they expect:
// dual ESM + CommonJS entry points with their types (TypeScript's node10, node16 and bundler
// resolutions), repository links, engines, and a prepack step that builds before packing.
//
//   node scripts/publish-fields.mjs          check every packages/*/package.json (exit 1 on a gap)
//   node scripts/publish-fields.mjs --write  apply the fields (and tsup's dual output) in place
//
// A package with an "os" field is a binary package of ONNX Runtime's Node binding
// (@treespec/onnxruntime-<platform>-<arch>): no JavaScript, ONNX Runtime's MIT licence, one os and
// one cpu, no install script, and the onnxruntime-node its files come from pinned to the version
// of the loader's onnxruntime-common.
//
// It edits fields, never the order of the rest of the file, so packages added later get the same
// treatment with one command and merges stay small.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const REPOSITORY = 'https://github.com/treespec/treespec';
const NODE_ENGINE = '>=20.19';

/** `./dist/x.js` → `./dist/x`, the stem every format of one entry shares. */
function entryStem(entry) {
  const file = typeof entry === 'string' ? entry : (entry.import?.default ?? entry.import ?? entry.default);
  if (typeof file !== 'string' || !file.endsWith('.js')) {
    throw new Error(`expected an ESM entry ending in .js, found ${JSON.stringify(entry)}`);
  }
  return file.slice(0, -'.js'.length);
}

function dualEntry(stem) {
  return {
    import: { types: `${stem}.d.ts`, default: `${stem}.js` },
    require: { types: `${stem}.d.cts`, default: `${stem}.cjs` },
  };
}

/** The publishing fields of one package, as they should be. */
export function expectedFields(pkg, dir) {
  const exportsMap = {};
  const typesVersions = {};
  for (const [subpath, entry] of Object.entries(pkg.exports ?? {})) {
    if (subpath === './package.json') continue;
    const stem = entryStem(entry);
    exportsMap[subpath] = dualEntry(stem);
    if (subpath !== '.') typesVersions[subpath.slice(2)] = [`${stem}.d.cts`];
  }
  exportsMap['./package.json'] = './package.json';
  const main = exportsMap['.'];
  return {
    license: 'Apache-2.0',
    repository: { type: 'git', url: `git+${REPOSITORY}.git`, directory: `packages/${dir}` },
    homepage: `${REPOSITORY}/tree/main/packages/${dir}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
    engines: { node: NODE_ENGINE },
    main: main.require.default,
    module: main.import.default,
    types: main.require.types,
    ...(Object.keys(typesVersions).length > 0 ? { typesVersions: { '*': typesVersions } } : {}),
    exports: exportsMap,
    publishConfig: { access: 'public' },
  };
}

const PREPACK = 'node ../../scripts/prepack.mjs';
const PLATFORM_FILES = 'node ../../scripts/onnxruntime-platform-files.mjs';
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

/** The publishing fields of one binary package, as they should be. */
export function expectedBinaryFields(dir) {
  return {
    license: 'MIT',
    repository: { type: 'git', url: `git+${REPOSITORY}.git`, directory: `packages/${dir}` },
    homepage: `${REPOSITORY}/tree/main/packages/${dir}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
    publishConfig: { access: 'public' },
    files: ['bin'],
  };
}

/** Differences between a binary package's package.json and what it should be, as messages. */
export function binaryPackageGaps(pkg, dir, loader) {
  const gaps = [];
  for (const [key, value] of Object.entries(expectedBinaryFields(dir))) {
    if (JSON.stringify(pkg[key]) !== JSON.stringify(value)) {
      gaps.push(`"${key}" should be ${JSON.stringify(value)}, found ${JSON.stringify(pkg[key])}`);
    }
  }
  const [os, cpu] = [pkg.os ?? [], pkg.cpu ?? []];
  if (os.length !== 1 || cpu.length !== 1 || dir !== `onnxruntime-${os[0]}-${cpu[0]}`) {
    gaps.push(
      `"os" and "cpu" should name the one platform of the folder's name, found ${JSON.stringify([os, cpu])}`,
    );
  }
  for (const script of ['build', 'prepack']) {
    if (pkg.scripts?.[script] !== PLATFORM_FILES)
      gaps.push(`scripts.${script} should be "${PLATFORM_FILES}"`);
  }
  for (const script of INSTALL_SCRIPTS)
    if (pkg.scripts?.[script]) gaps.push(`scripts.${script} must not exist`);
  const runtime = loader.dependencies?.['onnxruntime-common'];
  if (pkg.devDependencies?.['onnxruntime-node'] !== runtime) {
    gaps.push(`devDependencies["onnxruntime-node"] should be "${runtime}", the loader's onnxruntime-common`);
  }
  if (loader.optionalDependencies?.[pkg.name] === undefined) {
    gaps.push(`packages/onnxruntime/package.json should list ${pkg.name} in "optionalDependencies"`);
  }
  if (!pkg.description) gaps.push('"description" is missing');
  return gaps;
}
const DUAL_FORMAT = /format:\s*\[\s*'esm',\s*'cjs'\s*\]/;

/** Differences between a package.json and the expected fields, as messages. */
export function publishingGaps(pkg, dir, tsupConfig) {
  const gaps = [];
  const expected = expectedFields(pkg, dir);
  for (const [key, value] of Object.entries(expected)) {
    if (JSON.stringify(pkg[key]) !== JSON.stringify(value)) {
      gaps.push(`"${key}" should be ${JSON.stringify(value)}, found ${JSON.stringify(pkg[key])}`);
    }
  }
  if (pkg.scripts?.prepack !== PREPACK) gaps.push(`scripts.prepack should be "${PREPACK}"`);
  if (!pkg.files?.includes('dist')) gaps.push('"files" should include "dist"');
  if (!pkg.description) gaps.push('"description" is missing');
  if (pkg.type !== 'module') gaps.push('"type" should be "module"');
  if (!DUAL_FORMAT.test(tsupConfig)) {
    gaps.push("tsup.config.ts should emit format: ['esm', 'cjs'] (the require entry points)");
  }
  return gaps;
}

/** `JSON.stringify` the package with new values in place and new keys after `description`. */
function withFields(pkg, fields) {
  const out = {};
  const added = Object.keys(fields).filter((k) => !(k in pkg));
  for (const [key, value] of Object.entries(pkg)) {
    out[key] = key in fields ? fields[key] : value;
    if (key === 'license') for (const k of added) out[k] = fields[k];
  }
  for (const k of added) if (!(k in out)) out[k] = fields[k];
  return out;
}

function publicPackages() {
  return readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, 'packages', d.name, 'package.json')))
    .map((d) => d.name)
    .filter((dir) => !readJson(dir).private);
}

function readJson(dir) {
  return JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
}

function main() {
  const write = process.argv.includes('--write');
  let failed = false;
  for (const dir of publicPackages()) {
    const pkgPath = join(root, 'packages', dir, 'package.json');
    const tsupPath = join(root, 'packages', dir, 'tsup.config.ts');
    const pkg = readJson(dir);
    if (pkg.os !== undefined) {
      if (write)
        writeFileSync(pkgPath, `${JSON.stringify(withFields(pkg, expectedBinaryFields(dir)), null, 2)}\n`);
      const gaps = binaryPackageGaps(readJson(dir), dir, readJson('onnxruntime'));
      for (const gap of gaps) console.error(`packages/${dir}/package.json: ${gap}`);
      failed ||= gaps.length > 0;
      continue;
    }
    let tsup = existsSync(tsupPath) ? readFileSync(tsupPath, 'utf8') : '';
    if (write) {
      const fields = expectedFields(pkg, dir);
      const next = withFields(pkg, { ...fields, scripts: { ...pkg.scripts, prepack: PREPACK } });
      if (!next.files?.includes('dist')) next.files = ['dist', ...(next.files ?? [])];
      writeFileSync(pkgPath, `${JSON.stringify(next, null, 2)}\n`);
      if (!DUAL_FORMAT.test(tsup)) {
        tsup = tsup.replace(/format:\s*\[\s*'esm'\s*\]/, "format: ['esm', 'cjs']");
        writeFileSync(tsupPath, tsup);
      }
    }
    const gaps = publishingGaps(readJson(dir), dir, tsup);
    for (const gap of gaps) console.error(`packages/${dir}/package.json: ${gap}`);
    failed ||= gaps.length > 0;
  }
  if (failed) {
    console.error('publishing fields are missing: run `node scripts/publish-fields.mjs --write`');
    process.exit(1);
  }
}

main();
