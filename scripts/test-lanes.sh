#!/usr/bin/env bash
# Runs every package's tests in two lanes at once: most test files run one ONNX Runtime session on
# one core, so a 2-core machine runs two packages side by side. Turbo's own concurrency would start
# the two slowest packages (@treespec/node and the browser example, about half the suite's time)
# last, after the packages they depend on; the lanes give them their own core from the start and
# the rest of the packages the other cores, one package per core. The packages are built before
# (the root `test` script), so each lane runs test tasks only (`--only`), and the two never write
# the same build outputs.
set -uo pipefail
cd "$(dirname "$0")/.."
cores=$(nproc)
heavy_cores=1
[ "$cores" -ge 4 ] && heavy_cores=2
rest_cores=$((cores > heavy_cores ? cores - heavy_cores : 1))
heavy=(--filter=@treespec/node --filter=@treespec-examples/browser)
turbo run test --only "${heavy[@]}" --concurrency="$heavy_cores" &
heavy_lane=$!
turbo run test --only "${heavy[@]/--filter=/--filter=!}" --concurrency="$rest_cores"
rest=$?
wait "$heavy_lane"
heavy_status=$?
[ "$rest" -eq 0 ] && [ "$heavy_status" -eq 0 ]
