#!/usr/bin/env bash
# Runs every package's tests in two lanes at once, each lane on cores of its own. Most test files
# run one ONNX Runtime session, whose thread pool spins on every core the process may use: beside
# the other lane's work on a 2-core machine it stalls at every operator waiting for a descheduled
# thread, so each lane is bound to its cores (taskset) and ONNX Runtime sizes its pool to them.
# The heavy lane runs @treespec/node's tests and the browser example (about half the suite's
# time); the other lane runs @treespec/node's software-WebGPU test of the target (a minute), which
# balances the two, and then the rest of the packages, one package per core. The packages are
# built before (the root `test` script), so the lanes run tests only and never write the same
# build outputs.
set -uo pipefail
cd "$(dirname "$0")/.."

# The CPUs this process may run on (its affinity list, e.g. "0-3,8").
cpus=()
for part in $(taskset -pc $$ 2>/dev/null | sed 's/.*: //' | tr ',' ' '); do
  if [[ $part == *-* ]]; then
    for ((c = ${part%-*}; c <= ${part#*-}; c++)); do cpus+=("$c"); done
  else
    cpus+=("$part")
  fi
done
cores=$(nproc)
heavy_cores=1
[ "$cores" -ge 4 ] && heavy_cores=2
rest_cores=$((cores > heavy_cores ? cores - heavy_cores : 1))
heavy_on=() rest_on=()
if [ "${#cpus[@]}" -eq "$cores" ] && [ "$cores" -ge 2 ]; then
  heavy_list=$(IFS=,; echo "${cpus[*]:0:heavy_cores}")
  rest_list=$(IFS=,; echo "${cpus[*]:heavy_cores}")
  heavy_on=(taskset -c "$heavy_list")
  rest_on=(taskset -c "$rest_list")
fi

node_webgpu=test/webgpu.test.ts
heavy_lane() {
  pnpm --filter @treespec/node exec vitest run --exclude "$node_webgpu"
  local node=$?
  pnpm --filter @treespec-examples/browser test
  local browser=$?
  [ "$node" -eq 0 ] && [ "$browser" -eq 0 ]
}
rest_lane() {
  pnpm --filter @treespec/node exec vitest run "$node_webgpu"
  local webgpu=$?
  turbo run test --only --continue --filter='!@treespec/node' --filter='!@treespec-examples/browser' \
    --concurrency="$rest_cores"
  local rest=$?
  [ "$webgpu" -eq 0 ] && [ "$rest" -eq 0 ]
}
export -f heavy_lane rest_lane
export node_webgpu rest_cores
"${heavy_on[@]}" bash -c heavy_lane &
heavy_pid=$!
"${rest_on[@]}" bash -c rest_lane
rest=$?
wait "$heavy_pid"
heavy_status=$?
[ "$rest" -eq 0 ] && [ "$heavy_status" -eq 0 ]
