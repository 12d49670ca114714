#!/usr/bin/env bash
# The npm user, in CI: build, `pnpm pack` every public package, lint each tarball (publint,
# @arethetypeswrong/cli), install the tarballs with plain npm into an app outside the workspace
# (no .npmrc from the repository; npm registry only; no ONNXRUNTIME_NODE_INSTALL), and run what
# the README and the examples promise there. Prints the tarball sizes and the quickstart's
# node_modules size, and fails when they pass the bounds (quickstart ≤ 150 MB, model-tiny ≤ 30 MB
# packed). Last, the second install mode: onnxruntime-node installed beside treespec (CPU files
# only, ONNXRUNTIME_NODE_INSTALL=skip, as far as it can be tried without its CUDA download).
#
#   scripts/npm-user-check.sh            run it (about 3 minutes on 2 cores, after a build)
#   KEEP=1 scripts/npm-user-check.sh     keep the temporary app to look at
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/treespec-npm-user.XXXXXX")"
case "$work" in "$repo"/*) echo "the app must live outside the repository" >&2; exit 1 ;; esac
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT
export TURBO_TELEMETRY_DISABLED=1
# The user's install is plain: whatever the calling shell set for onnxruntime-node does not apply.
unset ONNXRUNTIME_NODE_INSTALL npm_config_onnxruntime_node_install
# The converted tiny bundle goes to a cache of this run, as it would to a user's ~/.cache.
export TREESPEC_CACHE_DIR="$work/cache"
npm_install=(npm install --no-audit --no-fund --loglevel=error)
started=$SECONDS
step() { printf '\n== %s (%ss)\n' "$1" "$((SECONDS - started))"; }

# ONNX Runtime's binary packages need no build (their prepack copies onnxruntime-node's files):
# the other platforms' four (about 250 MB to compress) are packed beside the build.
mkdir -p "$work/tarballs"
platform="$(node -p 'process.platform + "-" + process.arch')"
foreign=()
for dir in "$repo"/packages/onnxruntime-*-*/; do
  [ "$(basename "$dir")" = "onnxruntime-$platform" ] || foreign+=("$dir")
done
(for dir in "${foreign[@]}"; do (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null); done) &
foreign_pack=$!

step "build"
(cd "$repo" && pnpm build --output-logs=errors-only)

step "pack every public package"
for dir in "$repo"/packages/*/; do
  [ "$(node -p "require('$dir/package.json').private === true")" = true ] && continue
  [[ " ${foreign[*]} " == *" $dir "* ]] && continue
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
done
wait "$foreign_pack"
ls -l "$work/tarballs" | awk 'NR > 1 { printf "%10.2f MB  %s\n", $5 / 1e6, $9 }'
tiny_bytes=$(stat -c %s "$work"/tarballs/treespec-model-tiny-*.tgz)
if [ "$tiny_bytes" -gt 30000000 ]; then
  echo "@treespec/model-tiny is $tiny_bytes bytes packed; the bound is 30 MB" >&2
  exit 1
fi

step "publint and @arethetypeswrong/cli on every tarball"
# The binary packages of ONNX Runtime hold no JavaScript and no types: publint only.
lint_tarball() {
  local report="$1.lint.txt"
  if "$repo/node_modules/.bin/publint" --strict "$1" >"$report" 2>&1 &&
    { [[ "$(basename "$1")" =~ ^treespec-onnxruntime-(linux|darwin|win32)- ]] ||
      "$repo/node_modules/.bin/attw" "$1" --format ascii >>"$report" 2>&1; }; then
    echo "ok  $(basename "$1")"
  else
    cat "$report"
    return 1
  fi
}
export -f lint_tarball
export repo
printf '%s\0' "$work"/tarballs/*.tgz | xargs -0 -P 2 -I{} bash -c 'lint_tarball "$1"' _ {}

tarball() { ls "$work"/tarballs/treespec-"$1"-[0-9]*.tgz; }
quickstart=(core sampling drafters onnx onnxruntime tokenizers generator planner node convert model-tiny)
ort_version=$(node -p "require('$repo/packages/onnxruntime/package.json').dependencies['onnxruntime-common']")

step "npm install @treespec/node @treespec/model-tiny into an app outside the workspace"
app="$work/app"
mkdir -p "$app" && cd "$app"
# The binary packages are optional dependencies of @treespec/onnxruntime, fetched by name and
# version from the registry; until they are published, the app points those names at the tarballs
# (npm still reads each one's os and cpu, and installs only this machine's). Each @treespec
# dependency is installed from its tarball too.
node -e '
  const [tarballs, loader] = process.argv.slice(1);
  const overrides = {};
  for (const name of Object.keys(require(loader).optionalDependencies)) {
    overrides[name] = `file:${tarballs}/${name.slice(1).replace("/", "-")}-0.1.0.tgz`;
  }
  const app = { name: "npm-user-app", version: "1.0.0", private: true, type: "module", overrides };
  require("fs").writeFileSync("package.json", `${JSON.stringify(app, null, 2)}\n`);
' "$work/tarballs" "$repo/packages/onnxruntime/package.json"
"${npm_install[@]}" $(for p in "${quickstart[@]}"; do tarball "$p"; done)
# No install script ran and nothing came from outside the registry: no onnxruntime-node at all,
# and of the binary packages only this platform's.
[ ! -e node_modules/onnxruntime-node ]
[ -e "node_modules/@treespec/onnxruntime-$platform/bin/onnxruntime_binding.node" ]
[ "$(ls -d node_modules/@treespec/onnxruntime-*-* | wc -l)" = 1 ]
quickstart_mb=$(du -sm node_modules | cut -f1)
echo "quickstart node_modules: ${quickstart_mb} MB"
du -sm node_modules/* node_modules/@treespec/* 2>/dev/null | sort -rn | head -n 6
if [ "$quickstart_mb" -gt 150 ]; then
  echo "the quickstart's node_modules is ${quickstart_mb} MB; the bound is 150 MB" >&2
  exit 1
fi

step "the README's 'What it looks like' snippet"
node -e '
  const readme = require("fs").readFileSync(process.argv[1], "utf8");
  const section = readme.slice(readme.indexOf("## What it looks like"));
  const start = section.indexOf("```ts\n") + 6;
  process.stdout.write(section.slice(start, section.indexOf("\n```", start)));
' "$repo/README.md" >readme-snippet.mjs
node readme-snippet.mjs | tee readme.out
[ -s readme.out ]

step "the Node examples, copied out of the repository"
for example in node-quickstart node-custom-decoder; do
  mkdir -p "examples/$example"
  cp "$repo/examples/$example/index.js" "$repo/examples/$example/package.json" "examples/$example/"
  node -e '
    const pkg = require(process.argv[1]);
    for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      if (!/^\^?\d+\.\d+\.\d+$/.test(spec)) throw new Error(`${pkg.name}: ${name} is "${spec}", not a semver range npm can install`);
      require.resolve(`${name}/package.json`, { paths: [process.cwd()] });
    }
  ' "$app/examples/$example/package.json"
  (cd "examples/$example" && node index.js --check >/dev/null)
  echo "ok  examples/$example"
done

step "require() from a CommonJS file"
cat >require-check.cjs <<'EOF'
const assert = require('node:assert');
const { loadTreespec } = require('@treespec/node');
const { tinyModelDirectory } = require('@treespec/model-tiny/node');
for (const name of ['core', 'core/testing', 'sampling', 'drafters', 'onnx', 'onnxruntime', 'tokenizers', 'generator', 'convert', 'convert/testing', 'model-tiny']) {
  assert.ok(Object.keys(require(`@treespec/${name}`)).length > 0, name);
}
loadTreespec(tinyModelDirectory()).then(async (generator) => {
  const { text, stats } = await generator.generate('The history of the city begins in', { maxTokens: 16 });
  assert.ok(text.length > 0 && stats.generatedTokens === 16, JSON.stringify({ text, stats }));
  await generator.dispose();
  require('node:fs').writeFileSync('bundled.out', text);
  console.log(`ok  require(): ${JSON.stringify(text)}`);
});
EOF
node require-check.cjs

step "npm install @treespec/cli @treespec/web, TypeScript, Vite"
"${npm_install[@]}" "$(tarball cli)" "$(tarball server)" "$(tarball web)" typescript@5.9.3 @types/node@^20.19.0 vite@7.3.8

step "the treespec command"
[ "$(npx --no-install treespec --version)" = "$(node -p "require('@treespec/cli/package.json').version")" ]
npx --no-install treespec generate 'Q: What does the git commit command do?
A:' --max-tokens 16
npx --no-install treespec bench --limit 1 --max-tokens 16 --no-progress | tee bench.out
grep -q '^temperature 0 (greedy): 1 prompt, 16 new tokens each$' bench.out

step "tsc --noEmit under moduleResolution bundler and node16"
mkdir -p types-bundler types-node16
packages=(core core/testing sampling drafters onnx onnxruntime tokenizers generator node node/huge-pages web cli convert model-tiny model-tiny/node)
entries=()
for name in "${packages[@]}"; do entries+=("${name//[\/-]/_}"); done
{
  for i in "${!packages[@]}"; do echo "import * as ${entries[$i]} from '@treespec/${packages[$i]}';"; done
  echo "export const used = [$(IFS=,; echo "${entries[*]}")];"
  echo "export const model: string = model_tiny_node.tinyModelDirectory();"
} >types-bundler/index.ts
cp types-bundler/index.ts types-node16/index.mts
{
  for i in "${!packages[@]}"; do echo "import ${entries[$i]} = require('@treespec/${packages[$i]}');"; done
  echo "export const used = [$(IFS=,; echo "${entries[*]}")];"
  echo "export const model: string = model_tiny_node.tinyModelDirectory();"
} >types-node16/require.cts
compiler='"target": "es2022", "strict": true, "noEmit": true, "types": ["node"], "lib": ["es2022", "dom"]'
printf '{ "compilerOptions": { "module": "esnext", "moduleResolution": "bundler", %s }, "include": ["index.ts"] }\n' "$compiler" >types-bundler/tsconfig.json
printf '{ "compilerOptions": { "module": "node16", "moduleResolution": "node16", %s }, "include": ["index.mts", "require.cts"] }\n' "$compiler" >types-node16/tsconfig.json
npx --no-install tsc -p types-bundler
npx --no-install tsc -p types-node16
echo "ok  tsc (bundler; node16 from ESM and from CommonJS)"

step "vite build of examples/browser, copied out of the repository"
mkdir -p examples/browser
(cd "$repo/examples/browser" && tar cf - --exclude=node_modules --exclude=dist --exclude=test .) | tar xf - -C examples/browser
(cd examples/browser && npx --no-install vite build --logLevel warn && ls dist/index.html >/dev/null)
echo "ok  vite build"

step "onnxruntime-node beside treespec (ONNXRUNTIME_NODE_INSTALL=skip: its CPU files, no download)"
# With cuda12 instead of skip its install script adds the CUDA libraries beside these files;
# executionProvider 'cuda' then runs on it (it picks onnxruntime-node by default).
ONNXRUNTIME_NODE_INSTALL=skip "${npm_install[@]}" "onnxruntime-node@$ort_version"
cat >runtime-check.mjs <<'EOF'
import assert from 'node:assert';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import { loadedOnnxRuntime } from '@treespec/onnxruntime';
const generator = await loadTreespec(tinyModelDirectory(), { onnxRuntime: 'onnxruntime-node' });
const { text } = await generator.generate('The history of the city begins in', { maxTokens: 16 });
await generator.dispose();
assert.equal(loadedOnnxRuntime().source, 'onnxruntime-node');
assert.equal(text, process.argv[2]);
EOF
# The same generation as the CommonJS check's on the bundled runtime, now on onnxruntime-node.
node runtime-check.mjs "$(cat bundled.out)"
echo "ok  onnxRuntime 'onnxruntime-node' writes the bundled runtime's text"

step "done"
echo "quickstart node_modules: ${quickstart_mb} MB; @treespec/model-tiny packed: $((tiny_bytes / 1000000)) MB"
