#!/usr/bin/env bash
# Packs what `treespec bench` needs on a Linux x86-64 machine that has neither Node nor a network
# (a lent GPU machine, an air-gapped box), in two parts that can travel separately:
#
#   scripts/offline-kit.sh runtime DIR        Node (stripped), the bundled ONNX Runtime, the built
#                                             packages with their production dependencies, setup.sh
#   scripts/offline-kit.sh models DIR [ID...] the tiny bundle, or only the models named (the
#                                             manifest trimmed to them), as models.tar.xz
#
# On the other machine, from the folder holding both parts (KIT=/opt/treespec by default):
#
#   bash setup.sh && $KIT/node $KIT/repo/packages/cli/dist/bin.js bench -m $KIT/models --provider webgpu
#
# Needs `pnpm build` first. docs/benchmarks.md ("On a real GPU") was measured this way: the runtime
# part is about 38 MB, the tiny bundle's target, EAGLE-2 heads and draft LM about 54 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
part=${1:?runtime or models}
out=${2:?the folder to write}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Writes setup.sh, which unpacks whichever parts lie beside it.
write_setup() {
  cat >"$out/setup.sh" <<'EOF'
#!/usr/bin/env bash
# Unpacks the parts of the kit beside this script into $KIT (default /opt/treespec): $KIT/node and
# $KIT/repo from the runtime part, $KIT/models from the models part.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KIT=${KIT:-/opt/treespec}
mkdir -p "$KIT/repo"
if [ -f "$here/node.xz" ]; then
  xz -dc "$here/node.xz" >"$KIT/node"
  chmod +x "$KIT/node"
  tar -xJf "$here/code.tar.xz" -C "$KIT/repo"
  xz -dc "$here/libonnxruntime.so.1.xz" >"$KIT/repo/packages/onnxruntime-linux-x64/bin/libonnxruntime.so.1"
fi
if [ -f "$here/models.tar.xz" ]; then
  rm -rf "$KIT/models"
  mkdir -p "$KIT/models"
  xz -dc "$here/models.tar.xz" | tar -xf - -C "$KIT/models"
fi
"$KIT/node" --version
EOF
  chmod +x "$out/setup.sh"
}

case "$part" in
runtime)
  node_bin=$(command -v node)
  cp "$node_bin" "$out/node"
  chmod u+w "$out/node"
  strip "$out/node" 2>/dev/null || true
  xz -T0 -6 -f "$out/node"
  xz -T0 -6 -c packages/onnxruntime-linux-x64/bin/libonnxruntime.so.1 >"$out/libonnxruntime.so.1.xz"
  # The CLI's production dependency closure: each store folder whole (its package and the links to
  # its own dependencies), the workspace packages' builds and their links.
  mapfile -t store < <(pnpm --filter @treespec/cli list --prod --depth Infinity --parseable |
    sed -n "s|^$PWD/\(node_modules/.pnpm/[^/]*\)/.*|\1/node_modules|p" | sort -u)
  tar -cJf "$out/code.tar.xz" package.json "${store[@]}" packages/*/package.json packages/*/dist \
    packages/*/node_modules packages/onnxruntime-linux-x64/bin/onnxruntime_binding.node \
    packages/model-tiny/checkpoints/*.jsonl
  write_setup
  ;;
models)
  shift 2
  bundle=packages/model-tiny/models/tiny
  staging=$(mktemp -d)
  trap 'rm -rf "$staging"' EXIT
  node - "$bundle" "$staging" "$@" <<'EOF'
// Copies the bundle's shared files and the named models' files (all models when none is named),
// with the manifest trimmed to those models.
const { copyFileSync, readFileSync, readdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const [bundle, staging, ...ids] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(bundle, 'treespec.json'), 'utf8'));
const unknown = ids.filter((id) => !manifest.models.some((m) => m.id === id));
if (unknown.length > 0) throw new Error(`no model ${unknown.join(', ')} in ${bundle}`);
const models = ids.length === 0 ? manifest.models : manifest.models.filter((m) => ids.includes(m.id));
const modelFiles = new Set(manifest.models.flatMap((m) => [m.file, ...(m.externalData ?? [])]));
const kept = new Set(models.flatMap((m) => [m.file, ...(m.externalData ?? [])]));
for (const file of readdirSync(bundle)) {
  if (file === 'treespec.json' || (modelFiles.has(file) && !kept.has(file))) continue;
  copyFileSync(join(bundle, file), join(staging, file));
}
writeFileSync(join(staging, 'treespec.json'), JSON.stringify({ ...manifest, models }, null, 1));
EOF
  tar -cf - -C "$staging" . | xz -T0 -6 >"$out/models.tar.xz"
  write_setup
  ;;
*)
  echo "usage: $0 runtime|models DIR [ID...]" >&2
  exit 2
  ;;
esac
ls -l "$out"
