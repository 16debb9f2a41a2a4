#!/bin/sh
# Builds the worker into build/ with the project-local tools (see scripts/bootstrap.sh).
# worker-build never looks on PATH and its GitHub downloads fail offline, so every helper tool
# is passed explicitly through its *_BIN variable.
set -eu
if [ "${SWITCHBOARD_PREBUILT:-}" = "1" ]; then
  exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd)
export WASM_BINDGEN_BIN="$root/.tools/bin/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
cd "$root"
exec "$root/.tools/bin/worker-build" --release
